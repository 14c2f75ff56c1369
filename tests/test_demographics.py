"""ZIP demographics allocated from the shipped tract tables (pipeline.demographics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import REFERENCE_DIR
from pipeline.demographics import (
    CENSUS_TRACT_COLUMNS,
    IMPUTED_RACE_SOURCE,
    RACE_TO_ZIP,
    ZIP_DEMOGRAPHICS_COLUMNS,
    ZIP_TRACT_COLUMNS,
    allocate_to_zips,
    basic_group,
    census_tract_table,
    load_bundle,
    zip_demographics_from_bundle,
    zip_tract_table,
)
from pipeline.geo import compute_zip_tract_weights

MISSING_RACE_TRACT = "24031704403"
# ACS 2015-2019 Montgomery County total population, county row of the UVA race file.
MONTGOMERY_ACS2019_TOTAL = 1_043_530


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(REFERENCE_DIR)


@pytest.fixture(scope="module")
def zd(bundle) -> pd.DataFrame:
    return zip_demographics_from_bundle(bundle)


@pytest.fixture(scope="module")
def moco_zips(bundle) -> set[str]:
    z = bundle["zcta"]
    return set(z.loc[z["in_montgomery"], "zip5"])


def test_columns_are_exactly_the_documented_ones(zd, bundle):
    assert list(zd.columns) == ZIP_DEMOGRAPHICS_COLUMNS
    assert list(bundle["zip_demographics"].columns) == ZIP_DEMOGRAPHICS_COLUMNS


def test_all_49_montgomery_zips_are_present_with_residents(zd, moco_zips):
    assert len(moco_zips) == 49
    assert moco_zips <= set(zd["zip5"])
    assert (zd.loc[zd["zip5"].isin(moco_zips), "residents"] > 0).all()
    assert zd["zip5"].is_unique and zd["zip5"].str.fullmatch(r"\d{5}").all()


@pytest.mark.parametrize(("tract_col", "zip_col"), list(RACE_TO_ZIP.items()))
def test_every_count_is_conserved_by_the_allocation(zd, bundle, tract_col, zip_col):
    assert zd[zip_col].sum() == pytest.approx(bundle["tract_race"][tract_col].sum(), rel=1e-9)


def test_residents_are_conserved_with_polygon_only_weights_too(bundle):
    w = compute_zip_tract_weights(bundle["zcta"], bundle["tracts"])
    out = zip_demographics_from_bundle(bundle, weights=w)
    assert out["residents"].sum() == pytest.approx(bundle["tract_race"]["total_pop"].sum(), rel=1e-9)


def test_rates_are_recomputed_from_allocated_numerators(zd):
    ok = zd["poverty_universe"] > 0
    assert np.allclose(zd.loc[ok, "poverty_rate"], zd.loc[ok, "poverty_count"] / zd.loc[ok, "poverty_universe"])
    assert zd["poverty_rate"].dropna().between(0, 1).all()
    assert zd["unemployment_rate_approx"].dropna().between(0, 1).all()


def test_poverty_is_conserved_over_the_matched_basic_number_groups(zd, bundle):
    pov = bundle["tract_poverty_2020"]
    report = zd.attrs["poverty_match"]
    matched = ~basic_group(pov["tract_2020"]).isin(report["unmatched_2020"])
    assert zd["poverty_universe"].sum() == pytest.approx(pov.loc[matched, "poverty_universe"].sum(), rel=1e-9)
    assert zd["poverty_count"].sum() == pytest.approx(pov.loc[matched, "poverty_count"].sum(), rel=1e-9)
    assert zd["poverty_universe"].sum() == pytest.approx(
        pov["poverty_universe"].sum() - report["unallocated_universe"], rel=1e-9
    )
    # Every Montgomery County group matches; the renumbered ones are in Prince George's.
    assert not [g for g in report["unmatched_2020"] + report["unmatched_2010"] if g.startswith("24031")]


def test_density_is_residents_per_square_mile_of_land(zd, moco_zips):
    m = zd[zd["zip5"].isin(moco_zips)]
    assert (m["density_per_sqmi"] > 0).all()
    assert np.allclose(m["density_per_sqmi"], m["residents"] / m["land_area_sqmi"])


def test_income_is_a_weighted_mean_within_the_range_of_tract_medians(zd, bundle):
    incomes = bundle["tract_income"]["median_household_income"]
    got = zd["income_weighted_mean_of_tract_medians"].dropna()
    assert got.between(incomes.min(), incomes.max()).all()
    assert zd.loc[zd["zip5"].eq("20814"), "zip_median_income_2010"].notna().all()


def test_zips_that_straddle_counties_without_data_have_low_coverage_and_a_note(zd):
    z = zd.set_index("zip5")
    assert z["tract_coverage"].between(0, 1).all()
    for zip5 in ("20777", "21771"):  # mostly in Howard / Carroll+Frederick
        assert z.loc[zip5, "tract_coverage"] < 0.9
        assert "cover" in z.loc[zip5, "notes"]
    assert z.loc["20850", "tract_coverage"] > 0.99


def test_tract_missing_from_the_race_file_is_filled_from_the_county_total(zd, bundle):
    race = bundle["tract_race"].set_index("tract")
    assert race.loc[MISSING_RACE_TRACT, "source"] == IMPUTED_RACE_SOURCE
    moco = race[race["county"] == "24031"]
    assert len(moco) == 215
    assert moco["total_pop"].sum() == pytest.approx(MONTGOMERY_ACS2019_TOTAL)
    w = bundle["zip_tract_weights"]
    zips = set(w.loc[w["tract"] == MISSING_RACE_TRACT, "zip"])
    assert zips and all(MISSING_RACE_TRACT in n for n in zd.loc[zd["zip5"].isin(zips), "notes"])


def test_allocation_refuses_duplicate_tracts():
    w = pd.DataFrame({"zip": ["20814"], "tract": ["24031700101"], "weight": [1.0]})
    counts = pd.DataFrame({"tract": ["24031700101", "24031700101"], "n": [1.0, 2.0]})
    with pytest.raises(ValueError, match="duplicate"):
        allocate_to_zips(w, counts, ["n"])


def test_census_tract_table_has_the_seed_layout(bundle):
    t = census_tract_table(bundle["tract_race"], bundle["tract_income"], bundle["tract_employment"],
                           bundle["tract_poverty_2020"])
    assert list(t.columns) == CENSUS_TRACT_COLUMNS
    assert t["TractId"].str.len().eq(11).all() and t["TractId"].is_unique
    assert len(t) == len(bundle["tracts"])
    pct = t[["Poverty", "Unemployment", "White", "Black", "Asian", "Native", "Hispanic"]]
    assert ((pct.ge(0) & pct.le(100)) | pct.isna()).all().all()
    emp = bundle["tract_employment"].set_index("tract")["emp_rate"]
    assert np.allclose(t.set_index("TractId")["Unemployment"].dropna(), 100 - emp.dropna())
    moco = t[t["TractId"].str.startswith("24031")]
    assert moco["Poverty"].notna().all() and moco["TotalPop"].notna().all()


def test_zip_tract_table_uses_seed_names(bundle):
    t = zip_tract_table(bundle["zip_tract_weights"])
    assert list(t.columns) == ZIP_TRACT_COLUMNS
    assert np.allclose(t.groupby("Tract")["weight"].sum(), 1.0)


def test_text_columns_fit_the_warehouse_schema(zd):
    # sql/warehouse/schema.sql: weight_method varchar(32), notes varchar(1024)
    assert zd["weight_method"].str.len().max() <= 32
    assert zd["notes"].str.len().max() <= 1024
