"""ZIP5 assignment for stop coordinates and the ZIP <-> census-tract weighting.

Two jobs live here because both are about the same polygons:

* :class:`ZipLocator` puts each stop coordinate in a Montgomery County ZCTA (vectorised prepared
  point in polygon after de-duplicating coordinates, STRtree nearest for gaps: ~2M rows in ~2 s).
* :func:`compute_zip_tract_weights` / :func:`load_hud_zip_tract` produce the many-to-many
  ZIP <-> tract weights that :mod:`pipeline.demographics` uses to allocate tract counts to ZIPs.

Every weight table has the columns ``zip, tract, weight, method, covered_share`` and the weights of
each tract sum to 1 over its ZIPs, so allocating counts neither loses nor double counts residents.

NOTE: the shipped ZCTA polygons are the 2010 ZCTAs *as simplified by a third party* (see
data/reference/SOURCES.md): boundaries have segments of ~2 km, adjacent ZCTAs overlap or leave gaps
(about 7% of the county's area is in a gap, ~4% in an overlap). A stop within a few hundred metres
of a ZIP boundary may get the neighbouring ZIP. Swap in the full-resolution TIGER file to fix it.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely import STRtree

from .config import REFERENCE_DIR

log = logging.getLogger(__name__)

# Files of the shipped reference bundle (data/reference/). Written by pipeline.reference_build.
BUNDLE_FILES: Final[dict[str, str]] = {
    "zcta": "zcta2010_md_ncr_simplified.geojson",
    "tracts": "tracts2010_md_ncr_cb2018_500k.geojson",
    "county_boundary": "montgomery_county_boundary_us_atlas_10m.geojson",
    "zcta_tract_rel": "zcta_tract_rel2010_md_ncr.csv",
    "tract_race": "tract_race_acs5_2019.csv",
    "tract_income": "tract_median_household_income_acs5_2019.csv",
    "tract_employment": "tract_employment_rate_acs5_2019.csv",
    "tract_poverty_2020": "tract2020_poverty_acs5_2021.csv",
    "zip_income": "zip_income_medianzip_acs5_2010.csv",
    "county_race": "county_race_b03002_acs5_2017_montgomery.csv",
    "zip_tract_weights": "zip_tract_weights_land_area.csv",
    "zip_demographics": "zip_demographics.csv",
    "census_tract_table": "census_tract_table.csv",
}

WGS84: Final = "EPSG:4326"
METRIC_CRS: Final = "EPSG:26985"  # NAD83 / Maryland state plane, metres: distances near the county
EQUAL_AREA_CRS: Final = "EPSG:5070"  # NAD83 / Conus Albers: areas for the weights
NEAREST_MAX_M: Final = 250.0
_GAP_SEARCH_M: Final = 5_000.0  # search radius for in-county points in a polygon gap
SLIVER_MIN_SHARE: Final = 0.001  # intersections below 0.1% of a tract are simplification noise
SQM_PER_SQMI: Final = 2_589_988.110336

MONTGOMERY_GEOID: Final = "24031"

STATUS_MATCHED: Final = "matched"
STATUS_NEAREST: Final = "nearest"
STATUS_NO_COORDINATES: Final = "no_coordinates"
STATUS_OUTSIDE_COUNTY: Final = "outside_county"
ZIP_STATUSES: Final = (STATUS_MATCHED, STATUS_NEAREST, STATUS_NO_COORDINATES, STATUS_OUTSIDE_COUNTY)
_CODE: Final = {name: i for i, name in enumerate(ZIP_STATUSES)}
_STATUS_LOOKUP: Final = np.array(ZIP_STATUSES, dtype=object)

METHOD_LAND_AREA: Final = "land_area_share"
METHOD_REL_SINGLE: Final = "census_rel_single_zcta"
METHOD_REL_EVEN: Final = "census_rel_even_split"
METHOD_HUD: Final = "hud_res_ratio"
WEIGHT_COLUMNS: Final = ["zip", "tract", "weight", "method", "covered_share"]

# Key packing for de-duplication: micro-degrees shifted to be non-negative, then lat * base + lon.
_MICRO: Final = 1_000_000
_LON_BASE: Final = 360 * _MICRO + 1


def _zip_column(frame: pd.DataFrame) -> str:
    for name in ("zip5", "ZCTA5CE10", "zip", "ZCTA5", "GEOID10"):
        if name in frame.columns:
            return name
    raise ValueError(f"no ZIP/ZCTA column (zip5, ZCTA5CE10, zip, ZCTA5) in {list(frame.columns)}")


def _tract_column(frame: pd.DataFrame) -> str:
    for name in ("tract", "GEOID", "TractId"):
        if name in frame.columns:
            return name
    raise ValueError(f"no tract id column (tract, GEOID, TractId) in {list(frame.columns)}")


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Repair invalid polygons (24 of the simplified MD ZCTAs self-intersect) and keep areas only."""
    return shapely.make_valid(geoms, method="structure", keep_collapsed=False)


