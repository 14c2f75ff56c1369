"""What the DB-API warehouses share: PostgreSQL (psycopg 3) and Redshift (redshift-connector).

:class:`DBAPISession` is one load transaction on one connection: execute / script / query / scalar
with values always bound (each driver's paramstyle through the :meth:`DBAPISession.bind` hook),
driver errors turned into redacted :class:`WarehouseError` naming the statement (text only, never
values). :class:`DBAPIWarehouse` opens those sessions (commit once at the end, roll back on any
error), serves reads on a pool of long-lived autocommit connections (a read is retried once on a new one if its connection broke),
and answers ``exists`` / ``version``. An adapter supplies only what differs: how to connect, what a
new session sets up, how a batch is staged (COPY from STDIN; Parquet on S3 + COPY).

Also here, the helpers both adapters use: PostgreSQL type OIDs (Redshift speaks the same) <-> Arrow,
Arrow batches conformed to a table's columns, DB-API rows -> DataFrames with DuckDB's dtypes (so a
query returns the same dtypes on every warehouse), identifier allow-lists and error scrubbing.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import logging
import re
import threading
import uuid
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import redact_url
from ..sqlfiles import bind, load_sql, run_script
from .base import LockLost, WarehouseError, check_identifier, server_exists, server_version
from .pool import ConnectionPool

log = logging.getLogger(__name__)

READ_POOL_SIZE = 4  # read connections per process: 50 sessions on 2 cores, bench/readers.py

SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
MAX_TIMEOUT_MS = 2**31 - 1  # statement_timeout is an int4 of milliseconds on both servers

_LITERAL_OR_COMMENT = re.compile(r"('(?:[^']|'')*'|--[^\n]*)")

# PostgreSQL / Redshift type OIDs -> Arrow types (what a column becomes in a DataFrame or a file).
OID_ARROW: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    1700: pa.float64(),  # numeric: DuckDB's df() turns DECIMAL/HUGEINT sums into float64 too
    1082: pa.date32(),
    1083: pa.time64("us"),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    # text-like (text, varchar, bpchar, name, json, jsonb, uuid, char) and anything unknown: string
}
TEMPORAL_OIDS = {1083, 1114, 1184}


# --------------------------------------------------------------------------------------------------
# SQL text: identifiers, binding, timeouts, messages
# --------------------------------------------------------------------------------------------------


def check_schema(name: str) -> str:
    """A schema name from the warehouse URL (it goes into ``search_path`` and ``create schema``)."""
    if not isinstance(name, str) or not SCHEMA_NAME.match(name):
        raise WarehouseError(f"not an allowed schema name: {name!r}")
    return name


def bind_format(sql: str, params: Mapping[str, Any] | None) -> tuple[str, list[Any] | None]:
    """``:name`` -> ``%s`` for psycopg; ``(sql, None)`` when nothing is bound.

    With no values the original text goes to the driver untouched (drivers only interpret ``%`` when
    parameters are passed). With values, ``%`` inside string literals and comments is doubled too:
    :func:`pipeline.sqlfiles.bind` leaves literals alone, which suits redshift-connector's
    literal-aware parser (:func:`bind_format_literal_aware`), but psycopg scans the whole text.
    """
    text, values = bind_format_literal_aware(sql, params)
    if values is None:
        return text, None
    parts = _LITERAL_OR_COMMENT.split(text)
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%")
    return "".join(parts), values


def bind_format_literal_aware(sql: str, params: Mapping[str, Any] | None) -> tuple[str, list[Any] | None]:
    """``:name`` -> ``%s`` leaving literals alone (redshift-connector's own parser skips them)."""
    text, values = bind(sql, params, "format")
    if not values:
        return sql, None
    return text, values


def statement_timeout_sql(seconds: float) -> str:
    """``set statement_timeout to <ms>``, the one place the timeout is written.

    SET takes no bind parameter (PostgreSQL's extended protocol rejects ``$1`` in a utility
    statement), so the value is a validated whole number of milliseconds, never caller text.
    """
    try:
        ms = int(float(seconds) * 1000)
    except (TypeError, ValueError, OverflowError):
        ms = 0
    if not 0 < ms <= MAX_TIMEOUT_MS:
        raise WarehouseError(f"statement timeout must be a number of seconds in (0, {MAX_TIMEOUT_MS // 1000}]: "
                             f"{str(seconds)[:40]!r}")
    return f"set statement_timeout to {ms:d}"


def new_fence_token(owner: str | None) -> str:
    """A run's fencing token: who it is, and a random part (a run id alone could be reused by hand)."""
    return f"{owner or 'lock'} {uuid.uuid4().hex[:8]}"


def utc_now() -> _dt.datetime:
    """Now in UTC, naive (the warehouses' ``timestamp`` columns)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def first_line(sql: str, width: int = 120) -> str:
    """The first meaningful line of a statement, for error messages (SQL text only, never values)."""
    for line in sql.splitlines():
        line = line.strip()
        if line and not line.startswith("--"):
            return line[:width]
    return sql.strip()[:width]


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Redact URL passwords and any known secret value from a message."""
    text = redact_url(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
            quoted = quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, "***")
    # user:password@host fragments that are not full URLs (e.g. inside a conninfo echo)
    # (to the last '@': a password may hold an unencoded one).
    return re.sub(r"(://[^:/@\s]+:)[^\s'\"]+@", r"\1***@", text)


def close_quietly(resource: Any) -> None:
    """Close a cursor or connection whose failure to close must not hide the error being handled."""
    try:
        resource.close()
    except Exception:  # noqa: BLE001
        log.debug("close failed", exc_info=True)


# --------------------------------------------------------------------------------------------------
# Arrow helpers
# --------------------------------------------------------------------------------------------------


def arrow_type_for_oid(oid: int | None) -> pa.DataType:
    return OID_ARROW.get(int(oid) if oid is not None else -1, pa.string())


def description_columns(description: Sequence[Any] | None) -> list[tuple[str, int | None]]:
    """(name, type OID) per column of a DB-API cursor description (psycopg's objects or plain tuples)."""
    return [(col.name, col.type_code) if hasattr(col, "type_code") else (str(col[0]), col[1])
            for col in description or []]


def conform_batch(batch: pa.RecordBatch, columns: Sequence[tuple[str, pa.DataType]]) -> pa.RecordBatch:
    """The batch with exactly ``columns`` (name, type) in order: cast, and missing columns as NULLs.

    Matching is by name, as DuckDB's ``insert ... by name``; a column the target lacks is an error.
    """
    names = batch.schema.names
    wanted = {name for name, _ in columns}
    extra = [n for n in names if n not in wanted]
    if extra:
        raise WarehouseError(f"column(s) not in the target table: {', '.join(extra)}")
    arrays = []
    for name, typ in columns:
        if name in names:
            arr = batch.column(names.index(name))
            if pa.types.is_dictionary(arr.type):
                arr = arr.dictionary_decode()
            if not arr.type.equals(typ):
                arr = _cast(arr, typ, name)
            arrays.append(arr)
        else:
            arrays.append(pa.nulls(batch.num_rows, typ))
    return pa.RecordBatch.from_arrays(arrays, names=[n for n, _ in columns])


def _cast(arr: pa.Array, typ: pa.DataType, name: str) -> pa.Array:
    if pa.types.is_string(typ) and (pa.types.is_time(arr.type) or pa.types.is_timestamp(arr.type)):
        return arr.cast(pa.string())
    if pa.types.is_integer(typ) and pa.types.is_floating(arr.type):
        # DuckDB rounds a double to the nearest integer on insert; do the same.
        arr = pc.round(arr)
    try:
        return arr.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise WarehouseError(f"column {name}: cannot convert {arr.type} to {typ}: {exc}") from None


def iter_batches(data: Any) -> Iterator[pa.RecordBatch]:
    """Record batches from a RecordBatchReader, a Table, a RecordBatch or a pandas DataFrame."""
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, pa.RecordBatch):
        yield data
        return
    if isinstance(data, pa.Table):
        yield from data.to_batches()
        return
    if hasattr(data, "read_next_batch"):
        for batch in data:
            yield batch
        return
    raise WarehouseError(f"cannot stage a {type(data).__name__}; pass a pyarrow Table or RecordBatchReader")


