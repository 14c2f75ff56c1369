"""What a dashboard process keeps between reruns (issue 22, cold start and CPU per filter change):
the query-result cache, and the modules a dashboard process imports (never the pipeline's load path)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from dashboard import db, queries
from dashboard.filters import FilterState

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def wh(sample_warehouse, monkeypatch):
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    queries.clear_cache()
    queries.marts_ready()  # its own check, once per warehouse version (not a page query)
    yield sample_warehouse
    queries.clear_cache()
    db.reset()


@pytest.fixture
def executions(monkeypatch):
    """Each query that ran on the engine (a cache miss), as (sql, params)."""
    ran: list[tuple[str, tuple]] = []
    real = queries._execute

    def counted(wh_key, sql, params, local=None):  # noqa: ANN001, ANN202
        ran.append((sql, params))
        return real(wh_key, sql, params, local)

    monkeypatch.setattr(queries, "_execute", counted)
    return ran


def test_a_repeated_query_runs_once_and_each_filter_state_once(wh, executions):
    black, white = FilterState(races=("BLACK",)), FilterState(races=("WHITE",))
    first = queries.totals(black)
    assert len(executions) == 1
    again = queries.totals(black)
    assert len(executions) == 1  # answered from the cache
    assert again.equals(first)
    other = queries.totals(white)
    assert len(executions) == 2 and not other.equals(first)
    with queries.bypass_cache():
        queries.totals(black)
    assert len(executions) == 3
    queries.clear_cache()
    queries.totals(black)
    assert len(executions) == 4


def test_changing_a_cached_frame_leaves_the_cache_unchanged(wh):
    f = FilterState(genders=("F",))
    shown = queries.totals(f)
    stops = int(shown.loc[0, "stops"])
    shown.loc[0, "stops"] = -1
    shown["extra"] = 1
    again = queries.totals(f)
    assert int(again.loc[0, "stops"]) == stops and "extra" not in again.columns


def test_an_entry_expires_after_its_time_and_the_oldest_goes_first(wh, monkeypatch, executions):
    cache = queries._ResultCache(ttl_s=600, max_entries=2)
    monkeypatch.setattr(queries, "_results", cache)
    a, b, c = FilterState(races=("BLACK",)), FilterState(races=("WHITE",)), FilterState(races=("ASIAN",))
    queries.totals(a), queries.totals(b)
    queries.totals(a)  # a is now the most recently used
    assert len(executions) == 2
    queries.totals(c)  # evicts b, the least recently used
    queries.totals(a)
    assert len(executions) == 3
    queries.totals(b)
    assert len(executions) == 4
    clock = [time.monotonic()]
    monkeypatch.setattr(queries.time, "monotonic", lambda: clock[0])
    queries.totals(c)  # refreshed at the frozen time
    n = len(executions)
    clock[0] += 599
    queries.totals(c)
    assert len(executions) == n
    clock[0] += 2  # 601 s after it was stored
    queries.totals(c)
    assert len(executions) == n + 1


def test_sessions_asking_the_same_query_at_once_run_it_once(wh, monkeypatch):
    ran = []
    real = queries._execute
    gate = threading.Event()

    def slow(wh_key, sql, params, local=None):  # noqa: ANN001, ANN202
        ran.append(sql)
        gate.wait(5)
        return real(wh_key, sql, params, local)

    monkeypatch.setattr(queries, "_execute", slow)
    out = [None] * 4
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, queries.totals(FilterState()))) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    gate.set()
    for t in threads:
        t.join(10)
    assert len(ran) == 1
    assert all(o is not None and o.equals(out[0]) for o in out)


def test_a_failed_query_is_not_cached(wh, monkeypatch):
    real = queries._execute
    calls = []

    def failing_once(wh_key, sql, params, local=None):  # noqa: ANN001, ANN202
        calls.append(sql)
        if len(calls) == 1:
            raise duckdb.IOException("gone for a moment")
        return real(wh_key, sql, params, local)

    monkeypatch.setattr(queries, "_execute", failing_once)
    with pytest.raises(duckdb.IOException):
        queries.totals(FilterState())
    assert int(queries.totals(FilterState()).loc[0, "stops"]) > 0
    assert len(calls) == 2


# What the router and the Overview import (streamlit_app.py, pages/overview.py), with a warehouse opened.
DASHBOARD_IMPORTS = """
import sys
from dashboard import browser, charts, filters, i18n, queries, rates, routing, tables, ui
queries.warehouse()
print(" ".join(sorted(sys.modules)))
"""
# The pipeline's load path and what only the Map / My ZIP / Disparities pages need.
NOT_IMPORTED = ("pipeline.curated", "pipeline.lake", "pipeline.load", "pipeline.transform", "pipeline.zones",
                "pyarrow.parquet", "pyarrow.csv", "pyarrow.dataset", "deltalake", "scipy", "pydeck", "shapely",
                "plotly.express", "dashboard.maps", "pipeline.analysis.stats")


@pytest.mark.parametrize("url", ["duckdb:///{tmp}/wh.duckdb", "postgresql://postgres@127.0.0.1:5432/test?schema=none_here"],
                         ids=["duckdb", "postgresql"])
def test_the_dashboard_imports_no_load_path_and_no_page_only_library(url, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PIPELINE_WAREHOUSE": url.format(tmp=tmp_path), "PYTHONDONTWRITEBYTECODE": "1",
           "PIPELINE_DASHBOARD_REPLICA_MB": "0"}
    out = subprocess.run([sys.executable, "-c", DASHBOARD_IMPORTS], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = set(out.stdout.split())
    assert "dashboard.ui" in loaded and "pandas" in loaded
    assert not [m for m in NOT_IMPORTED if m in loaded or any(x.startswith(m + ".") for x in loaded)]
