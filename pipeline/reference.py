"""Load the reference tables (ZIP<->tract weights, tract and ZIP demographics) into the warehouse.

The shipped bundle in ``data/reference`` is the default; a user's HUD ZIP_TRACT file, when given,
replaces the land-area weights with HUD's residential ratios (``RES_RATIO``), which follow where
people live rather than where land is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .config import REFERENCE_DIR, Settings
from .warehouse import Warehouse

log = logging.getLogger(__name__)


def build_reference_tables(ref_dir: Path = REFERENCE_DIR, hud_path: Path | None = None) -> dict[str, Any]:
    """DataFrames for zip_tract, census_tract and zip_demographics (pure computation, no warehouse)."""
    from . import demographics, geo

    bundle = demographics.load_bundle(ref_dir)
    if hud_path is not None:
        weights = geo.load_hud_zip_tract(hud_path)
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


def load_reference(settings: Settings, warehouse: Warehouse, hud_path: Path | None = None) -> dict[str, Any]:
    tables = build_reference_tables(hud_path=hud_path)
    with warehouse.session() as s:
        counts = {name: s.replace_table(name, df.rename(columns=str.lower)) for name, df in tables.items()}
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
