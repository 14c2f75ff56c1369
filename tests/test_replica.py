"""The dashboard's local copy of a server warehouse's marts (dashboard/replica.py).

Against the real PostgreSQL server: the copy answers every dashboard query exactly as the warehouse
does (and as the DuckDB warehouse of the same sample does), it is replaced when the warehouse
version changes, a failed refresh leaves the old copy serving, a copy never mixes two commits,
and once it is loaded the dashboard's time no longer depends on the warehouse's latency.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import psycopg
import pytest

from pipeline.config import Settings

pytest_plugins = ["tests.pg_fixtures"]
pytest.register_assert_rewrite("tests.pg_fixtures")

from tests.pg_fixtures import (  # noqa: E402
    DASHBOARD_CALLS, FILTERED_KW, NO_FILTER_KW, PG_URL, drop_schema, new_schema, pg_schema_url,
)

# Filter sets: none; people over a whole year; people and place over whole months (the totals cube
# with day bits); dates that are not whole months (day cubes, or the stops where no day cube fits).
PEOPLE_PLACE_KW = dict(races=("BLACK", "HISPANIC"), zips=("20902", "20906", "20850"),
                       date_from=date(2015, 1, 1), date_to=date(2016, 6, 30))
ODD_DATES_KW = dict(outcomes=("Citation",), date_from=date(2015, 3, 10), date_to=date(2016, 2, 20))
FILTER_SETS = {"all": NO_FILTER_KW, "filtered": FILTERED_KW, "people_place": PEOPLE_PLACE_KW, "odd_dates": ODD_DATES_KW}
CASES = [pytest.param(name, kw, id=f"{name}-{label}")
         for name, (_, filtered) in DASHBOARD_CALLS.items()
         for label, kw in (FILTER_SETS.items() if filtered else [("all", NO_FILTER_KW)])]


def schema_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["schema"][0]


@pytest.fixture
def clear_dashboard() -> Iterator[None]:
    from dashboard import queries as q
    from dashboard import replica

    q.clear_cache()
    replica.reset()
    yield
    q.clear_cache()
    replica.reset()


@pytest.fixture
def pg_copy(pg_admin, pg_sample_warehouse: Settings) -> Iterator[str]:  # noqa: ANN001
    """A writable copy of the PostgreSQL sample warehouse (its own schema, every table)."""
    source, target = schema_of(pg_sample_warehouse.warehouse_url), new_schema("replica")
    pg_admin.execute(f'create schema "{target}"')
    tables = [r[0] for r in pg_admin.execute(
        "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE'",
        [source]).fetchall()]
    for table in tables:
        pg_admin.execute(f'create table "{target}".{table} as table "{source}".{table}')
    try:
        yield pg_schema_url(target)
    finally:
        drop_schema(pg_admin, target)


def answer(q, call, f):  # noqa: ANN001, ANN201
    with q.bypass_cache():
        return call(q, f)


# ------------------------------------------------------------------------------------- equality


@pytest.mark.parametrize(("name", "filters"), CASES)
def test_the_copy_answers_every_dashboard_query_as_the_warehouses_do(
    name: str, filters: dict, sample_warehouse: Settings, pg_sample_warehouse: Settings,
    monkeypatch: pytest.MonkeyPatch, clear_dashboard: None,
) -> None:
    from dashboard import queries as q
    from dashboard.filters import FilterState

    call, _ = DASHBOARD_CALLS[name]
    f = FilterState(**filters)
    monkeypatch.setenv("PIPELINE_WAREHOUSE", pg_sample_warehouse.warehouse_url)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "0")
    on_postgres = answer(q, call, f)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "256")
    assert q.local_copy() is not None, "the copy should be loaded"
    on_copy = answer(q, call, f)
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    on_duckdb = answer(q, call, f)
    if isinstance(on_copy, pd.DataFrame):
        pd.testing.assert_frame_equal(on_copy, on_postgres)  # values, order and dtypes
        pd.testing.assert_frame_equal(on_copy, on_duckdb)
    elif name == "provenance":  # the two loads finished at different times
        assert on_copy == on_postgres
        assert (on_copy.charges, on_copy.stops, on_copy.first_stop, on_copy.last_stop) == (
            on_duckdb.charges, on_duckdb.stops, on_duckdb.first_stop, on_duckdb.last_stop)
    else:
        assert on_copy == on_postgres == on_duckdb


def test_no_dashboard_query_reaches_the_warehouse_once_copied(
    pg_sample_warehouse: Settings, monkeypatch: pytest.MonkeyPatch, clear_dashboard: None,
) -> None:
    from bench.dashboard import pages
    from dashboard import queries as q
    from dashboard.filters import FilterState

    monkeypatch.setenv("PIPELINE_WAREHOUSE", pg_sample_warehouse.warehouse_url)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "256")
    assert q.local_copy() is not None
    reached: list[str] = []
    execute = q._execute

    def counted(wh_key, sql, params, local=None):  # noqa: ANN001, ANN202
        if local is None:
            reached.append(sql.strip().splitlines()[0])
        return execute(wh_key, sql, params, local)

    monkeypatch.setattr(q, "_execute", counted)
    with q.bypass_cache():
        for page in pages().values():
            page(FilterState())
        q.analysis_results()
        # Whole months of people and place: the totals cube with day bits answers too.
        q.totals(FilterState(**PEOPLE_PLACE_KW))
        # ...and so do the queries no cube covers, from the copy's narrow stops: days by people and
        # place at once, the map grid with dates, a cell size no grid cube keeps.
        q.totals(FilterState(**{**PEOPLE_PLACE_KW, "date_to": date(2016, 6, 29)}))
        q.location_grid(FilterState(**ODD_DATES_KW))
        q.location_grid(FilterState(), cell=0.02)
    assert reached == []


# ------------------------------------------------------------------------------ version changes


def new_load(url: str, charges_added: int) -> None:
    """What a committed load changes for the dashboard: a run logged, the marts rewritten (here: a
    provenance count moved), in one transaction."""
    with psycopg.connect(PG_URL, autocommit=False) as conn:
        conn.execute(f'set search_path to "{schema_of(url)}"')
        conn.execute("update mart_provenance set charges = charges + %s", [charges_added])
        conn.execute("insert into pipeline_runs (run_id, command, status, started_at, finished_at) "
                     "select 'test-' || md5(random()::text), 'run', 'success', now(), now()")
        conn.commit()


def keeper_of(q):  # noqa: ANN001, ANN201
    from dashboard import replica

    wh_key, wh = q.warehouse()
    return replica.keeper(wh_key, wh, q.settings().dashboard_replica_mb)


def wait_for(predicate, seconds: float = 30.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_version_change_swaps_the_copy_while_the_old_one_serves(
    pg_copy: str, monkeypatch: pytest.MonkeyPatch, clear_dashboard: None,
) -> None:
    from dashboard import queries as q

    monkeypatch.setenv("PIPELINE_WAREHOUSE", pg_copy)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "256")
    monkeypatch.setattr(q, "VERSION_TTL_S", 0.0)
    first = q.local_copy()
    assert first is not None
    before = q.provenance().charges
    label = q.served_version_label()
    new_load(pg_copy, 1000)
    wh_key, wh = q.warehouse()
    assert q.served_version(wh_key, wh) == first.version  # the known version serves while the new one is asked
    wait_for(lambda: q.served_version(wh_key, wh) != first.version)
    wait_for(lambda: q.local_copy() is not first)  # asking starts the new copy; the old one answers meanwhile
    second = q.local_copy()
    assert second.version == wh.version() != first.version
    with q.bypass_cache():
        assert q.provenance().charges == before + 1000
    assert q.served_version_label() != label and q.served_version_label()[1] is True
    # The replaced copy still answers a query that took it before the swap.
    assert first.query("select charges from mart_provenance").iloc[0, 0] == before


def test_a_failed_refresh_keeps_the_old_copy_serving(
    pg_copy: str, pg_admin, monkeypatch: pytest.MonkeyPatch, clear_dashboard: None,  # noqa: ANN001
    caplog: pytest.LogCaptureFixture,
) -> None:
    from dashboard import queries as q

    monkeypatch.setenv("PIPELINE_WAREHOUSE", pg_copy)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "256")
    monkeypatch.setattr(q, "VERSION_TTL_S", 0.0)
    first = q.local_copy()
    before = q.provenance().charges
    pg_admin.execute(f'alter table "{schema_of(pg_copy)}".cube_month rename to cube_month_gone')  # a copy now fails
    new_load(pg_copy, 1000)
    wh_key, wh = q.warehouse()
    wait_for(lambda: q.served_version(wh_key, wh) != first.version)
    with caplog.at_level(logging.WARNING, logger="dashboard.replica"):
        assert q.local_copy() is first  # starts the refresh; the old copy answers meanwhile
        wait_for(lambda: keeper_of(q).last_error is not None)
    assert keeper_of(q).current is first
    assert "replica refresh failed, still serving version" in caplog.text
    with q.bypass_cache():
        assert q.provenance().charges == before  # the committed state the copy was made of
    assert q.replica_status()["last_error"] and q.replica_status()["version"] == first.version


def test_a_copy_never_mixes_two_commits(pg_copy: str, monkeypatch: pytest.MonkeyPatch, clear_dashboard: None) -> None:
    """A load that commits while the copy is being read is not in it (one repeatable-read snapshot)."""
    from dashboard import replica
    from pipeline.warehouse import dbapi
    from pipeline.warehouse.postgres_wh import PostgresWarehouse

    wh = PostgresWarehouse(pg_copy)
    before = wh.query("select charges from mart_provenance").iloc[0, 0]
    version = wh.version()
    export = dbapi.Snapshot.export
    committed: list[bool] = []

    def export_after_a_commit(self, table, into, target=None, columns=None):  # noqa: ANN001, ANN202
        if not committed:
            new_load(pg_copy, 1000)  # commits between the snapshot's version read and its first table
            committed.append(True)
        return export(self, table, into, target, columns)

    monkeypatch.setattr(dbapi.Snapshot, "export", export_after_a_commit)
    try:
        copied = replica.copy(wh, 256)
    finally:
        wh.close()
    assert committed
    assert copied.version == version
    assert copied.query("select charges from mart_provenance").iloc[0, 0] == before
    assert copied.rows["pipeline_runs"] == len(PostgresWarehouse(pg_copy).query("select * from pipeline_runs")) - 1
    copied.close()


def test_the_copy_reports_its_size_and_respects_its_memory_limit(pg_sample_warehouse: Settings) -> None:
    from dashboard import replica
    from pipeline.warehouse.postgres_wh import PostgresWarehouse

    wh = PostgresWarehouse(pg_sample_warehouse.warehouse_url)
    try:
        copied = replica.copy(wh, 64)
        assert copied.con.execute("select current_setting('memory_limit')").fetchall()[0][0] in ("64.0 MiB", "61.0 MiB")
        assert copied.bytes > 0 and copied.rows["cube_month"] > 0 and copied.marts_ready
        assert copied.file_bytes > 0 and copied.folder.exists()
        copied.close()
        assert not copied.folder.exists()  # a replaced copy leaves nothing behind
    finally:
        wh.close()


# ---------------------------------------------------------------------------------- latency


def test_once_copied_the_dashboard_does_not_wait_for_a_slow_warehouse(
    pg_sample_warehouse: Settings, monkeypatch: pytest.MonkeyPatch, clear_dashboard: None,
) -> None:
    """A warehouse answering in 300 ms per statement, 2 at a time (bench/latency.py, Redshift-like),
    then 1.5 s: the copy costs those round trips once; afterwards no page waits for one."""
    from bench.dashboard import pages
    from bench.latency import LatencyWarehouse
    from dashboard import queries as q
    from dashboard.filters import FilterState

    monkeypatch.setenv("PIPELINE_WAREHOUSE", pg_sample_warehouse.warehouse_url)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "256")
    wh_key, plain = q.warehouse()
    slow = LatencyWarehouse(pg_sample_warehouse.warehouse_url, latency_ms=300, cap=2)
    monkeypatch.setitem(q._WAREHOUSES, wh_key, slow)
    try:
        assert q.local_copy() is not None
        # The version poll (every 5 s, on a thread of its own: test_queries.py) is kept out of the count.
        monkeypatch.setattr(q, "VERSION_TTL_S", 1e9)
        slow.gate.overhead_s = 1.5  # now a statement costs more than any page takes on a busy machine
        copied_with = slow.gate.statements
        times = []
        with q.bypass_cache():
            for _ in range(2):
                for page in pages().values():
                    start = time.perf_counter()
                    page(FilterState())
                    times.append(time.perf_counter() - start)
        assert slow.gate.statements == copied_with  # not one statement reached the warehouse
        assert max(times) < 1.5  # any page that waited for one would take >= 1.5 s
        # Without the copy every page pays the overhead at least once.
        monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "0")
        start = time.perf_counter()
        with q.bypass_cache():
            pages()["Data"](FilterState())
        assert time.perf_counter() - start >= 1.5
    finally:
        slow.close()


def test_a_copy_of_another_codes_cubes_is_not_read(pg_copy: str, pg_admin, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                   clear_dashboard: None) -> None:
    from dashboard import queries as q
    from dashboard.filters import FilterState

    schema = schema_of(pg_copy)
    pg_admin.execute(f'update "{schema}".pipeline_state set state_value = %s where state_key = %s', ["cubes-0", "marts_version"])
    pg_admin.execute(f'delete from "{schema}".cube_month_people')  # stale cubes must not be read
    monkeypatch.setenv("PIPELINE_WAREHOUSE", pg_copy)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "256")
    with q.bypass_cache():
        assert q.local_copy() is None and keeper_of(q).current is not None  # copied, not used
        assert not q.marts_ready()
        assert int(q.totals(FilterState(races=("WHITE",)))["stops"].iloc[0]) > 0


def test_only_the_first_request_waits_for_the_first_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    from dashboard import replica

    release = __import__("threading").Event()

    class SlowToCopy:
        @contextmanager
        def snapshot(self):  # noqa: ANN202
            release.wait(10)
            raise RuntimeError("the warehouse went away")
            yield  # pragma: no cover

    monkeypatch.setattr(replica, "FIRST_WAIT_S", 0.3)
    keeper = replica.Keeper(SlowToCopy(), 64)
    start = time.perf_counter()
    assert keeper.get("v1") is None
    first = time.perf_counter() - start
    start = time.perf_counter()
    assert keeper.get("v1") is None  # the copy is still being made: the warehouse answers, no wait
    second = time.perf_counter() - start
    release.set()
    assert 0.3 <= first < 2 and second < 0.1


# ------------------------------------------------------------------------------------ restarts


class Unreachable:
    """A warehouse whose snapshot always fails: a keeper that serves anyway served a kept file."""

    def __init__(self) -> None:
        self.asked = 0

    def snapshot(self):  # noqa: ANN201
        self.asked += 1
        raise RuntimeError("the warehouse went away")


def test_a_restarted_process_opens_the_kept_copy_of_the_committed_version_and_no_other(
    pg_copy: str, tmp_path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    import shutil

    from dashboard import replica
    from pipeline.warehouse.postgres_wh import PostgresWarehouse

    monkeypatch.setattr(replica, "FIRST_WAIT_S", 0.5)
    wh = PostgresWarehouse(pg_copy)
    try:
        made = replica.Keeper(wh, 64, tmp_path).refresh()
        version = wh.version()
    finally:
        wh.close()
    assert made is not None and made.version == version
    kept = tmp_path / replica.file_name(version)
    assert kept.exists() and sorted(p.name for p in tmp_path.iterdir()) == [kept.name]  # no temp file left behind
    charges = int(made.query("select charges from mart_provenance").iloc[0, 0])

    # A new process, the warehouse at the same committed version: the kept file serves at once.
    down = Unreachable()
    restarted = replica.Keeper(down, 64, tmp_path).get(version)
    assert restarted is not None and down.asked == 0
    assert restarted.version == version and restarted.marts_ready and restarted.rows == made.rows
    assert int(restarted.query("select charges from mart_provenance").iloc[0, 0]) == charges

    # The warehouse has committed another version since: the kept file is not served.
    assert replica.Keeper(down, 64, tmp_path).get(version + "|later") is None and down.asked == 1

    # A file under that version's name that records another version inside is not served either.
    shutil.copy(kept, tmp_path / replica.file_name("runs=999|ok=None|ref=0:0"))
    assert replica.Keeper(down, 64, tmp_path).get("runs=999|ok=None|ref=0:0") is None
    restarted.close()
    made.close()


def test_the_copied_analysis_tables_are_the_ones_the_analyses_write() -> None:
    from dashboard import replica
    from pipeline.analysis.runner import TABLES

    assert replica.ANALYSIS_TABLES == tuple(TABLES)


@pytest.mark.parametrize("chunk", [7, 100_000])
def test_the_generic_export_of_the_narrow_stops_equals_the_copy_postgresql_streams(
    chunk: int, pg_sample_warehouse: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Redshift's export (the DB-API one: chunks fetched into Python, so the stops never sit whole in
    memory) gives exactly the table PostgreSQL's COPY gives, over several chunks and over one."""
    import duckdb

    from dashboard import replica
    from pipeline.warehouse import dbapi
    from pipeline.warehouse.postgres_wh import PostgresWarehouse

    monkeypatch.setattr(dbapi.DBAPIWarehouse, "EXPORT_CHUNK_ROWS", chunk)
    wh = PostgresWarehouse(pg_sample_warehouse.warehouse_url)
    into = duckdb.connect()
    conn = wh._open_reader()
    try:
        generic = dbapi.DBAPIWarehouse._export(wh, conn, "stops", into, "generic", replica.STOP_COLUMNS)
        streamed = wh._export(conn, "stops", into, "streamed", replica.STOP_COLUMNS)
    finally:
        conn.close()
        wh.close()
    assert generic == streamed > 1000
    order = ", ".join(replica.STOP_COLUMNS)
    a = into.execute(f"select * from generic order by {order}").df()
    b = into.execute(f"select * from streamed order by {order}").df()
    assert list(a.columns) == list(replica.STOP_COLUMNS)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert into.execute("select count(*) from (select * from generic except all select * from streamed)").fetchall() == [(0,)]


