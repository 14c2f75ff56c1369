"""Veil of darkness on synthetic stops with a planted darkness effect, and with none."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pipeline.analysis import intertwilight_window, sun_times, veil_of_darkness
from pipeline.analysis.veil_of_darkness import (
    COLUMNS,
    COUNTY_LATITUDE,
    COUNTY_LONGITUDE,
    MODEL_TIME,
    MODEL_TIME_DISTRICT,
    SPLINE_DF,
    interpret,
    pool_small_districts,
    prepare,
)
from tests.sun_reference import sunset_and_dusk

DISTRICT_EFFECT = {"1st District, Rockville": -0.4, "3rd District, Silver Spring": 0.5, "5th District, Germantown": 0.0}


def synthetic_stops(n: int, beta: float, seed: int, year: int = 2016) -> pd.DataFrame:
    """Stops of Black/White drivers on random days of ``year`` between 16:30 and 21:30.

    P(Black) = expit(-0.2 + smooth function of clock time + district effect + beta * is_dark),
    with is_dark from the USNO method (tests/sun_reference.py, not the implementation's astral), so
    beta is the planted log odds ratio.
    """
    rng = np.random.default_rng(seed)
    dates = pd.Timestamp(f"{year}-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    minute = rng.integers(16 * 60 + 30, 21 * 60 + 30, n)
    district = rng.choice(list(DISTRICT_EFFECT), n)
    dusk_of = {d: sunset_and_dusk(d, COUNTY_LATITUDE, COUNTY_LONGITUDE)[1] for d in set(dates.date)}
    dusk = np.array([dusk_of[d] for d in dates.date])
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


def test_counted_stops_give_the_same_results_as_one_row_per_stop() -> None:
    """veil_stops.sql returns counts per (date, minute, race, district); nothing may depend on that."""
    stops = synthetic_stops(6_000, beta=-0.4, seed=31)
    stops["clock_minute"] = stops["clock_minute"] // 10 * 10  # coarse times: many stops share a row
    stops["date_of_stop"] = stops["date_of_stop"].dt.to_period("M").dt.start_time  # and a date
    stops.loc[:11, "district"] = "Headquarters"  # under MIN_DISTRICT_STOPS: pooled
    stops.loc[12:40, "district"] = None  # "(not recorded)", also pooled
    keys = ["date_of_stop", "clock_minute", "race", "district"]
    counted = stops.groupby(keys, dropna=False).size().rename("n_stops").reset_index()
    assert len(counted) < len(stops) / 2 and counted["n_stops"].sum() == len(stops)

    per_stop, grouped = veil_of_darkness(stops), veil_of_darkness(counted.sample(frac=1, random_state=1))
    assert per_stop.ran and grouped.ran
    assert per_stop.details["cells"] == grouped.details["cells"]
    a, b = per_stop.table.set_index("model"), grouped.table.set_index("model")
    exact = ["ran", "reason", "n", "n_black", "n_dark", "n_light", "n_twilight_dropped", "spline_df",
             "n_districts", "window_start", "window_end", "date_min", "date_max", "interpretation"]
    pd.testing.assert_frame_equal(a[exact], b[exact])
    close = ["share_black_light", "share_black_light_low", "share_black_light_high", "share_black_dark",
             "share_black_dark_low", "share_black_dark_high", "coef_is_dark", "se", "ci_low", "ci_high",
             "odds_ratio", "or_low", "or_high", "p_value"]
    pd.testing.assert_frame_equal(a[close].astype(float), b[close].astype(float), check_exact=False, rtol=1e-9)
    assert a.loc[MODEL_TIME_DISTRICT, "n_districts"] == 4  # three districts + the pooled one

    # ... and the frequency-weighted fit equals the unweighted fit on one row per stop.
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    data, _ = prepare(stops)
    data["district"] = pool_small_districts(data)
    spline = f"cr(clock_minute, df={SPLINE_DF}, constraints='center')"
    for name, formula in ((MODEL_TIME, f"is_black ~ is_dark + {spline}"),
                          (MODEL_TIME_DISTRICT, f"is_black ~ is_dark + {spline} + C(district)")):
        fit = smf.glm(formula, data=data, family=sm.families.Binomial()).fit()
        assert b.loc[name, "coef_is_dark"] == pytest.approx(fit.params["is_dark"], rel=1e-9), name
        assert b.loc[name, "se"] == pytest.approx(fit.bse["is_dark"], rel=1e-9), name


def test_districts_with_fewer_than_30_stops_are_pooled_and_30_are_kept() -> None:
    data = pd.DataFrame({"district": ["a", "a", "b", "c"], "n_stops": [20, 10, 29, 31]})
    assert pool_small_districts(data).tolist() == ["a", "a", "(small districts pooled)", "c"]


def test_prepare_keeps_only_black_and_white_stops_with_a_date_a_time_and_a_weight() -> None:
    day = dt.date(2016, 12, 7)  # sunset ~16:46, dusk ~17:16: 18:00 is dark
    stops = pd.DataFrame({
        "date_of_stop": [day, day, day, day, None, day],
        "clock_minute": [18 * 60, 18 * 60, 18 * 60, None, 18 * 60, 18 * 60],
        "race": ["BLACK", "HISPANIC", "WHITE", "WHITE", "BLACK", "WHITE"],
        "district": ["x"] * 6,
        "n_stops": [3, 5, 0, 2, 4, 1],
    })
    data, info = prepare(stops)
    assert data[["race", "n_stops", "is_black", "is_dark"]].values.tolist() == [["BLACK", 3, 1, 1], ["WHITE", 1, 0, 1]]
    assert info["window"] == intertwilight_window([2016]) and info["n_twilight_dropped"] == 0


def test_prepare_of_no_usable_stops_is_empty_with_its_columns() -> None:
    stops = pd.DataFrame({"date_of_stop": [dt.date(2016, 1, 4)], "clock_minute": [18 * 60], "race": ["ASIAN"],
                          "district": ["x"]})
    data, info = prepare(stops)
    assert data.empty and {"is_black", "is_dark"} <= set(data.columns)
    assert info == {"window": None, "n_twilight_dropped": 0}


def test_the_window_is_exactly_the_extremes_of_that_years_sun_times() -> None:
    year = sun_times([dt.date(2016, 1, 1) + dt.timedelta(days=i) for i in range(366)])
    assert intertwilight_window([2016]) == (year["sunset_minute"].min(), year["dusk_minute"].max())


@pytest.mark.parametrize(("odds", "model_name", "expected"), [
    ((0.8, 0.7, 0.9), MODEL_TIME_DISTRICT,
     "After dark, the odds that a stopped driver (Black or White) is Black are 0.80 times the daylight odds at the "
     "same clock time and district (95% CI 0.70 to 0.90). Black drivers are a smaller share of stops when darkness "
     "makes race harder to see, which is evidence consistent with racial bias in daylight stop decisions (Pierson "
     "et al. 2020); it is not proof (street lighting, seasonal driving patterns)."),
    ((1.2, 1.1, 1.3), MODEL_TIME,
     "After dark, the odds that a stopped driver (Black or White) is Black are 1.20 times the daylight odds at the "
     "same clock time (95% CI 1.10 to 1.30). Black drivers are a larger share of stops after dark: this test finds "
     "no sign of daylight bias against Black drivers; who drives, where and when may differ after dark."),
    ((1.0, 0.9, 1.0), MODEL_TIME,
     "After dark, the odds that a stopped driver (Black or White) is Black are 1.00 times the daylight odds at the "
     "same clock time (95% CI 0.90 to 1.00). The interval includes 1: no detectable difference between daylight "
     "and darkness, so this test neither shows nor rules out bias in stop decisions."),
    ((1.5, 1.0, 2.2), MODEL_TIME,
     "After dark, the odds that a stopped driver (Black or White) is Black are 1.50 times the daylight odds at the "
     "same clock time (95% CI 1.00 to 2.20). The interval includes 1: no detectable difference between daylight "
     "and darkness, so this test neither shows nor rules out bias in stop decisions."),
])
def test_the_sentence_says_what_the_interval_shows(odds, model_name, expected) -> None:  # noqa: ANN001
    assert interpret(*odds, model_name) == expected
