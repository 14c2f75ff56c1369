"""Every analysis end to end on the bundled real sample, and how each degrades where it is too small."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.analysis import (
    TABLES,
    aggregate_residence_counts,
    aggregate_search_counts,
    aggregate_zip_counts,
    read_results,
    run_all,
)
from pipeline.config import PROJECT_ROOT, SQL_DIR, Settings
from pipeline.extract.files import FileSource
from pipeline.load import run_load
from pipeline.sqlfiles import load_sql
from pipeline.warehouse import open_warehouse

FIXTURE_2025 = PROJECT_ROOT / "tests" / "fixtures" / "mcpd_tv_sample_nischal_2025_augmented.csv.gz"


def settings_at(root: Path) -> Settings:
    return Settings(warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}", lake_url=str(root / "lake"))


@pytest.fixture(scope="module")
def analysed_sample(sample_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """A copy of the sample warehouse after run_all (the shared fixture stays untouched)."""
    root = tmp_path_factory.mktemp("analysed_sample")
    shutil.copyfile(sample_warehouse.duckdb_path, root / "warehouse.duckdb")
    s = settings_at(root)
    return s, run_all(open_warehouse(s), settings=s)


@pytest.fixture(scope="module")
def warehouse_2025(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The only real rows with search fields: the 2025 file (567 charges), loaded on their own."""
    s = settings_at(tmp_path_factory.mktemp("wh_2025"))
    run_load(s, FileSource([FIXTURE_2025]), "backfill", warehouse=open_warehouse(s))
    return s


def query(s: Settings, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(s.duckdb_path), read_only=True) as con:
        return con.execute(sql).df()


def test_run_all_writes_the_four_tables_with_the_schema_columns(analysed_sample) -> None:  # noqa: ANN001
    s, out = analysed_sample
    assert set(out) == set(TABLES)
    for table, columns in TABLES.items():
        stored = query(s, f"select * from {table}")
        assert list(stored.columns) == columns, table
        assert len(stored) == len(out[table]) > 0
        assert stored["computed_at"].notna().all()


def test_schema_sql_declares_exactly_the_python_columns() -> None:
    text = (SQL_DIR / "analysis" / "schema.sql").read_text()
    for table, columns in TABLES.items():
        body = re.search(rf"create table if not exists {table} \((.*?)\n\);", text, re.S).group(1)
        declared = [line.strip().split()[0] for line in body.strip().splitlines() if line.strip()]
        assert declared == columns, table


def test_benchmark_runs_on_the_sample_with_an_interval_on_every_rate(analysed_sample) -> None:  # noqa: ANN001
    _, out = analysed_sample
    b = out["analysis_benchmark"]
    assert b["ran"].all()
    assert {"all_stops_county", "residents_county", "all_stops_zip"} <= set(b["view"])
    rated = b[b["rate_per_1000"].notna()]
    assert (rated["rate_low"] <= rated["rate_per_1000"]).all() and (rated["rate_per_1000"] <= rated["rate_high"]).all()
    ratios = b[b["ratio_vs_white"].notna()]
    assert ((ratios["ratio_low"] <= ratios["ratio_vs_white"]) & (ratios["ratio_vs_white"] <= ratios["ratio_high"])).all()
    county_2016 = b[(b["view"] == "all_stops_county") & (b["stop_year"] == 2016)].set_index("race")
    n_2016 = query(analysed_sample[0], "select count(*) as n from stops where stop_year = 2016")["n"].iloc[0]
    assert county_2016.loc["ALL", "stops"] == n_2016  # stops, not charges
    assert county_2016.loc["ALL", "population"] == 1_039_198  # ACS 2013-2017 B03002, the bundle's county table
    small = b[(b["stops"] < 10) & (b["race"] != "OTHER")]
    assert not small["reliable"].any() and small["flag"].str.contains("fewer than 10 stops").all()


def test_outcome_test_says_why_it_cannot_run_on_the_sample(analysed_sample) -> None:  # noqa: ANN001
    _, out = analysed_sample
    o = out["analysis_outcome_test"]
    assert not o["ran"].any()
    assert o["reason"].iloc[0].startswith("no stop in the data has search fields")


