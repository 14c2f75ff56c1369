"""ZIP <-> tract weights: hand-computed geometry, the HUD loader, and the shipped bundle."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from pipeline.config import REFERENCE_DIR
from pipeline.demographics import allocate_to_zips, load_bundle
from pipeline.geo import (
    METHOD_HUD,
    METHOD_LAND_AREA,
    METHOD_REL_SINGLE,
    WEIGHT_COLUMNS,
    compute_zip_tract_weights,
    load_hud_zip_tract,
)

KM = 1_000.0
CRS = "EPSG:5070"  # the equal-area CRS the weights use, so these squares have exact areas


@pytest.fixture
def squares() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Tract A = [0,1]x[0,1] km, tract B = [1,2]x[0,1] km; Z1 = x in [0,1.25], Z2 = x in [1.25,2].

    So A lies 100% in Z1 and B splits 25% / 75% between Z1 and Z2.
    """
    tracts = gpd.GeoDataFrame(
        {"GEOID": ["24031000100", "24031000200"]},
        geometry=[box(0, 0, KM, KM), box(KM, 0, 2 * KM, KM)],
        crs=CRS,
    )
    zctas = gpd.GeoDataFrame(
        {"zip5": ["20901", "20902"]},
        geometry=[box(0, 0, 1.25 * KM, KM), box(1.25 * KM, 0, 2 * KM, KM)],
        crs=CRS,
    )
    return zctas, tracts


COUNTS = pd.DataFrame(
    {"tract": ["24031000100", "24031000200"], "residents": [1000.0, 2000.0], "poor": [100.0, 400.0]}
)


def test_weights_are_area_shares_of_each_tract(squares):
    zctas, tracts = squares
    w = compute_zip_tract_weights(zctas, tracts)
    assert list(w.columns) == WEIGHT_COLUMNS
    got = {(r.zip, r.tract): r.weight for r in w.itertuples()}
    assert got == pytest.approx({("20901", "24031000100"): 1.0, ("20901", "24031000200"): 0.25,
                                 ("20902", "24031000200"): 0.75})
    assert set(w["method"]) == {METHOD_LAND_AREA}
    assert w["covered_share"].to_numpy() == pytest.approx([1.0, 1.0, 1.0])


def test_allocated_counts_and_recomputed_rates_match_hand_computation(squares):
    zctas, tracts = squares
    w = compute_zip_tract_weights(zctas, tracts)
    z = allocate_to_zips(w, COUNTS, ["residents", "poor"]).set_index("zip")
    # Z1 = all of A + 25% of B; Z2 = 75% of B
    assert z.loc["20901", "residents"] == pytest.approx(1000 + 500)
    assert z.loc["20901", "poor"] == pytest.approx(100 + 100)
    assert z.loc["20902", "residents"] == pytest.approx(1500)
    assert z.loc["20902", "poor"] == pytest.approx(300)
    rate = z["poor"] / z["residents"]
    assert rate["20901"] == pytest.approx(200 / 1500)
    assert rate["20902"] == pytest.approx(0.2)
    assert z["residents"].sum() == pytest.approx(COUNTS["residents"].sum())


def test_a_naive_join_double_counts_the_split_tract(squares):
    zctas, tracts = squares
    w = compute_zip_tract_weights(zctas, tracts)
    naive = w[["zip", "tract"]].merge(COUNTS, on="tract").groupby("zip")[["residents", "poor"]].sum()
    assert naive["residents"].sum() == 5000  # B's 2,000 residents counted in both ZIPs
    assert naive["residents"].sum() - COUNTS["residents"].sum() == 2000
    # ... and averaging tract rates is wrong too: Z1 would get (10% + 20%) / 2 = 15%, not 13.3%.
    tract_rate = COUNTS.set_index("tract")["poor"] / COUNTS.set_index("tract")["residents"]
    assert tract_rate.mean() == pytest.approx(0.15)
    assert tract_rate.mean() != pytest.approx(200 / 1500)


def test_weights_are_normalised_when_zctas_leave_a_gap_and_slivers_are_dropped():
    tracts = gpd.GeoDataFrame({"GEOID": ["24031000300"]}, geometry=[box(0, 0, KM, KM)], crs=CRS)
    zctas = gpd.GeoDataFrame(
        {"zip5": ["20901", "20902", "20903"]},
        geometry=[
            box(0, 0, 0.5 * KM, KM),  # 50% of the tract
            box(0.5 * KM, 0, 0.8 * KM, KM),  # 30%
            box(0.9995 * KM, 0, 2 * KM, KM),  # 0.05%: a sliver; 0.8-0.9995 is in no ZCTA
        ],
        crs=CRS,
    )
    w = compute_zip_tract_weights(zctas, tracts).set_index("zip")
    assert "20903" not in w.index
    assert w.loc["20901", "weight"] == pytest.approx(0.5 / 0.8)
    assert w.loc["20902", "weight"] == pytest.approx(0.3 / 0.8)
    assert w["covered_share"].iloc[0] == pytest.approx(0.8)
    assert w["weight"].sum() == pytest.approx(1.0)


def test_census_relationship_overrides_simplification_errors(squares):
    zctas, tracts = squares
    # Pretend the official relationship says B lies only in Z2 (the 25% in Z1 is a polygon error).
    rel = pd.DataFrame({"ZCTA5": ["20901", "20902"], "GEOID": ["24031000100", "24031000200"]})
    w = compute_zip_tract_weights(zctas, tracts, relationship=rel).set_index(["zip", "tract"])
    assert ("20901", "24031000200") not in w.index
    row = w.loc[("20902", "24031000200")]
    assert row["weight"] == 1.0
    assert row["method"] == METHOD_REL_SINGLE
    assert row["covered_share"] == pytest.approx(0.75)  # what the polygons alone said


