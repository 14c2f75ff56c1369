"""A local copy of the marts, so a server warehouse (PostgreSQL, Redshift) is read once per load,
not once per filter change.

Why: the cubes made each query small, but on a server every filter change is still a round trip
per query, and 50 sessions queue at a 2-core PostgreSQL (p95 11.6x one session) or at Redshift's
per-query overhead and small queues. The dashboard reads only aggregates of a few hundred
thousand rows, so each dashboard process keeps them itself, in an in-process DuckDB:

* **What is copied**: every stop cube (``pipeline.marts.CUBES``) and the small tables the pages
  read (``SMALL_TABLES``: provenance, data quality, the run log and state, ZIP demographics, the
  analysis tables), each in one read, all inside one read-only snapshot of the warehouse
  (:meth:`pipeline.warehouse.dbapi.DBAPIWarehouse.snapshot`), together with the warehouse version
  of that snapshot. So a copy is always exactly one committed state, named by its version; it is
  never a state the warehouse has not committed, nor a mix of two loads.
* **When**: when the warehouse version (``queries.served_version``, asked at most every 5 s)
  differs from the copy's, one background thread makes a new copy; the old copy serves until the
  new one is complete, then one assignment swaps it in. A failed copy is logged, the old copy
  keeps serving, and the copy is tried again after ``RETRY_S``. The first copy of a process is
  waited for once, up to ``FIRST_WAIT_S`` (then the warehouse answers until it is there).
* **What it answers**: every dashboard query (``dashboard/queries.py`` ``run``): those a cube
  covers, the small tables', and those no cube covers (day grain by people and place, the map grid
  with dates), which read a narrow copy of the stops (``STOP_COLUMNS``). Only the version check
  goes to the warehouse.
* **Memory**: the copy is a DuckDB database in a file of its own, so its tables are stored
  compressed (1M REPLICATED REAL rows: 996k cube and mart rows in 18 MB, against 169 MB as an
  in-memory database) and DuckDB's buffer pool, capped by ``memory_limit`` =
  ``PIPELINE_DASHBOARD_REPLICA_MB`` (0 turns the replica off), holds what the queries read. During a
  swap two copies exist for a moment. :func:`status` reports rows and megabytes (the file, and
  DuckDB's memory), and every swap is logged with them.
* **A restart**: each copy is kept as ``<temp dir>/moco-replica-<warehouse digest>/<version digest>.duckdb``,
  written under a temporary name and renamed once complete, with the warehouse version it holds
  recorded inside it. A new process whose warehouse reports that same committed version opens the
  file at once (read-only) instead of copying again (2M rows: a copy of ~20 s becomes an open of
  milliseconds); any other version is copied as before. Copies of other versions are removed once a
  newer copy is in place.

A DuckDB warehouse is not copied: the dashboard reads its file directly (``dashboard/db.py``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Mapping

import duckdb
import pandas as pd

from pipeline import marts
from pipeline.sqlfiles import bind, load_sql
from pipeline.warehouse.base import server_exists

log = logging.getLogger(__name__)

# Besides the cubes: what the dashboard's SQL files read (sql/dashboard/) and the analysis tables.
SMALL_TABLES = ("mart_provenance", "mart_data_sources", "mart_data_quality", "pipeline_runs", "pipeline_state", "zip_demographics",
                "zip_tract", "census_tract")
# The analysis tables (``pipeline.analysis.runner.TABLES``), named here so that the dashboard does not
# import the analyses (scipy, statsmodels: seconds of start-up and tens of MB) to copy four tables;
# tests/test_replica.py checks the two lists agree.
ANALYSIS_TABLES = ("analysis_benchmark", "analysis_outcome_test", "analysis_veil_of_darkness", "analysis_caveats")
# The stops' columns that the queries no cube covers read (sql/marts/stop_facts.sql,
# sql/dashboard/stop_cells.sql: day grain by people and place, the map grid with dates), so that
# with the copy no dashboard query reaches the warehouse. A narrow copy: not the stop ids, times,
# driver addresses or charge texts the dashboard never reads (2M SYNTHETIC: 1.35M stops).
STOP_COLUMNS = ("date_of_stop", "stop_year", "stop_month", "stop_weekday", "stop_hour", "race", "gender", "zip5",
                "zip_status", "latitude", "longitude", "outcome", "district", "top_description", "n_charges",
                "search_recorded", "searched", "arrested", "contraband_found")
# DuckDB memory while a copy is written: the tables go to the copy's file as they are read, so a
# small buffer pool only costs a little time (2M rows: 11.0 -> 12.6 s) and keeps the dashboard's peak
# RSS while copying down (424 -> 333 MB for the copy alone); the copy then serves with its full limit.
COPY_MEMORY_MB = 128
FIRST_WAIT_S = 30.0  # the first request of a process waits this long for the first copy
RETRY_S = 30.0  # after a failed copy, the next try waits this long


def tables() -> tuple[str, ...]:
    return (*marts.CUBE_NAMES, *SMALL_TABLES, *ANALYSIS_TABLES)


@dataclass
class Replica:
    """One complete copy: a private DuckDB database (a temp file) holding one committed warehouse version."""

    version: str
    con: duckdb.DuckDBPyConnection
    rows: dict[str, int]
    bytes: int  # DuckDB's memory after the copy
    seconds: float
    marts_ready: bool
    folder: Path | None = None  # the database file's own temp folder, removed on close (a private copy)
    file_bytes: int = 0
    loaded_at: float = field(default_factory=time.time)
    path: Path | None = None  # a kept copy's file (removed on close), which a restarted process may open

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        text, values = bind(sql, params, "qmark")
        cur = self.con.cursor()
        try:
            return cur.execute(text, values).df()
        finally:
            cur.close()

    def close(self) -> None:
        try:
            self.con.close()
        except duckdb.Error:
            pass
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def file_name(version: str) -> str:
    """The kept copy of ``version``'s file name: a digest of the version and of what a copy holds, so
    a copy kept by code that copied other tables or columns is never opened (a version string is
    not a file name either)."""
    layout = "|".join((*tables(), "stops", *STOP_COLUMNS))
    return hashlib.sha256(f"{layout}|{version}".encode()).hexdigest()[:16] + ".duckdb"


def _open(path: Path, memory_mb: int, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute(f"set memory_limit = '{int(memory_mb)}MB'")
    con.execute("set threads = 1")  # a copy runs beside the sessions it serves: one core at most
    con.execute("set TimeZone = 'UTC'")
    return con


def _memory_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's memory in use by this copy (reported by :func:`Keeper.status` and every swap's log line)."""
    return int(con.execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchall()[0][0])


