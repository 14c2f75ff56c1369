"""Interval estimates: hand-computed values and simulated coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.analysis.stats import (
    poisson_interval, proportion, rate_ratio_interval, smoothed_variance, wilson_interval, z_value,
)


def test_wilson_interval_matches_a_hand_computed_value() -> None:
    # k = 8, n = 20, z = 1.959964: p = 0.4, z²/n = 0.1920729, denominator 1.1920729,
    # centre = (0.4 + 0.0960365) / 1.1920729 = 0.4161125,
    # half = 1.959964 * sqrt(0.012 + 0.0024009) / 1.1920729 = 0.1973060 -> (0.2188065, 0.6134185),
    # the same as R's prop.test(8, 20, correct = FALSE)$conf.int.
    low, high = wilson_interval(8, 20)
    assert float(low) == pytest.approx(0.2188065, abs=1e-6)
    assert float(high) == pytest.approx(0.6134185, abs=1e-6)


def test_wilson_interval_at_zero_successes_is_zero_to_z_squared_over_n_plus_z_squared() -> None:
    z2 = z_value() ** 2
    low, high = wilson_interval(0, 10)
    assert float(low) == 0.0
    assert float(high) == pytest.approx(z2 / (10 + z2), rel=1e-9)
    low, high = wilson_interval(10, 10)
    assert float(high) == 1.0 and float(low) == pytest.approx(10 / (10 + z2), rel=1e-9)


def test_wilson_interval_is_undefined_for_zero_trials() -> None:
    low, high = wilson_interval([0, 3], [0, 5])
    assert math.isnan(low[0]) and math.isnan(high[0])
    assert 0 < low[1] < 0.6 < high[1] < 1


@pytest.mark.parametrize(("k", "low", "high"), [(0, 0.0, 3.688879), (1, 0.025318, 5.571643), (10, 4.795389, 18.390356)])
def test_poisson_interval_matches_published_exact_limits(k: int, low: float, high: float) -> None:
    lo, hi = poisson_interval(k)
    assert float(lo) == pytest.approx(low, abs=1e-5)
    assert float(hi) == pytest.approx(high, abs=1e-5)


@pytest.mark.parametrize(("p", "n"), [(0.5, 20), (0.1, 60), (0.3, 500)])
def test_wilson_interval_covers_the_true_proportion_about_95_percent_of_the_time(p: float, n: int) -> None:
    rng = np.random.default_rng(20240601)
    k = rng.binomial(n, p, 20_000)
    low, high = wilson_interval(k, n)
    coverage = float(((low <= p) & (p <= high)).mean())
    assert 0.93 <= coverage <= 0.98


@pytest.mark.parametrize(("mu1", "mu0"), [(20, 10), (200, 100), (5, 5)])
def test_rate_ratio_interval_covers_the_true_ratio_about_95_percent_of_the_time(mu1: float, mu0: float) -> None:
    rng = np.random.default_rng(7)
    k1, k0 = rng.poisson(mu1, 20_000), rng.poisson(mu0, 20_000)
    ratio, low, high = rate_ratio_interval(k1, 1_000, k0, 500)
    truth = (mu1 / 1_000) / (mu0 / 500)
    coverage = float(((low <= truth) & (truth <= high)).mean())
    assert 0.93 <= coverage <= 0.98


def test_rate_ratio_interval_with_zero_events_in_the_reference_group_has_an_open_upper_end() -> None:
    ratio, low, high = rate_ratio_interval(5, 1_000, 0, 1_000)
    assert math.isnan(float(ratio))
    assert float(low) > 0 and math.isinf(float(high))


def test_smoothed_variance_matches_hand_computed_values() -> None:
    # p~ = (k + 2) / (n + 4): 8/20 -> 10/24, variance (10/24)(14/24)/20 = 0.0121528;
    # 20/20 -> 22/24 -> 0.0038194; 0/1 -> 2/5 -> 0.24 (never 0, unlike p(1-p)/n); n = 0 -> undefined.
    v = smoothed_variance([8, 20, 0, 0], [20, 20, 1, 0])
    assert v[:3] == pytest.approx([0.0121528, 0.0038194, 0.24], abs=1e-7)
    assert math.isnan(v[3])


def test_rate_ratio_interval_matches_a_hand_computed_value_with_fractional_populations() -> None:
    # 3 vs 1 events in equal populations of 0.5: p = r/(r+1), Wilson(3, 4) = (0.300642, 0.954413)
    # -> r from 0.300642/0.699358 = 0.429883 to 0.954413/0.045587 = 20.9360.
    ratio, low, high = rate_ratio_interval(3, 0.5, 1, 0.5)
    assert (float(ratio), float(low), float(high)) == pytest.approx((3.0, 0.429883, 20.9360), rel=1e-4)


def test_rate_ratio_interval_is_undefined_without_events_and_narrower_at_lower_confidence() -> None:
    ratio, low, high = rate_ratio_interval(0, 100, 0, 100)
    assert all(math.isnan(float(x)) for x in (ratio, low, high))
    _, low90, high90 = rate_ratio_interval(8, 1_000, 12, 2_000, conf=0.90)
    _, low95, high95 = rate_ratio_interval(8, 1_000, 12, 2_000)
    assert low95 < low90 < high90 < high95


def test_wilson_interval_for_one_trial_and_one_success_in_ten() -> None:
    z2 = 1.959964**2
    low, high = wilson_interval([1, 0, 1], [1, 1, 10])
    assert low[:2].tolist() == pytest.approx([1 / (1 + z2), 0.0], abs=1e-6)
    assert high[:2].tolist() == pytest.approx([1.0, z2 / (1 + z2)], abs=1e-6)
    # 1 in 10 by the textbook formula: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    p, n = 0.1, 10
    centre, half = p + z2 / (2 * n), math.sqrt(z2) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    assert (low[2], high[2]) == pytest.approx(((centre - half) / (1 + z2 / n), (centre + half) / (1 + z2 / n)), abs=1e-6)


def test_a_proportion_of_one_trial_is_defined() -> None:
    assert proportion([1, 0, 3], [1, 1, 4]).tolist() == [1.0, 0.0, 0.75]
    assert math.isnan(float(proportion(0, 0)))


def test_rate_ratio_interval_without_a_population_is_undefined() -> None:
    ratio, low, _ = rate_ratio_interval(5, 0, 5, 100)
    assert math.isnan(float(ratio)) and math.isnan(float(low))