# -- HUD loader -------------------------------------------------------------------------------


def test_hud_tract_zip_file_is_read_with_padded_ids(tmp_path: Path):
    path = tmp_path / "TRACT_ZIP_122019.csv"
    path.write_text(
        "TRACT,ZIP,RES_RATIO,BUS_RATIO,OTH_RATIO,TOT_RATIO\n"
        "1001020100,1001,0.6,0.5,0.1,0.55\n"
        "1001020100,1002,0.4,0.5,0.9,0.45\n"
        "24031700101,20814,1.0,1.0,1.0,1.0\n"
    )
    w = load_hud_zip_tract(path)
    assert list(w.columns) == WEIGHT_COLUMNS
    assert set(w["method"]) == {METHOD_HUD}
    got = {(r.zip, r.tract): r.weight for r in w.itertuples()}
    assert got == pytest.approx({("01001", "01001020100"): 0.6, ("01002", "01001020100"): 0.4,
                                 ("20814", "24031700101"): 1.0})


def test_hud_zip_tract_file_is_turned_around_into_tract_shares(tmp_path: Path):
    # ZIP_TRACT: RES_RATIO = share of the ZIP's addresses in each tract (sums to 1 per ZIP).
    path = tmp_path / "ZIP_TRACT_122019.csv"
    path.write_text(
        "zip,tract,res_ratio,bus_ratio\n"  # lower-case headers are accepted
        "20814,24031700101,0.6,0.6\n"
        "20814,24031700102,0.4,0.4\n"
        "20815,24031700102,1.0,1.0\n"
    )
    pop = pd.Series({"20814": 1000.0, "20815": 500.0})
    w = load_hud_zip_tract(path, zip_population=pop).set_index(["zip", "tract"])["weight"]
    # tract 700102: 0.4 x 1000 addresses-equivalent from 20814, 1.0 x 500 from 20815 -> 4/9, 5/9
    assert w[("20814", "24031700102")] == pytest.approx(400 / 900)
    assert w[("20815", "24031700102")] == pytest.approx(500 / 900)
    assert w[("20814", "24031700101")] == pytest.approx(1.0)
    equal = load_hud_zip_tract(path).set_index(["zip", "tract"])["weight"]
    assert equal[("20814", "24031700102")] == pytest.approx(0.4 / 1.4)


def test_hud_loader_names_the_missing_columns(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text("ZIP,TRACT,TOT_RATIO\n20814,24031700101,1.0\n")
    with pytest.raises(ValueError, match="RES_RATIO"):
        load_hud_zip_tract(path)


# -- the shipped bundle -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(REFERENCE_DIR)


def test_shipped_weights_sum_to_one_per_tract(bundle):
    w = bundle["zip_tract_weights"]
    assert list(w.columns) == WEIGHT_COLUMNS
    sums = w.groupby("tract")["weight"].sum()
    assert np.allclose(sums, 1.0)
    assert (w["weight"] > 0).all()
    assert w["tract"].str.len().eq(11).all() and w["zip"].str.len().eq(5).all()


def test_every_populated_tract_has_weights(bundle):
    race = bundle["tract_race"]
    populated = set(race.loc[race["total_pop"] > 0, "tract"])
    assert populated <= set(bundle["zip_tract_weights"]["tract"])


def test_shipped_weights_are_reproducible_from_the_shipped_geometry(bundle):
    w = compute_zip_tract_weights(bundle["zcta"], bundle["tracts"], relationship=bundle["zcta_tract_rel"])
    shipped = bundle["zip_tract_weights"]
    assert list(w[["zip", "tract"]].itertuples(index=False)) == list(shipped[["zip", "tract"]].itertuples(index=False))
    assert np.allclose(w["weight"], shipped["weight"])


def test_polygon_only_weights_also_cover_every_populated_tract(bundle):
    # Without the relationship file, a tract that the simplified ZCTAs barely touch keeps its
    # largest piece instead of losing its residents as a sliver.
    w = compute_zip_tract_weights(bundle["zcta"], bundle["tracts"])
    race = bundle["tract_race"]
    assert set(race.loc[race["total_pop"] > 0, "tract"]) <= set(w["tract"])
    assert np.allclose(w.groupby("tract")["weight"].sum(), 1.0)


def test_a_listed_tract_whose_zctas_its_polygon_misses_is_split_evenly(squares):
    zctas, tracts = squares
    far = gpd.GeoDataFrame(
        {"zip5": ["20903", "20904"]},
        geometry=[box(10 * KM, 0, 11 * KM, KM), box(12 * KM, 0, 13 * KM, KM)],
        crs=CRS,
    )
    zctas = pd.concat([zctas, far], ignore_index=True)
    rel = pd.DataFrame({"zip": ["20901", "20903", "20904"], "tract": ["24031000100", "24031000200", "24031000200"]})
    w = compute_zip_tract_weights(zctas, tracts, relationship=rel)
    b = w[w["tract"] == "24031000200"].set_index("zip")
    assert b["weight"].to_dict() == pytest.approx({"20903": 0.5, "20904": 0.5})
    assert set(b["method"]) == {"census_rel_even_split"}
    assert np.allclose(w.groupby("tract")["weight"].sum(), 1.0)