def _ready(con: duckdb.DuckDBPyConnection) -> bool:
    state = con.execute("select state_value from pipeline_state where state_key = ?", [marts.MARTS_VERSION_KEY]).fetchall()
    return marts.ready(str(state[0][0]) if state else None)


def open_kept(folder: Path, version: str, memory_mb: int) -> Replica | None:
    """The kept copy of ``version`` in ``folder``, opened read-only; None when there is none, or when
    the version recorded inside the file is not ``version`` (never serve another version)."""
    path = folder / file_name(version)
    if not path.exists():
        return None
    start = time.perf_counter()
    try:
        con = _open(path, memory_mb, read_only=True)
    except duckdb.Error as exc:
        log.warning("kept replica %s not opened: %s", path.name, type(exc).__name__)
        return None
    try:
        recorded = con.execute("select version from replica_version").fetchall()
        if [r[0] for r in recorded] != [version]:
            con.close()
            return None
        rows = dict(con.execute("select table_name, row_count from replica_tables").fetchall())
        ready = _ready(con)
        used = _memory_bytes(con)
    except duckdb.Error as exc:  # an older layout, a damaged file: copy again
        con.close()
        log.warning("kept replica %s not used: %s", path.name, type(exc).__name__)
        return None
    return Replica(version, con, {k: int(v) for k, v in rows.items()}, used, time.perf_counter() - start, ready,
                   None, path.stat().st_size, path=path)


