"""The analysis SQL and result tables on the real PostgreSQL server (the Redshift SQL subset)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.analysis import TABLES, run_all
from pipeline.config import Settings
from pipeline.warehouse import open_warehouse

pytest_plugins = ["tests.pg_fixtures"]


class _Rollback(Exception):
    """Raised inside the session so the shared PostgreSQL sample schema is left as it was."""


def test_run_all_on_postgresql_gives_the_same_results_as_on_duckdb(
    pg_sample_warehouse: Settings, sample_warehouse: Settings, tmp_path: Path
) -> None:
    pg = open_warehouse(pg_sample_warehouse)
    with pytest.raises(_Rollback):
        with pg.session() as s:
            pg_out = run_all(s, settings=pg_sample_warehouse)
            stored = {t: s.query(f"select * from {t}") for t in TABLES}
            raise _Rollback
    for table, columns in TABLES.items():
        assert list(stored[table].columns) == columns and len(stored[table]) == len(pg_out[table]), table

    shutil.copyfile(sample_warehouse.duckdb_path, tmp_path / "warehouse.duckdb")
    local = Settings(warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}", lake_url=str(tmp_path / "lake"))
    duck_out = run_all(open_warehouse(local), settings=local)

    keys = ["view", "geography", "stop_year", "race"]
    a = pg_out["analysis_benchmark"].set_index(keys).sort_index()
    b = duck_out["analysis_benchmark"].set_index(keys).sort_index()
    for col in ("stops", "population", "rate_per_1000", "rate_low", "ratio_vs_white", "ratio_high"):
        pd.testing.assert_series_equal(a[col].astype(float), b[col].astype(float), check_exact=False, rtol=1e-9)
    va = pg_out["analysis_veil_of_darkness"].set_index("model")
    vb = duck_out["analysis_veil_of_darkness"].set_index("model")
    assert va["n"].tolist() == vb["n"].tolist()
    assert va["coef_is_dark"].astype(float).round(9).tolist() == vb["coef_is_dark"].astype(float).round(9).tolist()
    ca = pg_out["analysis_caveats"].set_index(["caveat", "stop_year"])["numerator"].astype(float).sort_index()
    cb = duck_out["analysis_caveats"].set_index(["caveat", "stop_year"])["numerator"].astype(float).sort_index()
    pd.testing.assert_series_equal(ca, cb)
    assert pg_out["analysis_outcome_test"]["reason"].iloc[0] == duck_out["analysis_outcome_test"]["reason"].iloc[0]
