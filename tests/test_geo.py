"""ZIP5 assignment of stop coordinates (pipeline.geo.ZipLocator)."""

from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from pipeline.geo import ZIP_STATUSES, ZipLocator, assign_zip5_frame


@pytest.fixture(scope="module")
def locator() -> ZipLocator:
    return ZipLocator.from_bundle()


# Real stops copied from /work/shared/data/traffic_violations (file, Location as recorded), each
# more than ~700 m from a ZCTA boundary of the simplified polygons; the expected ZIP was checked
# against the place named in Location.
REAL_STOPS = [
    # lat, lon, expected ZIP, Location (source file)
    (38.98447, -77.0941383333, "20814", "355 @ 410, downtown Bethesda (esraahefny333 2016)"),
    (39.000378, -77.096880, "20814", "NB ROCKVILLE PIKE @ WILSON DR (esraahefny333)"),
    (38.988922, -77.071317, "20815", "EAST WEST HWY/CURTIS ST, Chevy Chase (esraahefny333)"),
    (38.958652, -77.109202, "20816", "MASSACHUSETTS AVE AT WESTBARD AVE (esraahefny333)"),
    (38.99645, -77.157920, "20817", "IL 495 @ RIVER ROAD (esraahefny333)"),
    (39.1434616667, -77.067658, "20832", "GEORGIA AVE @ HINES RD, Olney (esraahefny333)"),
    (39.220252, -77.060150, "20833", "NB GEORGIA AVE AT NEW HAMPSHIRE AVE, Brookeville (nikolausn)"),
    (39.1448183333, -77.417488, "20837", "ELGIN RD/FISHER AVE, Poolesville (esraahefny333)"),
    (39.1953766667, -77.326668, "20841", "BARNESVILLE RD @ GANLEY RD, Boyds (esraahefny333)"),
    (39.0978616667, -77.177953, "20850", "S/B 270 SHADY GROVE, Rockville (esraahefny333)"),
    (39.0525516667, -77.116190, "20852", "ROCKVILLE PIKE / HUBBARD DRIVE (esraahefny333)"),
    (39.0853133333, -77.094838, "20853", "ARCTIC AVE / VISTA DR, Aspen Hill (esraahefny333)"),
    (39.0188683333, -77.210112, "20854", "RIVER RD/FALLS RD, Potomac (esraahefny333)"),
    (39.1046833333, -76.933665, "20866", "S/B 29 @ BLACKBURN RD, Burtonsville (esraahefny333)"),
    (39.2479616667, -77.270322, "20871", "GRAPEVINE RIDGE TER @ CLARKS CROSSING DR, Clarksburg"),
    (39.2843316667, -77.209222, "20872", "9800 BLOCK OF BETHESDA CHURCH RD, Damascus"),
    (39.1622433333, -77.265458, "20874", "CINNAMON DR/GINGER CT, Germantown (esraahefny333)"),
    (39.1985383333, -77.244758, "20876", "FREDERICK RD/SHAKESPEARE BLVD, Germantown"),
    (39.141952, -77.190952, "20877", "N SUMMIT AVE / E DIAMOND AVE, Gaithersburg"),
    (39.166820, -77.155617, "20879", "WOODFIELD RD AT LINDBERGH DR, Gaithersburg"),
    (39.172447, -77.207913, "20886", "WATKINS MILL/STEDWICK, Montgomery Village"),
    (39.01879, -77.077607, "20895", "CONNECTICUT AVE @ SAUL RD, Kensington"),
    (39.0196683333, -77.011458, "20901", "UNIVERSITY BLVD EAST / COLESVILLE RD, Four Corners"),
    (39.041467, -77.042538, "20902", "REEDIE DR. @ DUKE DR., WHEATON"),
    (39.07592, -76.998665, "20904", "13400 BLK OF CLIFTON RD (esraahefny333)"),
    (39.1093466667, -76.996860, "20905", "NEW HAMPSHIRE AVE/BRIGGS CHANEY RD"),
    (39.0791416667, -77.046928, "20906", "DECKMAN LA @ LAYHILL RD, Aspen Hill"),
    (38.998517, -77.035137, "20910", "SPRING ST @ 2ND AVE, Silver Spring"),
    (38.990540, -77.001455, "20912", "FLOWER AVE @ HOUSTON AVE, Takoma Park"),
]