@pytest.mark.parametrize("kept", [False, True], ids=["private", "kept"])
def test_a_copy_is_written_with_a_small_buffer_pool_and_serves_with_its_own_limit(
    kept: bool, pg_sample_warehouse: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    """The dashboard's peak memory while it copies is bounded by COPY_MEMORY_MB (the tables go to the
    copy's file as they are read), and the copy then serves with PIPELINE_DASHBOARD_REPLICA_MB."""
    from dashboard import replica
    from pipeline.warehouse.postgres_wh import PostgresWarehouse

    opened: list[tuple[int, bool]] = []
    real_open = replica._open

    def recording(path, memory_mb, read_only):  # noqa: ANN001, ANN202
        opened.append((memory_mb, read_only))
        return real_open(path, memory_mb, read_only)

    monkeypatch.setattr(replica, "_open", recording)
    wh = PostgresWarehouse(pg_sample_warehouse.warehouse_url)
    try:
        copied = replica.copy(wh, 300, tmp_path / "kept" if kept else None)
    finally:
        wh.close()
    assert opened[0] == (replica.COPY_MEMORY_MB, False) and replica.COPY_MEMORY_MB <= 128
    assert copied.con.execute("select current_setting('memory_limit')").fetchall()[0][0] in ("300.0 MiB", "286.1 MiB")
    assert copied.rows["stops"] > 1000
    copied.close()