def _prune(folder: Path, keep: Path) -> None:
    """Remove kept copies of other versions, and unfinished copies an hour old (a killed process's)."""
    for other in folder.glob("*.duckdb"):
        if other != keep:
            other.unlink(missing_ok=True)
    for tmp in folder.glob("*.tmp*"):
        try:
            if time.time() - tmp.stat().st_mtime > 3600:
                tmp.unlink(missing_ok=True)
        except FileNotFoundError:
            pass


def copy(warehouse: Any, memory_mb: int, folder: Path | None = None) -> Replica:
    """A new complete copy of ``warehouse``'s marts (raises on any failure; nothing is swapped).

    With ``folder`` the copy is kept there for a restarted process (:func:`open_kept`): written under
    a temporary name, renamed once complete, then opened read-only; without, in a private temp folder
    removed with the copy."""
    start = time.perf_counter()
    private = folder is None
    folder = Path(tempfile.mkdtemp(prefix="moco-replica-")) if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    work = folder / (f"copy-{os.getpid()}-{threading.get_ident()}.tmp" if not private else "replica.duckdb")
    con = _open(work, min(memory_mb, COPY_MEMORY_MB), read_only=False)
    try:
        con.execute("set preserve_insertion_order = false")
        rows: dict[str, int] = {}
        with warehouse.snapshot() as snap:
            if not server_exists(snap.query):
                raise LookupError("the warehouse has no tables yet")
            version = _version(snap)
            present = set(snap.query("select table_name from information_schema.tables "
                                     "where table_schema = current_schema()")["table_name"])
            for table in tables():
                if table in present or table not in ANALYSIS_TABLES:  # analysis tables: once `analyze` has run
                    rows[table] = snap.export(table, con)
            rows["stops"] = snap.export("stops", con, columns=STOP_COLUMNS)
        ready = _ready(con)
        # What a restarted process checks before it serves this file (open_kept).
        con.execute("create table replica_version as select cast(? as varchar) as version", [version])
        con.execute("create table replica_tables (table_name varchar, row_count bigint)")
        con.executemany("insert into replica_tables values (?, ?)", list(rows.items()))
        con.execute("checkpoint")  # the tables compressed into the file; the buffer pool keeps what is read
        used = _memory_bytes(con)
        if not private:
            con.close()
            path = folder / file_name(version)
            os.replace(work, path)  # complete or absent: a restarted process never opens a half copy
            con = _open(path, memory_mb, read_only=True)
    except BaseException:
        con.close()
        if private:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            work.unlink(missing_ok=True)
            work.with_name(work.name + ".wal").unlink(missing_ok=True)
        raise
    if private:
        con.execute(f"set memory_limit = '{int(memory_mb)}MB'")  # written: now the serving limit
        return Replica(version, con, rows, used, time.perf_counter() - start, ready, folder, work.stat().st_size)
    _prune(folder, keep=path)
    return Replica(version, con, rows, used, time.perf_counter() - start, ready, None, path.stat().st_size, path=path)


def _version(snap: Any) -> str:
    """The warehouse version as ``Warehouse.version()`` spells it, read inside the snapshot."""
    row = snap.query(load_sql("warehouse/version")).iloc[0]
    return f"runs={row['runs']}|ok={row['last_success']}|ref={row['zips']}:{row['residents']}"