def peek_schema(batches: Iterator[pa.RecordBatch]) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema of the first batch (empty when there is none) and every batch, the first included."""
    first = next(batches, None)
    if first is None:
        return pa.schema([]), iter(())
    return first.schema, _prepend(first, batches)


def _prepend(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def frame_from_rows(description: Sequence[Any] | None, rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A DataFrame with DuckDB's dtype semantics from DB-API rows and their cursor description."""
    names: list[str] = []
    arrays: list[pa.Array] = []
    for i, (name, oid) in enumerate(description_columns(description)):
        arrays.append(_to_arrow([row[i] for row in rows], arrow_type_for_oid(oid)))
        names.append(_unique(name, names))
    table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
    con = _converter().cursor()
    try:
        return con.from_arrow(table).df()
    finally:
        con.close()


_CONVERTER: list[duckdb.DuckDBPyConnection] = []
_CONVERTER_LOCK = threading.Lock()


def _converter() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for the conversion: a cursor costs ~2 ms, a new instance
    ~35-50 ms, which every dashboard query on PostgreSQL paid (bench/readers.py)."""
    with _CONVERTER_LOCK:
        if not _CONVERTER:
            _CONVERTER.append(duckdb.connect())
        return _CONVERTER[0]


def _unique(name: str, taken: list[str]) -> str:
    if name not in taken:
        return name
    n = 1
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def _to_arrow(values: list[Any], typ: pa.DataType) -> pa.Array:
    if pa.types.is_floating(typ):
        values = [float(v) if isinstance(v, decimal.Decimal) else v for v in values]
    elif pa.types.is_string(typ):
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
    elif pa.types.is_timestamp(typ) and typ.tz is not None:
        values = [v.astimezone(_dt.timezone.utc) if isinstance(v, _dt.datetime) and v.tzinfo else v for v in values]
    try:
        return pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # an unexpected Python type for the OID: keep the data, as text
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


# --------------------------------------------------------------------------------------------------
# Session and warehouse
# --------------------------------------------------------------------------------------------------


def export_select(table: str, columns: Sequence[str] | None = None) -> str:
    """``select <columns> from <table>`` of checked identifiers (every column when ``columns`` is None)."""
    cols = ", ".join(check_identifier(c, "column") for c in columns) if columns else "*"
    return f"select {cols} from {check_identifier(table)}"


def _fetch(cursor: Any, text: str, values: list[Any] | None, fetch: bool) -> Any:
    cursor.execute(text, values)
    if fetch:
        return cursor.description, (cursor.fetchall() if cursor.description else [])
    return None


class DBAPISession:
    """One load transaction on one DB-API connection (see :class:`pipeline.warehouse.base.LoadSession`).

    Subclasses set ``kind`` and ``label`` and may override :meth:`bind` (the driver's paramstyle)
    and :meth:`driver_errors` (the exceptions turned into :class:`WarehouseError`); the warehouse's
    reads use the same two.
    """

    kind = "dbapi"
    label = "DB-API"

    def __init__(self, conn: Any, secrets: Sequence[str | None] = ()) -> None:
        self.conn = conn
        self.secrets = list(secrets)

    # -- hooks ------------------------------------------------------------------------------------
    @staticmethod
    def bind(sql: str, params: Mapping[str, Any] | None) -> tuple[str, list[Any] | None]:
        """``:name`` -> the driver's placeholders, values in order (``None`` when nothing is bound)."""
        return bind_format_literal_aware(sql, params)

    @staticmethod
    def driver_errors() -> tuple[type[BaseException], ...]:
        return (Exception,)

    # -- statements -------------------------------------------------------------------------------
    def _fail(self, sql: str, exc: BaseException) -> WarehouseError:
        msg = scrub(f"{type(exc).__name__}: {exc}".strip(), self.secrets)
        err = WarehouseError(f"{self.label} statement failed ({first_line(sql)}): {msg}")
        err.sqlstate = getattr(exc, "sqlstate", None)  # type: ignore[attr-defined]
        return err

    def _run(self, sql: str, params: Mapping[str, Any] | None = None, fetch: bool = False) -> Any:
        text, values = self.bind(sql, params)
        cursor = self.conn.cursor()
        try:
            return _fetch(cursor, text, values, fetch)
        except WarehouseError:
            raise
        except self.driver_errors() as exc:
            raise self._fail(sql, exc) from exc
        finally:
            close_quietly(cursor)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, params)

    def script(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        run_script(self.execute, load_sql(name, self.kind), params, name)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        description, rows = self._run(sql, params, fetch=True)
        return frame_from_rows(description, rows)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        _, rows = self._run(sql, params, fetch=True)
        return rows[0][0] if rows else None

    def column_oids(self, table: str) -> list[tuple[str, int | None]]:
        """(name, type OID) of a table's columns, in table order."""
        description, _ = self._run(f"select * from {check_identifier(table)} where 1 = 0", fetch=True)
        return description_columns(description)

    def columns(self, table: str) -> list[tuple[str, pa.DataType]]:
        """(name, Arrow type) of a table's columns, in table order."""
        return [(name, arrow_type_for_oid(oid)) for name, oid in self.column_oids(table)]


class DBAPIWarehouse:
    """Sessions and reads over DB-API connections; an adapter sets ``session_class`` and supplies
    :meth:`_connect`, :meth:`_begin` (what a session sets up before the caller's work) and
    :meth:`_open_reader`."""

    kind = "dbapi"
    label = "DB-API"
    session_class: type[DBAPISession] = DBAPISession

    def __init__(self, url: str, secrets: Sequence[str | None], read_pool_size: int = READ_POOL_SIZE) -> None:
        self.url = url
        self.redacted = redact_url(url)
        self.secrets = list(secrets)
        self.readers = ConnectionPool(self._open_reader, read_pool_size, usable=self._reader_usable)
        self._fence: str | None = None  # this run's fencing token while it holds the run lock

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted!r})"

    # -- hooks ------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _new_session(self, conn: Any) -> DBAPISession:
        return self.session_class(conn, self.secrets)

    def _begin(self, session: DBAPISession, lock: bool) -> None:
        """Set up a new session (timeouts, schema, lock) before the caller's statements."""

    def _end(self, session: DBAPISession) -> None:
        """After the session's connection is closed, whatever the outcome."""

    def _open_reader(self) -> Any:
        raise NotImplementedError

    def _reader_usable(self, conn: Any) -> bool:
        return True

    def _is_connection_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (ConnectionError, OSError))

    # -- sessions ---------------------------------------------------------------------------------
    @contextmanager
    def session(self, lock: bool = True) -> Iterator[DBAPISession]:
        """A load transaction: committed once at the end, rolled back on any error."""
        conn = self._connect()
        session = self._new_session(conn)
        try:
            self._begin(session, lock)
            yield session
            if lock and self._fence is not None:
                self._check_fence(session)  # in this transaction, just before its commit
            try:
                conn.commit()
            except Exception as exc:  # noqa: BLE001
                raise session._fail("commit", exc) from exc
        except BaseException:
            try:
                conn.rollback()
            except Exception:  # noqa: BLE001 - the original error is what matters
                log.debug("rollback failed", exc_info=True)
            raise
        finally:
            close_quietly(conn)  # a server also releases the session's locks and temp tables
            self._end(session)

    # -- fencing ----------------------------------------------------------------------------------
    def _take_fence(self, owner: str | None) -> None:
        """Write this run's fencing token (own transaction), having just taken the run lock.

        A run that lost its lock and was overtaken finds another token at its commit and rolls back.
        Writing it waits for a commit that holds the fence row (:meth:`_check_fence`), so a run that
        takes the lock while the previous holder is committing starts after that commit.
        """
        token = new_fence_token(owner)
        with self.session() as s:
            s.script("warehouse/fence_take", {"token": token, "now": utc_now()})
        self._fence = token

    def _check_fence(self, session: DBAPISession) -> None:
        """Lock the fence row and check it still holds this run's token, else roll back (LockLost)."""
        session.execute(load_sql("warehouse/fence_touch"), {"token": self._fence, "now": utc_now()})
        owner = session.scalar(load_sql("warehouse/fence_owner"))
        if owner != self._fence:
            raise LockLost(f"this run lost the load lock before its commit: the fence names {owner!r}, not this "
                           f"run ({self._fence!r}); rolled back, nothing published by this run (the run that "
                           "took over keeps its data)")

    def check_lock(self) -> None:
        """Between stages of a run: raise LockLost if another run has taken the fence."""
        if self._fence is None:
            return
        owner = self.query(load_sql("warehouse/fence_owner"))
        now = str(owner.iloc[0, 0]) if len(owner) else None
        if now != self._fence:
            raise LockLost(f"this run lost the load lock: the fence names {now!r}, not this run ({self._fence!r}); "
                           "stopped before publishing anything")

    # -- reads ------------------------------------------------------------------------------------
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """A read on a pooled long-lived autocommit connection (:mod:`.pool`: concurrent dashboard
        sessions don't queue on one); retried once on a new connection if the connection broke."""
        text, values = self.session_class.bind(sql, params)
        for attempt in (1, 2):
            try:
                with self.readers.connection() as conn:
                    cursor = conn.cursor()
                    try:
                        description, rows = _fetch(cursor, text, values, fetch=True)
                    finally:
                        close_quietly(cursor)
                break
            except self.session_class.driver_errors() as exc:  # the pool has dropped that connection
                if attempt == 2 or not self._is_connection_error(exc):
                    raise WarehouseError(f"{self.label} query failed ({first_line(sql)}): "
                                         f"{scrub(f'{type(exc).__name__}: {exc}', self.secrets)}") from None
        return frame_from_rows(description, rows)

    # -- one consistent read of several tables (the dashboard's replica) ----------------------------
    @contextmanager
    def snapshot(self) -> Iterator["Snapshot"]:
        """Reads that all see one committed state: one read-only transaction on a connection of its
        own (PostgreSQL: repeatable read; Redshift: its serializable snapshot), rolled back at the end.
        ``dashboard/replica.py`` copies the marts through it, so the copy and the version it names
        come from the same commit, never from the middle of a load."""
        conn = self._open_reader()
        snap = Snapshot(self, conn)
        try:
            snap.execute(self.SNAPSHOT_BEGIN)
            yield snap
        finally:
            try:
                snap.execute("rollback")
            except Exception:  # noqa: BLE001 - the connection is closed next anyway
                log.debug("snapshot rollback failed", exc_info=True)
            close_quietly(conn)

    SNAPSHOT_BEGIN = "begin"

    EXPORT_CHUNK_ROWS = 100_000  # rows fetched into Python at once by the generic export

    def _export(self, conn: Any, table: str, into: duckdb.DuckDBPyConnection, target: str,
                columns: Sequence[str] | None = None) -> int:
        """Copy ``table`` (or only ``columns`` of it) into the DuckDB connection ``into`` as ``target``;
        the number of rows. Generic (Redshift): fetched in chunks of EXPORT_CHUNK_ROWS, so a large
        table (the stops) never sits whole in Python; PostgreSQL streams a COPY instead."""
        cursor = conn.cursor()
        name = check_identifier(target)
        total = 0
        try:
            cursor.execute(export_select(table, columns))
            fields = description_columns(cursor.description)
            while True:
                rows = cursor.fetchmany(self.EXPORT_CHUNK_ROWS)
                if total and not rows:
                    break
                arrays = [_to_arrow([row[i] for row in rows], arrow_type_for_oid(oid)) for i, (_, oid) in enumerate(fields)]
                data = pa.Table.from_arrays(arrays, names=[n for n, _ in fields])
                into.register("export_rows", data)
                try:  # the first chunk creates the table (with its columns even when it is empty)
                    into.execute(f"insert into {name} select * from export_rows" if total
                                 else f"create table {name} as select * from export_rows")
                finally:
                    into.unregister("export_rows")
                total += data.num_rows
                if not rows:
                    break
        finally:
            close_quietly(cursor)
        return total

    def close(self) -> None:
        self.readers.close()

    def exists(self) -> bool:
        return server_exists(self.query)

    def version(self) -> str:
        """Changes whenever a load or a reference reload commits (the dashboard's cache key)."""
        return server_version(self.query)