# --------------------------------------------------------------------------------------------
# ZIP5 for points
# --------------------------------------------------------------------------------------------


class ZipLocator:
    """Assign a Montgomery County ZIP5 (2010 ZCTA) to latitude/longitude arrays.

    Build it once per run (``ZipLocator.from_bundle()``) and call :meth:`assign` on whole columns.
    Statuses: ``matched`` (inside a ZCTA polygon; in an overlap of two, the lowest ZIP),
    ``nearest`` (in no polygon, but within ``max_nearest_m`` of one or inside ``county_area``:
    the nearest ZCTA), ``no_coordinates`` (null, NaN, 0, out of range), ``outside_county``.
    NOTE: ZCTAs cross county lines (20705, 20707, 21771, ...), so "matched" means "in a Montgomery
    County ZCTA", not "in the county".
    """

    def __init__(
        self,
        zcta: gpd.GeoDataFrame,
        *,
        county_area: shapely.Geometry | None = None,
        montgomery_only: bool = True,
        max_nearest_m: float = NEAREST_MAX_M,
    ) -> None:
        """``county_area`` (lon/lat) is the county's true footprint, e.g. the union of its census
        tracts: an unmatched point inside it gets the nearest ZCTA at any distance, because the
        gaps of the simplified ZCTAs inside the county can be wider than ``max_nearest_m``."""
        frame = zcta
        if montgomery_only:
            if "in_montgomery" not in frame.columns:
                raise ValueError("ZCTA frame has no in_montgomery column; pass montgomery_only=False")
            frame = frame[frame["in_montgomery"].astype(bool)]
        zip_col = _zip_column(frame)
        # Sorted by ZIP so that "lowest tree index" == "lowest ZIP": the deterministic tie-break
        # for points that fall in two overlapping (simplified) polygons.
        frame = frame.to_crs(WGS84).sort_values(zip_col).reset_index(drop=True)
        self.zips: np.ndarray = frame[zip_col].astype(str).str.zfill(5).to_numpy(dtype=object)
        self._zips_or_none = np.concatenate([np.array([None], dtype=object), self.zips])  # code -1 -> None
        geoms = _polygonal(frame.geometry.to_numpy())
        self.max_nearest_m = float(max_nearest_m)
        self._geoms = geoms
        self._bounds = shapely.bounds(geoms)
        shapely.prepare(self._geoms)
        metric = gpd.GeoSeries(geoms, crs=WGS84).to_crs(METRIC_CRS).to_numpy()
        self._tree_m = STRtree(metric)
        self._to_metric = Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True)
        # NOTE: polygons are simplified (see module docstring), so gaps between neighbouring ZCTAs
        # are artefacts. A point in a gap or just outside the county, within max_nearest_m of a
        # ZCTA, gets that ZCTA with status "nearest"; so does any unmatched point inside
        # county_area (gaps inside the county reach ~1 km). This zone (union buffered by the
        # distance, back in lon/lat, +1 m for round-off) pre-filters points before projecting.
        near_zone = shapely.buffer(shapely.union_all(metric), self.max_nearest_m + 1.0)
        self._near_zone = gpd.GeoSeries([near_zone], crs=METRIC_CRS).to_crs(WGS84).iloc[0]
        shapely.prepare(self._near_zone)
        self._county = county_area
        if self._county is not None:
            shapely.prepare(self._county)

    @classmethod
    def from_bundle(cls, ref_dir: Path = REFERENCE_DIR, **kwargs: object) -> "ZipLocator":
        """Montgomery ZCTAs of the shipped bundle; county footprint = union of its 2010 tracts."""
        zcta = gpd.read_file(Path(ref_dir) / BUNDLE_FILES["zcta"])
        tracts = gpd.read_file(Path(ref_dir) / BUNDLE_FILES["tracts"])
        county = tracts[tracts["GEOID"].str.startswith(MONTGOMERY_GEOID)].to_crs(WGS84)
        kwargs.setdefault("county_area", shapely.union_all(county.geometry.to_numpy()))
        return cls(zcta, **kwargs)  # type: ignore[arg-type]

    def assign(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (zip5 or None, status) arrays, both dtype object, aligned with the inputs.

        Status is one of :data:`ZIP_STATUSES`. Coordinates are rounded to 6 decimals (~0.1 m)
        and each distinct point is located once.
        """
        lat_a = _as_float(lat)
        lon_a = _as_float(lon)
        if lat_a.shape != lon_a.shape:
            raise ValueError(f"lat and lon differ in length: {lat_a.shape} vs {lon_a.shape}")
        n = lat_a.shape[0]
        # Integer codes while working (object arrays are slow); strings only at the end.
        zip_code = np.full(n, -1, dtype=np.int64)
        status_code = np.full(n, _CODE[STATUS_NO_COORDINATES], dtype=np.int8)
        valid = _valid_coordinates(lat_a, lon_a)
        if valid.any():
            lat_i = np.rint(lat_a[valid] * _MICRO).astype(np.int64)
            lon_i = np.rint(lon_a[valid] * _MICRO).astype(np.int64)
            keys = (lat_i + 90 * _MICRO) * _LON_BASE + (lon_i + 180 * _MICRO)
            # np.unique sorts the keys, i.e. the distinct points come out sorted by latitude.
            uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            u_zip, u_status = self._locate_unique(lat_i[first] / _MICRO, lon_i[first] / _MICRO)
            zip_code[valid] = u_zip[inverse]
            status_code[valid] = u_status[inverse]
            log.debug("located %d points (%d distinct)", int(valid.sum()), uniq.size)
        zips = self._zips_or_none[zip_code + 1]
        return zips, _STATUS_LOOKUP[status_code]

    def _locate_unique(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ZCTA index or -1, status code) for distinct points sorted by latitude."""
        m = lat.shape[0]
        idx = np.full(m, -1, dtype=np.int64)
        status = np.full(m, _CODE[STATUS_OUTSIDE_COUNTY], dtype=np.int8)
        # Point in polygon without building point objects: per ZCTA in ZIP order, cut the
        # latitude-sorted points to the bbox, then prepared contains_xy on the still-unmatched
        # ones. Same answer as STRtree.query(points, predicate="within") + lowest ZIP, but
        # ~5x faster on 2M points (creating 2M shapely points alone costs ~2 s).
        for i, (geom, (x0, y0, x1, y1)) in enumerate(zip(self._geoms, self._bounds)):
            lo = int(np.searchsorted(lat, y0, side="left"))
            hi = int(np.searchsorted(lat, y1, side="right"))
            sub = np.arange(lo, hi)
            sub = sub[(idx[lo:hi] < 0) & (lon[lo:hi] >= x0) & (lon[lo:hi] <= x1)]
            if sub.size:
                hit = shapely.contains_xy(geom, lon[sub], lat[sub])
                idx[sub[hit]] = i
        status[idx >= 0] = _CODE[STATUS_MATCHED]

        unmatched = np.flatnonzero(idx < 0)
        u_lon, u_lat = lon[unmatched], lat[unmatched]
        near = shapely.contains_xy(self._near_zone, u_lon, u_lat)
        in_county = (
            shapely.contains_xy(self._county, u_lon, u_lat)
            if self._county is not None
            else np.zeros(unmatched.size, dtype=bool)
        )
        pick = near | in_county
        todo, in_county = unmatched[pick], in_county[pick]
        if todo.size:
            x, y = self._to_metric.transform(lon[todo], lat[todo])
            # A search radius keeps query_nearest fast; gaps inside the county are ~1 km at most.
            (q_pt, q_poly), dist = self._tree_m.query_nearest(
                shapely.points(x, y), max_distance=max(self.max_nearest_m, _GAP_SEARCH_M),
                return_distance=True, all_matches=True,
            )
            keep = (dist <= self.max_nearest_m) | in_county[q_pt]
            nearest = _first_per_group(q_pt[keep], q_poly[keep], todo.size)
            hit = nearest >= 0
            idx[todo[hit]] = nearest[hit]
            status[todo[hit]] = _CODE[STATUS_NEAREST]
        return idx, status


def _first_per_group(group: np.ndarray, value: np.ndarray, size: int) -> np.ndarray:
    """Smallest ``value`` per ``group`` (0..size-1), -1 where a group has none."""
    out = np.full(size, -1, dtype=np.int64)
    if group.size == 0:
        return out
    order = np.lexsort((value, group))
    g = group[order]
    starts = np.ones(g.size, dtype=bool)
    starts[1:] = g[1:] != g[:-1]
    out[g[starts]] = value[order][starts]
    return out


def _as_float(values: object) -> np.ndarray:
    """Coerce to float64; None, '' and unparsable strings become NaN."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(np.float64, copy=False)
    return pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(dtype=np.float64)


def _valid_coordinates(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    # NOTE: the source writes 0 for a missing coordinate (both, and sometimes only one of the two);
    # a 0 in either is never a real Montgomery County location. Out-of-range values are unusable.
    finite = np.isfinite(lat) & np.isfinite(lon)
    with np.errstate(invalid="ignore"):
        in_range = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    return finite & in_range & (lat != 0) & (lon != 0)


@lru_cache(maxsize=2)
def _bundle_locator(ref_dir: str) -> ZipLocator:
    return ZipLocator.from_bundle(Path(ref_dir))


def assign_zip5_frame(
    df: pd.DataFrame,
    lat_col: str = "latitude",
    lon_col: str = "longitude",
    locator: ZipLocator | None = None,
) -> pd.DataFrame:
    """Return a copy of ``df`` with ``zip5`` and ``zip_status`` columns (input is not modified).

    Without a locator, one built from the shipped bundle is used (cached per process).
    """
    loc = locator if locator is not None else _bundle_locator(str(REFERENCE_DIR))
    zips, status = loc.assign(df[lat_col].to_numpy(), df[lon_col].to_numpy())
    return df.assign(
        zip5=pd.array(zips, dtype="string"),
        zip_status=pd.array(status, dtype="string"),
    )


# --------------------------------------------------------------------------------------------
# ZIP <-> tract weights
# --------------------------------------------------------------------------------------------


def intersect_zcta_tract(zcta_gdf: gpd.GeoDataFrame, tract_gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Areas (m², EPSG:5070) of every non-empty tract ∩ ZCTA.

    Columns: zip, tract, inter_area, tract_area, zcta_area.
    """
    z = _prepare_polygons(zcta_gdf, _zip_column(zcta_gdf), "zip", 5)
    t = _prepare_polygons(tract_gdf, _tract_column(tract_gdf), "tract", 11)
    t_idx, z_idx = STRtree(z.geometry.to_numpy()).query(t.geometry.to_numpy(), predicate="intersects")
    inter = shapely.intersection(t.geometry.to_numpy()[t_idx], z.geometry.to_numpy()[z_idx])
    out = pd.DataFrame(
        {
            "zip": z["zip"].to_numpy()[z_idx],
            "tract": t["tract"].to_numpy()[t_idx],
            "inter_area": shapely.area(inter),
            "tract_area": shapely.area(t.geometry.to_numpy())[t_idx],
            "zcta_area": shapely.area(z.geometry.to_numpy())[z_idx],
        }
    )
    out = out[out["inter_area"] > 0]
    return out.sort_values(["tract", "zip"], ignore_index=True)


def _prepare_polygons(gdf: gpd.GeoDataFrame, id_col: str, new_col: str, width: int) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {new_col: gdf[id_col].astype(str).str.zfill(width).to_numpy()},
        geometry=_polygonal(gdf.geometry.to_numpy()),
        crs=gdf.crs,
    )
    return frame.to_crs(EQUAL_AREA_CRS)


