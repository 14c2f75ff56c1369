"""Veil of darkness on synthetic stops with a planted darkness effect, and with none."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pipeline.analysis import intertwilight_window, sun_times, veil_of_darkness
from pipeline.analysis.veil_of_darkness import COLUMNS, MODEL_TIME, MODEL_TIME_DISTRICT, prepare

DISTRICT_EFFECT = {"1st District, Rockville": -0.4, "3rd District, Silver Spring": 0.5, "5th District, Germantown": 0.0}


def synthetic_stops(n: int, beta: float, seed: int, year: int = 2016) -> pd.DataFrame:
    """Stops of Black/White drivers on random days of ``year`` between 16:30 and 21:30.

    P(Black) = expit(-0.2 + smooth function of clock time + district effect + beta * is_dark),
    with is_dark from the real sun times, so beta is the planted log odds ratio.
    """
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp(f"{year}-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    minute = rng.integers(16 * 60 + 30, 21 * 60 + 30, n)
    district = rng.choice(list(DISTRICT_EFFECT), n)
    sun = sun_times(dates.date).set_index("date")
    dusk = sun.loc[list(dates.date), "dusk_minute"].to_numpy()
    is_dark = minute > dusk
    logit = (-0.2 + 0.5 * np.sin((minute - 1000) / 90.0) + pd.Series(district).map(DISTRICT_EFFECT).to_numpy()
             + beta * is_dark)
    black = rng.random(n) < expit(logit)
    return pd.DataFrame({"date_of_stop": dates, "clock_minute": minute,
                         "race": np.where(black, "BLACK", "WHITE"), "district": district})


def model(result, name: str) -> pd.Series:  # noqa: ANN001
    return result.table.set_index("model").loc[name]


def test_sun_times_for_the_county_are_plausible() -> None:
    times = sun_times([dt.date(2016, 6, 21), dt.date(2016, 12, 7)]).set_index("date")
    june, december = times.loc[dt.date(2016, 6, 21)], times.loc[dt.date(2016, 12, 7)]
    assert 20 * 60 + 30 < june["sunset_minute"] < 20 * 60 + 45  # ~20:38 EDT
    assert 16 * 60 + 40 < december["sunset_minute"] < 16 * 60 + 50  # ~16:46 EST
    assert (times["dusk_minute"] - times["sunset_minute"]).between(25, 40).all()  # civil twilight ~30 min
    start, end = intertwilight_window([2016])
    assert 16 * 60 + 40 < start < 16 * 60 + 50 and 21 * 60 + 5 < end < 21 * 60 + 15


def test_stops_between_sunset_and_dusk_and_outside_the_window_are_dropped() -> None:
    day = dt.date(2016, 12, 7)  # sunset ~16:46, dusk ~17:16
    stops = pd.DataFrame({"date_of_stop": [day] * 4, "clock_minute": [16 * 60, 16 * 60 + 50, 17 * 60 + 30, 22 * 60],
                          "race": ["BLACK"] * 4, "district": ["x"] * 4})
    data, info = prepare(stops)
    assert data["clock_minute"].tolist() == [17 * 60 + 30]
    assert data["is_dark"].tolist() == [1]
    assert info["n_twilight_dropped"] == 1


def test_planted_darkness_effect_is_recovered_within_its_interval() -> None:
    result = veil_of_darkness(synthetic_stops(12_000, beta=-0.4, seed=21))
    assert result.ran, result.reason
    for name in (MODEL_TIME_DISTRICT, MODEL_TIME):
        row = model(result, name)
        assert row["ci_low"] <= -0.4 <= row["ci_high"], name
        assert row["ci_high"] < 0 and row["or_high"] < 1
        assert row["odds_ratio"] == pytest.approx(np.exp(row["coef_is_dark"]))
    row = model(result, MODEL_TIME_DISTRICT)
    assert "consistent with racial bias in daylight stop decisions" in row["interpretation"]
    assert row["n_districts"] == 3 and row["spline_df"] == 6
    assert list(result.table.columns) == COLUMNS


def test_no_darkness_effect_gives_an_interval_that_covers_zero() -> None:
    result = veil_of_darkness(synthetic_stops(12_000, beta=0.0, seed=22))
    row = model(result, MODEL_TIME_DISTRICT)
    assert row["ci_low"] <= 0 <= row["ci_high"]
    assert "interval includes 1" in row["interpretation"]


def test_the_test_refuses_below_the_minimum_number_of_stops() -> None:
    result = veil_of_darkness(synthetic_stops(300, beta=-0.4, seed=23))
    assert not result.ran
    assert result.reason.startswith("too few stops") and "minimum of 1,000" in result.reason
    assert not result.table["ran"].any() and result.table["interpretation"].str.startswith("cannot be computed").all()


def test_the_test_refuses_when_no_stops_fall_after_dark() -> None:
    stops = synthetic_stops(5_000, beta=0.0, seed=24)
    june = stops.assign(date_of_stop=pd.Timestamp("2016-06-15"), clock_minute=17 * 60 + 30)  # broad daylight
    result = veil_of_darkness(june, min_n=100)
    assert not result.ran and "after dark" in result.reason
