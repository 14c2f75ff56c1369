"""Population benchmark: stops per 1,000 residents by race, county-wide and by ZIP.

A benchmark, not proof. Residents are not drivers: people drive through the county from
elsewhere, drive different amounts, and are stopped where police patrol. A higher rate for a
group says the group is stopped more often *relative to its share of residents*; it cannot say why.

Views (column ``view``):

* ``all_stops_county``: every stop in the county / county residents (ACS B03002, exclusive
  categories). Many of these drivers do not live in the county.
* ``residents_county``: only stops of drivers whose Driver State is MD and Driver City is a
  Montgomery County place (:mod:`pipeline.analysis.places`) / county residents. Closer to a
  per-resident rate, but still not per driver.
* ``all_stops_zip``: stops located in a ZIP (from the stop's coordinates) / the residents of the
  in-county part of that ZIP. Race-alone ACS counts: approximate (see
  :mod:`pipeline.analysis.population`); no ratio to White is given at this level.

Uncertainty: stop counts are treated as Poisson (exact Garwood interval on the rate); shares of
stops get Wilson intervals; the ratio to the White rate gets a conditional-binomial Wilson
interval. Population estimates are treated as fixed (the ACS margin of error of the county
counts is under 1% and is reported in ``population_moe``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from .places import RESIDENT_AMBIGUOUS, RESIDENT_COUNTY, RESIDENT_UNKNOWN, residence_statuses
from .population import NOT_COMPARABLE, zip_population_long
from .caveats import N_
from .stats import AnalysisResult, poisson_interval, proportion, rate_ratio_interval, wilson_interval

NAME: Final = "benchmark"
REFERENCE_RACE: Final = "WHITE"
STOP_RACES: Final = ("WHITE", "BLACK", "HISPANIC", "ASIAN", "NATIVE AMERICAN", "OTHER")
SMALL_POPULATION: Final = 1_000
LOW_IN_COUNTY_SHARE: Final = 0.95
PER: Final = 1_000.0

VIEW_ALL: Final = "all_stops_county"
VIEW_RESIDENTS: Final = "residents_county"
VIEW_ZIP: Final = "all_stops_zip"

COLUMNS: Final = [
    "view", "geography", "stop_year", "race", "stops", "stops_known_race",
    "stops_share", "stops_share_low", "stops_share_high",
    "population", "population_moe", "population_share", "population_category", "acs_year",
    "rate_per_1000", "rate_low", "rate_high",
    "ratio_vs_white", "ratio_low", "ratio_high",
    "reliable", "flag", "ran", "reason", "computed_at",
]

CAVEAT: Final = N_(
    "Benchmark, not proof: residents are not drivers. Many drivers stopped in Montgomery County live "
    "elsewhere, groups drive different amounts and in different places, and police patrol some areas "
    "more than others. A higher rate shows a disparity relative to population, not its cause."
)


def aggregate_residence_counts(stops: pd.DataFrame) -> pd.DataFrame:
    """Per-stop frame (stop_year, race, driver_state, driver_city) -> the counts
    ``sql/analysis/benchmark_residence_counts.sql`` returns (same columns, ``stops``)."""
    keys = ["stop_year", "race", "driver_state", "driver_city"]
    frame = stops[keys].copy()
    frame["driver_city"] = frame["driver_city"].astype(object).map(
        lambda c: None if c is None or (isinstance(c, float) and np.isnan(c)) else str(c).strip().upper()
    )
    return frame.groupby(keys, dropna=False).size().rename("stops").reset_index()


def aggregate_zip_counts(stops: pd.DataFrame) -> pd.DataFrame:
    """Per-stop frame (stop_year, zip5, race) -> ``benchmark_zip_counts.sql`` output."""
    frame = stops.loc[stops["zip5"].notna(), ["stop_year", "zip5", "race"]]
    return frame.groupby(["stop_year", "zip5", "race"], dropna=False).size().rename("stops").reset_index()


def _rate_rows(
    counts: pd.DataFrame,
    population: pd.DataFrame,
    view: str,
    geography_col: str | None,
    small_count: int,
    with_ratio: bool,
) -> pd.DataFrame:
    """counts: [geography?, stop_year, race, stops] (race may be null); population: [geography?, race,
    population, population_category, ...] -> COLUMNS rows (without run status)."""
    geo = [geography_col] if geography_col else []
    c = counts.copy()
    c["race"] = c["race"].astype(object).where(c["race"].notna(), None)
    totals = c.groupby([*geo, "stop_year"], dropna=False)["stops"].sum().rename("all_stops")
    known = c[c["race"].notna()].groupby([*geo, "stop_year"])["stops"].sum().rename("stops_known_race")
    by_race = c[c["race"].notna()].groupby([*geo, "stop_year", "race"])["stops"].sum()

    # Every race appears for every (geography, year) so a zero count shows as a zero, not a gap.
    base = totals.reset_index()[[*geo, "stop_year"]]
    grid = base.merge(pd.DataFrame({"race": list(STOP_RACES) + ["ALL"]}), how="cross")
    grid = grid.merge(by_race.rename("stops").reset_index(), on=[*geo, "stop_year", "race"], how="left")
    grid = grid.merge(totals.reset_index(), on=[*geo, "stop_year"], how="left")
    grid = grid.merge(known.reset_index(), on=[*geo, "stop_year"], how="left")
    grid["stops"] = grid["stops"].fillna(0.0)
    grid.loc[grid["race"] == "ALL", "stops"] = grid.loc[grid["race"] == "ALL", "all_stops"]
    grid["stops_known_race"] = grid["stops_known_race"].fillna(0.0)
    grid = grid.merge(population, on=[*geo, "race"], how="left")

    k = grid["stops"].to_numpy(float)
    n_known = grid["stops_known_race"].to_numpy(float)
    is_all = (grid["race"] == "ALL").to_numpy()
    share = np.where(is_all, np.nan, proportion(k, n_known))
    s_low, s_high = wilson_interval(k, n_known)
    grid["stops_share"] = share
    grid["stops_share_low"] = np.where(is_all, np.nan, s_low)
    grid["stops_share_high"] = np.where(is_all, np.nan, s_high)

    pop = grid["population"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        grid["rate_per_1000"] = np.where(pop > 0, k / pop * PER, np.nan)
        lo, hi = poisson_interval(k)
        grid["rate_low"] = np.where(pop > 0, lo / pop * PER, np.nan)
        grid["rate_high"] = np.where(pop > 0, hi / pop * PER, np.nan)
    all_pop = grid.loc[is_all, [*geo, "stop_year", "population"]].rename(columns={"population": "all_pop"})
    grid = grid.merge(all_pop, on=[*geo, "stop_year"], how="left")
    grid["population_share"] = np.where(
        (grid["race"] != "ALL") & (grid["all_pop"] > 0), grid["population"] / grid["all_pop"], np.nan
    )

    if with_ratio:
        ref = grid.loc[grid["race"] == REFERENCE_RACE, [*geo, "stop_year", "stops", "population"]]
        ref = ref.rename(columns={"stops": "ref_stops", "population": "ref_pop"})
        grid = grid.merge(ref, on=[*geo, "stop_year"], how="left")
        ratio, r_lo, r_hi = rate_ratio_interval(grid["stops"], grid["population"], grid["ref_stops"], grid["ref_pop"])
        eligible = ~grid["race"].isin(["ALL", *NOT_COMPARABLE]) & (grid["population"] > 0) & (grid["ref_pop"] > 0)
        grid["ratio_vs_white"] = np.where(eligible, ratio, np.nan)
        grid["ratio_low"] = np.where(eligible, r_lo, np.nan)
        grid["ratio_high"] = np.where(eligible, r_hi, np.nan)
    else:
        grid["ratio_vs_white"] = np.nan
        grid["ratio_low"] = np.nan
        grid["ratio_high"] = np.nan

    flags: list[str] = []
    reliable: list[bool] = []
    for row in grid.itertuples(index=False):
        parts = []
        if row.race in NOT_COMPARABLE:
            parts.append("no comparable census category: no rate")
        elif not (row.population > 0):
            parts.append("no population figure")
        if row.stops < small_count:
            parts.append(f"fewer than {small_count} stops: rate unstable")
        if pd.notna(row.population) and 0 < row.population < SMALL_POPULATION:
            parts.append(f"fewer than {SMALL_POPULATION:,} residents in the group: rate unstable")
        share_in = getattr(row, "in_county_share", np.nan)
        if pd.notna(share_in) and share_in < LOW_IN_COUNTY_SHARE and row.race == "ALL":
            parts.append(
                f"only {share_in:.0%} of this ZIP's residents live in the county; the denominator is the in-county part"
            )
        flags.append("; ".join(parts))
        reliable.append(not parts or all(p.startswith("only ") for p in parts))
    grid["flag"] = flags
    grid["reliable"] = reliable
    grid["view"] = view
    grid["geography"] = grid[geography_col] if geography_col else "county"
    for col in ("population_moe", "acs_year"):
        if col not in grid.columns:
            grid[col] = np.nan
    return grid


def county_benchmark(
    counts: pd.DataFrame, county_pop: pd.DataFrame, view: str, small_count: int = 10
) -> pd.DataFrame:
    """counts [stop_year, race, stops] for one view -> county rows (COLUMNS minus run status)."""
    pop = county_pop.rename(columns={"moe": "population_moe"})
    return _rate_rows(counts, pop, view, None, small_count, with_ratio=True)


def zip_benchmark(zip_counts: pd.DataFrame, zip_pop: pd.DataFrame, small_count: int = 10) -> pd.DataFrame:
    """zip_counts [stop_year, zip5, race, stops]; zip_pop = ``zip_population.sql`` output."""
    pop = zip_population_long(zip_pop)
    rows = _rate_rows(zip_counts, pop, VIEW_ZIP, "zip5", small_count, with_ratio=False)
    rows["acs_year"] = zip_pop["acs_year"].iloc[0] if "acs_year" in zip_pop.columns and len(zip_pop) else np.nan
    return rows


def population_benchmark(
    residence_counts: pd.DataFrame,
    county_pop: pd.DataFrame | None,
    zip_counts: pd.DataFrame | None = None,
    zip_pop: pd.DataFrame | None = None,
    small_count: int = 10,
) -> AnalysisResult:
    """All three views. ``residence_counts`` = [stop_year, race, driver_state, driver_city, stops]."""
    details: dict[str, object] = {}
    if residence_counts is None or residence_counts["stops"].sum() == 0:
        return _refused("there are no stops in the warehouse")
    if county_pop is None or county_pop.empty:
        return _refused("the county population table (ACS B03002, reference bundle) is missing")

    rc = residence_counts.copy()
    rc["residence"] = residence_statuses(rc["driver_city"], rc["driver_state"]).to_numpy()
    status_totals = rc.groupby(["stop_year", "residence"])["stops"].sum().unstack(fill_value=0)
    details["stops_by_residence"] = status_totals

    parts = [county_benchmark(rc[["stop_year", "race", "stops"]], county_pop, VIEW_ALL, small_count)]
    residents = rc[rc["residence"] == RESIDENT_COUNTY][["stop_year", "race", "stops"]]
    res_rows = county_benchmark(residents, county_pop, VIEW_RESIDENTS, small_count)
    # Say, on the ALL row of each year, what the residents-only view leaves out.
    for year, grp in status_totals.iterrows():
        amb = int(grp.get(RESIDENT_AMBIGUOUS, 0))
        unk = int(grp.get(RESIDENT_UNKNOWN, 0))
        total = int(grp.sum())
        note = (
            f"residents only: {int(grp.get(RESIDENT_COUNTY, 0)):,} of {total:,} stops; left out "
            f"{amb:,} from places mostly outside the county (Laurel, Beltsville, ...) and {unk:,} with "
            "no driver city/state; misspelt cities also fall out, so this is a lower bound"
        )
        mask = (res_rows["stop_year"] == year) & (res_rows["race"] == "ALL")
        res_rows.loc[mask, "flag"] = [f"{f}; {note}" if f else note for f in res_rows.loc[mask, "flag"]]
    parts.append(res_rows)

    if zip_counts is not None and zip_pop is not None and not zip_pop.empty and len(zip_counts):
        parts.append(zip_benchmark(zip_counts, zip_pop, small_count))
    else:
        details["zip_view"] = "not computed: no stops with a ZIP5 or no ZIP population table"

    table = pd.concat(parts, ignore_index=True)
    table["ran"] = True
    table["reason"] = CAVEAT
    table["computed_at"] = pd.NaT
    table["stop_year"] = table["stop_year"].astype("Int64")
    table["acs_year"] = pd.to_numeric(table["acs_year"], errors="coerce").astype("Int64")
    table = table[COLUMNS].sort_values(["view", "geography", "stop_year", "race"], ignore_index=True)
    return AnalysisResult(NAME, True, CAVEAT, table, details)


def _refused(reason: str) -> AnalysisResult:
    row = {c: None for c in COLUMNS}
    row.update(view=VIEW_ALL, geography="county", ran=False, reason=reason, reliable=False, flag=reason)
    return AnalysisResult(NAME, False, reason, pd.DataFrame([row], columns=COLUMNS))