@pytest.mark.parametrize(("lat", "lon", "expected", "where"), REAL_STOPS, ids=[r[2] + " " + r[3][:25] for r in REAL_STOPS])
def test_real_stop_coordinates_get_their_zip(locator, lat, lon, expected, where):
    zips, status = locator.assign(np.array([lat]), np.array([lon]))
    assert (zips[0], status[0]) == (expected, "matched"), where


def test_a_stop_in_a_gap_between_simplified_zctas_gets_the_nearest_zip(locator):
    # GEORGIA AVE @ URBANA DR, Wheaton (esraahefny333 2016): inside the county, in no polygon.
    zips, status = locator.assign(np.array([39.061375]), np.array([-77.052973]))
    assert (zips[0], status[0]) == ("20902", "nearest")


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(0.0, 0.0), (np.nan, np.nan), (np.nan, -77.1), (39.1, 0.0), (0.0, -77.1), (None, None), (391.0, -77.1)],
)
def test_missing_or_zero_coordinates_are_no_coordinates(locator, lat, lon):
    zips, status = locator.assign(np.array([lat], dtype=object), np.array([lon], dtype=object))
    assert zips[0] is None
    assert status[0] == "no_coordinates"


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (39.2904, -76.6122, "Baltimore city"),
        (39.075205, -76.667033, "default geocode in Anne Arundel County seen in the 2016 sample"),
        (39.4265533333, -77.429635, "Frederick (GEORGIA AVE/HEWITT AVE mis-geocoded in the sample)"),
    ],
)
def test_points_far_from_the_county_are_outside_county(locator, lat, lon, where):
    zips, status = locator.assign(np.array([lat]), np.array([lon]))
    assert (zips[0], status[0]) == (None, "outside_county"), where


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (39.0, -76.96, "Prince George's County tract 24033807200, 1-2 km past the county line near Adelphi"),
        (39.32, -77.43, "Frederick County tract 24021752302, a few km north of the county line"),
    ],
)
def test_a_point_in_a_neighbouring_county_tract_is_outside_county(locator, lat, lon, where):
    # Unmatched points inside the county footprint get the nearest ZCTA at any distance; the
    # footprint is the union of Montgomery's tracts (GEOID 24031...) only. The bundle also carries
    # three neighbouring counties' tracts: counted as footprint, these points would get 20903/20842.
    zips, status = locator.assign(np.array([lat]), np.array([lon]))
    assert (zips[0], status[0]) == (None, "outside_county"), where


def test_strings_and_blank_values_are_parsed(locator):
    zips, status = locator.assign(np.array(["38.98447", "", "PH RD"], dtype=object),
                                  np.array(["-77.0941383333", "", "x"], dtype=object))
    assert list(status) == ["matched", "no_coordinates", "no_coordinates"]
    assert zips[0] == "20814"


def test_duplicates_and_order_do_not_change_results(locator):
    lat = np.array([r[0] for r in REAL_STOPS] * 3 + [0.0, 39.2904])
    lon = np.array([r[1] for r in REAL_STOPS] * 3 + [0.0, -76.6122])
    zips, status = locator.assign(lat, lon)
    perm = np.random.default_rng(7).permutation(lat.size)
    zips_p, status_p = locator.assign(lat[perm], lon[perm])
    assert list(zips_p) == list(zips[perm])
    assert list(status_p) == list(status[perm])
    assert set(status) <= set(ZIP_STATUSES)


def test_lat_and_lon_must_align(locator):
    with pytest.raises(ValueError):
        locator.assign(np.array([39.0, 39.1]), np.array([-77.0]))


# -- behaviour on toy polygons (exact distances) ---------------------------------------------


@pytest.fixture(scope="module")
def toy() -> ZipLocator:
    # Two overlapping ~1.1 km squares near Rockville, no county area: only the 250 m rule applies.
    zcta = gpd.GeoDataFrame(
        {"zip5": ["20852", "20850"], "in_montgomery": [True, True]},
        geometry=[box(-77.15, 39.05, -77.137, 39.06), box(-77.14, 39.05, -77.127, 39.06)],
        crs="EPSG:4326",
    )
    return ZipLocator(zcta)


def test_overlap_goes_to_the_lowest_zip(toy):
    zips, status = toy.assign(np.array([39.055]), np.array([-77.138]))
    assert (zips[0], status[0]) == ("20850", "matched")


def test_near_a_zcta_is_nearest_and_far_is_outside(toy):
    # 0.001 deg of latitude ~ 111 m; 0.004 deg ~ 444 m north of the squares' top edge (39.06).
    zips, status = toy.assign(np.array([39.061, 39.064]), np.array([-77.145, -77.145]))
    assert list(zips) == ["20852", None]
    assert list(status) == ["nearest", "outside_county"]


