"""Census tract demographics allocated to ZIP codes (ZCTAs), and the seed-compatible tract table.

All functions are pure (DataFrames in, DataFrames out) except :func:`load_bundle`.

The rule that keeps the numbers honest: ZIP <-> tract is many-to-many, so only *counts* are
allocated (Σ weight × count per ZIP, with each tract's weights summing to 1), and every rate is
recomputed from allocated numerators and denominators. A plain join of tract rows to ZIPs would
count a tract's residents once per ZIP it touches.

Units: ``poverty_rate`` and ``unemployment_rate_approx`` in :func:`zip_demographics` are fractions
(0-1); the Kaggle-style :func:`census_tract_table` uses percentages (0-100), like acs2015/acs2017.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from .config import REFERENCE_DIR
from .geo import BUNDLE_FILES, SQM_PER_SQMI, zcta_tract_coverage

log = logging.getLogger(__name__)

ACS_YEAR: Final = 2019
MONTGOMERY_FIPS: Final = "24031"
IMPUTED_RACE_SOURCE: Final = "county_minus_other_tracts"
SMALL_POPULATION: Final = 1_000
LOW_COVERAGE: Final = 0.95

# Tract race columns (ACS 5-year, B01001/B02001/B03002) -> ZIP output columns.
# NOTE: *_alone are race-alone counts that INCLUDE Hispanic people of that race; hispanic is of any
# race. They overlap, so they must not be summed or compared with the exclusive non-Hispanic
# categories of B03002 (county_race) without saying so.
RACE_TO_ZIP: Final[dict[str, str]] = {
    "total_pop": "residents",
    "wht_alone": "pop_white_alone",
    "afr_amer_alone": "pop_black_alone",
    "asian_alone": "pop_asian_alone",
    "amr_ind_alone": "pop_native_alone",
    "hispanic": "pop_hispanic",
}
RACE_COUNT_COLUMNS: Final = list(RACE_TO_ZIP)

ZIP_DEMOGRAPHICS_COLUMNS: Final = [
    "zip5",
    "residents",
    "pop_white_alone",
    "pop_black_alone",
    "pop_asian_alone",
    "pop_native_alone",
    "pop_hispanic",
    "poverty_count",
    "poverty_universe",
    "poverty_rate",
    "income_weighted_mean_of_tract_medians",
    "zip_median_income_2010",
    "unemployment_rate_approx",
    "land_area_sqmi",
    "density_per_sqmi",
    "tract_coverage",
    "acs_year",
    "weight_method",
    "notes",
]
CENSUS_TRACT_COLUMNS: Final = [
    "TractId", "TotalPop", "Income", "Poverty", "Unemployment",
    "White", "Black", "Asian", "Native", "Hispanic",
]
ZIP_TRACT_COLUMNS: Final = ["ZIP", "Tract", "weight", "method", "covered_share"]

_ID_DTYPES: Final = {c: str for c in ("zip", "zip5", "tract", "tract_2020", "county", "basic", "geoid")}


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_bundle(ref_dir: Path = REFERENCE_DIR) -> dict[str, pd.DataFrame | gpd.GeoDataFrame]:
    """Read the shipped reference bundle (see data/reference/SOURCES.md) into frames.

    Geographic layers get convenience id columns: ``zcta.zip5`` and ``tracts.tract``.
    Derived tables (zip_demographics, census_tract_table) are included when present.
    """
    ref_dir = Path(ref_dir)
    out: dict[str, pd.DataFrame | gpd.GeoDataFrame] = {}
    for key, name in BUNDLE_FILES.items():
        path = ref_dir / name
        if not path.exists():
            if key in ("zip_demographics", "census_tract_table"):
                continue
            raise FileNotFoundError(f"reference bundle file missing: {path} (run python -m pipeline.reference_build)")
        if name.endswith(".geojson"):
            out[key] = gpd.read_file(path)
        else:
            out[key] = pd.read_csv(path, dtype=_ID_DTYPES)
    zcta = out["zcta"]
    out["zcta"] = zcta.assign(zip5=zcta["ZCTA5CE10"].astype(str).str.zfill(5))
    tracts = out["tracts"]
    out["tracts"] = tracts.assign(tract=tracts["GEOID"].astype(str).str.zfill(11))
    return out


# --------------------------------------------------------------------------------------------
# Allocation
# --------------------------------------------------------------------------------------------


def allocate_to_zips(
    weights: pd.DataFrame,
    tract_counts: pd.DataFrame,
    count_cols: list[str],
    tract_col: str = "tract",
) -> pd.DataFrame:
    """Σ weight × count per ZIP for each of ``count_cols``: columns ``zip`` + count_cols.

    Only counts may go through here, never rates or medians (they do not add up). A missing
    count (NaN) contributes nothing; tracts absent from ``weights`` are not allocated.
    """
    if tract_counts[tract_col].duplicated().any():
        dups = tract_counts.loc[tract_counts[tract_col].duplicated(), tract_col].head(5).tolist()
        raise ValueError(f"tract_counts has duplicate tracts (would double count): {dups}")
    counts = tract_counts[[tract_col, *count_cols]].rename(columns={tract_col: "tract"})
    merged = weights[["zip", "tract", "weight"]].merge(counts, on="tract", how="inner")
    scaled = merged[count_cols].mul(merged["weight"], axis=0)
    scaled.insert(0, "zip", merged["zip"].to_numpy())
    return scaled.groupby("zip", as_index=False)[count_cols].sum(min_count=1)


def _weighted_mean_by_zip(
    weights: pd.DataFrame, population: pd.DataFrame, values: pd.DataFrame, value_col: str
) -> pd.Series:
    """Population-weighted mean of a tract-level value per ZIP: Σ w·P·v / Σ w·P over tracts with v."""
    frame = (
        weights[["zip", "tract", "weight"]]
        .merge(population[["tract", "total_pop"]], on="tract", how="inner")
        .merge(values[["tract", value_col]], on="tract", how="inner")
    )
    frame = frame[frame[value_col].notna() & frame["total_pop"].notna()]
    wp = frame["weight"] * frame["total_pop"]
    num = (wp * frame[value_col]).groupby(frame["zip"]).sum()
    den = wp.groupby(frame["zip"]).sum()
    return (num / den.where(den > 0)).rename(value_col)


def basic_group(tract: pd.Series) -> pd.Series:
    """County + 4-digit basic tract number (first 9 characters of the 11-character GEOID)."""
    return tract.astype(str).str.zfill(11).str[:9]


@dataclass
class PovertyGroupMatch:
    """How the 2020-tract poverty counts met the 2010 tracts (by county + basic number)."""

    groups_2020: int = 0
    groups_2010: int = 0
    matched: int = 0
    unmatched_2020: list[str] = field(default_factory=list)  # counts that could not be allocated
    unmatched_2010: list[str] = field(default_factory=list)  # 2010 tracts without poverty data
    unallocated_universe: float = 0.0  # poverty universe of the groups that reached no ZIP

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def allocate_poverty_by_basic_group(
    weights: pd.DataFrame,
    tract_population: pd.DataFrame,
    poverty_2020: pd.DataFrame,
) -> tuple[pd.DataFrame, PovertyGroupMatch]:
    """Allocate 2017-2021 poverty counts (2020 tracts) to ZIPs through 2010 tract weights.

    NOTE: the poverty file is on 2020 tracts and the weights on 2010 tracts, and no 2010-2020
    tract relationship file is available here. Census keeps a tract's 4-digit basic number when
    it splits (7044.03 -> 7044.05 + 7044.06), so both vintages are aggregated to (county, basic
    number) groups; a group's counts are allocated by the population-weighted (ACS 2019) mean of
    its 2010 tracts' weights, which still sums to 1 per group. Groups that exist in only one
    vintage (renumbered tracts) cannot be matched: they are counted in the returned report,
    logged, and their counts are not allocated.
    """
    pov = poverty_2020.assign(group=basic_group(poverty_2020["tract_2020"]))
    group_counts = pov.groupby("group")[["poverty_count", "poverty_universe"]].sum()

    w = weights[["zip", "tract", "weight"]].merge(
        tract_population[["tract", "total_pop"]], on="tract", how="left"
    )
    w["group"] = basic_group(w["tract"])
    counties = set(group_counts.index.str[:5])
    w = w[w["group"].str[:5].isin(counties)]  # compare only where poverty data exist
    w["pop"] = w["total_pop"].fillna(0.0)
    tract_pop = w.drop_duplicates("tract").groupby("group")["pop"].sum()
    n_tracts = w.drop_duplicates("tract").groupby("group").size()
    w["wp"] = w["weight"] * w["pop"]
    gw = w.groupby(["group", "zip"], as_index=False)[["wp", "weight"]].sum()
    gpop = gw["group"].map(tract_pop)
    # A group with no residents (water, parkland) falls back to the plain mean of its weights.
    gw["group_weight"] = np.where(gpop > 0, gw["wp"] / gpop.where(gpop > 0), gw["weight"] / gw["group"].map(n_tracts))

    # 2010 groups come from every known 2010 tract, not only the weighted ones, so that a tract
    # without a ZCTA (e.g. a water tract) does not make its group look renumbered.
    known_2010 = pd.concat([tract_population["tract"], weights["tract"]]).drop_duplicates()
    g10 = {g for g in basic_group(known_2010) if g[:5] in counties}
    g20 = set(group_counts.index)
    report = PovertyGroupMatch(
        groups_2020=len(g20),
        groups_2010=len(g10),
        matched=len(g10 & g20),
        unmatched_2020=sorted(g20 - g10),
        unmatched_2010=sorted(g10 - g20),
        # Not allocated: 2020-only groups, and groups whose 2010 tracts have no weights at all.
        unallocated_universe=float(group_counts.loc[sorted(g20 - set(gw["group"])), "poverty_universe"].sum()),
    )
    if report.unmatched_2020 or report.unmatched_2010:
        log.warning(
            "poverty basic-number groups: %d matched; 2020-only (not allocated, universe %.0f): %s; "
            "2010-only (no poverty data): %s",
            report.matched, report.unallocated_universe, report.unmatched_2020, report.unmatched_2010,
        )
    alloc = gw.merge(group_counts, left_on="group", right_index=True, how="inner")
    for col in ("poverty_count", "poverty_universe"):
        alloc[col] = alloc[col] * alloc["group_weight"]
    return alloc.groupby("zip", as_index=False)[["poverty_count", "poverty_universe"]].sum(), report


# --------------------------------------------------------------------------------------------
# ZIP table
# --------------------------------------------------------------------------------------------


def zip_demographics(
    weights: pd.DataFrame,
    zcta: pd.DataFrame,
    tract_race: pd.DataFrame,
    tract_income: pd.DataFrame,
    tract_employment: pd.DataFrame,
    tract_poverty_2020: pd.DataFrame,
    zip_income: pd.DataFrame,
    tract_coverage: pd.Series | None = None,
    acs_year: int = ACS_YEAR,
) -> pd.DataFrame:
    """One row per ZCTA that receives any tract (plus every Montgomery ZCTA); columns
    :data:`ZIP_DEMOGRAPHICS_COLUMNS`.

    * residents and pop_* : allocated ACS 5-year counts (race-alone counts include Hispanics).
    * poverty_count / poverty_universe / poverty_rate (fraction): ACS 2017-2021 on 2020 tracts,
      allocated by basic-number group (see :func:`allocate_poverty_by_basic_group`).
      NOTE: the source over-counts children of "other" races (upstream bug, see SOURCES.md).
    * income_weighted_mean_of_tract_medians: population-weighted mean of tract median household
      incomes. It is NOT a median. zip_median_income_2010 is the real ZCTA median (MedianZIP,
      ACS 2006-2010, different dollars and vintage).
    * unemployment_rate_approx (fraction): population-weighted mean of tract unemployment rates.
      NOTE: labour-force counts are not in the data, so population stands in for the labour force.
    * density_per_sqmi = residents / ALAND10 in sq mi; tract_coverage = share of the ZCTA covered
      by tracts with data (< 1: counts and density cover that part only).
    * weight_method: the weight methods used for the ZIP's tracts, "+"-joined, with every
      census_rel_* method shortened to "census_rel" (e.g. "census_rel+land_area_share").

    The result's ``attrs["poverty_match"]`` holds the :class:`PovertyGroupMatch` report as a dict.
    """
    w = weights[["zip", "tract", "weight", "method"]].copy()
    race = tract_race[["tract", *RACE_COUNT_COLUMNS]]
    counts = allocate_to_zips(w, race, RACE_COUNT_COLUMNS).rename(columns=RACE_TO_ZIP)
    poverty, match = allocate_poverty_by_basic_group(w, race, tract_poverty_2020)
    income = _weighted_mean_by_zip(w, race, tract_income, "median_household_income")
    emp = tract_employment.assign(unemployment=(100.0 - tract_employment["emp_rate"]) / 100.0)
    unemployment = _weighted_mean_by_zip(w, race, emp, "unemployment")

    z = pd.DataFrame(
        {
            "zip5": zcta[_zcta_id(zcta)].astype(str).str.zfill(5).to_numpy(),
            "aland": pd.to_numeric(zcta["ALAND10"]).to_numpy(),
            "in_montgomery": zcta["in_montgomery"].astype(bool).to_numpy()
            if "in_montgomery" in zcta.columns
            else False,
        }
    ).drop_duplicates("zip5")
    wanted = sorted(set(w["zip"]) | set(z.loc[z["in_montgomery"], "zip5"]))
    out = pd.DataFrame({"zip5": wanted})
    out = out.merge(counts.rename(columns={"zip": "zip5"}), on="zip5", how="left")
    out[list(RACE_TO_ZIP.values())] = out[list(RACE_TO_ZIP.values())].fillna(0.0)
    out = out.merge(poverty.rename(columns={"zip": "zip5"}), on="zip5", how="left")
    out["poverty_rate"] = out["poverty_count"] / out["poverty_universe"].where(out["poverty_universe"] > 0)
    out["income_weighted_mean_of_tract_medians"] = out["zip5"].map(income)
    zi = zip_income.assign(zip5=zip_income["zip5"].astype(str).str.zfill(5)).set_index("zip5")
    out["zip_median_income_2010"] = out["zip5"].map(zi["median_household_income"])
    out["unemployment_rate_approx"] = out["zip5"].map(unemployment)
    out["land_area_sqmi"] = out["zip5"].map(z.set_index("zip5")["aland"]) / SQM_PER_SQMI
    out["density_per_sqmi"] = out["residents"] / out["land_area_sqmi"].where(out["land_area_sqmi"] > 0)
    out["tract_coverage"] = out["zip5"].map(tract_coverage) if tract_coverage is not None else np.nan
    out["acs_year"] = acs_year
    # Short family names so that a mix still fits the warehouse's varchar(32).
    family = w["method"].map(lambda m: "census_rel" if str(m).startswith("census_rel") else str(m))
    methods = family.groupby(w["zip"]).agg(lambda s: "+".join(sorted(set(s))))
    out["weight_method"] = out["zip5"].map(methods)
    out["notes"] = _zip_notes(out, w, tract_race, match)
    out = out[ZIP_DEMOGRAPHICS_COLUMNS].sort_values("zip5", ignore_index=True)
    out.attrs["poverty_match"] = match.as_dict()
    return out


def _zcta_id(zcta: pd.DataFrame) -> str:
    for name in ("zip5", "ZCTA5CE10", "zip"):
        if name in zcta.columns:
            return name
    raise ValueError(f"ZCTA frame needs zip5 or ZCTA5CE10; has {list(zcta.columns)}")


def _zip_notes(
    out: pd.DataFrame, weights: pd.DataFrame, tract_race: pd.DataFrame, match: PovertyGroupMatch
) -> list[str]:
    """Row-specific caveats; the general ones are in the column names and SOURCES.md."""
    imputed = (
        set(tract_race.loc[tract_race["source"] == IMPUTED_RACE_SOURCE, "tract"])
        if "source" in tract_race.columns
        else set()
    )
    no_poverty = set(match.unmatched_2010)
    tracts_by_zip = weights.groupby("zip")["tract"].agg(set)
    notes: list[str] = []
    for row in out.itertuples(index=False):
        parts: list[str] = []
        tracts = tracts_by_zip.get(row.zip5, set())
        if not tracts:
            parts.append("no census tract with data overlaps this ZCTA")
        cov = row.tract_coverage
        if pd.notna(cov) and cov < LOW_COVERAGE:
            parts.append(
                f"tract data cover {cov:.0%} of the ZCTA (it extends beyond Montgomery, Prince George's, "
                "Frederick and Charles counties, or past the simplified tract edge): residents, counts "
                "and density are for the covered part only"
            )
        for t in sorted(tracts & imputed):
            parts.append(f"tract {t} is missing from the race file; its counts are the county total "
                         "minus the county's other tracts")
        missing_pov = sorted({t[:9] for t in tracts} & no_poverty)
        if missing_pov:
            parts.append(f"poverty excludes tract group(s) {', '.join(missing_pov)} (no 2021 data after renumbering)")
        if 0 < row.residents < SMALL_POPULATION:
            parts.append(f"fewer than {SMALL_POPULATION:,} residents: rates are unstable")
        if pd.isna(row.zip_median_income_2010):
            parts.append("no MedianZIP row for this ZCTA")
        notes.append("; ".join(parts))
    return notes


def zip_demographics_from_bundle(
    bundle: Mapping[str, pd.DataFrame], weights: pd.DataFrame | None = None
) -> pd.DataFrame:
    """:func:`zip_demographics` on a :func:`load_bundle` dict; ``weights`` defaults to the
    shipped land-area weights (pass :func:`pipeline.geo.load_hud_zip_tract` output to use HUD)."""
    w = bundle["zip_tract_weights"] if weights is None else weights
    race = bundle["tract_race"]
    with_data = set(race.loc[race["total_pop"].notna(), "tract"])
    coverage = zcta_tract_coverage(bundle["zcta"], bundle["tracts"], with_data)
    return zip_demographics(
        weights=w,
        zcta=bundle["zcta"],
        tract_race=race,
        tract_income=bundle["tract_income"],
        tract_employment=bundle["tract_employment"],
        tract_poverty_2020=bundle["tract_poverty_2020"],
        zip_income=bundle["zip_income"],
        tract_coverage=coverage,
    )


# --------------------------------------------------------------------------------------------
# Tract tables
# --------------------------------------------------------------------------------------------


def census_tract_table(
    tract_race: pd.DataFrame,
    tract_income: pd.DataFrame,
    tract_employment: pd.DataFrame,
    tract_poverty_2020: pd.DataFrame,
) -> pd.DataFrame:
    """Seed-compatible tract table (Kaggle acs2015/acs2017 layout subset), one row per 2010 tract.

    ``TotalPop`` count; ``Income`` median household income (ACS 2019 dollars); ``Poverty`` percent
    of the tract's 2020 basic-number group (ACS 2017-2021); ``Unemployment`` = 100 - employment
    rate; ``White/Black/Asian/Native/Hispanic`` percent of TotalPop.
    NOTE: unlike Kaggle's exclusive categories, White/Black/Asian/Native here are race-alone shares
    that include Hispanic people, so they and Hispanic overlap and need not sum to <= 100.
    """
    race = tract_race.set_index("tract")
    tracts = sorted(set(race.index) | set(tract_income["tract"]) | set(tract_employment["tract"]))
    out = pd.DataFrame({"TractId": tracts})
    pop = out["TractId"].map(race["total_pop"])
    out["TotalPop"] = pop
    out["Income"] = out["TractId"].map(tract_income.set_index("tract")["median_household_income"])
    pov = tract_poverty_2020.assign(group=basic_group(tract_poverty_2020["tract_2020"]))
    g = pov.groupby("group")[["poverty_count", "poverty_universe"]].sum()
    group_rate = 100.0 * g["poverty_count"] / g["poverty_universe"].where(g["poverty_universe"] > 0)
    out["Poverty"] = basic_group(out["TractId"]).map(group_rate).to_numpy()
    out["Unemployment"] = 100.0 - out["TractId"].map(tract_employment.set_index("tract")["emp_rate"])
    share = 100.0 / pop.where(pop > 0)
    for col, src in (("White", "wht_alone"), ("Black", "afr_amer_alone"), ("Asian", "asian_alone"),
                     ("Native", "amr_ind_alone"), ("Hispanic", "hispanic")):
        out[col] = out["TractId"].map(race[src]) * share
    return out[CENSUS_TRACT_COLUMNS]


def zip_tract_table(weights: pd.DataFrame) -> pd.DataFrame:
    """Weights in the seed's naming: ``ZIP, Tract, weight, method, covered_share``."""
    w = weights.copy()
    if "covered_share" not in w.columns:
        w["covered_share"] = np.nan
    out = w.rename(columns={"zip": "ZIP", "tract": "Tract"})[ZIP_TRACT_COLUMNS]
    return out.sort_values(["ZIP", "Tract"], ignore_index=True)
