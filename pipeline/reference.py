"""Load the reference tables (ZIP<->tract weights, tract and ZIP demographics) into the warehouse.

The shipped bundle in ``data/reference`` is the default; a user's HUD ZIP_TRACT file, when given,
replaces the land-area weights with HUD's residential ratios (``RES_RATIO``), which follow where
people live rather than where land is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from .config import REFERENCE_DIR, Settings, test_pause
from .warehouse import Warehouse

log = logging.getLogger(__name__)


def build_reference_tables(ref_dir: Path = REFERENCE_DIR, hud_path: Path | None = None) -> dict[str, Any]:
    """DataFrames for zip_tract, census_tract and zip_demographics (pure computation, no warehouse)."""
    from . import demographics, geo

    bundle = demographics.load_bundle(ref_dir)
    if hud_path is not None:
        weights = geo.load_hud_zip_tract(hud_path)
        check_tract_vintage(weights["tract"], bundle["tracts"]["GEOID"], bundle["tract_poverty_2020"]["tract_2020"],
                            Path(hud_path).name)
        log.info("ZIP<->tract weights: HUD RES_RATIO from %s (%d pairs)", Path(hud_path).name, len(weights))
    else:
        # Recomputed from the shipped polygons each time (about a second) rather than trusted from a
        # file. NOTE: the ZCTA polygons are simplified (~2 km segments), so pairs are restricted to
        # those the Census 2010 ZCTA-tract relationship file lists; land-area shares weight them.
        weights = geo.compute_zip_tract_weights(bundle["zcta"], bundle["tracts"], relationship=bundle["zcta_tract_rel"])
        log.info("ZIP<->tract weights: land-area share of each tract (%d pairs)", len(weights))
    return {
        "zip_tract": demographics.zip_tract_table(weights),
        "census_tract": demographics.census_tract_table(
            bundle["tract_race"], bundle["tract_income"], bundle["tract_employment"], bundle["tract_poverty_2020"]
        ),
        "zip_demographics": demographics.zip_demographics_from_bundle(bundle, weights),
    }


class TractVintageError(ValueError):
    """A crosswalk on 2020 census tracts given where the bundled census data uses 2010 tracts."""


def check_tract_vintage(crosswalk_tracts: pd.Series, tracts_2010: pd.Series, tracts_2020: pd.Series, name: str) -> None:
    """Refuse a crosswalk whose tracts are not the bundle's 2010 tracts.

    The bundled ACS counts and polygons are on 2010 census tracts; HUD's crosswalk files use 2010
    tracts from 2012 Q1 to 2022 Q4 and 2020 tracts from 2023 Q1. Tract ids mostly survive a census,
    so the tell is a tract id that exists only in 2020 (a split or renumbered tract): one is enough.
    Only the bundle's counties are looked at (a national file holds every county).
    """
    counties = set(tracts_2010.str[:5])
    ours = set(crosswalk_tracts[crosswalk_tracts.str[:5].isin(counties)])
    if not ours:
        raise TractVintageError(f"{name}: no census tract of the bundled counties ({', '.join(sorted(counties))}); "
                                "is it a crosswalk for Maryland?")
    only_2020 = sorted(ours & (set(tracts_2020) - set(tracts_2010)))
    if only_2020:
        raise TractVintageError(
            f"{name} uses 2020 census tracts ({len(only_2020)} of its {len(ours)} tracts in these counties exist "
            f"only since 2020, e.g. {', '.join(only_2020[:3])}), but the bundled census data uses 2010 tracts, so "
            "its weights would be applied to the wrong areas. Use a HUD file on 2010 tracts: any quarter from "
            "2012 Q1 to 2022 Q4, e.g. TRACT_ZIP_122022.xlsx (HUD switched to 2020 tracts in 2023 Q1); or leave "
            "out --hud-zip-tract to keep the land-area weights.")
    unknown = ours - set(tracts_2010)
    if unknown:
        log.warning("%s: %d tract(s) of the bundled counties are not in the bundle's 2010 tracts and get no "
                    "demographics: %s", name, len(unknown), ", ".join(sorted(unknown)[:10]))


def load_reference(settings: Settings, warehouse: Warehouse, hud_path: Path | None = None) -> dict[str, Any]:
    tables = build_reference_tables(hud_path=hud_path)
    with warehouse.session() as s:
        counts = {name: s.replace_table(name, df.rename(columns=str.lower)) for name, df in tables.items()}
        test_pause("reference")
    zd = tables["zip_demographics"]
    counts["weight_method"] = str(zd["weight_method"].iloc[0]) if len(zd) else None
    log.info("reference tables loaded: %s", counts)
    return counts


def ensure_reference(settings: Settings, warehouse: Warehouse) -> None:
    """Load the shipped reference tables if the warehouse has none yet (first run on a machine)."""
    if warehouse.exists():
        n = warehouse.query("select count(*) as n from zip_demographics").iloc[0, 0]
        if n:
            return
    load_reference(settings, warehouse)