def compute_zip_tract_weights(
    zcta_gdf: gpd.GeoDataFrame,
    tract_gdf: gpd.GeoDataFrame,
    relationship: pd.DataFrame | None = None,
    min_share: float = SLIVER_MIN_SHARE,
) -> pd.DataFrame:
    """Tract -> ZIP weights from polygon areas: ``zip, tract, weight, method, covered_share``.

    weight = area(tract ∩ ZCTA) / area(tract) in EPSG:5070, slivers below ``min_share`` of the
    tract dropped, then normalised so each tract's weights sum to 1 (every resident is allocated
    exactly once). ``covered_share`` is the tract's summed share before normalisation: < 1 where
    the tract lies partly in no ZCTA polygon, > 1 where simplified ZCTAs overlap.

    ``relationship`` (optional; columns ZCTA5/zip and GEOID/tract, the Census 2010 ZCTA-tract
    relationship, which lists every pair that truly intersects) corrects simplification errors:
    pairs not in it are dropped, and a tract that it puts in a single ZCTA gets weight 1 there
    (method ``census_rel_single_zcta``) whatever the simplified polygons say; a tract whose listed
    ZCTAs its polygon meets none of is split evenly (``census_rel_even_split``).
    """
    pairs = intersect_zcta_tract(zcta_gdf, tract_gdf)
    pairs["share"] = pairs["inter_area"] / pairs["tract_area"]
    pairs["method"] = METHOD_LAND_AREA
    tracts_all = set(_prepare_ids(tract_gdf[_tract_column(tract_gdf)], 11))

    if relationship is not None:
        zctas_all = set(_prepare_ids(zcta_gdf[_zip_column(zcta_gdf)], 5))
        pairs = _apply_relationship(pairs, relationship, zctas_all, tracts_all)

    # Slivers go, except a tract's largest piece: a tract made only of slivers (e.g. one the
    # simplified ZCTAs barely touch) would otherwise lose all its residents.
    largest = pairs["share"] == pairs.groupby("tract")["share"].transform("max")
    pairs = pairs[(pairs["share"] >= min_share) | largest | (pairs["method"] != METHOD_LAND_AREA)]
    covered = pairs.groupby("tract")["share"].transform("sum")
    covered_share = covered
    if "polygon_share" in pairs.columns:
        # A single-ZCTA tract's weight comes from the relationship; its covered_share still
        # reports what the polygons alone would have given, as a measure of their error.
        covered_share = covered.where(pairs["method"] == METHOD_LAND_AREA, pairs["polygon_share"])
    out = pairs.assign(weight=pairs["share"] / covered, covered_share=covered_share)
    missing = sorted(tracts_all - set(out["tract"]))
    if missing:
        log.warning("%d tracts get no ZCTA, so their counts are not allocated (check they are empty): %s",
                    len(missing), missing[:10])
    return out[WEIGHT_COLUMNS].sort_values(["tract", "zip"], ignore_index=True)