class Snapshot:
    """One read-only transaction of :meth:`DBAPIWarehouse.snapshot`: queries and whole-table copies."""

    def __init__(self, warehouse: DBAPIWarehouse, conn: Any) -> None:
        self.warehouse = warehouse
        self.conn = conn

    def _wrap(self, sql: str, exc: BaseException) -> WarehouseError:
        return WarehouseError(f"{self.warehouse.label} snapshot read failed ({first_line(sql)}): "
                              f"{scrub(f'{type(exc).__name__}: {exc}', self.warehouse.secrets)}")

    def execute(self, sql: str) -> None:
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
        except self.warehouse.session_class.driver_errors() as exc:
            raise self._wrap(sql, exc) from None
        finally:
            close_quietly(cursor)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        text, values = self.warehouse.session_class.bind(sql, params)
        cursor = self.conn.cursor()
        try:
            description, rows = _fetch(cursor, text, values, fetch=True)
        except self.warehouse.session_class.driver_errors() as exc:
            raise self._wrap(sql, exc) from None
        finally:
            close_quietly(cursor)
        return frame_from_rows(description, rows)

    def export(self, table: str, into: duckdb.DuckDBPyConnection, target: str | None = None,
               columns: Sequence[str] | None = None) -> int:
        """``table`` (every column, or ``columns``) copied in one read into the DuckDB connection ``into``; its row count."""
        try:
            return self.warehouse._export(self.conn, table, into, target or table, columns)
        except WarehouseError:
            raise
        except self.warehouse.session_class.driver_errors() as exc:
            raise self._wrap(f"select * from {table}", exc) from None
