"""DuckDB warehouse (the embedded default).

A DuckDB read-write connection locks the file against every other process, so the pipeline never
writes the served file: it copies it to ``<file>.next``, loads there, checkpoints, and renames it
over the served file (atomic on POSIX). The dashboard opens the served file read-only per query,
so it keeps serving the old data during a load and sees the new data after the rename. A crash
leaves only a stale ``.next`` that the next run overwrites.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb
import pandas as pd
import pyarrow as pa

from ..curated import staging_select
from ..sqlfiles import bind, load_sql, run_script
from .base import WarehouseError, check_identifier

log = logging.getLogger(__name__)


class DuckDBSession:
    kind = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        text, values = bind(sql, params, "qmark")
        self.con.execute(text, values)

    def script(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        run_script(self.execute, load_sql(name, self.kind), params, name)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        text, values = bind(sql, params, "qmark")
        return self.con.execute(text, values).df()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        text, values = bind(sql, params, "qmark")
        rows = self.con.execute(text, values).fetchall()
        return rows[0][0] if rows else None

    # NOTE: staging tables are created straight from their source. A temp table created empty
    # (`as select * from target limit 0`) inside the transaction and then filled by name looked
    # right (count(*) was correct) but `insert into target select ... from it` inserted 0 rows
    # once it held ~200k rows (DuckDB 2.0.0); the curated-vs-warehouse check caught it.
    def stage(self, table: str, data: pa.Table | pa.RecordBatchReader, like: str | None = None) -> int:
        check_identifier(table)  # put into SQL text, as on the other warehouses
        self.con.register("_stage_src", data)
        try:
            self.con.execute(f"create or replace temp table {table} as select * from _stage_src")
        finally:
            self.con.unregister("_stage_src")
        return self.con.execute(f"select count(*) from {table}").fetchall()[0][0]

    def stage_parquet(self, table: str, paths: list[str], load_id: str, like: str) -> int:
        """Stage this load's rows straight from curated Parquet files: a view, not a copy.

        At 2M rows a staged copy spills to disk; the merge reads the view's narrow key columns
        for its deletes and streams every column once for its insert.
        """
        if not paths:
            self.con.execute(f"create or replace temp table {table} as select * from {like} limit 0")
        else:
            self.con.execute("set variable stage_files = ?", [paths])
            self.con.execute("set variable stage_load_id = ?", [load_id])
            select = staging_select("getvariable('stage_files')", "getvariable('stage_load_id')")
            self.con.execute(f"create or replace temp view {table} as {select}")
        return self.con.execute(f"select count(*) from {table}").fetchall()[0][0]

    def replace_table(self, table: str, data: pd.DataFrame) -> int:
        self.con.register("_replace_src", data)
        try:
            self.con.execute(f"delete from {table}")
            self.con.execute(f"insert into {table} by name select * from _replace_src")
        finally:
            self.con.unregister("_replace_src")
        return len(data)


class DuckDBWarehouse:
    kind = "duckdb"

    def __init__(self, path: Path, memory_limit: str = "1500MB", lock_wait_s: float = 60.0) -> None:
        self.path = Path(path)
        self.memory_limit = memory_limit
        self.lock_wait_s = lock_wait_s
        self._run_lock_held = False

    @property
    def next_path(self) -> Path:
        return self.path.with_name(self.path.name + ".next")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def exists(self) -> bool:
        if not self.path.exists():
            return False
        with duckdb.connect(str(self.path), read_only=True) as con:
            return bool(
                con.execute(
                    "select count(*) from information_schema.tables where table_name = 'moco_traffic_violations'"
                ).fetchall()[0][0]
            )

    def version(self) -> str:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return "missing"
        return f"{st.st_ino}-{st.st_mtime_ns}-{st.st_size}"

    @contextmanager
    def _flock(self, wait_s: float) -> Iterator[None]:
        """The load lock: an flock on ``<file>.lock``. The kernel drops it when its process dies,
        so a killed load can never leave it behind."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "w") as lock:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError as exc:
                    if time.monotonic() >= deadline:
                        raise WarehouseError(f"another load holds {self.lock_path.name} (waited {wait_s:g} s); "
                                             "try again when it finishes") from exc
                    time.sleep(0.2)
            yield

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """Hold the load lock for a whole run (its sessions then run under it)."""
        with self._flock(self.lock_wait_s):
            self._run_lock_held = True
            try:
                yield
            finally:
                self._run_lock_held = False

    @contextmanager
    def session(self, lock: bool = True) -> Iterator[DuckDBSession]:
        """A load transaction on a copy of the file, renamed over it on commit.

        ``lock`` is ignored: a DuckDB file is only ever rewritten under the load lock (two
        copy-and-rename writers would lose one another's commit).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.nullcontext() if self._run_lock_held else self._flock(0.0):
            self.next_path.unlink(missing_ok=True)
            self.next_path.with_name(self.next_path.name + ".wal").unlink(missing_ok=True)
            if self.path.exists():
                shutil.copyfile(self.path, self.next_path)
            # Row order means nothing in these tables; keeping it costs ~35% of a 2M-row insert.
            con = duckdb.connect(str(self.next_path), config={"memory_limit": self.memory_limit,
                                                               "preserve_insertion_order": False})
            try:
                session = DuckDBSession(con)
                session.script("warehouse/schema")
                con.execute("begin transaction")
                yield session
                con.execute("commit")
                con.execute("checkpoint")
                con.close()
                os.replace(self.next_path, self.path)
                log.debug("published %s", self.path)
            except BaseException:
                try:
                    con.close()
                finally:
                    self.next_path.unlink(missing_ok=True)
                raise

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.path.exists():
            raise WarehouseError(f"no warehouse at {self.path}; run `python -m pipeline backfill --source sample`")
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        text, values = bind(sql, params, "qmark")
        with self.reader() as con:
            return con.execute(text, values).df()
