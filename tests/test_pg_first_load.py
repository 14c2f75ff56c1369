"""A first load on PostgreSQL (an empty warehouse): its batch is copied straight into the charges
table, its checks read the charges once, and its marts are filled before they are indexed; what it
writes equals what the staged path writes. Timings live in bench/ (BENCHMARKS.md, "h22-pgload")."""

from __future__ import annotations

from typing import Iterator

import pandas as pd
import pytest

from pipeline import load as load_module
from pipeline.config import Settings
from pipeline.extract.files import SampleSource
from pipeline.load import run_load
from pipeline.reference import ensure_reference
from pipeline.warehouse import open_warehouse
from pipeline.warehouse.dbapi import DBAPISession
from pipeline.warehouse.postgres_wh import PostgresSession

pytest_plugins = ["tests.pg_fixtures"]

from tests.pg_fixtures import WAREHOUSE_TABLES, drop_schema, new_schema, pg_schema_url, table_frame  # noqa: E402
from tests.test_first_load_checks import assert_first_load_counts  # noqa: E402


class Spy:
    """The SQL statements a load runs and the tables it COPYs into, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        self.copied: list[str] = []
        run, copy = DBAPISession._run, PostgresSession.copy_batches

        def _run(session, sql, params=None, fetch=False):  # noqa: ANN001, ANN202
            self.statements.append(" ".join(sql.split()))
            return run(session, sql, params, fetch)

        def copy_batches(session, table, columns, batches, **kw):  # noqa: ANN001, ANN202
            self.copied.append(table)
            return copy(session, table, columns, batches, **kw)

        monkeypatch.setattr(DBAPISession, "_run", _run)
        monkeypatch.setattr(PostgresSession, "copy_batches", copy_batches)

    def first(self, prefix: str) -> int:
        return next(i for i, s in enumerate(self.statements) if s.startswith(prefix))

    def last(self, prefix: str) -> int:
        return max(i for i, s in enumerate(self.statements) if s.startswith(prefix))


def _load(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    try:
        ensure_reference(settings, warehouse)
        assert run_load(settings, SampleSource(), "backfill", warehouse=warehouse).status == "success"
    finally:
        warehouse.close()


def _first_load(pg_admin, tmp_path_factory: pytest.TempPathFactory, path: str) -> Iterator[tuple[Settings, Spy]]:  # noqa: ANN001
    """The sample loaded into an empty schema: as the code does (``copied``), or through the staged
    path (``staged``: stage, insert ... select, the keyed checks); with its statements recorded."""
    schema = new_schema(f"first_{path}")
    settings = Settings(warehouse_url=pg_schema_url(schema), lake_url=str(tmp_path_factory.mktemp(path) / "lake"))
    try:
        with pytest.MonkeyPatch.context() as mp:
            if path == "staged":
                mp.setattr(load_module, "first_load_copies", lambda kind: False)
            spy = Spy(mp)
            _load(settings)
        yield settings, spy
    finally:
        drop_schema(pg_admin, schema)


@pytest.fixture(scope="module")
def copied(pg_admin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Spy]]:  # noqa: ANN001
    yield from _first_load(pg_admin, tmp_path_factory, "copied")


@pytest.fixture(scope="module")
def staged(pg_admin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Spy]]:  # noqa: ANN001
    yield from _first_load(pg_admin, tmp_path_factory, "staged")


def test_a_first_load_copies_its_batch_straight_into_the_charges_table(copied: tuple[Settings, Spy]) -> None:
    spy = copied[1]
    assert "moco_traffic_violations" in spy.copied and "stg_charges" not in spy.copied
    assert not [s for s in spy.statements if s.startswith("insert into moco_traffic_violations")]
    # the received and duplicate-key checks: one pass over the charges, not two joins of the batch's keys
    assert not [s for s in spy.statements if "batch_keys" in s]


def test_a_first_load_copied_straight_writes_what_the_staged_path_writes(copied: tuple[Settings, Spy],
                                                                        staged: tuple[Settings, Spy]) -> None:
    assert "stg_charges" in staged[1].copied and "moco_traffic_violations" not in staged[1].copied
    copied, staged = open_warehouse(copied[0]), open_warehouse(staged[0])
    try:
        for table in WAREHOUSE_TABLES:
            pd.testing.assert_frame_equal(table_frame(copied, table), table_frame(staged, table), obj=table)
        # every charge stamped with its run's start, as insert_charges.sql stamps it
        for warehouse in (copied, staged):
            stamps = warehouse.query("select count(distinct loaded_at) as n, min(loaded_at) as at, "
                                     "(select started_at from pipeline_runs) as started from moco_traffic_violations")
            assert int(stamps["n"].iloc[0]) == 1
            assert stamps["at"].iloc[0] == stamps["started"].iloc[0]
    finally:
        copied.close()
        staged.close()


def test_a_full_marts_build_fills_the_cubes_before_indexing_them(copied: tuple[Settings, Spy]) -> None:
    """Indexes built once over the data, and the full scans planned as hash joins (no index to
    tempt the planner into reading every month through it); a first load's stop_changes (every
    stop, +1, noted by the stops rebuild) is not written a second time."""
    spy = copied[1]
    filled = max(spy.last("insert into cube_"), spy.last("insert into mart_charge_months"))
    assert spy.first("create index if not exists cube_") > filled
    assert spy.first("create index if not exists charges_month") > filled
    assert spy.first("create index if not exists stops_month") > filled
    assert not [s for s in spy.statements if s.startswith("delete from stop_changes")]


def test_the_first_load_checks_see_a_duplicate_key_and_only_the_runs_rows(pg_sample_warehouse: Settings) -> None:
    warehouse = open_warehouse(pg_sample_warehouse)
    try:
        assert_first_load_counts(warehouse)
    finally:
        warehouse.close()


def test_the_span_cubes_hash_a_first_loads_stop_changes_instead_of_sorting_them(pg_sample_warehouse: Settings) -> None:
    """stop_changes is analyzed once the stops are rebuilt (marts/changed_months.postgresql.sql):
    unanalyzed, the planner took a first load's every stop for ~900 rows and grouped cube_all_grid's
    change by sorting it on eleven keys through the collation (9.5 s at 1M charges; hashed 1.1 s)."""
    from pipeline import marts
    from pipeline.sqlfiles import split_statements

    warehouse = open_warehouse(pg_sample_warehouse)
    grid = next(c for c in marts.CUBES if c.name == "cube_all_grid")
    delta = split_statements(marts.cube_sql("marts/span_refresh", "postgresql", grid))[0]
    with pytest.raises(RuntimeError, match="rolled back on purpose"):
        with warehouse.session() as s:
            s.script("marts/stop_changes")
            # every stop, +1, as a first load's stops rebuild notes them (marts/stops.sql)
            s.execute("insert into stop_changes select 1, stop_year, stop_month, stop_weekday, stop_hour, "
                      "top_description, latitude, longitude, zip_status, race, gender, zip5, outcome, district, "
                      "n_charges from stops")
            s.script("marts/changed_months")
            plan = "\n".join(s.query("explain " + delta.replace("create temp table span_delta as", "")).iloc[:, 0])
            assert "HashAggregate" in plan and "Sort" not in plan, plan
            raise RuntimeError("rolled back on purpose")  # the shared sample schema stays as it was
    warehouse.close()


def test_a_load_session_lets_its_hash_tables_grow_to_four_times_work_mem(pg_sample_warehouse: Settings) -> None:
    """A first load's stops aggregate holds ~1 KB per stop: at the server's 2 x work_mem it spilled
    (6.7 s at 1M charges, 3.7 s in memory); readers keep the server's setting."""
    warehouse = open_warehouse(pg_sample_warehouse)
    try:
        with warehouse.session() as s:
            assert s.scalar("show hash_mem_multiplier") == "4"
            assert s.scalar("show work_mem") == "256MB"
        assert warehouse.query("show hash_mem_multiplier").iloc[0, 0] == "2"
    finally:
        warehouse.close()
