"""PostgreSQL plans the load's statements with statistics the load itself keeps fresh.

NOTE: autovacuum is off on the machines these tests run on (``show autovacuum``), and it never
sees a table inside the load's open transaction anyway: without an ``analyze`` the planner
estimates a 2,000-row merge into 1M charges as a hash join over every charge (measured in
BENCHMARKS.md, section p22-loads). Timings live in ``bench/``; these tests pin the rule and the plans.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from pipeline.config import Settings
from pipeline.extract.files import FileSource
from pipeline.load import STATISTICS_TABLES, run_load
from pipeline.marts import CUBE_NAMES
from pipeline.sqlfiles import load_sql
from pipeline.warehouse import open_warehouse
from pipeline.warehouse.base import refresh_statistics
from tests.handmade import charge, write_csv
from tests.pg_fixtures import PG_URL, drop_schema, new_schema, pg_schema_url

pytest_plugins = ["tests.pg_fixtures"]


def _manually_analyzed(settings: Settings) -> set[str]:
    """Tables the load analyzed itself (``last_analyze``; autovacuum would set ``last_autoanalyze``)."""
    warehouse = open_warehouse(settings)
    df = warehouse.query("select relname from pg_stat_user_tables "
                         "where schemaname = current_schema() and last_analyze is not null")
    return set(df["relname"])


def test_a_first_load_analyzes_the_charges_the_stops_and_every_cube(pg_sample_warehouse: Settings) -> None:
    analyzed = _manually_analyzed(pg_sample_warehouse)
    assert {"moco_traffic_violations", "stops"} <= analyzed
    assert set(CUBE_NAMES) <= analyzed


def _explain(session, sql: str, params: dict | None = None) -> str:  # noqa: ANN001
    return "\n".join(session.query("explain " + sql, params).iloc[:, 0])


def test_a_small_merge_reads_the_charges_by_key_not_by_a_scan(pg_sample_warehouse: Settings) -> None:
    """With statistics, a 20-row batch into the sample's 18,393 charges is an index lookup; the checks
    scoped to the batch's keys too (they were full scans: count distinct over every charge)."""
    warehouse = open_warehouse(pg_sample_warehouse)
    with pytest.raises(RuntimeError, match="rolled back on purpose"):
        with warehouse.session() as s:
            s.execute("create temp table stg_charges as select * from moco_traffic_violations "
                      "order by row_id limit 20")
            s.execute("analyze stg_charges")
            for sql in ("delete from moco_traffic_violations where row_id in (select row_id from stg_charges)",
                        load_sql("warehouse/duplicate_keys"), load_sql("warehouse/received")):
                plan = _explain(s, sql, {"run_id": "x"} if ":run_id" in sql else None)
                assert "Seq Scan on moco_traffic_violations" not in plan, plan
                assert "charges_row_id" in plan, plan
            raise RuntimeError("rolled back on purpose")


def test_the_scoped_checks_count_what_the_whole_table_counts(pg_sample_warehouse: Settings) -> None:
    """duplicate_keys and received see a duplicate / the run's rows exactly as the full scans did."""
    warehouse = open_warehouse(pg_sample_warehouse)
    with pytest.raises(RuntimeError, match="rolled back on purpose"):
        with warehouse.session() as s:
            s.execute("create temp table stg_charges as select * from moco_traffic_violations "
                      "order by row_id limit 5")
            s.execute("update stg_charges set load_id = 'run-x'")
            assert int(s.scalar(load_sql("warehouse/duplicate_keys"))) == 0
            s.execute("insert into moco_traffic_violations select * from stg_charges")  # 5 duplicated keys
            assert int(s.scalar(load_sql("warehouse/duplicate_keys"))) == 5
            assert int(s.scalar(load_sql("warehouse/received"), {"run_id": "run-x"})) == 5
            assert int(s.scalar(load_sql("warehouse/received"), {"run_id": "run-y"})) == 0
            raise RuntimeError("rolled back on purpose")


@pytest.fixture
def quiet_table(pg_admin):  # noqa: ANN001, ANN201
    """A schema with one 1,000-row table that autovacuum leaves alone, whatever the server's setting."""
    schema = new_schema("stats")
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"create schema {schema}")
        conn.execute(f"create table {schema}.stops (stop_id integer) with (autovacuum_enabled = false)")
        conn.execute(f"insert into {schema}.stops select g from generate_series(1, 1000) as g")
    try:
        yield Settings(warehouse_url=pg_schema_url(schema), lake_url="unused"), schema
    finally:
        drop_schema(pg_admin, schema)


def _stale(settings: Settings) -> list[str]:
    with open_warehouse(settings).session() as s:
        return refresh_statistics(s, STATISTICS_TABLES)


