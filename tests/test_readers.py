"""Many readers: the read-connection pool, PostgreSQL queries that don't queue behind one another,
and the concurrent-sessions benchmark's driver at tiny scale (no timings asserted)."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest

from bench import readers
from dashboard import db
from dashboard import queries as q
from dashboard.filters import FilterState
from pipeline.warehouse.pool import ConnectionPool
from pipeline.warehouse.postgres_wh import PostgresWarehouse

pytest_plugins = ["tests.pg_fixtures"]
pytest.register_assert_rewrite("tests.pg_fixtures")

from tests.pg_fixtures import PG_URL  # noqa: E402


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_the_pool_reuses_an_idle_connection_and_drops_a_closed_one() -> None:
    made: list[FakeConnection] = []
    pool = ConnectionPool(lambda: made.append(FakeConnection()) or made[-1], size=2)
    with pool.connection() as first:
        pass
    with pool.connection() as again:
        assert again is first
        again.close()  # as the warehouse does with a broken one
    with pool.connection() as fresh:
        assert fresh is not first
    assert len(made) == 2


def test_the_pool_opens_a_second_connection_only_while_the_first_is_in_use() -> None:
    made: list[FakeConnection] = []
    pool = ConnectionPool(lambda: made.append(FakeConnection()) or made[-1], size=2)
    with pool.connection() as a, pool.connection() as b:
        assert a is not b
    with pool.connection(), pool.connection():
        pass
    assert len(made) == 2


def test_closing_the_pool_closes_idle_connections_and_those_in_use_when_they_come_back() -> None:
    made: list[FakeConnection] = []
    pool = ConnectionPool(lambda: made.append(FakeConnection()) or made[-1], size=2)
    with pool.connection() as busy:
        with pool.connection() as idle:
            pass
        pool.close()
        assert idle.closed and not busy.closed
    assert busy.closed
    with pool.connection() as after:
        assert after not in (busy, idle) and not after.closed


def _waiting_for(admin, key: int) -> bool:  # noqa: ANN001
    row = admin.execute("select count(*) from pg_locks where locktype = 'advisory' and not granted "
                        "and classid = 0 and objid = %s", [key]).fetchone()
    return bool(row[0])


def test_a_postgresql_read_does_not_wait_for_another_sessions_read(pg_url: str) -> None:
    """One session's query is stuck (it waits for an advisory lock held elsewhere); another
    session's query must still be answered, on another pooled connection. With one shared
    connection behind a lock (the design before issue 13) the second query waited for the first."""
    key = random.randrange(1, 2**31)
    warehouse = PostgresWarehouse(pg_url, read_pool_size=2)
    holder = psycopg.connect(PG_URL, autocommit=True)
    holder.execute("select pg_advisory_lock(%s)", [key])
    stuck = threading.Thread(target=warehouse.query, daemon=True,
                             args=("select 1 as n from (select pg_advisory_xact_lock_shared(:k)) as x", {"k": key}))
    answered: list[int] = []
    other = threading.Thread(target=lambda: answered.append(int(warehouse.query("select 2 as n").iloc[0, 0])), daemon=True)
    try:
        stuck.start()
        while not _waiting_for(holder, key):  # the first query is now inside the server, waiting
            assert stuck.is_alive()
            time.sleep(0.05)
        other.start()
        other.join(60)  # a deadlock guard, not a speed limit
        assert answered == [2]
        assert stuck.is_alive()  # the other query did not wait for this one to finish
    finally:
        holder.execute("select pg_advisory_unlock(%s)", [key])
        holder.close()
        stuck.join(60)
        other.join(60)
        warehouse.close()
    assert not stuck.is_alive()


def test_a_pooled_postgresql_connection_killed_by_the_server_is_replaced(pg_url: str, pg_admin) -> None:  # noqa: ANN001
    warehouse = PostgresWarehouse(pg_url, read_pool_size=1)
    try:
        pid = int(warehouse.query("select pg_backend_pid() as pid").iloc[0, 0])
        pg_admin.execute("select pg_terminate_backend(%s)", [pid])
        again = int(warehouse.query("select pg_backend_pid() as pid").iloc[0, 0])
        assert again != pid
    finally:
        warehouse.close()


def test_the_benchmark_driver_walks_distinct_filters_and_counts_cache_hits(sample_warehouse, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    original_run = q.run
    try:
        with readers.instrumented():
            result = readers.run_level(2, seed=7, duration=0.5, think=0.02, min_changes=6)
        assert q.run is original_run  # the instrumentation is gone afterwards
        assert result["sessions"] == 2 and result["n"] >= 6
        assert 0 < result["cache_hit_pct"] < 100  # the router's queries hit, new filter combinations miss
        assert result["queries_per_change"] >= 3  # the router's queries and the page's
        assert result["remote_per_change"] > 0  # DuckDB: no local copy, every executed query reads the file
        assert set(result["by_page"]) <= set(readers.pages_walked())
    finally:
        q.clear_cache()
        db.reset()


def test_a_walk_step_changes_exactly_one_filter_and_holds_few_values() -> None:
    options = {"zips": [f"209{i:02d}" for i in range(20)], "races": ["WHITE", "BLACK"], "genders": ["F", "M"],
               "outcomes": ["Citation"], "districts": ["D1", "D2"], "dates": []}
    rng = random.Random(3)
    f = FilterState()
    for _ in range(300):
        g = readers.step(rng, f, options)
        changed = [name for name in ("zips", "races", "genders", "outcomes", "districts") if getattr(f, name) != getattr(g, name)]
        dates_changed = (f.date_from, f.date_to) != (g.date_from, g.date_to)
        assert len(changed) + dates_changed == 1, (f, g)
        assert all(len(getattr(g, name)) <= readers.MAX_VALUES for name in changed)
        f = g
