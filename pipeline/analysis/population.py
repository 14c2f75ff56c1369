"""Resident populations by race, matched to the stop data's race categories.

The stop data record one exclusive race per driver as perceived by the officer: WHITE, BLACK,
HISPANIC, ASIAN, NATIVE AMERICAN, OTHER. ACS tables come in two shapes:

* **B03002** (Hispanic or Latino origin by race) is exclusive: non-Hispanic White alone,
  non-Hispanic Black alone, ..., and Hispanic of any race. That matches the stop categories and is
  what county-level comparisons use (``county_race_b03002_acs5_2017_montgomery.csv`` in the
  reference bundle: ACS 2013-2017 5-year).
* The tract/ZIP counts (``zip_demographics``, ``census_tract``) are **race alone** (B02001), which
  *include* Hispanic people of that race, plus Hispanic of any race: the categories overlap. ZIP
  level rates are therefore approximate; most of all the WHITE one (White alone includes most
  Hispanic residents, so the White denominator is too large and the White rate too low).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Mapping

import pandas as pd

from ..config import REFERENCE_DIR

COUNTY_RACE_FILE: Final = "county_race_b03002_acs5_2017_montgomery.csv"

# Stop race -> B03002 categories (codes of the bundle's `category` column) summed for it.
B03002_FOR_RACE: Final[dict[str, tuple[str, ...]]] = {
    "WHITE": ("nh_white",),
    "BLACK": ("nh_black",),
    "HISPANIC": ("hispanic",),
    # NOTE: the stop data have no Pacific Islander category; they are most plausibly recorded ASIAN.
    "ASIAN": ("nh_asian", "nh_nhpi"),
    "NATIVE AMERICAN": ("nh_aian",),
}
B03002_LABEL: Final[dict[str, str]] = {
    "WHITE": "not Hispanic, White alone (B03002)",
    "BLACK": "not Hispanic, Black alone (B03002)",
    "HISPANIC": "Hispanic or Latino, any race (B03002)",
    "ASIAN": "not Hispanic, Asian alone + Pacific Islander alone (B03002)",
    "NATIVE AMERICAN": "not Hispanic, American Indian/Alaska Native alone (B03002)",
    "ALL": "total population (B03002)",
}
# OTHER has no census counterpart (the officer's "other" is not "some other race" or "two or more").
NOT_COMPARABLE: Final = frozenset({"OTHER"})

# Stop race -> zip_demographics column; these are race-ALONE counts (Hispanic included).
ZIP_COLUMN_FOR_RACE: Final[dict[str, str]] = {
    "WHITE": "pop_white_alone",
    "BLACK": "pop_black_alone",
    "HISPANIC": "pop_hispanic",
    "ASIAN": "pop_asian_alone",
    "NATIVE AMERICAN": "pop_native_alone",
    "ALL": "residents",
}
ZIP_LABEL: Final[dict[str, str]] = {
    "WHITE": "White alone, INCLUDING Hispanic White (ACS tract counts): approximate",
    "BLACK": "Black alone, including Hispanic Black (ACS tract counts): approximate",
    "HISPANIC": "Hispanic or Latino, any race (ACS tract counts)",
    "ASIAN": "Asian alone, including Hispanic Asian (ACS tract counts): approximate",
    "NATIVE AMERICAN": "American Indian/Alaska Native alone, incl. Hispanic (ACS tract counts): approximate",
    "ALL": "total residents (ACS tract counts)",
}


def read_county_race(ref_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    """The bundle's county B03002 table (long: category, label, estimate, moe, acs_year).

    Reads the one file :func:`pipeline.demographics.load_bundle` exposes as ``county_race``,
    without loading the rest of the bundle (polygons) that the analysis does not need.
    """
    path = Path(ref_dir) / COUNTY_RACE_FILE
    if not path.exists():
        raise FileNotFoundError(f"county race table missing: {path} (run python -m pipeline.reference_build)")
    return pd.read_csv(path, dtype={"geoid": str})


def county_population(b03002: pd.DataFrame | Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per stop race category: ``race, population, population_category, acs_year, moe``.

    Accepts the long B03002 table or a :func:`pipeline.demographics.load_bundle` dict. OTHER gets
    a row with no population (no comparable census category); ALL is the county total.
    """
    if isinstance(b03002, Mapping):
        b03002 = b03002["county_race"]
    by_cat = b03002.set_index("category")
    year = int(b03002["acs_year"].iloc[0]) if "acs_year" in b03002.columns else None
    rows = []
    for race, cats in B03002_FOR_RACE.items():
        missing = [c for c in cats if c not in by_cat.index]
        if missing:
            raise ValueError(f"B03002 table lacks categories {missing}")
        est = float(sum(float(by_cat.loc[c, "estimate"]) for c in cats))
        moes = [by_cat.loc[c, "moe"] for c in cats] if "moe" in by_cat.columns else []
        # MOEs of summed ACS estimates combine as the root of the sum of squares (Census guidance).
        moe = float(sum(float(m) ** 2 for m in moes if pd.notna(m)) ** 0.5) if moes else float("nan")
        rows.append((race, est, B03002_LABEL[race], year, moe))
    rows.append(("OTHER", float("nan"), "no comparable census category", year, float("nan")))
    rows.append(("ALL", float(by_cat.loc["total", "estimate"]), B03002_LABEL["ALL"], year, float("nan")))
    return pd.DataFrame(rows, columns=["race", "population", "population_category", "acs_year", "moe"])


def zip_population_long(zip_pop: pd.DataFrame) -> pd.DataFrame:
    """``zip_population.sql`` output (one row per ZIP, race-alone columns) -> one row per ZIP and race.

    Columns: ``zip5, race, population, population_category, in_county_share, zip_residents_total``.
    """
    rows = []
    for race, col in ZIP_COLUMN_FOR_RACE.items():
        part = zip_pop[["zip5", col, "in_county_share", "residents_all"]].rename(
            columns={col: "population", "residents_all": "zip_residents_total"}
        )
        part = part.assign(race=race, population_category=ZIP_LABEL[race])
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    return out[["zip5", "race", "population", "population_category", "in_county_share", "zip_residents_total"]]