def _flush_counters(schema: str, sql: str) -> None:
    """Change rows and make the server publish this backend's change counters now (PostgreSQL 15)."""
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql.format(schema=schema))
        conn.execute("select pg_stat_force_next_flush()")
    # the next statement on a new connection reads the flushed counters


def test_a_table_is_analyzed_when_never_analyzed_or_its_rows_moved_a_tenth(quiet_table) -> None:  # noqa: ANN001
    settings, schema = quiet_table
    # never analyzed (the session created the warehouse's empty tables beside ours)
    assert _stale(settings) == ["moco_traffic_violations", "stops"]
    assert _stale(settings) == []  # analyzed just now: 1,000 rows counted
    _flush_counters(schema, "insert into {schema}.stops select g from generate_series(1001, 1100) as g")
    assert _stale(settings) == []  # 10% more rows: the plans still hold
    _flush_counters(schema, "insert into {schema}.stops values (1101)")
    assert _stale(settings) == ["stops"]  # just over a tenth more than the last analyze counted
    _flush_counters(schema, "delete from {schema}.stops where stop_id > 1000")
    assert _stale(settings) == []  # analyzed at 1,101 just above; 1,000 left: 9% fewer
    _flush_counters(schema, "delete from {schema}.stops where stop_id > 990")
    assert _stale(settings) == ["stops"]  # 990 left: fewer rows count too


def test_a_table_changed_in_the_transaction_that_analyzed_it_is_not_stale_after(quiet_table) -> None:  # noqa: ANN001
    """A load analyzes inside its transaction (a first load, a large merge); its rows reach the server's
    change counter only at the commit, after the analyze. Counting that counter made every such load
    leave the tables stale, and the next 2,000-row daily run analyzed 1M charges (~2.3 s of server CPU,
    BENCHMARKS.md "h22-daily"); the live rows against the rows analyzed say they are fresh."""
    settings, schema = quiet_table
    with psycopg.connect(PG_URL) as conn:  # one transaction: change, analyze, commit
        conn.execute(f"insert into {schema}.stops select g from generate_series(1001, 3000) as g")
        conn.execute(f"analyze {schema}.stops")
        conn.commit()
        conn.execute("select pg_stat_force_next_flush()")
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        changed = conn.execute("select n_mod_since_analyze from pg_stat_user_tables "
                               "where schemaname = %s and relname = 'stops'", [schema]).fetchone()[0]
    assert changed >= 2000  # what the old rule read: two thirds of the table changed since the analyze
    assert "stops" not in _stale(settings)


def _counters_settled(settings: Settings) -> None:
    """Wait until the server's live-row counter of the charges includes the last load's commit (a
    backend publishes its counters when it ends, a moment after its client has gone)."""
    warehouse = open_warehouse(settings)
    for _ in range(100):
        df = warehouse.query("select (select count(*) from moco_traffic_violations) as n, n_live_tup "
                             "from pg_stat_user_tables where schemaname = current_schema() "
                             "and relname = 'moco_traffic_violations'")
        if int(df["n"].iloc[0]) == int(df["n_live_tup"].iloc[0]):
            return
        time.sleep(0.1)
    raise AssertionError("the server's counters did not catch up with the last load")


def _last_analyzed(settings: Settings) -> dict[str, object]:
    df = open_warehouse(settings).query(
        "select relname, last_analyze from pg_stat_user_tables where schemaname = current_schema() "
        "and relname in ('moco_traffic_violations', 'stops')")
    return dict(zip(df["relname"], df["last_analyze"]))


def test_a_merge_of_more_than_a_tenth_leaves_fresh_statistics_a_daily_one_leaves_them(
        pg_settings: Settings, tmp_path: Path) -> None:
    """A batch of more than a tenth of the charges analyzes the charges and the stops before its commit
    (pipeline/load.py), so the next run finds them fresh (it would analyze 1M+ charges otherwise); a
    smaller batch leaves the statistics as they were."""
    stops = [charge(**{"Time Of Stop": f"{h:02d}:00:00"}) for h in range(20)]  # 20 one-charge stops
    run_load(pg_settings, FileSource([write_csv(tmp_path / "first.csv", stops)]), "backfill")
    _counters_settled(pg_settings)
    assert _stale(pg_settings) == []  # the first load analyzed inside its transaction: fresh
    three = [charge(**{"Time Of Stop": f"{h:02d}:30:00"}) for h in range(3)]  # 3 of 20: 15%
    run_load(pg_settings, FileSource([write_csv(tmp_path / "three.csv", three)]), "run")
    _counters_settled(pg_settings)
    assert _stale(pg_settings) == []  # analyzed with the 3 new charges in it
    before = _last_analyzed(pg_settings)
    one = [charge(**{"Time Of Stop": "23:45:00"})]  # 1 of 23: 4%
    run_load(pg_settings, FileSource([write_csv(tmp_path / "one.csv", one)]), "run")
    assert _last_analyzed(pg_settings) == before
