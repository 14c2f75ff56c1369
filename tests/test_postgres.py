"""The PostgreSQL warehouse on the real server: full load, idempotent rerun, same results as DuckDB."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, time as dtime

import pandas as pd
import pyarrow as pa
import pytest

from pipeline.config import Settings
from pipeline.extract.files import SampleSource
from pipeline.load import run_load
from pipeline.reference import ensure_reference
from pipeline.warehouse import WarehouseError, open_warehouse
from pipeline.warehouse.dbapi import statement_timeout_sql
from pipeline.warehouse.postgres_wh import PostgresWarehouse, bind_format, parse_postgres_url

pytest_plugins = ["tests.pg_fixtures"]
pytest.register_assert_rewrite("tests.pg_fixtures")

from tests.pg_fixtures import (  # noqa: E402
    DASHBOARD_CALLS, FILTERED_KW, NO_FILTER_KW, PG_URL, WAREHOUSE_TABLES as TABLES, table_frame,
)

# The test server's URL with another user name (trust authentication: no password needed).
PG_URL_FOR_ROLE = PG_URL.replace("://postgres@", "://{role}@") if "://postgres@" in PG_URL else PG_URL

def load_sample(settings: Settings, warehouse=None):  # noqa: ANN001, ANN201
    warehouse = warehouse or open_warehouse(settings)
    ensure_reference(settings, warehouse)
    return run_load(settings, SampleSource(), "backfill", warehouse=warehouse), warehouse


# ---------------------------------------------------------------------------------------------- URL


@pytest.mark.parametrize(
    ("url", "conninfo", "schema"),
    [
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db", None),
        ("postgres://u@h/db?schema=s1", "postgresql://u@h/db?options=-csearch_path%3Ds1", "s1"),
        ("postgresql+psycopg://u@h/db?sslmode=require&schema=s_2",
         "postgresql://u@h/db?sslmode=require&options=-csearch_path%3Ds_2", "s_2"),
        ("postgresql://u@h/db?options=-csearch_path%3Dmine", "postgresql://u@h/db?options=-csearch_path%3Dmine", None),
    ],
)
def test_the_url_becomes_a_libpq_conninfo_and_a_schema(url: str, conninfo: str, schema: str | None) -> None:
    got, got_schema, _ = parse_postgres_url(url)
    assert (got, got_schema) == (conninfo, schema)


@pytest.mark.parametrize("bad", ["x;drop", "a b", "1abc", "a-b", "x" * 70])
def test_a_schema_name_outside_the_allow_list_is_refused(bad: str) -> None:
    with pytest.raises(WarehouseError):
        parse_postgres_url(f"postgresql://u@h/db?schema={bad}")


def test_percent_signs_in_literals_survive_binding_for_psycopg() -> None:
    text, values = bind_format("select 'a%' || :x where b like '%c%' -- 100%\n and 5 % 2 = 1", {"x": 1})
    assert text == "select 'a%%' || %s where b like '%%c%%' -- 100%%\n and 5 %% 2 = 1"
    assert values == [1]
    assert bind_format("select 5 % 2, 'x%'", {}) == ("select 5 % 2, 'x%'", None)


@pytest.mark.parametrize("seconds, sql", [(1800, "set statement_timeout to 1800000"), (0.5, "set statement_timeout to 500"),
                                          ("90", "set statement_timeout to 90000")])
def test_the_statement_timeout_is_written_as_a_validated_whole_number(seconds, sql: str) -> None:  # noqa: ANN001
    assert statement_timeout_sql(seconds) == sql


@pytest.mark.parametrize("bad", [0, -1, 0.0004, float("nan"), float("inf"), 1e10, "1; drop table stops", None])
def test_a_statement_timeout_that_is_not_a_sane_number_is_refused(bad) -> None:  # noqa: ANN001
    with pytest.raises(WarehouseError, match="statement timeout must be"):
        statement_timeout_sql(bad)


def test_load_sessions_and_reads_run_under_their_statement_timeouts(pg_fresh_url: str) -> None:
    warehouse = PostgresWarehouse(pg_fresh_url, statement_timeout_s=90)
    with warehouse.session() as s:
        assert s.scalar("show statement_timeout") == "90s"
    assert warehouse.query("show statement_timeout").iloc[0, 0] == "2min"  # the dashboard's reads
    warehouse.close()


# ------------------------------------------------------------------------------------- the full load


def test_the_sample_loads_into_postgresql_and_a_rerun_changes_nothing(
    pg_settings: Settings, record_property
) -> None:  # noqa: ANN001
    warehouse = open_warehouse(pg_settings)
    assert isinstance(warehouse, PostgresWarehouse)
    assert not warehouse.exists()
    ensure_reference(pg_settings, warehouse)

    t0 = time.perf_counter()
    first = run_load(pg_settings, SampleSource(), "backfill", warehouse=warehouse)
    seconds = time.perf_counter() - t0
    record_property("postgres_full_load_seconds", round(seconds, 2))
    print(f"\nPostgreSQL full load of the sample: {seconds:.2f} s ({first.summary()})")

    assert first.status == "success"
    assert first.rows_raw == first.rows_landed + first.rows_quarantined
    assert first.warehouse_rows == first.rows_landed == first.rows_inserted
    assert first.rows_replaced == 0
    counts = warehouse.query(
        "select (select count(*) from moco_traffic_violations) as charges, (select count(*) from stops) as stops, "
        "(select count(*) from quarantine_rows) as quarantined, (select sum(n_charges) from stops) as covered"
    ).iloc[0]
    assert int(counts["charges"]) == first.warehouse_rows
    assert int(counts["stops"]) == first.warehouse_stops
    assert int(counts["quarantined"]) == first.rows_quarantined
    assert int(counts["covered"]) == first.warehouse_rows
    version_after_first = warehouse.version()

    before = {t: table_frame(warehouse, t) for t in TABLES if t != "pipeline_runs"}
    second = run_load(pg_settings, SampleSource(), "backfill", warehouse=warehouse)
    assert second.status == "success"
    assert second.rows_replaced == second.rows_inserted == first.warehouse_rows
    assert (second.warehouse_rows, second.warehouse_stops) == (first.warehouse_rows, first.warehouse_stops)
    for table, frame in before.items():
        pd.testing.assert_frame_equal(table_frame(warehouse, table), frame, obj=table)
    runs = warehouse.query("select status, count(*) as n from pipeline_runs group by status")
    assert runs.set_index("status")["n"].to_dict() == {"success": 2}
    assert warehouse.version() != version_after_first


def test_postgresql_holds_exactly_what_duckdb_holds(sample_warehouse: Settings, pg_sample_warehouse: Settings) -> None:
    duck = open_warehouse(sample_warehouse)
    pg = open_warehouse(pg_sample_warehouse)
    for table in TABLES:
        d, p = table_frame(duck, table), table_frame(pg, table)
        assert len(d) == len(p), f"{table}: {len(d)} rows in DuckDB, {len(p)} in PostgreSQL"
        pd.testing.assert_frame_equal(p, d, obj=table)


def test_the_stops_rebuild_joins_the_affected_stops_instead_of_a_subplan_per_row(pg_sample_warehouse: Settings) -> None:
    """The plan shape behind a 300k-row incremental that ran 15+ minutes (`flag OR stop_id IN (...)`
    became a SubPlan per charge). Timed at scale by `python -m bench.pg_incremental` (BENCHMARKS.md)."""
    from pipeline import marts
    from pipeline.sqlfiles import render, split_statements, load_sql
    from pipeline.warehouse.base import AFFECTED_SCOPE

    warehouse = open_warehouse(pg_sample_warehouse)
    text = render(load_sql("marts/stops", "postgresql"), {"scope": AFFECTED_SCOPE}, {"scope": (AFFECTED_SCOPE, "")})
    insert = next(st for st in split_statements(text) if st.lstrip().startswith("insert into stops"))
    with pytest.raises(RuntimeError, match="rolled back on purpose"):
        with warehouse.session() as s:
            s.execute("create temp table affected_stops as select stop_id from stops limit 3000")
            s.execute("analyze affected_stops")
            plan = "\n".join(s.query("explain " + insert, {"year_from": 0, "year_to": 9999}).iloc[:, 0])
            assert "SubPlan" not in plan and "Join" in plan, plan
            # The cube refresh joins the months too (delete ... using, insert ... join), never a subplan.
            s.script("marts/stop_changes")
            s.execute("insert into stop_changes (sign, stop_year, stop_month, n_charges) "
                      "values (1, 2016, 3, 1), (-1, 2016, 3, 1), (1, 2017, 1, 2)")
            s.script("marts/changed_months")
            cube = marts.CUBES[-1]
            refresh = marts.cube_sql("marts/cube_refresh", "postgresql", cube)
            for statement in split_statements(refresh):
                plan = "\n".join(s.query("explain " + statement).iloc[:, 0])
                assert "SubPlan" not in plan and ("Join" in plan or "Nested Loop" in plan), plan
                # A daily load's few months are read through the month indexes, not by a scan per cube.
                assert "Seq Scan on stops" not in plan and f"Seq Scan on {cube.name}" not in plan, plan
            # The all-time cubes merge their change on hashable keys: a hash join, never a nested loop.
            span = next(c for c in marts.CUBES if c.grain == "all")
            statements = split_statements(marts.cube_sql("marts/span_refresh", "postgresql", span))
            s.execute(statements[0])  # span_delta
            for statement in statements[1:3]:  # span_next, the delete
                sql = statement.replace("create temp table span_next as", "")
                plan = "\n".join(s.query("explain " + sql).iloc[:, 0])
                assert "Hash" in plan and "Nested Loop" not in plan, plan
            raise RuntimeError("rolled back on purpose")  # the shared sample schema stays as it was


def test_a_failed_session_rolls_back_everything(pg_sample_warehouse: Settings) -> None:
    warehouse = open_warehouse(pg_sample_warehouse)
    stops = int(warehouse.query("select count(*) as n from stops").iloc[0, 0])
    with pytest.raises(RuntimeError, match="boom"):
        with warehouse.session() as s:
            s.execute("delete from stops")
            assert s.scalar("select count(*) from stops") == 0
            raise RuntimeError("boom")
    assert int(warehouse.query("select count(*) as n from stops").iloc[0, 0]) == stops


def test_a_crash_after_extract_is_logged_and_the_data_kept(pg_settings: Settings) -> None:
    result, warehouse = load_sample(pg_settings)
    class CrashAfterExtract(SampleSource):
        def extract(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            super().extract(*args, **kwargs)
            raise RuntimeError("simulated crash after extract")

    with pytest.raises(RuntimeError, match="simulated crash"):
        run_load(pg_settings, CrashAfterExtract(), "backfill", warehouse=warehouse)
    runs = warehouse.query("select status, message from pipeline_runs order by started_at")
    assert list(runs["status"]) == ["success", "failed"]
    assert "simulated crash" in runs["message"].iloc[-1]
    assert int(warehouse.query("select count(*) from moco_traffic_violations").iloc[0, 0]) == result.warehouse_rows


def test_a_second_concurrent_load_is_refused(pg_fresh_url: str) -> None:
    warehouse = PostgresWarehouse(pg_fresh_url)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with warehouse.session():
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(10)
        with pytest.raises(WarehouseError, match=r"another load holds the warehouse lock \(waited 0.5 s\)"):
            with PostgresWarehouse(pg_fresh_url, lock_wait_s=0.5).session():
                pass
    finally:
        release.set()
        holder.join()
    with PostgresWarehouse(pg_fresh_url).session() as s:  # free again
        assert s.scalar("select 1") == 1


# ------------------------------------------------------------------------------------ staging + reads


def test_stage_copies_every_batch_and_keeps_awkward_text_intact(pg_fresh_url: str) -> None:
    values = ['plain', 'a,b', 'say "hi"', "it's", "two\nlines", "back\\slash", "", None, "ünïcødé ✓", "   "]
    batch = pa.record_batch({
        "s": pa.array(values),
        "b": pa.array([True, False, None, True, False, True, None, False, True, False]),
        "i": pa.array([1, None, 3, 4, 5, 6, 7, 8, 9, 2_000_000_000], pa.int32()),
        "f": pa.array([0.1, 1e-300, None, -2.5, 1 / 3, 0.0, 12345.678, None, 39.0, -77.1]),
        "d": pa.array([date(2020, 1, 1), None] + [date(2012, 2, 29)] * 8),
        "t": pa.array([dtime(0, 0), dtime(23, 59, 59), None] + [dtime(7, 30)] * 7, pa.time64("us")),
        "ts": pa.array([datetime(2024, 5, 6, 7, 8, 9, 123456), None] + [datetime(2020, 1, 1)] * 8, pa.timestamp("us")),
    })
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch, batch.slice(0, 3), batch.slice(5)])
    warehouse = PostgresWarehouse(pg_fresh_url)
    with warehouse.session() as s:
        s.execute("create table odd_values (s varchar(64), b boolean, i integer, f double precision, d date, "
                  "t time, ts timestamp, extra varchar(8))")
        n = s.stage("stg_odd", reader, like="odd_values")
        assert n == 10 + 3 + 5
        got = s.query("select * from stg_odd")
    expected = pa.Table.from_batches([batch, batch.slice(0, 3), batch.slice(5)])
    assert [None if pd.isna(v) else v for v in got["s"]] == expected["s"].to_pylist()
    assert [None if pd.isna(v) else v for v in got["f"]] == expected["f"].to_pylist()
    assert [None if pd.isna(v) else bool(v) for v in got["b"]] == expected["b"].to_pylist()
    assert [None if pd.isna(v) else int(v) for v in got["i"]] == expected["i"].to_pylist()
    assert [None if pd.isna(v) else v for v in got["t"]] == expected["t"].to_pylist()
    assert [None if pd.isna(v) else v.to_pydatetime() for v in got["ts"]] == expected["ts"].to_pylist()
    assert [None if pd.isna(v) else v.date() for v in got["d"]] == expected["d"].to_pylist()
    assert got["extra"].isna().all()  # a column the data lacks is NULL, as DuckDB's insert by name


def test_query_returns_the_same_dtypes_as_duckdb(sample_warehouse: Settings, pg_sample_warehouse: Settings) -> None:
    sql = """
        select date_of_stop, time_of_stop, n_charges, latitude, outcome, searched,
               count(*) over () as total, cast(null as integer) as nothing
        from stops where date_of_stop >= :since order by stop_id limit 50
    """
    params = {"since": date(2015, 1, 1)}
    d = open_warehouse(sample_warehouse).query(sql, params)
    p = open_warehouse(pg_sample_warehouse).query(sql, params)
    assert dict(p.dtypes) == dict(d.dtypes)
    assert str(p["date_of_stop"].dtype).startswith("datetime64")
    pd.testing.assert_frame_equal(p, d)


def test_sql_errors_become_warehouse_errors(pg_sample_warehouse: Settings) -> None:
    warehouse = open_warehouse(pg_sample_warehouse)
    with pytest.raises(WarehouseError, match="no_such_table"):
        warehouse.query("select * from no_such_table")
    assert int(warehouse.query("select 1 as one").iloc[0, 0]) == 1  # the reader survives an error
    with pytest.raises(WarehouseError, match="not an allowed table name"):
        with warehouse.session() as s:
            s.stage("stg; drop table stops", pa.table({"a": [1]}))


def test_status_reads_the_postgresql_warehouse(pg_sample_warehouse: Settings) -> None:
    from pipeline.status import status_report

    report = status_report(pg_sample_warehouse)
    assert report["fresh"] is True
    assert "charges (rows)" in report["text"]
    assert "schema=" in report["text"] and "***" not in report["text"]


# ------------------------------------------------------------------------------- dashboard queries

DASHBOARD_CASES = [
    pytest.param(name, kw, id=f"{name}-{label}")
    for name, (_, filtered) in DASHBOARD_CALLS.items()
    for label, kw in ([("all", NO_FILTER_KW), ("filtered", FILTERED_KW)] if filtered else [("all", NO_FILTER_KW)])
]
# Functions of dashboard.queries that are plumbing, not questions a page asks.
NOT_QUERIES = {
    "settings_env", "settings", "warehouse", "state", "small_count", "stale_after_days", "bypass_cache",
    "run", "clear_cache", "stop_filter", "is_stop_filter", "county_zctas", "county_outline", "gather",
    "county_race_population",  # a reference-bundle file read in Python, no SQL (tests/test_dashboard_pages.py)
    "analysis_results",  # the analysis tables themselves, compared across backends in test_analysis_postgres.py
    "stops_only", "marts_ready", "month_aligned", "facts",  # the cube routing, checked in test_marts.py
    "served_version",  # the cache key's version, checked in test_queries.py
    "local_copy", "replica_status", "served_version_label",  # the local copy, checked in test_replica.py
}


def dashboard_on(q, settings: Settings, monkeypatch: pytest.MonkeyPatch, call, f):  # noqa: ANN001, ANN201
    monkeypatch.setenv("PIPELINE_WAREHOUSE", settings.warehouse_url)
    with q.bypass_cache():
        return call(q, f)


@pytest.mark.parametrize(("name", "filters"), DASHBOARD_CASES)
def test_every_dashboard_query_gives_the_same_answer_on_postgresql(
    name: str, filters: dict, sample_warehouse: Settings, pg_sample_warehouse: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import queries as q
    from dashboard.filters import FilterState

    call, _ = DASHBOARD_CALLS[name]
    f = FilterState(**filters)
    duck = dashboard_on(q, sample_warehouse, monkeypatch, call, f)
    pg = dashboard_on(q, pg_sample_warehouse, monkeypatch, call, f)
    if isinstance(duck, pd.DataFrame):
        assert len(duck) or name in ("recent_runs",), "the case should return rows to be a meaningful check"
        pd.testing.assert_frame_equal(pg, duck)  # values, order and dtypes
    elif name == "provenance":  # the two loads finished at different times; everything else is equal
        assert (pg.charges, pg.stops, pg.first_stop, pg.last_stop) == (duck.charges, duck.stops, duck.first_stop, duck.last_stop)
        assert pg.last_success_at is not None
    else:
        assert pg == duck


def test_the_parity_check_covers_every_dashboard_query() -> None:
    import inspect

    from dashboard import queries as q
    public = {n for n, fn in inspect.getmembers(q, inspect.isfunction)
              if fn.__module__ == q.__name__ and not n.startswith("_")}
    covered = {name.split("_of_")[0] for name in DASHBOARD_CALLS} | {
        "year_compare", "stops_by", "residents"}
    missing = public - NOT_QUERIES - covered
    assert not missing, f"add these dashboard queries to DASHBOARD_CALLS in tests/test_postgres.py: {sorted(missing)}"


def test_least_privilege_roles_load_and_read(pg_admin, tmp_path) -> None:  # noqa: ANN001
    """The roles docs/DEPLOY.md sets up: the loader owns its schema only, the reader may only SELECT."""
    from tests.pg_fixtures import drop_schema, new_schema, pg_schema_url

    schema = new_schema("roles")
    loader, reader = f"{schema}_loader", f"{schema}_reader"
    pg_admin.execute(f"create role {loader} login")
    pg_admin.execute(f"create role {reader} login")
    try:
        pg_admin.execute(f"create schema {schema} authorization {loader}")
        pg_admin.execute(f"grant usage on schema {schema} to {reader}")
        pg_admin.execute(f"alter default privileges for role {loader} in schema {schema} grant select on tables to {reader}")
        base = PG_URL_FOR_ROLE.format(role=loader)
        loader_settings = Settings(warehouse_url=pg_schema_url(schema, base), lake_url=str(tmp_path / "lake"))
        result, _ = load_sample(loader_settings)

        read = PostgresWarehouse(pg_schema_url(schema, PG_URL_FOR_ROLE.format(role=reader)))
        assert read.exists()
        assert int(read.query("select count(*) from stops").iloc[0, 0]) == result.warehouse_stops
        with pytest.raises(WarehouseError, match="permission denied|read-only"):
            read.query("delete from stops")
        with pytest.raises(WarehouseError):
            with read.session() as s:  # the reader can't load
                s.execute("delete from stops")
        read.close()
    finally:
        drop_schema(pg_admin, schema)
        pg_admin.execute(f"drop owned by {loader}, {reader}")
        pg_admin.execute(f"drop role if exists {loader}")
        pg_admin.execute(f"drop role if exists {reader}")


class _Rollback(Exception):
    """Raised inside a session so the shared, read-only PostgreSQL sample schema is left as it was."""


def test_the_analyses_run_on_postgresql_and_match_duckdb(sample_warehouse_copy: Settings, pg_sample_warehouse: Settings) -> None:
    """pipeline.analysis (run after every load) reads and writes through the same session interface."""
    from pipeline.analysis import run_all
    from pipeline.analysis.runner import read_results

    run_all(sample_warehouse_copy)
    duck = read_results(open_warehouse(sample_warehouse_copy))
    with pytest.raises(_Rollback):  # written and read back in one transaction, then rolled back
        with open_warehouse(pg_sample_warehouse).session() as s:
            run_all(s, settings=pg_sample_warehouse)
            pg = read_results(s)
            raise _Rollback
    assert duck.keys() == pg.keys() and all(len(df) for df in duck.values())
    for table in duck:
        d, p = (frame.drop(columns=["computed_at"], errors="ignore") for frame in (duck[table], pg[table]))
        keys = list(d.columns)
        d = d.sort_values(keys, kind="stable").reset_index(drop=True)
        p = p.sort_values(keys, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(p, d, obj=table, check_exact=False, rtol=1e-9)