def test_assign_zip5_frame_uses_the_locator_it_is_given(toy):
    # 444 m north of the toy squares: outside for the toy locator, while the shipped bundle places
    # this point (in Rockville) in a real ZIP code. A frame helper that ignored its locator would
    # quietly assign every caller's points with the shipped polygons.
    df = pd.DataFrame({"latitude": [39.064], "longitude": [-77.145]})
    out = assign_zip5_frame(df, "latitude", "longitude", locator=toy)
    assert out["zip5"].isna().tolist() == [True] and out["zip_status"].tolist() == ["outside_county"]


def test_montgomery_only_needs_the_flag():
    zcta = gpd.GeoDataFrame({"zip5": ["20852"]}, geometry=[box(-77.15, 39.05, -77.14, 39.06)], crs="EPSG:4326")
    with pytest.raises(ValueError, match="in_montgomery"):
        ZipLocator(zcta)
    assert ZipLocator(zcta, montgomery_only=False).assign(np.array([39.055]), np.array([-77.145]))[0][0] == "20852"


# -- frame helper and speed ------------------------------------------------------------------


def test_assign_zip5_frame_adds_columns_without_touching_the_input(locator):
    df = pd.DataFrame({"latitude": [38.98447, 0.0, np.nan], "longitude": [-77.0941383333, 0.0, np.nan]})
    out = assign_zip5_frame(df, "latitude", "longitude", locator=locator)
    assert list(df.columns) == ["latitude", "longitude"]
    assert out["zip5"].tolist()[0] == "20814" and out["zip5"].isna().tolist() == [False, True, True]
    assert out["zip_status"].tolist() == ["matched", "no_coordinates", "no_coordinates"]


def test_half_a_million_distinct_points_are_located(locator):
    """Half a million points in one call. Its speed is for a benchmark, not a test: a loaded machine is no bug."""
    rng = np.random.default_rng(0)
    n = 500_000
    lat = rng.uniform(38.93, 39.36, n)
    lon = rng.uniform(-77.53, -76.89, n)
    zips, status = locator.assign(lat, lon)
    assert len(zips) == len(status) == n
    assert (status == "matched").mean() > 0.4  # the county fills about half its bounding box
    assert set(status) <= {"matched", "nearest", "outside_county"}
    assert all(z is None for z, s in zip(zips[:5000], status[:5000]) if s == "outside_county")


def test_the_edges_of_the_coordinate_range_are_coordinates(locator):
    zips, status = locator.assign(np.array([90.0, -90.0, 90.000001, 38.9]), np.array([-77.0, 180.0, -77.0, -180.000001]))
    assert list(status) == ["outside_county", "outside_county", "no_coordinates", "no_coordinates"]


def _north_of(lon: float, lat: float, metres: float) -> tuple[float, float]:
    from pyproj import Transformer

    to_m = Transformer.from_crs("EPSG:4326", "EPSG:26985", always_xy=True)
    x, y = to_m.transform(lon, lat)
    return Transformer.from_crs("EPSG:26985", "EPSG:4326", always_xy=True).transform(x, y + metres)


@pytest.mark.parametrize(("metres", "expected"), [(249.5, ("20852", "nearest")), (250.5, (None, "outside_county"))])
def test_the_250_m_rule_holds_to_the_metre(toy, metres, expected):
    lon, lat = _north_of(-77.145, 39.06, metres)  # north of 20852's top edge, away from 20850
    zips, status = toy.assign(np.array([lat]), np.array([lon]))
    assert (zips[0], status[0]) == expected


def test_the_first_zip_in_order_can_be_the_nearest(toy):
    lon, lat = _north_of(-77.130, 39.06, 100)  # north of 20850 only (index 0 of the sorted ZIPs)
    zips, status = toy.assign(np.array([lat]), np.array([lon]))
    assert (zips[0], status[0]) == ("20850", "nearest")


def test_assign_zip5_frame_defaults_to_the_shipped_bundle_and_string_columns():
    df = pd.DataFrame({"latitude": [38.98447, 0.0], "longitude": [-77.0941383333, 0.0]})
    out = assign_zip5_frame(df)  # default column names, default locator
    assert out["zip5"].tolist()[:1] == ["20814"] and out["zip_status"].tolist() == ["matched", "no_coordinates"]
    assert str(out["zip5"].dtype) == "string" and str(out["zip_status"].dtype) == "string"
