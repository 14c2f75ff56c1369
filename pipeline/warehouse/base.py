"""The warehouse interface the pipeline and the dashboard share.

A *load session* is one transaction: stage the batch, merge, rebuild marts, write the run log.
Readers see either all of it or none of it. DuckDB gets that by building the next file beside the
served one and renaming it over (its file lock would block the dashboard otherwise); PostgreSQL and
Redshift get it from a transaction.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import date
from typing import Any, Callable, Mapping, Protocol

import pandas as pd
import pyarrow as pa

from ..sqlfiles import expand_list, load_sql, render, run_script


# marts/stops.sql's scope: the stops in affected_stops (a join), or every stop of the years given.
AFFECTED_SCOPE = "join (select distinct stop_id from affected_stops) as a on a.stop_id = c.stop_id"


def rebuild_stops(session: "LoadSession", years: tuple[int, int] | None = None) -> None:
    """Rebuild ``stops`` for the stops in ``affected_stops`` (any year), or for every stop of the stop
    years ``years`` (first, last)."""
    scope = AFFECTED_SCOPE if years is None else ""
    text = render(load_sql("marts/stops", session.kind), {"scope": scope}, {"scope": (AFFECTED_SCOPE, "")})
    params = {"year_from": 0, "year_to": 9999} if years is None else {"year_from": years[0], "year_to": years[1]}
    session.script("marts/stop_changes")  # where stops.sql notes what it changed, for the cubes
    run_script(session.execute, text, params, "marts/stops")


def first_load_passes(kind: str, years: list[int]) -> list[tuple[int, int]]:
    """The stop-year ranges a first load builds ``stops`` in, one pass each (:func:`rebuild_stops`).

    DuckDB and Redshift: one year per pass, so no aggregate holds every stop at once (13M stops in
    one DuckDB aggregate spill). PostgreSQL: every year in one pass. Its charges have no index yet
    (they are built after the load) and are rows, not columns, so each pass reads the whole table:
    15 yearly passes read a 1M-charge table 15 times, and each pass's statements also scan the
    stops built so far (~50 s of a 1M-row load at load 20). Its hash aggregate spills to disk past
    ``work_mem`` instead of failing, so one pass stays bounded in memory.
    """
    if not years:
        return []
    if kind == "postgresql":
        return [(min(years), max(years))]
    return [(y, y) for y in sorted(years)]


# A table's statistics are stale once its live rows differ by more than this share from the rows the
# last analyze counted (warehouse/stale_statistics.postgresql.sql); a merge of a larger batch analyzes
# before it commits (pipeline/load.py), so the next run does not.
STALE_SHARE = 0.1


def first_load_copies(kind: str) -> bool:
    """Whether a first load (an empty warehouse) copies its batch straight into the charges table.

    PostgreSQL: yes. Staging first wrote the batch twice (COPY into a temp table larger than
    ``temp_buffers``, so spilled to disk, then ``insert ... select``), and the received and
    duplicate-key checks joined the batch's 1M keys to the charges, all before the charges had an
    index (BENCHMARKS.md, "h22-pgload"). The table is empty and the load's transaction holds it, so
    nothing else can be in it or see it until the commit. DuckDB stages a view of the curated files
    (no copy) and Redshift COPYs from S3 into staging; they keep the staged path. Every first load,
    copied or staged, checks its counts in one pass over the charges (warehouse/first_load_counts.sql).
    """
    return kind == "postgresql"


def refresh_statistics(session: "LoadSession", tables: tuple[str, ...], force: bool = False) -> list[str]:
    """Analyze ``tables`` (every one when ``force``, else those whose planner statistics are missing or
    stale: warehouse/stale_statistics.sql) inside the load's transaction; return the names analyzed.

    The planner of the load's own next statements needs them: a first load's stops are built from
    charges it has just inserted, and a daily merge joins 2,000 rows to every charge. DuckDB and
    Redshift keep their own statistics, so nothing is ever stale there.
    """
    names = [check_identifier(t) for t in tables]
    if session.kind != "postgresql":
        return []
    if not force:
        placeholders, values = expand_list("t", names)
        sql = render(load_sql("warehouse/stale_statistics", session.kind), {"tables": placeholders},
                     {"tables": _TABLE_PLACEHOLDERS.match})
        stale = {str(t) for t in session.query(sql, {**values, "share": STALE_SHARE})["table_name"]}
        names = [n for n in names if n in stale]  # the names analyzed are the checked ones, not the server's text
    for name in names:
        session.execute(f"analyze {name}")
    return names


_TABLE_PLACEHOLDERS = re.compile(r"^:t_\d+(, :t_\d+)*$")


REPLACED_ROWS_CHUNK = 5_000  # keys per lookup query (bound parameters; PostgreSQL allows 65,535)
_PLACEHOLDERS = re.compile(r"^:k_\d+(, :k_\d+)*$")


def replaced_rows(warehouse: "Warehouse", row_ids: list[str], content_keys: list[str],
                  held: dict[str, Any] | None = None) -> list[tuple[str, date]]:
    """(row_id, stop date) of the charges a batch replaces: those with one of ``row_ids``, and file/sample
    rows with one of ``content_keys`` (its Socrata rows'). Read-only; empty when nothing is loaded.
    ``held``, when given, receives each replaced row id's :updated_at (for :func:`older_restamps`)."""
    if not warehouse.exists():
        return []
    found: set[tuple[str, date]] = set()
    for column, keys in (("row_id", row_ids), ("content_key", content_keys)):
        for start in range(0, len(keys), REPLACED_ROWS_CHUNK):
            placeholders, values = expand_list("k", keys[start:start + REPLACED_ROWS_CHUNK])
            sql = render(load_sql("warehouse/replaced_rows", warehouse.kind),
                         {"key_column": column, "keys": placeholders},
                         {"key_column": ("row_id", "content_key"), "keys": _PLACEHOLDERS.match})
            rows = warehouse.query(sql, {**values, "any_source": column == "row_id"})
            found.update(zip(rows["row_id"], pd.to_datetime(rows["date_of_stop"]).dt.date))
            if held is not None and column == "row_id":
                held.update(zip(rows["row_id"], rows["source_updated_at"]))
    return sorted(found)


def older_restamps(held: Mapping[str, Any], stamps: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(row_id, held, now) for each row of ``stamps`` (row id -> its :updated_at now) whose
    :updated_at is older than the one ``held`` (what the warehouse holds): re-stamped backwards."""
    older = []
    for row_id, was in held.items():
        now = stamps.get(row_id)
        if now is not None and was is not None and not pd.isna(was) and pd.Timestamp(now) < pd.Timestamp(was):
            older.append((str(row_id), pd.Timestamp(was).to_pydatetime(), pd.Timestamp(now).to_pydatetime()))
    return sorted(older)


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message never contains credentials."""


class LockRefused(WarehouseError):
    """Another run held the load lock for the whole wait (``PIPELINE_LOCK_WAIT_SECONDS``)."""


class LockLost(WarehouseError):
    """This run no longer holds the load lock (its lock session ended, or another run took over):
    it must not publish. Raised at the latest by the publishing transaction's fencing check
    (``DBAPIWarehouse._check_fence``; DuckDB: the lock file is still the one it locked)."""


IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str, what: str = "table") -> str:
    """Table names are put into SQL text, so only plain lowercase identifiers are accepted."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise WarehouseError(f"not an allowed {what} name: {name!r}")
    return name


class LoadSession(Protocol):
    kind: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...
    def script(self, name: str, params: Mapping[str, Any] | None = None) -> None: ...
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame: ...
    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any: ...
    def stage(self, table: str, data: pa.Table, like: str | None = None) -> int: ...
    def replace_table(self, table: str, data: pd.DataFrame) -> int: ...


class Warehouse(Protocol):
    kind: str

    def run_lock(self, owner: str | None = None) -> AbstractContextManager[None]:
        """Hold the load lock for a whole run (waiting ``PIPELINE_LOCK_WAIT_SECONDS``, then
        :class:`LockRefused`); ``owner`` (a run id) is who holds it, as :meth:`lock_holder` reports."""
        ...

    def check_lock(self) -> None:
        """Raise :class:`LockLost` if this run's load lock is gone (between stages of a run)."""
        ...

    def lock_holder(self) -> tuple[bool | None, str | None]:
        """(held, owner) of the load lock, without taking it: (False, None) when it is provably
        free, held=None when this warehouse cannot tell (Redshift)."""
        ...

    def session(self) -> AbstractContextManager[LoadSession]:
        """A load transaction: commit (publish) on success, roll back on any exception."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Read-only query for the dashboard and ``status``."""
        ...

    def exists(self) -> bool:
        """True once a load has created the schema."""
        ...

    def version(self) -> str:
        """Changes whenever a load commits (cache key for the dashboard)."""
        ...


def sql_type(typ: pa.DataType, text: str = "text") -> str:
    """The column type PostgreSQL and Redshift share for an Arrow type (``text`` for anything else)."""
    if pa.types.is_boolean(typ):
        return "boolean"
    if pa.types.is_int8(typ) or pa.types.is_int16(typ):
        return "smallint"
    if pa.types.is_int32(typ):
        return "integer"
    if pa.types.is_integer(typ):
        return "bigint"
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "double precision"
    if pa.types.is_date(typ):
        return "date"
    if pa.types.is_time(typ):
        return "time"
    if pa.types.is_timestamp(typ):
        return "timestamptz" if typ.tz else "timestamp"
    return text


def server_exists(query: Callable[[str], pd.DataFrame]) -> bool:
    """``exists()`` for the server warehouses (PostgreSQL, Redshift): the charges table is there."""
    return bool(query(load_sql("warehouse/exists")).iloc[0, 0])


def server_version(query: Callable[[str], pd.DataFrame]) -> str:
    """``version()`` for the server warehouses: changes whenever a load or reference reload commits."""
    if not server_exists(query):
        return "missing"
    row = query(load_sql("warehouse/version")).iloc[0]
    return f"runs={row['runs']}|ok={row['last_success']}|ref={row['zips']}:{row['residents']}"
