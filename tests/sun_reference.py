"""Sunset and end of civil twilight by the US Naval Observatory's own short method, for tests.

The algorithm of the USNO *Almanac for Computers* (1990), "Sunrise/sunset algorithm": a few lines of
spherical astronomy, accurate to about a minute at mid latitudes. It shares no code and no method
with astral (NOAA's solar-position equations), which ``pipeline.analysis.veil_of_darkness`` uses, so
the tests can check the implementation's sun times against it and build synthetic stops with it.
Checked against published values in tests/test_sun_times.py.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

ZENITH_SUNSET = 90.0 + 50.0 / 60.0  # upper limb on the horizon, with standard refraction
ZENITH_CIVIL = 96.0  # centre of the sun 6 degrees below the horizon


def _setting_ut_hours(day: dt.date, latitude: float, longitude: float, zenith: float) -> float:
    sin, cos = (lambda d: math.sin(math.radians(d))), (lambda d: math.cos(math.radians(d)))
    n = day.timetuple().tm_yday
    lng_hour = longitude / 15.0
    t = n + (18.0 - lng_hour) / 24.0
    m = 0.9856 * t - 3.289  # mean anomaly
    true_long = (m + 1.916 * sin(m) + 0.020 * sin(2 * m) + 282.634) % 360.0
    ra = math.degrees(math.atan(0.91764 * math.tan(math.radians(true_long)))) % 360.0
    ra = (ra + (math.floor(true_long / 90.0) - math.floor(ra / 90.0)) * 90.0) / 15.0  # same quadrant, hours
    sin_dec = 0.39782 * sin(true_long)
    cos_dec = math.cos(math.asin(sin_dec))
    cos_h = (cos(zenith) - sin_dec * sin(latitude)) / (cos_dec * cos(latitude))
    h = math.degrees(math.acos(cos_h)) / 15.0
    local_mean = h + ra - 0.06571 * t - 6.622
    return (local_mean - lng_hour) % 24.0


def sunset_and_dusk(day: dt.date, latitude: float, longitude: float, tz: str = "America/New_York") -> tuple[float, float]:
    """(sunset, end of civil twilight) on ``day`` as minutes after local midnight, clock time (DST included)."""
    out = []
    for zenith in (ZENITH_SUNSET, ZENITH_CIVIL):
        ut = _setting_ut_hours(day, latitude, longitude, zenith)
        # West of Greenwich a local evening is late in the UT day or, in summer, early in the next
        # one: a UT hour before local midnight (-longitude / 15 h UT) belongs to the next UT day.
        if ut < -longitude / 15.0:
            ut += 24.0
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) + dt.timedelta(hours=ut)
        local = moment.astimezone(ZoneInfo(tz))
        assert local.date() == day, (day, local)
        out.append(local.hour * 60 + local.minute + local.second / 60.0)
    return out[0], out[1]
