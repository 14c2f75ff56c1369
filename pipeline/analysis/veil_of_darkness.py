"""Veil of darkness test (Grogger & Ridgeway 2006; Pierson et al. 2020, Nature Human Behaviour).

Idea: after dark it is harder to see a driver's race before the stop. If officers stop Black
drivers more readily *because* they are Black, the Black share of stops should fall once it is
dark, *at the same clock time* (clock time stands in for who is on the road). The sun sets at
different clock times over the year, so at, say, 18:30 it is light in June and dark in December.

Method (as in Pierson et al.):

1. Sunset and civil dusk (sun 6° below the horizon) for every date, computed offline with astral
   at the county's centre (39.14 N, 77.20 W), America/New_York clock time (DST included).
2. Keep stops whose clock time lies in the inter-twilight window: from the earliest sunset to the
   latest dusk of the calendar year(s) in the data. Drop stops between that day's sunset and
   dusk (neither light nor dark). ``is_dark`` = after dusk; light = before sunset.
3. Only Black and White drivers: P(Black | stopped, Black or White) is modelled with a binomial
   GLM (logit): ``is_black ~ is_dark + cr(clock_minute, df=6) [+ district]``. ``cr`` is patsy's
   natural cubic regression spline (centred); district fixed effects absorb where stops happen.
4. The coefficient of ``is_dark`` is a log odds ratio. Negative (odds ratio < 1): Black drivers
   are a smaller share of stops after dark than in daylight at the same clock time, which is
   evidence consistent with racial bias in daylight stop decisions. It is not proof: street
   lighting reduces the veil, and driving patterns may differ by season.

The test refuses (``ran=False`` with a reason) below ``min_n`` usable stops or when any of the
dark/light x Black/White cells has fewer than ``min_cell`` stops.

Input is counted, not listed: ``veil_stops.sql`` returns one row per date, clock minute, race and
district with ``n_stops``. Every count, share and threshold sums ``n_stops``; the GLM is fitted on
one row per (is_dark, clock minute, district, race) with ``n_stops`` as a frequency weight, which
gives the same estimates and standard errors as one row per stop. A frame without ``n_stops`` is
one row per stop.
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import lru_cache
from typing import Final, Iterable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .stats import AnalysisResult, proportion, wilson_interval, z_value

NAME: Final = "veil_of_darkness"
COUNTY_LATITUDE: Final = 39.14
COUNTY_LONGITUDE: Final = -77.20
TIMEZONE: Final = "America/New_York"
SPLINE_DF: Final = 6
MIN_N: Final = 1_000
MIN_CELL: Final = 30
MIN_DISTRICT_STOPS: Final = 30
MODEL_TIME: Final = "time"
MODEL_TIME_DISTRICT: Final = "time_district"
WEIGHT: Final = "n_stops"
MODEL_KEYS: Final = ["is_dark", "clock_minute", "district", "is_black"]

COLUMNS: Final = [
    "model", "ran", "reason", "n", "n_black", "n_dark", "n_light", "n_twilight_dropped",
    "share_black_light", "share_black_light_low", "share_black_light_high",
    "share_black_dark", "share_black_dark_low", "share_black_dark_high",
    "coef_is_dark", "se", "ci_low", "ci_high", "odds_ratio", "or_low", "or_high", "p_value",
    "spline_df", "n_districts", "window_start", "window_end", "date_min", "date_max", "min_n",
    "interpretation", "computed_at",
]


@lru_cache(maxsize=None)
def _sun_minutes(day: dt.date) -> tuple[float, float]:
    """(sunset, civil dusk) for one date as minutes after local midnight."""
    from astral import Observer
    from astral.sun import sun

    s = sun(Observer(COUNTY_LATITUDE, COUNTY_LONGITUDE), day, tzinfo=ZoneInfo(TIMEZONE))
    sunset, dusk = s["sunset"], s["dusk"]
    return (
        sunset.hour * 60 + sunset.minute + sunset.second / 60.0,
        dusk.hour * 60 + dusk.minute + dusk.second / 60.0,
    )


def sun_times(dates: Iterable[dt.date]) -> pd.DataFrame:
    """``date, sunset_minute, dusk_minute`` (local clock minutes) for each distinct date."""
    unique = sorted({pd.Timestamp(d).date() for d in dates})
    rows = [(d, *_sun_minutes(d)) for d in unique]
    return pd.DataFrame(rows, columns=["date", "sunset_minute", "dusk_minute"])


def intertwilight_window(years: Iterable[int]) -> tuple[float, float]:
    """(earliest sunset, latest dusk) in clock minutes over every day of the given years."""
    days = [
        dt.date(y, 1, 1) + dt.timedelta(days=i)
        for y in sorted(set(int(y) for y in years))
        for i in range((dt.date(y + 1, 1, 1) - dt.date(y, 1, 1)).days)
    ]
    times = sun_times(days)
    return float(times["sunset_minute"].min()), float(times["dusk_minute"].max())


def _hhmm(minutes: float) -> str:
    m = int(round(minutes))
    return f"{m // 60:02d}:{m % 60:02d}"


def _with_weights(stops: pd.DataFrame) -> pd.DataFrame:
    """``stops`` with an integer ``n_stops`` column: as given, or 1 per row for one row per stop."""
    if WEIGHT in stops.columns:
        return stops.assign(**{WEIGHT: pd.to_numeric(stops[WEIGHT]).fillna(0).astype("int64")})
    return stops.assign(**{WEIGHT: 1})


def _weighted_count(data: pd.DataFrame, mask: pd.Series | None = None) -> int:
    """Number of stops (sum of ``n_stops``) in ``data``, or in the rows where ``mask`` holds."""
    weights = data[WEIGHT] if mask is None else data.loc[mask, WEIGHT]
    return int(weights.sum())


def prepare(stops: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
    """Stops (date_of_stop, clock_minute, race, district[, n_stops]) -> modelling frame + window facts.

    Output columns: date, clock_minute, is_black (0/1), is_dark (0/1), district, n_stops (stops the
    row stands for; 1 per row when the input has no ``n_stops``), plus the input's other columns and
    the day's sun times. One output row per input row kept; ``n_twilight_dropped`` counts stops,
    not rows.
    """
    s = _with_weights(stops)
    s = s[s["race"].isin(["BLACK", "WHITE"]) & s["clock_minute"].notna()
          & s["date_of_stop"].notna() & (s[WEIGHT] > 0)].copy()
    info: dict[str, object] = {}
    if s.empty:
        return s.assign(is_black=[], is_dark=[]), {"window": None, "n_twilight_dropped": 0}
    s["date"] = pd.to_datetime(s["date_of_stop"]).dt.date
    years = {d.year for d in s["date"]}
    start, end = intertwilight_window(years)
    info["window"] = (start, end)
    s["clock_minute"] = s["clock_minute"].astype(float)
    s = s[(s["clock_minute"] >= start) & (s["clock_minute"] <= end)]
    sun = sun_times(s["date"])
    s = s.merge(sun, on="date", how="left")
    twilight = (s["clock_minute"] >= s["sunset_minute"]) & (s["clock_minute"] <= s["dusk_minute"])
    info["n_twilight_dropped"] = _weighted_count(s, twilight)
    s = s[~twilight].copy()
    s["is_dark"] = (s["clock_minute"] > s["dusk_minute"]).astype(int)
    s["is_black"] = (s["race"] == "BLACK").astype(int)
    s["district"] = s["district"].astype(object).where(s["district"].notna(), "(not recorded)")
    return s.reset_index(drop=True), info


def pool_small_districts(data: pd.DataFrame, min_stops: int = MIN_DISTRICT_STOPS) -> pd.Series:
    """District labels with districts of fewer than ``min_stops`` stops (weighted) pooled into one."""
    counts = data.groupby("district")[WEIGHT].sum()
    small = counts[counts < min_stops].index
    return data["district"].where(~data["district"].isin(small), "(small districts pooled)")


def collapse(data: pd.DataFrame) -> pd.DataFrame:
    """One row per (is_dark, clock_minute, district, is_black) with summed ``n_stops``: the GLM's input.

    The date only decided is_dark; once that is known, rows that agree on every model variable
    are interchangeable, so their stops are added up and fitted as one frequency-weighted row.
    """
    return data.groupby(MODEL_KEYS, as_index=False, sort=True)[WEIGHT].sum()


def _fit(data: pd.DataFrame, spline_df: int, with_district: bool) -> tuple[object, int]:
    """Binomial GLM on ``collapse``-d rows weighted by ``n_stops``; the spline df steps down if the
    clock times have too few distinct values.

    Why the weighted fit equals the per-stop fit: freq_weights make the likelihood, and so the
    estimates and standard errors, those of the expanded rows. patsy's ``cr`` puts its knots at
    quantiles of the *distinct* clock minutes, which collapsing keeps; its centring constraint is
    an unweighted row mean and so differs, but with an intercept in the model that only
    reparametrises the spline columns, leaving the is_dark coefficient and its SE unchanged.
    """
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    last_error: Exception | None = None
    for df in range(spline_df, 2, -1):
        formula = f"is_black ~ is_dark + cr(clock_minute, df={df}, constraints='center')"
        if with_district:
            formula += " + C(district)"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = smf.glm(formula, data=data, family=sm.families.Binomial(),
                              freq_weights=data[WEIGHT].astype(float)).fit()
            if np.isfinite(fit.bse["is_dark"]):
                return fit, df
        except Exception as exc:  # patsy: duplicate knots when times are heavily rounded
            last_error = exc
    raise RuntimeError(f"the model could not be fitted: {last_error}")


def interpret(odds_ratio: float, low: float, high: float, model: str) -> str:
    """One plain-language sentence (plus its qualifier) about the is_dark odds ratio."""
    adj = "clock time and district" if model == MODEL_TIME_DISTRICT else "clock time"
    head = (f"After dark, the odds that a stopped driver (Black or White) is Black are {odds_ratio:.2f} "
            f"times the daylight odds at the same {adj} (95% CI {low:.2f} to {high:.2f}). ")
    if high < 1:
        return head + ("Black drivers are a smaller share of stops when darkness makes race harder to see, "
                       "which is evidence consistent with racial bias in daylight stop decisions "
                       "(Pierson et al. 2020); it is not proof (street lighting, seasonal driving patterns).")
    if low > 1:
        return head + ("Black drivers are a larger share of stops after dark: this test finds no sign of "
                       "daylight bias against Black drivers; who drives, where and when may differ after dark.")
    return head + ("The interval includes 1: no detectable difference between daylight and darkness, "
                   "so this test neither shows nor rules out bias in stop decisions.")


def veil_of_darkness(
    stops: pd.DataFrame,
    min_n: int = MIN_N,
    min_cell: int = MIN_CELL,
    spline_df: int = SPLINE_DF,
) -> AnalysisResult:
    """Run both models (time; time + district) on ``veil_stops.sql``-shaped stops.

    ``stops`` is either counted (with ``n_stops``, as the SQL returns it) or one row per stop.
    """
    data, info = prepare(stops)
    n = _weighted_count(data)
    base: dict[str, object] = {
        "n": float(n), "min_n": min_n, "spline_df": spline_df,
        "n_twilight_dropped": float(info.get("n_twilight_dropped", 0)),
    }
    if info.get("window"):
        base["window_start"], base["window_end"] = (_hhmm(x) for x in info["window"])  # type: ignore[union-attr]
    if n:
        base["date_min"], base["date_max"] = min(data["date"]), max(data["date"])
        dark, light = data[data["is_dark"] == 1], data[data["is_dark"] == 0]
        base.update(n_black=float(_weighted_count(data, data["is_black"] == 1)),
                    n_dark=float(_weighted_count(dark)), n_light=float(_weighted_count(light)))
        for name, part in (("light", light), ("dark", dark)):
            k, m = _weighted_count(part, part["is_black"] == 1), _weighted_count(part)
            lo, hi = wilson_interval(k, m)
            base[f"share_black_{name}"] = float(proportion(k, m))
            base[f"share_black_{name}_low"], base[f"share_black_{name}_high"] = float(lo), float(hi)

    cells = {
        (d, b): _weighted_count(data, (data["is_dark"] == d) & (data["is_black"] == b)) if n else 0
        for d in (0, 1) for b in (0, 1)
    }
    smallest = min(cells.values())
    reason = ""
    if n < min_n:
        reason = (f"too few stops: {n:,} stops of Black or White drivers in the inter-twilight window "
                  f"(outside sunset-dusk), fewer than the minimum of {min_n:,}")
    elif smallest < min_cell:
        names = {(0, 0): "White in daylight", (0, 1): "Black in daylight", (1, 0): "White after dark",
                 (1, 1): "Black after dark"}
        worst = min(cells, key=cells.get)
        reason = (f"too few stops in one group: {cells[worst]} stops of {names[worst]} drivers "
                  f"(minimum {min_cell}); the window needs stops both before sunset and after dusk")
    if reason:
        rows = [dict(base, model=m, ran=False, reason=reason, interpretation="cannot be computed: " + reason)
                for m in (MODEL_TIME, MODEL_TIME_DISTRICT)]
        return AnalysisResult(NAME, False, reason, _frame(rows), {"cells": cells, **info})

    # District fixed effects need enough stops per district; small ones are pooled.
    data["district"] = pool_small_districts(data)
    model_data = collapse(data)

    rows = []
    z = z_value()
    for model, with_district in ((MODEL_TIME, False), (MODEL_TIME_DISTRICT, True)):
        row = dict(base, model=model)
        try:
            fit, used_df = _fit(model_data, spline_df, with_district)
        except RuntimeError as exc:
            row.update(ran=False, reason=str(exc), interpretation="cannot be computed: " + str(exc))
            rows.append(row)
            continue
        coef, se = float(fit.params["is_dark"]), float(fit.bse["is_dark"])
        lo, hi = coef - z * se, coef + z * se
        row.update(
            ran=True, reason="", coef_is_dark=coef, se=se, ci_low=lo, ci_high=hi,
            odds_ratio=float(np.exp(coef)), or_low=float(np.exp(lo)), or_high=float(np.exp(hi)),
            p_value=float(fit.pvalues["is_dark"]), spline_df=used_df,
            n_districts=int(model_data["district"].nunique()) if with_district else None,
        )
        row["interpretation"] = interpret(row["odds_ratio"], row["or_low"], row["or_high"], model)
        rows.append(row)
    table = _frame(rows)
    ran = bool(table["ran"].any())
    reason = "" if ran else str(table["reason"].iloc[0])
    return AnalysisResult(NAME, ran, reason, table, {"cells": cells, **info})


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    frame["computed_at"] = pd.NaT
    for col in ("spline_df", "n_districts", "min_n"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    return frame[COLUMNS]
