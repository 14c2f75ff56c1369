"""Interval estimates used by every analysis, and the result object each analysis returns.

All functions are vectorised over numpy arrays / pandas Series and return floats (NaN where the
quantity is undefined, e.g. a proportion of zero trials). Nothing here touches a warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
# scipy.special, not scipy.stats: the same quantile functions (scipy.stats' norm and chi2 call these),
# without the ~50 MB and seconds that importing scipy.stats adds to every dashboard process.
from scipy import special

CONFIDENCE = 0.95


def z_value(conf: float = CONFIDENCE) -> float:
    """Two-sided standard-normal quantile: 1.959964 for 95%."""
    return float(special.ndtri(0.5 + conf / 2.0))


def wilson_interval(k: Any, n: Any, conf: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion k/n (no continuity correction).

    (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n). Defined for n > 0 (NaN otherwise);
    unlike the Wald interval it stays inside [0, 1] and is sensible at k = 0 or k = n.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        # k = 0 and k = n have exact bounds 0 and 1; the formula gives them up to round-off.
        low = np.where(n > 0, np.where(k <= 0, 0.0, np.clip(centre - half, 0.0, 1.0)), np.nan)
        high = np.where(n > 0, np.where(k >= n, 1.0, np.clip(centre + half, 0.0, 1.0)), np.nan)
    return low, high


def proportion(k: Any, n: Any) -> np.ndarray:
    """k / n with NaN where n == 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, k / n, np.nan)


def poisson_interval(k: Any, conf: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson count k: chi-square quantiles, 0 lower bound at k = 0."""
    k = np.asarray(k, dtype=float)
    alpha = 1.0 - conf
    # chi2.ppf(q, df) = chdtri(df, 1 - q): the inverse of the chi-square survival function.
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, special.chdtri(2.0 * k, 1.0 - alpha / 2.0) / 2.0, 0.0)
        high = special.chdtri(2.0 * k + 2.0, alpha / 2.0) / 2.0
    return low, high


def rate_ratio_interval(
    k1: Any, pop1: Any, k0: Any, pop0: Any, conf: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two Poisson rates (k1/pop1) / (k0/pop0) with a conditional-binomial interval.

    Given k1 + k0 events, k1 is binomial with p = r·pop1 / (r·pop1 + pop0) where r is the rate
    ratio; a Wilson interval (pl, pu) for p maps to r = p/(1-p) · pop0/pop1. Works for small counts
    and needs no normal approximation on the log scale. Returns (ratio, low, high).
    """
    k1 = np.asarray(k1, dtype=float)
    k0 = np.asarray(k0, dtype=float)
    pop1 = np.asarray(pop1, dtype=float)
    pop0 = np.asarray(pop0, dtype=float)
    pl, pu = wilson_interval(k1, k1 + k0, conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = pop0 / pop1
        ratio = np.where((k0 > 0) & (pop1 > 0), (k1 / pop1) / (k0 / pop0), np.nan)
        low = np.where(pop1 > 0, pl / (1.0 - pl) * scale, np.nan)
        high = np.where((pop1 > 0) & (pu < 1.0), pu / (1.0 - pu) * scale, np.inf)
    high = np.where(np.isnan(pl), np.nan, high)
    return ratio, low, high


def smoothed_variance(k: Any, n: Any) -> np.ndarray:
    """Variance of a proportion with Agresti–Coull smoothing p~ = (k+2)/(n+4): never 0 at k = 0 or n."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    p = (k + 2.0) / (n + 4.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, p * (1.0 - p) / n, np.nan)


@dataclass
class AnalysisResult:
    """What every analysis returns: whether it ran, why not, and its result table.

    ``table`` is always a DataFrame with the columns of the analysis's warehouse table, even when
    the analysis refused to run (then it holds what could be computed, or one status row).
    """

    name: str
    ran: bool
    reason: str
    table: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:  # "if result:" reads as "if it ran"
        return self.ran
