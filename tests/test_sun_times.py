"""Sun times of the veil-of-darkness test against published values and an independent method.

``sun_times()`` (astral at the county's centre, 39.14 N 77.20 W) must agree within 2 minutes with
published sunset / end-of-civil-twilight times for Washington, DC (~25 km from the county centre:
under a minute apart) and with the USNO short method (tests/sun_reference.py) on every week of the
years in the data, across both DST changes.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.analysis.veil_of_darkness import COUNTY_LATITUDE, COUNTY_LONGITUDE, intertwilight_window, sun_times
from tests.sun_reference import sunset_and_dusk

TOLERANCE_MIN = 2.0

# (date, latitude, longitude, sunset, end of civil twilight, where published), local clock time.
PUBLISHED = [
    # US Naval Observatory, "Complete Sun and Moon Data for One Day", Washington, DC (W77.0, N38.9),
    # Wednesday 20 March 2002, Eastern Standard Time.
    (dt.date(2002, 3, 20), 38.9, -77.0, "18:21", "18:47", "USNO"),
    # Sun-times table for Washington, DC (38.91 N, 77.04 W), Friday 13 February 2026, EST:
    # sunset 5:44:08 PM, civil dusk 6:11:33 PM.
    (dt.date(2026, 2, 13), 38.91, -77.04, "17:44", "18:12", "sun table, Washington DC"),
]


def minutes(hhmm: str) -> float:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


@pytest.mark.parametrize("day, lat, lon, sunset, dusk, source", PUBLISHED, ids=[str(p[0]) for p in PUBLISHED])
def test_the_reference_method_reproduces_published_times(day, lat, lon, sunset, dusk, source) -> None:  # noqa: ANN001
    ref_sunset, ref_dusk = sunset_and_dusk(day, lat, lon)
    assert ref_sunset == pytest.approx(minutes(sunset), abs=TOLERANCE_MIN), source
    assert ref_dusk == pytest.approx(minutes(dusk), abs=TOLERANCE_MIN), source


@pytest.mark.parametrize("day, lat, lon, sunset, dusk, source", PUBLISHED, ids=[str(p[0]) for p in PUBLISHED])
def test_sun_times_match_published_times_for_washington(day, lat, lon, sunset, dusk, source) -> None:  # noqa: ANN001
    row = sun_times([day]).iloc[0]
    assert row["sunset_minute"] == pytest.approx(minutes(sunset), abs=TOLERANCE_MIN), source
    assert row["dusk_minute"] == pytest.approx(minutes(dusk), abs=TOLERANCE_MIN), source


def test_sun_times_match_the_usno_method_every_week_of_the_data_years() -> None:
    days = [dt.date(2012, 1, 1) + dt.timedelta(days=i) for i in range(0, (dt.date(2026, 1, 1) - dt.date(2012, 1, 1)).days, 7)]
    days += [dt.date(2016, 3, 12), dt.date(2016, 3, 13), dt.date(2016, 11, 5), dt.date(2016, 11, 6)]  # DST changes
    ours = sun_times(days).set_index("date")
    worst = 0.0
    for day in days:
        ref_sunset, ref_dusk = sunset_and_dusk(day, COUNTY_LATITUDE, COUNTY_LONGITUDE)
        worst = max(worst, abs(ours.loc[day, "sunset_minute"] - ref_sunset), abs(ours.loc[day, "dusk_minute"] - ref_dusk))
    assert worst <= TOLERANCE_MIN, f"largest difference {worst:.2f} min"


def test_the_inter_twilight_window_is_the_earliest_sunset_to_the_latest_dusk() -> None:
    start, end = intertwilight_window([2016])
    year = [dt.date(2016, 1, 1) + dt.timedelta(days=i) for i in range(366)]
    ref = [sunset_and_dusk(d, COUNTY_LATITUDE, COUNTY_LONGITUDE) for d in year]
    assert start == pytest.approx(min(s for s, _ in ref), abs=TOLERANCE_MIN)
    assert end == pytest.approx(max(d for _, d in ref), abs=TOLERANCE_MIN)
