"""DuckDB warehouse (the embedded default).

A DuckDB read-write connection locks the file against every other process, so the pipeline never
writes the served file: it copies it to ``<file>.next``, loads there, checkpoints, and renames it
over the served file (atomic on POSIX). The dashboard opens the served file read-only per query,
so it keeps serving the old data during a load and sees the new data after the rename. A crash
leaves only a stale ``.next`` that the next run overwrites.

Every write (a load, the reference tables, the analyses) holds the load lock, an exclusive
``flock`` on ``<file>.lock``, waiting up to ``PIPELINE_LOCK_WAIT_SECONDS`` for it. A write refused
after that wait cannot say so in the run log (it lives in the locked file): it appends a line to
``<file>.refused.jsonl``, which ``status`` reads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb
import pandas as pd
import pyarrow as pa

from ..sqlfiles import bind, load_sql, run_script
from .base import LockLost, LockRefused, WarehouseError, check_identifier

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
            from ..curated import staging_select  # the load path only: the dashboard's reader never stages

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
        self._lock_fd: int | None = None

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

    @property
    def refusal_log(self) -> Path:
        """Writes refused the lock, one JSON object a line (the run log is inside the locked file)."""
        return self.path.with_name(self.path.name + ".refused.jsonl")

    @contextmanager
    def _flock(self, wait_s: float, owner: str | None, about: str) -> Iterator[None]:
        """The load lock: an exclusive flock on ``<file>.lock``, which then names its holder. The
        kernel drops it when its process dies, so a killed load can never leave it behind."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)  # no truncation: it names the holder
        try:
            deadline = time.monotonic() + wait_s
            waiting = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise self._refuse(wait_s, owner, about) from None
                    if not waiting:
                        waiting = True
                        log.info("waiting up to %g s for the load lock (%s holds it)", wait_s,
                                 self.lock_holder()[1] or "another write")
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"owner": owner, "about": about, "pid": os.getpid()}).encode(), 0)
            self._lock_fd = fd
            try:
                yield
            finally:
                self._lock_fd = None
                os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the flock

    def _refuse(self, wait_s: float, owner: str | None, about: str) -> LockRefused:
        held, holder = self.lock_holder()
        by = f" (held by {holder})" if held and holder else ""
        message = (f"another load holds {self.lock_path.name}{by} (waited {wait_s:g} s); "
                   "try again when it finishes")
        entry = {"refused_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "owner": owner,
                 "about": about, "pid": os.getpid(), "message": message}
        try:
            with open(self.refusal_log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
        except OSError as exc:
            log.error("could not record the refusal in %s: %s", self.refusal_log, exc)
        return LockRefused(message)

    def lock_holder(self) -> tuple[bool | None, str | None]:
        """(held, owner run id) of the load lock, looked at with a shared probe that never waits."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return False, None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
                except ValueError:  # being written this instant
                    holder = {}
                return True, holder.get("owner") or holder.get("about") or None
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False, None
        finally:
            os.close(fd)

    def check_lock(self) -> None:
        """The lock file this run locked is still the one at ``<file>.lock`` (else someone removed
        or replaced it, and another run may hold a lock on the new file)."""
        if self._lock_fd is None:
            return
        try:
            same = os.stat(self.lock_path).st_ino == os.fstat(self._lock_fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            raise LockLost(f"{self.lock_path} was removed or replaced while this run held its lock; "
                           "stopped before publishing anything")

    @contextmanager
    def run_lock(self, owner: str | None = None, about: str = "") -> Iterator[None]:
        """Hold the load lock for a whole run (its sessions then run under it)."""
        with self._flock(self.lock_wait_s, owner, about):
            self._run_lock_held = True
            try:
                yield
            finally:
                self._run_lock_held = False

    @contextmanager
    def session(self, lock: bool = True) -> Iterator[DuckDBSession]:
        """A load transaction on a copy of the file, renamed over it on commit.

        ``lock`` is ignored: a DuckDB file is only ever rewritten under the load lock (two
        copy-and-rename writers would lose one another's commit). Outside a run (reference tables,
        analyses) the session takes it, waiting as a load does.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.nullcontext() if self._run_lock_held else self._flock(
                self.lock_wait_s, None, "a write outside a load (reference tables or analyses)"):
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
                self.check_lock()  # the fence: never rename over the file without the lock
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