def _prepare_ids(values: pd.Series, width: int) -> pd.Series:
    """Zero-padded id strings; tolerates ids that went through a float ("1001.0")."""
    text = values.astype(str).str.strip().str.replace(r"\.0+$", "", regex=True)
    return text.str.zfill(width)


def _apply_relationship(
    pairs: pd.DataFrame, relationship: pd.DataFrame, zctas: set[str], tracts: set[str]
) -> pd.DataFrame:
    rel = pd.DataFrame(
        {
            "zip": _prepare_ids(relationship[_zip_column(relationship)], 5),
            "tract": _prepare_ids(relationship[_tract_column(relationship)], 11),
        }
    ).drop_duplicates()
    rel = rel[rel["zip"].isin(zctas) & rel["tract"].isin(tracts)]
    official = pairs.merge(rel, on=["zip", "tract"], how="inner")
    dropped = len(pairs) - len(official)  # counted before the sliver filter
    n_zips = rel.groupby("tract")["zip"].transform("nunique")
    single = rel[n_zips == 1]
    polygon_share = pairs.set_index(["tract", "zip"])["share"]
    single_rows = single.assign(
        share=1.0,
        method=METHOD_REL_SINGLE,
        polygon_share=[float(polygon_share.get((t, z), 0.0)) for t, z in zip(single["tract"], single["zip"])],
    )
    multi = official[~official["tract"].isin(single["tract"])].assign(polygon_share=np.nan)
    # A multi-ZCTA tract whose ZCTAs its simplified polygon does not meet at all: split evenly
    # rather than lose its residents.
    lost = rel[(n_zips > 1) & ~rel["tract"].isin(multi["tract"])]
    even = lost.assign(share=1.0, method=METHOD_REL_EVEN, polygon_share=0.0)
    if not lost.empty:
        log.warning("%d multi-ZCTA tracts meet none of their ZCTAs' polygons; split evenly: %s",
                    lost["tract"].nunique(), sorted(set(lost["tract"])))
    # Tracts the relationship does not cover at all keep their polygon pairs.
    uncovered = pairs[~pairs["tract"].isin(rel["tract"])].assign(polygon_share=np.nan)
    log.info(
        "Census relationship: dropped %d polygon pairs it does not list; %d tracts lie in a single ZCTA",
        dropped, single["tract"].nunique(),
    )
    cols = ["zip", "tract", "share", "method", "polygon_share"]
    return pd.concat([multi[cols], single_rows[cols], even[cols], uncovered[cols]], ignore_index=True)


