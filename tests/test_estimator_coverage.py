"""Bias and interval coverage of the veil-of-darkness and outcome estimators over many seeds.

One seed can only show that an estimate landed near the truth once. Here each estimator runs on
``SEEDS`` independent synthetic data sets with a planted effect: the mean estimate must be within 4
standard errors (of the mean over seeds) of the truth, and the share of 95% intervals covering the
truth must lie in the central 99.9% of Binomial(SEEDS, 0.95) (about 88 to 100 of 100).

The data are built without the implementation's helpers: darkness from the USNO short method
(tests/sun_reference.py, not astral), search counts drawn directly as binomials (not through
``aggregate_search_counts``).

Marked ``statistics`` (about a minute): the quick run is ``pytest -m "not statistics"``; CI runs all.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

from pipeline.analysis import outcome_test, veil_of_darkness
from pipeline.analysis.outcome import LEVEL_WEIGHTED
from pipeline.analysis.veil_of_darkness import COUNTY_LATITUDE, COUNTY_LONGITUDE, MODEL_TIME, MODEL_TIME_DISTRICT
from tests.sun_reference import sunset_and_dusk

pytestmark = pytest.mark.statistics

SEEDS = 100
NOMINAL = 0.95
BAND = stats.binom.ppf([0.0005, 0.9995], SEEDS, NOMINAL)  # 99.9% of coverage counts of a true 95% interval


def check(name: str, estimates: np.ndarray, lows: np.ndarray, highs: np.ndarray, truth: float) -> str:
    covered = int(((lows <= truth) & (truth <= highs)).sum())
    bias = float(estimates.mean() - truth)
    se_of_mean = float(estimates.std(ddof=1) / np.sqrt(len(estimates)))
    line = (f"{name}: truth {truth:+.3f}, mean {estimates.mean():+.4f} (bias {bias:+.4f}, SE of mean "
            f"{se_of_mean:.4f}), coverage {covered}/{len(estimates)} (band {BAND[0]:.0f}-{BAND[1]:.0f})")
    assert abs(bias) <= 4 * se_of_mean, line
    assert BAND[0] <= covered <= BAND[1], line
    return line


# ---------------------------------------------------------------------------------- veil of darkness

DISTRICTS = {"1st District, Rockville": -0.4, "3rd District, Silver Spring": 0.5, "5th District, Germantown": 0.0}
DUSK_2016 = {d: sunset_and_dusk(d, COUNTY_LATITUDE, COUNTY_LONGITUDE)[1]
             for d in (dt.date(2016, 1, 1) + dt.timedelta(days=i) for i in range(366))}


def veil_stops(n: int, beta: float, seed: int) -> pd.DataFrame:
    """Black/White stops on random days of 2016, 16:30-21:30: logit P(Black) = smooth(clock time)
    + district + beta * dark, where dark = after the USNO end of civil twilight."""
    rng = np.random.default_rng(seed)
    days = [dt.date(2016, 1, 1) + dt.timedelta(days=int(i)) for i in rng.integers(0, 366, n)]
    minute = rng.integers(16 * 60 + 30, 21 * 60 + 30, n)
    district = rng.choice(list(DISTRICTS), n)
    dark = minute > np.array([DUSK_2016[d] for d in days])
    logit = -0.2 + 0.5 * np.sin((minute - 1000) / 90.0) + pd.Series(district).map(DISTRICTS).to_numpy() + beta * dark
    black = rng.random(n) < expit(logit)
    return pd.DataFrame({"date_of_stop": pd.to_datetime(days), "clock_minute": minute,
                         "race": np.where(black, "BLACK", "WHITE"), "district": district})


def test_the_veil_estimate_is_unbiased_and_its_interval_covers_95_percent() -> None:
    """The planted beta is the effect *given the district*: the time + district model estimates it.

    The time-only model leaves the district effects out, and a logit coefficient shrinks toward 0
    when a covariate that matters is left out (non-collapsibility), so it targets a smaller number
    (measured: mean -0.378 for -0.4, coverage 90/100); it is reported, not held to beta.
    """
    beta = -0.4
    rows = {MODEL_TIME: [], MODEL_TIME_DISTRICT: []}
    for seed in range(SEEDS):
        result = veil_of_darkness(veil_stops(8_000, beta, 1_000 + seed))
        assert result.ran, result.reason
        table = result.table.set_index("model")
        for model in rows:
            rows[model].append(table.loc[model, ["coef_is_dark", "ci_low", "ci_high"]].astype(float).to_numpy())
    a = np.array(rows[MODEL_TIME_DISTRICT])
    print(check(f"veil {MODEL_TIME_DISTRICT}", a[:, 0], a[:, 1], a[:, 2], beta))
    t = np.array(rows[MODEL_TIME])
    covered = int(((t[:, 1] <= beta) & (beta <= t[:, 2])).sum())
    print(f"veil {MODEL_TIME} (district left out, attenuated): mean {t[:, 0].mean():+.4f}, coverage {covered}/{SEEDS}")
    assert beta < t[:, 0].mean() < 0.9 * beta  # toward zero, but by less than a tenth


# ------------------------------------------------------------------------------------- outcome test

WHITE_HIT = {"1st": 0.15, "2nd": 0.25, "3rd": 0.35, "4th": 0.45}
HIT_GAP, SEARCH_GAP = -0.10, 0.02  # Black minus White, the same in every district
WHITE_SEARCH, DISCRETIONARY = 0.05, 0.7


def outcome_counts(seed: int) -> pd.DataFrame:
    """Counts per district x race as sql/analysis/outcome_counts.sql returns them, drawn directly."""
    rng = np.random.default_rng(seed)
    rows = []
    for district, white_hit in WHITE_HIT.items():
        for race, search, hit in (("WHITE", WHITE_SEARCH, white_hit),
                                  ("BLACK", WHITE_SEARCH + SEARCH_GAP, white_hit + HIT_GAP)):
            stops = int(rng.integers(3_000, 6_000))
            disc = int(rng.binomial(stops, search))
            searches = disc + int(rng.binomial(stops - disc, search * (1 - DISCRETIONARY)))
            rows.append({"district": district, "race": race, "stops": stops, "searches": searches,
                         "discretionary_searches": disc, "searches_reason_missing": 0,
                         "hits": int(rng.binomial(disc, hit))})
    return pd.DataFrame(rows)


def test_the_outcome_differences_are_unbiased_and_their_intervals_cover_95_percent() -> None:
    cols = ["hit_rate_diff", "hit_rate_diff_low", "hit_rate_diff_high",
            "search_rate_diff", "search_rate_diff_low", "search_rate_diff_high"]
    values = []
    for seed in range(SEEDS):
        result = outcome_test(outcome_counts(2_000 + seed))
        assert result.ran, result.reason
        t = result.table
        values.append(t[(t["level"] == LEVEL_WEIGHTED) & (t["race"] == "BLACK")].iloc[0][cols].astype(float).to_numpy())
    a = np.array(values)
    print(check("outcome hit_rate_diff", a[:, 0], a[:, 1], a[:, 2], HIT_GAP))
    print(check("outcome search_rate_diff", a[:, 3], a[:, 4], a[:, 5], SEARCH_GAP))
