"""Pure table builders and the small-count policy (DataFrames in, DataFrames out; no Streamlit, no SQL).

One small-count policy for every page, chart, table and CSV: a count of stops between 1 and k-1
(k = ``PIPELINE_SMALL_COUNT``, 10 by default) is never shown, nor anything it could be recovered
from (a share, a rate, a change); it reads "fewer than k". Zero is shown (it protects no one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import labels, rates
from .i18n import _, fmt_int

# ------------------------------------------------------------------------------------------------
# The small-count policy
# ------------------------------------------------------------------------------------------------


def is_small(n: Any, k: int) -> bool:
    """True for a count of 1..k-1 (a count that must not be shown)."""
    if n is None or (isinstance(n, float) and math.isnan(n)) or n is pd.NA:
        return False
    return 0 < float(n) < k


def count_text(n: Any, k: int) -> str:
    """'1,234', '0', or 'fewer than 10'."""
    return _("fewer than {k}").format(k=fmt_int(k)) if is_small(n, k) else fmt_int(n)


def mask_small(values: pd.Series, k: int) -> pd.Series:
    """Counts of 1..k-1 -> missing (nullable integers)."""
    v = pd.to_numeric(values, errors="coerce")
    return v.where(~((v > 0) & (v < k))).round().astype("Int64")


def pct_change(new: float, old: float) -> float | None:
    if not old:
        return None
    return (new - old) / old


def same_period_last_year(date_from: date, date_to: date) -> tuple[date, date]:
    def back(d: date) -> date:
        try:
            return d.replace(year=d.year - 1)
        except ValueError:  # 29 February
            return d.replace(year=d.year - 1, day=28)

    return back(date_from), back(date_to)


# ------------------------------------------------------------------------------------------------
# Comparing two periods honestly
# ------------------------------------------------------------------------------------------------

# Two periods whose records per covered day differ more than this are not compared: the gap is in
# the recording (a sample, an under-recorded stretch), not necessarily in the stops.
MAX_DENSITY_RATIO = 2.0


@dataclass(frozen=True)
class Comparison:
    """The verdict on comparing period A (earlier) with period B (from :func:`compare_periods`)."""

    stops_a: int
    stops_b: int
    matched_days: int
    covered_a: int
    covered_b: int
    first_b: date | None
    last_b: date | None
    change: float | None  # None: not shown (see ``reason``)
    reason: str  # why no change is shown ('' when it is)

    @property
    def partial(self) -> bool:
        """The matched days are fewer than the days either period covers."""
        return self.matched_days < max(self.covered_a, self.covered_b)


def _day_array(values: Any) -> np.ndarray:
    """Days (dates, timestamps or date strings) as a datetime64[D] array, in the given order."""
    return pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]")


def _matched(days: np.ndarray, a: tuple[date, date], b: tuple[date, date]) -> tuple[np.ndarray, np.ndarray]:
    """The matched (day_a, day_b) of :func:`match_days` as two datetime64[D] arrays in order of day_b.

    Each day of a period is keyed by (years from the period's start year, month, day) as one number
    that grows with the day, so the keys both periods hold are the matched days, found by a sorted
    intersection instead of a merge of two frames of dates (17 ms a page run at 2M rows)."""
    days = _sorted_unique(days[~np.isnat(days)])

    def keyed(start: date, end: date) -> tuple[np.ndarray, np.ndarray]:
        d = days[(days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D"))]
        months = d.astype("datetime64[M]")
        years = months.astype("datetime64[Y]").astype("int64") + 1970
        key = (years - start.year) * 10_000 + (months.astype("int64") % 12 + 1) * 100 + (d - months).astype("int64") + 1
        return d, key

    (day_a, key_a), (day_b, key_b) = keyed(*a), keyed(*b)
    _common, ia, ib = np.intersect1d(key_a, key_b, assume_unique=True, return_indices=True)
    return day_a[ia], day_b[ib]


def match_days(covered: pd.Series, a: tuple[date, date], b: tuple[date, date]) -> pd.DataFrame:
    """day_a, day_b: the days of period A and of period B that both have data and sit at the same
    place in their period (years from the period's start year, month, day). ``covered`` holds the
    days with at least one stop, whatever the filters. Grain: one row per matched pair, in order."""
    day_a, day_b = _matched(_day_array(covered), a, b)
    return pd.DataFrame({"day_a": pd.Series(day_a.astype(object), dtype=object),
                         "day_b": pd.Series(day_b.astype(object), dtype=object)})


def day_ranges(days: "pd.Series | list[date]") -> list[tuple[date, date]]:
    """Consecutive days merged into (first, last) ranges, in order."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(pd.to_datetime(pd.Series(list(days))).dt.date)):
        if out and (d - out[-1][1]).days == 1:
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _sorted_unique(days: np.ndarray) -> np.ndarray:
    """``days`` sorted without repeats (the daily frames usually are already)."""
    return days if bool((days[1:] > days[:-1]).all()) else np.unique(days)


def _counts_on(daily: pd.DataFrame, days: np.ndarray, on: np.ndarray) -> int:
    """The sum of ``daily``'s stops on the days ``on`` (``days``: its rows' days; a day listed twice
    counts its last row; a day it lacks counts 0)."""
    stops = daily["stops"].to_numpy()
    if not bool((days[1:] > days[:-1]).all()):  # repeated or unsorted days: keep each day's last row
        order = np.argsort(days, kind="stable")
        days, stops = days[order], stops[order]
        last = np.append(days[1:] != days[:-1], True)
        days, stops = days[last], stops[last]
    at = np.minimum(np.searchsorted(days, on), max(len(days) - 1, 0))
    found = days[at] == on if len(days) else np.zeros(len(on), dtype=bool)
    return int(stops[at[found]].sum())


def compare_periods(all_daily: pd.DataFrame, filtered_daily: pd.DataFrame, a: tuple[date, date],
                    b: tuple[date, date]) -> pd.Series:
    """The two periods on the days both cover: stops_a, stops_b (the filtered stops), all_a, all_b
    (every stop: the recording density), covered_a, covered_b, matched_days, first_b, last_b.

    ``all_daily`` / ``filtered_daily``: date_of_stop, stops (queries.covered_days / queries.daily).
    """
    days = _day_array(all_daily["date_of_stop"])
    chosen = _day_array(filtered_daily["date_of_stop"])
    day_a, day_b = _matched(days, a, b)

    def covered(start: date, end: date) -> int:
        return int(((days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D"))).sum())

    return pd.Series({
        "stops_a": _counts_on(filtered_daily, chosen, day_a),
        "stops_b": _counts_on(filtered_daily, chosen, day_b),
        "all_a": _counts_on(all_daily, days, day_a),
        "all_b": _counts_on(all_daily, days, day_b),
        "covered_a": covered(*a), "covered_b": covered(*b), "matched_days": len(day_b),
        "first_b": day_b[0].astype(object) if len(day_b) else None,
        "last_b": day_b[-1].astype(object) if len(day_b) else None,
        "days_a": list(day_a.astype(object)), "days_b": list(day_b.astype(object)),
    })


def _day(value: Any) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def assess(row: pd.Series, k: int, is_sample: bool) -> Comparison:
    """Decide whether a change between the two periods may be printed, and say why not.

    ``row``: :func:`compare_periods`."""
    a, b = int(row["stops_a"] or 0), int(row["stops_b"] or 0)
    all_a, all_b = int(row["all_a"] or 0), int(row["all_b"] or 0)
    matched = int(row["matched_days"] or 0)
    reason = ""
    if is_sample:
        reason = _("the bundled sample was drawn unevenly over the years, so its counts can't show change")
    elif matched == 0:
        reason = _("the two periods have no day with data in common")
    elif min(all_a, all_b) == 0 or max(all_a, all_b) / min(all_a, all_b) > MAX_DENSITY_RATIO:
        reason = _("one period has far fewer records per day than the other (under-recording or a gap "
                   "in the data), so the difference may not be real")
    elif is_small(a, k) or is_small(b, k):
        reason = _("one of the counts is too small to compare")
    change = pct_change(b, a) if not reason else None
    if not reason and change is None:
        reason = _("there were no stops in the earlier period")
    return Comparison(a, b, matched, int(row["covered_a"] or 0), int(row["covered_b"] or 0),
                      _day(row["first_b"]), _day(row["last_b"]), change, reason)


# ------------------------------------------------------------------------------------------------
# Time
# ------------------------------------------------------------------------------------------------


def month_coverage(covered: pd.DataFrame, first: date | None = None, last: date | None = None) -> pd.DataFrame:
    """Per calendar month the data touches: ``month`` (first day), ``days_covered`` (days with any
    stop, whatever the filters), ``days_in_month``, and ``status``:

    * ``none``: no day with data (a gap in the record: drawn as a gap, never as zero stops);
    * ``partial``: the data (or the window ``first``..``last``) begins or ends inside the month, so
      the month is not whole (e.g. one day of November): marked or left out, never drawn as a fall;
    * ``full``: otherwise.

    ``covered``: queries.covered_days() (date_of_stop per day with data).
    """
    cols = ["month", "days_covered", "days_in_month", "status"]
    if covered.empty:
        return pd.DataFrame(columns=cols)
    days = pd.to_datetime(covered["date_of_stop"])
    lo = max(days.min(), pd.Timestamp(first)) if first is not None else days.min()
    hi = min(days.max(), pd.Timestamp(last)) if last is not None else days.max()
    days = days[(days >= lo) & (days <= hi)]
    if days.empty:
        return pd.DataFrame(columns=cols)
    months = pd.date_range(lo.to_period("M").to_timestamp(), hi.to_period("M").to_timestamp(), freq="MS")
    counts = days.dt.to_period("M").dt.to_timestamp().value_counts().reindex(months, fill_value=0)
    out = pd.DataFrame({"month": months, "days_covered": counts.to_numpy().astype("int64"),
                        "days_in_month": months.days_in_month.astype("int64")})
    ends = out["month"] + pd.to_timedelta(out["days_in_month"] - 1, unit="D")
    edge = (out["month"] < lo) | (ends > hi)
    out["status"] = np.where(out["days_covered"] == 0, "none", np.where(edge, "partial", "full"))
    return out


def month_index(df: pd.DataFrame, coverage: pd.DataFrame | None = None) -> pd.DataFrame:
    """Monthly rows with a ``month`` timestamp; months with no stops in the range filled with 0.

    With ``coverage`` (:func:`month_coverage`) the months it calls ``none`` (no data at all) get no
    count (NaN) instead of 0, and a ``status`` column says which months are partial."""
    if df.empty:
        return df.assign(month=pd.Series(dtype="datetime64[ns]"))
    m = df.assign(month=pd.to_datetime({"year": df["stop_year"], "month": df["stop_month"], "day": 1}))
    full = pd.date_range(m["month"].min(), m["month"].max(), freq="MS")
    if coverage is not None and not coverage.empty:
        full = full.union(pd.DatetimeIndex(coverage["month"]))
    m = m.set_index("month").reindex(full)
    m.index.name = "month"
    m["stops"] = m["stops"].fillna(0).astype("int64")
    m["charges"] = m["charges"].fillna(0).astype("int64")
    m["stop_year"] = m.index.year
    m["stop_month"] = m.index.month
    m = m.reset_index()
    if coverage is not None:
        status = coverage.set_index("month")["status"] if not coverage.empty else pd.Series(dtype=object)
        m["status"] = m["month"].map(status).fillna("none").astype(object)
        gap = m["status"].eq("none")
        m["stops"] = m["stops"].astype("Float64").mask(gap)
        m["charges"] = m["charges"].astype("Float64").mask(gap)
    return m


def year_status(cov: pd.DataFrame) -> dict[int, str]:
    """Per year of queries.year_coverage(): ``partial`` when the data covers fewer days than the
    calendar year has, else ``full`` (a year missing from ``cov`` has no data at all)."""
    out = {}
    for row in cov.itertuples(index=False):
        year = int(row.stop_year)
        days_in_year = 366 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 365
        out[year] = "partial" if int(row.days_covered) < days_in_year else "full"
    return out


def period_counts(df: pd.DataFrame) -> tuple[pd.Series, str]:
    """Stops per day, or per week when the range is longer than about a year: (series, 'day'|'week')."""
    d = df.assign(date_of_stop=pd.to_datetime(df["date_of_stop"])).set_index("date_of_stop")["stops"]
    if (d.index.max() - d.index.min()).days > 370:
        return d.resample("W-MON", label="left", closed="left").sum(), "week"
    return d.resample("D").sum(), "day"


def weekday_hour_matrix(df: pd.DataFrame, k: int = 0) -> pd.DataFrame:
    """7 x 24 counts, rows Monday..Sunday (SQL gives 0 = Sunday); cells of 1..k-1 missing."""
    grid = (
        df.assign(row=(df["stop_weekday"].astype(int) + 6) % 7)
        .pivot_table(index="row", columns="stop_hour", values="stops", aggfunc="sum", fill_value=0)
        .reindex(index=range(7), columns=range(24), fill_value=0)
    )
    return grid.apply(lambda col: mask_small(col, k)) if k else grid.astype("Int64")


def change_table(df: pd.DataFrame, k: int) -> pd.DataFrame:
    """label, stops_a, stops_b, change_pct; counts of 1..k-1 missing, and no change next to them."""
    out = pd.DataFrame({
        "label": df["label"],
        "stops_a": mask_small(df["stops_a"], k),
        "stops_b": mask_small(df["stops_b"], k),
    })
    a = out["stops_a"].astype("Float64")
    b = out["stops_b"].astype("Float64")
    out["change_pct"] = ((b - a) / a.where(a > 0)).astype("Float64")
    return out


# ------------------------------------------------------------------------------------------------
# People
# ------------------------------------------------------------------------------------------------


def _share_rows(stops: pd.DataFrame, k: int, groups: list[tuple[str, float, str]], total_res: float) -> pd.DataFrame:
    """Per (race, residents, census category) in ``groups``: stops and share of stops (neither shown
    for 1..k-1 stops) beside the residents and their share of ``total_res``."""
    total_stops = float(stops["stops"].sum()) if not stops.empty else 0.0
    rows = []
    for race, r, category in groups:
        n = int(stops.loc[stops["label"] == race, "stops"].sum()) if not stops.empty else 0
        small = is_small(n, k)
        rows.append({
            "race": race,
            "group": labels.race(race),
            "stops": pd.NA if small else n,
            "share_of_stops": np.nan if small or not total_stops else n / total_stops,
            "acs_category": category,
            "residents": r,
            "share_of_residents": r / total_res if total_res and not math.isnan(r) else np.nan,
        })
    out = pd.DataFrame(rows)
    out["stops"] = out["stops"].astype("Int64")
    return out


def race_share_table(stops: pd.DataFrame, residents: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per race: stops, share of stops, residents (census category), share of residents.

    ``stops``: label (race), stops. ``residents``: one row from queries.residents(). Groups with
    1..k-1 stops show neither count nor share. Resident shares overlap (race alone includes
    Hispanics), so they do not add up to 100%.
    """
    res = residents.iloc[0] if not residents.empty else pd.Series(dtype=float)
    groups = [(race, float(res.get(col, np.nan)) if col else np.nan, labels.acs_category(race))
              for race, (col, _acs) in labels.RESIDENT_CATEGORY.items()]
    return _share_rows(stops, k, groups, float(res.get("residents", 0) or 0))


def race_share_vs_county(stops: pd.DataFrame, county: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per race: stops and share of stops vs the county's residents in the census's exclusive
    categories (ACS B03002: Hispanic of any race, the other groups not Hispanic), so each resident is
    counted once and each group is compared with the same people.

    ``stops``: label (race), stops. ``county``: queries.county_race_population() (race, population,
    acs_year; ALL = the total). Groups with 1..k-1 stops show neither count nor share; OTHER has no
    census category.
    """
    pop = county.set_index("race")["population"].astype("float64")
    groups = [(race, float(pop.get(race, np.nan)), labels.exclusive_category(race)) for race in labels.EXCLUSIVE_CATEGORY]
    return _share_rows(stops, k, groups, float(pop.get("ALL", np.nan)))


def outcome_share_table(df: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per race: stops and the share ending in each outcome; groups under ``k`` stops suppressed,
    and a share whose count is 1..k-1 withheld (it would give the count away)."""
    rows = []
    for r in df.itertuples(index=False):
        small = r.stops < k
        row: dict[str, Any] = {"race": r.race, "group": labels.race(r.race),
                               "stops": pd.NA if small else int(r.stops), "suppressed": small}
        for col, _code in labels.OUTCOME_COLUMNS:
            n = int(getattr(r, col))
            row[f"{col}_share"] = np.nan if small or not r.stops or is_small(n, k) else n / r.stops
        rows.append(row)
    out = pd.DataFrame(rows, columns=["race", "group", "stops", "suppressed"]
                       + [f"{c}_share" for c, _ in labels.OUTCOME_COLUMNS])
    out["stops"] = out["stops"].astype("Int64")
    return out


def rate_table(df: pd.DataFrame, num: str, den: str, k: int) -> pd.DataFrame:
    """Per race: numerator, denominator, rate. The rate (and both counts) are withheld when either
    count is 1..k-1: a rate over a small denominator is noise, and one with a small numerator gives
    the numerator away."""
    n = df[num].astype("int64")
    d = df[den].astype("int64")
    suppressed = (d < max(k, 1)) | ((n > 0) & (n < k))
    out = pd.DataFrame({
        "race": df["race"],
        "group": [labels.race(r) for r in df["race"]],
        num: n.where(~suppressed).astype("Int64"),
        den: mask_small(d, k),
        "rate": (n / d.where(d > 0)).where(~suppressed),
        "suppressed": suppressed,
    })
    return out


# ------------------------------------------------------------------------------------------------
# Map
# ------------------------------------------------------------------------------------------------


def map_table(zips: pd.DataFrame, metric: str, k: int, min_residents: float = 1000) -> pd.DataFrame:
    """The map's numbers per ZIP: stops, residents, rate, overlays, and flags for withheld cells.

    A ZIP's value is withheld when it has 1..k-1 stops (small count); its rate is also withheld when
    fewer than ``min_residents`` county residents live there (unstable ratio).
    """
    t = zips.copy()
    t["small_count"] = (t["stops"] > 0) & (t["stops"] < k)
    t["few_residents"] = t["residents_in_county"].fillna(0) < min_residents
    col = rates.RATE_COLUMN if metric == "rate" else "stops"
    t["value"] = t[col].astype("float64").where(~t["small_count"])
    if metric == "rate":
        t.loc[t["few_residents"], "value"] = np.nan
    return t