def test_veil_of_darkness_runs_or_refuses_with_a_reason_on_the_sample(analysed_sample) -> None:  # noqa: ANN001
    _, out = analysed_sample
    v = out["analysis_veil_of_darkness"].set_index("model")
    for _, row in v.iterrows():
        assert bool(row["ran"]) == (row["n"] >= row["min_n"])
        if row["ran"]:
            assert row["ci_low"] <= row["coef_is_dark"] <= row["ci_high"]
            assert row["or_low"] <= row["odds_ratio"] <= row["or_high"]
            assert row["interpretation"].startswith("After dark")
        else:
            assert row["reason"] and row["interpretation"].startswith("cannot be computed")


def test_caveats_on_the_sample_name_the_sample_and_measure_missing_locations(analysed_sample) -> None:  # noqa: ANN001
    _, out = analysed_sample
    c = out["analysis_caveats"]
    assert "bundled_sample" in set(c["caveat"])
    loc = c[(c["caveat"] == "no_location") & c["stop_year"].isna()].iloc[0]
    assert 0 < loc["share"] < 1 and loc["share_low"] <= loc["share"] <= loc["share_high"]
    search = c[(c["caveat"] == "search_fields_recorded") & c["stop_year"].isna()].iloc[0]
    assert search["numerator"] == 0


def test_sql_aggregates_match_the_pandas_rules_on_the_sample(sample_warehouse: Settings) -> None:
    stops = query(sample_warehouse, "select * from stops")
    for name, agg, keys in (
        ("benchmark_residence_counts", aggregate_residence_counts(stops), ["stop_year", "race", "driver_state", "driver_city"]),
        ("benchmark_zip_counts", aggregate_zip_counts(stops), ["stop_year", "zip5", "race"]),
    ):
        sql = query(sample_warehouse, load_sql(f"analysis/{name}"))
        a = sql.astype({k: object for k in keys}).fillna({k: "<null>" for k in keys}).set_index(keys)["stops"].sort_index()
        b = agg.astype({k: object for k in keys}).fillna({k: "<null>" for k in keys}).set_index(keys)["stops"].sort_index()
        assert a.astype(int).to_dict() == b.astype(int).to_dict(), name


def test_outcome_test_refuses_on_the_real_2025_rows_with_search_fields(warehouse_2025: Settings) -> None:
    out = run_all(open_warehouse(warehouse_2025), settings=warehouse_2025)
    o = out["analysis_outcome_test"]
    assert not o["ran"].any()
    assert o["reason"].iloc[0].startswith("too few searches: 0 discretionary searches in 177 stops with search fields")
    stops = query(warehouse_2025, "select * from stops")
    sql = query(warehouse_2025, load_sql("analysis/outcome_counts")).set_index(["district", "race"]).sort_index()
    pdf = aggregate_search_counts(stops).set_index(["district", "race"]).sort_index()
    assert sql.astype(int).to_dict() == pdf.astype(int).to_dict()
    assert int(sql["searches"].sum()) == 1  # one search, incident to arrest: not discretionary
    v = out["analysis_veil_of_darkness"]
    assert not v["ran"].any() and v["reason"].iloc[0].startswith("too few stops")


def test_read_results_returns_empty_tables_before_the_first_analysis(sample_warehouse: Settings) -> None:
    res = read_results(open_warehouse(sample_warehouse))
    assert set(res) == set(TABLES) and all(df.empty for df in res.values())


def test_disparities_page_shows_results_and_says_what_cannot_be_computed(
    analysed_sample, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    from streamlit.testing.v1 import AppTest

    s, _ = analysed_sample
    monkeypatch.setenv("PIPELINE_WAREHOUSE", s.warehouse_url)
    at = AppTest.from_file("../pages/disparities.py", default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    warnings = re.sub(r"\\(.)", r"\1", " ".join(w.value for w in at.warning))  # shown as plain text
    assert "Cannot be computed on this data. No stop in the data has search fields" in warnings
    assert "bundled sample" in warnings
    assert any(m.value.startswith("- After dark") or "Cannot be computed" in warnings for m in at.markdown)
    assert any("Benchmark, not proof" in i.value for i in at.info)
