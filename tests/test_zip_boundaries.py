"""ZIP assignment a few metres either side of ZCTA boundaries, with the points taken from the polygons.

For every Montgomery County ZCTA, points 5 m inside and 5 m outside the midpoints of its boundary
segments are built in metres (EPSG:26985) from the shipped polygons themselves, kept only where the
answer is unambiguous (the inside point in that ZCTA alone, the outside point in exactly one
neighbour or in none; both at least 2 m from every other boundary), and must come back as that
ZCTA and that neighbour. Any coarsening of the coordinates (~100 m at 3 decimals) fails here.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.config import REFERENCE_DIR
from pipeline.geo import ZipLocator

OFFSET_M = 5.0
CLEARANCE_M = 2.0
PER_ZIP = 3  # of each kind: a neighbour across the line, or a gap / the county edge


def boundary_points(zcta_path: Path) -> pd.DataFrame:
    """``zip, side, expect_zip, expect_status, lat, lon``: pairs of points 5 m either side of boundaries."""
    zcta = gpd.read_file(zcta_path)
    zcta = zcta[zcta["in_montgomery"].astype(bool)].to_crs("EPSG:26985")
    zips = zcta["ZCTA5CE10"].astype(str).str.zfill(5).to_numpy()
    geoms = zcta.geometry.to_numpy()
    valid = shapely.is_valid(geoms)
    every_edge = shapely.union_all(shapely.boundary(shapely.make_valid(geoms)))
    rows = []
    for i in np.argsort(zips):
        if not valid[i]:
            continue  # a self-intersecting polygon has no single inside to test against
        polygon = geoms[i]
        parts = getattr(polygon, "geoms", [polygon])
        ring = np.asarray(max(parts, key=lambda p: p.area).exterior.coords)
        found = {"matched": 0, "nearest": 0}
        for a, b in zip(ring[:-1], ring[1:]):
            length = float(np.hypot(*(b - a)))
            if length < 50:
                continue
            mid = (a + b) / 2
            normal = np.array([-(b - a)[1], (b - a)[0]]) / length
            p, q = shapely.points(mid + OFFSET_M * normal), shapely.points(mid - OFFSET_M * normal)
            inside, outside = (p, q) if polygon.contains(p) else (q, p)
            if not polygon.contains(inside) or polygon.contains(outside):
                continue
            if min(every_edge.distance(inside), every_edge.distance(outside)) < CLEARANCE_M:
                continue  # another boundary runs right there
            hosts_in = [j for j in range(len(geoms)) if j != i and geoms[j].contains(inside)]
            hosts_out = [j for j in range(len(geoms)) if geoms[j].contains(outside)]
            if hosts_in or len(hosts_out) > 1:
                continue
            if hosts_out:
                expect_out, status_out = zips[hosts_out[0]], "matched"
            elif polygon.distance(outside) < 0.5 * min(
                    (geoms[j].distance(outside) for j in range(len(geoms)) if j != i), default=np.inf):
                expect_out, status_out = zips[i], "nearest"  # a gap or the county edge: the nearest ZCTA
            else:
                continue
            if found[status_out] == PER_ZIP:
                continue
            rows.append((zips[i], "inside", zips[i], "matched", inside))
            rows.append((zips[i], "outside", expect_out, status_out, outside))
            found[status_out] += 1
    frame = pd.DataFrame(rows, columns=["zip", "side", "expect_zip", "expect_status", "point"])
    lonlat = gpd.GeoSeries(frame.pop("point"), crs="EPSG:26985").to_crs("EPSG:4326")
    return frame.assign(lat=lonlat.y.to_numpy(), lon=lonlat.x.to_numpy())


@pytest.fixture(scope="module")
def points() -> pd.DataFrame:
    return boundary_points(REFERENCE_DIR / "zcta2010_md_ncr_simplified.geojson")


def test_there_are_boundary_points_for_most_zips_and_both_kinds_of_outside(points: pd.DataFrame) -> None:
    # The simplified polygons rarely share an edge (they overlap or leave gaps), so most outside
    # points fall in a gap; 21 land in a neighbour and 131 in a gap or past the county edge.
    assert points["zip"].nunique() >= 45
    outside = points[points["side"] == "outside"]
    assert (outside["expect_status"] == "matched").sum() >= 15  # a neighbouring ZCTA across the line
    assert (outside["expect_status"] == "nearest").sum() >= 100  # a gap or the county edge across the line


def test_points_a_few_metres_either_side_of_a_boundary_get_the_right_zip(points: pd.DataFrame) -> None:
    zips, status = ZipLocator.from_bundle().assign(points["lat"].to_numpy(), points["lon"].to_numpy())
    got = points.assign(got_zip=zips, got_status=status)
    wrong = got[(got["got_zip"] != got["expect_zip"]) | (got["got_status"] != got["expect_status"])]
    assert wrong.empty, f"{len(wrong)} of {len(got)} boundary points wrong:\n{wrong.head(10).to_string()}"


def test_points_inside_the_county_far_from_every_zcta_get_the_nearest_zip() -> None:
    """The simplified ZCTAs leave gaps wider than 250 m inside the county: there the county footprint
    (its census tracts) decides, and the nearest ZCTA at any distance is assigned."""
    zcta = gpd.read_file(REFERENCE_DIR / "zcta2010_md_ncr_simplified.geojson")
    zcta = zcta[zcta["in_montgomery"].astype(bool)].to_crs("EPSG:26985")
    polygons = shapely.make_valid(zcta.geometry.to_numpy())
    tracts = gpd.read_file(REFERENCE_DIR / "tracts2010_md_ncr_cb2018_500k.geojson")
    county = shapely.union_all(tracts[tracts["GEOID"].str.startswith("24031")].to_crs("EPSG:26985").geometry.to_numpy())
    x0, y0, x1, y1 = county.bounds
    xs, ys = np.meshgrid(np.arange(x0, x1, 500.0), np.arange(y0, y1, 500.0))
    grid = shapely.points(xs.ravel(), ys.ravel())
    grid = grid[shapely.contains(county, grid)]
    distances = np.array([[p.distance(g) for g in polygons] for p in grid])
    far = distances.min(axis=1) > 400  # well past the 250 m rule ...
    inland = shapely.distance(shapely.boundary(county), grid) > 400  # ... and clear of the county edge
    chosen = grid[far & inland]
    assert len(chosen) >= 3, f"only {len(chosen)} grid points in the bundle's gaps inside the county"
    expected = zcta["ZCTA5CE10"].astype(str).str.zfill(5).to_numpy()[distances[far & inland].argmin(axis=1)]
    lonlat = gpd.GeoSeries(chosen, crs="EPSG:26985").to_crs("EPSG:4326")
    zips, status = ZipLocator.from_bundle().assign(lonlat.y.to_numpy(), lonlat.x.to_numpy())
    assert list(status) == ["nearest"] * len(chosen)
    assert list(zips) == list(expected)
