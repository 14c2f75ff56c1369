"""Fast read-only access to the DuckDB warehouse for the dashboard.

``DuckDBWarehouse.query`` opens the file read-only for every query, which is what makes the
pipeline's atomic file swap safe, but costs ~30-60 ms per query (most of an uncached page). Here each
published version of the file gets one private in-memory DuckDB instance that ATTACHes it read-only;
queries run on cheap cursors of that instance. When a load swaps the file (the warehouse version
changes), the next query attaches the new file; the old instance keeps serving in-flight queries
from the old inode and is freed when they finish.

A private in-memory instance per version (rather than ``duckdb.connect(path)``) matters: DuckDB
caches instances by path within a process, so a plain connect after a swap could return the old,
still-open instance and serve stale data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Mapping

import duckdb
import pandas as pd

from pipeline.sqlfiles import bind

_ALIAS = "wh"


@dataclass
class _Reader:
    version: str
    con: duckdb.DuckDBPyConnection
    has_tables: bool = False  # once seen in this published file, for good (a load publishes a new file)


_lock = threading.Lock()
_readers: dict[str, _Reader] = {}


def _attach(path: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    quoted = path.replace("'", "''")  # the path comes from configuration, never from a request
    con.execute(f"attach '{quoted}' as {_ALIAS} (read_only)")
    con.execute(f"use {_ALIAS}")
    return con


def _reader(warehouse: Any) -> _Reader:
    """The reader for the file as published now (re-attached when the version has changed)."""
    path = str(warehouse.path)
    with _lock:
        current = warehouse.version()
        entry = _readers.get(path)
        if entry is not None and entry.version == current:
            return entry
        for _ in range(3):  # a swap between stat and attach: attach again
            con = _attach(path)
            after = warehouse.version()
            if after == current:
                break
            con.close()
            current = after
        entry = _Reader(current, con)
        _readers[path] = entry  # the previous reader is freed once no query uses it
        return entry


def query(warehouse: Any, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run a read-only query on a DuckDBWarehouse through its version's reader."""
    return _query(_reader(warehouse), sql, params)


def _query(entry: _Reader, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    text, values = bind(sql, params, "qmark")
    cur = entry.con.cursor()
    try:
        cur.execute(f"use {_ALIAS}")
        return cur.execute(text, values).df()
    finally:
        cur.close()


def has_tables(warehouse: Any) -> bool:
    """True once a load has created the warehouse tables (without opening a new instance each time)."""
    if not warehouse.path.exists():
        return False
    entry = _reader(warehouse)
    if not entry.has_tables:  # asked on every rerun of every page: one catalogue query per published file
        df = _query(entry, "select count(*) as n from information_schema.tables "
                           "where table_catalog = :db and table_name = 'moco_traffic_violations'", {"db": _ALIAS})
        entry.has_tables = bool(df.iloc[0, 0])
    return entry.has_tables


def reset() -> None:
    """Close every reader, so no file stays attached in this process.

    NOTE: while a reader holds a file, *this process* can't open that file read-write (DuckDB
    refuses a second handle on an attached file); the pipeline never writes the served file, but a
    test that wants to should call this first.
    """
    with _lock:
        readers = list(_readers.values())
        _readers.clear()
    for entry in readers:
        try:
            entry.con.close()
        except duckdb.Error:
            pass