class Keeper:
    """The current copy of one warehouse and the one background refresh that replaces it."""

    def __init__(self, warehouse: Any, memory_mb: int, folder: Path | None = None) -> None:
        self.warehouse = warehouse
        self.memory_mb = memory_mb
        self.folder = folder  # where copies are kept for a restart (None: private temp copies)
        self._looked = False  # whether a kept copy was looked for (once, before the first copy)
        self.current: Replica | None = None
        self.last_error: str | None = None
        self._failed_at = 0.0
        self._lock = threading.Lock()
        self._loading: threading.Thread | None = None
        self._done = threading.Event()
        self._waited = False

    def get(self, wanted: str) -> Replica | None:
        """The copy to serve now: the current one (even while a copy of ``wanted`` loads), after
        starting that load when the current copy is of another version; None before the first copy."""
        current = self.current
        if current is not None and current.version == wanted:
            return current
        if current is None and not self._looked and self.folder is not None:
            with self._lock:
                if not self._looked:  # a restart: the copy of this very version may be on disk already
                    self._looked = True
                    self.current = open_kept(self.folder, wanted, self.memory_mb)
                    if self.current is not None:
                        log.info("replica %s: opened the kept copy in %.3f s", wanted, self.current.seconds)
                        return self.current
        with self._lock:
            idle = self._loading is None or not self._loading.is_alive()
            if idle and time.monotonic() - self._failed_at >= RETRY_S:
                self._done.clear()
                self._loading = threading.Thread(target=self.refresh, name="replica-refresh", daemon=True)
                self._loading.start()
        if self.current is None and not self._waited:
            # Only the first request waits (and only once): after that the warehouse answers until
            # the copy is there, instead of every query of every page waiting for it in turn.
            self._done.wait(FIRST_WAIT_S)
            self._waited = True
        return self.current

    def refresh(self) -> Replica | None:
        """Make a new copy and swap it in; on failure log it and keep serving the old one."""
        try:
            new = copy(self.warehouse, self.memory_mb, self.folder)
        except Exception as exc:  # noqa: BLE001 - any failure: the old copy keeps serving
            self._failed_at = time.monotonic()
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("replica refresh failed, %s: %s", "still serving version " + self.current.version
                        if self.current else "reading the warehouse", self.last_error)
            self._done.set()
            return None
        old, self.current = self.current, new  # the swap: one assignment; readers hold their own reference
        self._failed_at = 0.0
        self.last_error = None
        self._done.set()
        log.info("replica %s: %d tables, %d rows, %.1f MB file, %.1f MB in DuckDB's memory, copied in %.2f s",
                 new.version, len(new.rows), sum(new.rows.values()), new.file_bytes / 2**20, new.bytes / 2**20, new.seconds)
        if old is not None:
            _close_later(old)
        return new

    def status(self) -> dict[str, Any]:
        current = self.current
        return {"version": current.version if current else None,
                "rows": sum(current.rows.values()) if current else 0,
                "mb": round(current.bytes / 2**20, 1) if current else 0.0,
                "file_mb": round(current.file_bytes / 2**20, 1) if current else 0.0,
                "copy_s": round(current.seconds, 2) if current else None,
                "tables": len(current.rows) if current else 0,
                "last_error": self.last_error}


def _close_later(old: Replica, after_s: float = 60.0) -> None:
    """Close a replaced copy once the queries that took it before the swap are surely done (a
    query holds its own cursor, so closing under it would fail that query, not serve wrong data)."""
    timer = threading.Timer(after_s, old.close)
    timer.daemon = True
    timer.start()


_keepers: dict[str, Keeper] = {}
_keepers_lock = threading.Lock()


def kept_folder(key: str) -> Path:
    """Where the copies of the warehouse named by ``key`` (a digest of its URL) are kept."""
    return Path(tempfile.gettempdir()) / f"moco-replica-{key}"


def keeper(key: str, warehouse: Any, memory_mb: int) -> Keeper:
    with _keepers_lock:
        found = _keepers.get(key)
        if found is None or found.warehouse is not warehouse:
            found = _keepers[key] = Keeper(warehouse, memory_mb, kept_folder(key))
        return found


def reset() -> None:
    """Forget every copy (tests)."""
    with _keepers_lock:
        keepers = list(_keepers.values())
        _keepers.clear()
    for k in keepers:
        if k.current is not None:
            k.current.close()