def zcta_tract_coverage(
    zcta_gdf: gpd.GeoDataFrame,
    tract_gdf: gpd.GeoDataFrame,
    tracts_with_data: set[str] | None = None,
) -> pd.Series:
    """Share (0..1) of each ZCTA polygon's area covered by the given tracts (all if None).

    NOTE: polygon area stands in for land area; the simplified ZCTA polygons include water and
    spill over neighbours, so values slightly below 1 are normal even for interior ZCTAs.
    """
    pairs = intersect_zcta_tract(zcta_gdf, tract_gdf)
    if tracts_with_data is not None:
        pairs = pairs[pairs["tract"].isin(tracts_with_data)]
    zcta_area = pairs.groupby("zip")["zcta_area"].first()
    share = (pairs.groupby("zip")["inter_area"].sum() / zcta_area).clip(upper=1.0)
    all_zips = _prepare_ids(zcta_gdf[_zip_column(zcta_gdf)], 5)
    return share.reindex(sorted(set(all_zips)), fill_value=0.0).rename("tract_coverage")


def load_hud_zip_tract(path: str | Path, zip_population: pd.Series | None = None) -> pd.DataFrame:
    """Read a HUD USPS crosswalk (csv or xlsx) as tract -> ZIP weights.

    Returns ``zip, tract, weight, method="hud_res_ratio", covered_share``; weights sum to 1 per
    tract. Needs columns ZIP, TRACT, RES_RATIO (any case).

    HUD publishes two orientations with the same columns. In TRACT_ZIP, RES_RATIO is the share
    of the *tract's* residential addresses in each ZIP: exactly the allocation weight. In
    ZIP_TRACT it is the share of the *ZIP's* addresses in each tract (sums to 1 per ZIP); using it
    directly would mis-allocate, so it is turned around: share(tract in zip) ∝ RES_RATIO × size of
    the ZIP, the size being ``zip_population`` (e.g. MedianZIP ``Pop``) if given, else equal
    sizes (logged). The orientation is detected from which id the ratios sum to 1 over.

    NOTE: HUD's ZIP is a USPS ZIP, not a ZCTA, and its tract vintage follows the quarter (2010
    tracts from 2012 Q1 to 2022 Q4, 2020 tracts from 2023 Q1); the bundle's ACS data is on 2010
    tracts, and :func:`pipeline.reference.check_tract_vintage` refuses a 2020-tract file.
    """
    path = Path(path)
    raw = _read_table(path)
    cols = {str(c).strip().upper(): c for c in raw.columns}
    needed = ["ZIP", "TRACT", "RES_RATIO"]
    missing = [c for c in needed if c not in cols]
    if missing:
        raise ValueError(
            f"{path.name}: HUD crosswalk needs columns {needed} (any case); missing {missing}; "
            f"found {list(raw.columns)}"
        )
    df = pd.DataFrame(
        {
            "zip": _prepare_ids(raw[cols["ZIP"]], 5),
            "tract": _prepare_ids(raw[cols["TRACT"]], 11),
            "ratio": pd.to_numeric(raw[cols["RES_RATIO"]], errors="coerce"),
        }
    )
    df = df[df["ratio"].notna()]
    orientation = _hud_orientation(df, path.name, first_column=str(raw.columns[0]).strip().upper())
    if orientation == "zip":
        if zip_population is None:
            log.warning("%s is a ZIP_TRACT file; no ZIP sizes given, so ZIPs sharing a tract are "
                        "assumed equal in size when turning ratios around", path.name)
            size = pd.Series(1.0, index=df.index)
        else:
            pop = zip_population.copy()
            pop.index = _prepare_ids(pd.Series(pop.index.astype(str)), 5).to_numpy()
            size = df["zip"].map(pop).astype(float)
            size = size.fillna(size.median() if size.notna().any() else 1.0)
        df["ratio"] = df["ratio"] * size
    df = df[df["ratio"] > 0]
    total = df.groupby("tract")["ratio"].transform("sum")
    out = df.assign(
        weight=df["ratio"] / total,
        method=METHOD_HUD,
        covered_share=total if orientation == "tract" else np.nan,
    )
    return out[WEIGHT_COLUMNS].sort_values(["tract", "zip"], ignore_index=True)


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        try:
            return pd.read_excel(path, dtype=str)
        except ImportError as exc:  # openpyxl is optional
            raise ValueError(f"{path.name}: reading Excel needs openpyxl; install it or save as CSV") from exc
    return pd.read_csv(path, dtype=str)


def _hud_orientation(df: pd.DataFrame, name: str, first_column: str) -> str:
    """'tract' if ratios sum to ~1 per tract (TRACT_ZIP), 'zip' if per ZIP (ZIP_TRACT)."""
    def share_near_one(key: str) -> float:
        sums = df.groupby(key)["ratio"].sum()
        return float((np.abs(sums - 1) < 0.01).mean())

    by_tract, by_zip = share_near_one("tract"), share_near_one("zip")
    if by_tract >= 0.9 and by_tract >= by_zip:
        return "tract"
    if by_zip >= 0.9:
        return "zip"
    # Partial extracts: fall back to the file's layout (TRACT_ZIP files start with TRACT).
    guess = "tract" if first_column == "TRACT" or "TRACT_ZIP" in name.upper() else "zip"
    log.warning("%s: cannot tell TRACT_ZIP from ZIP_TRACT by the sums (%.0f%% / %.0f%% near 1); "
                "assuming %s orientation", name, 100 * by_tract, 100 * by_zip, guess)
    return guess
