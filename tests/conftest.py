"""Shared fixtures: an isolated lake + DuckDB warehouse per test, and one sample-loaded warehouse per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.config import Settings

os.environ.setdefault("MPLBACKEND", "Agg")


def make_settings(root: Path, **overrides: object) -> Settings:
    return Settings(
        warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
        lake_url=str(root / "lake"),
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A fresh DuckDB warehouse and local lake under tmp_path."""
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The bundled real sample loaded once (reference tables included); treat as read-only."""
    from pipeline.extract.files import SampleSource
    from pipeline.load import run_load
    from pipeline.reference import ensure_reference
    from pipeline.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("sample_wh")
    s = make_settings(root)
    wh = open_warehouse(s)
    ensure_reference(s, wh)
    run_load(s, SampleSource(), "backfill", warehouse=wh)
    return s


@pytest.fixture
def sample_warehouse_copy(sample_warehouse: Settings, tmp_path: Path) -> Settings:
    """A private copy of the sample warehouse and its lake that a test may modify."""
    shutil.copyfile(sample_warehouse.duckdb_path, tmp_path / "warehouse.duckdb")
    shutil.copytree(sample_warehouse.lake_path, tmp_path / "lake")
    return make_settings(tmp_path)
