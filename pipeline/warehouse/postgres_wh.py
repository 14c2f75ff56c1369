"""PostgreSQL warehouse (psycopg 3).

``PIPELINE_WAREHOUSE=postgresql://user[:password]@host[:port]/db[?options]``. A schema other than
the user's default is chosen with ``?schema=name`` (created if missing) or libpq's own
``?options=-csearch_path%3Dname``.

A load session is one transaction on its own connection: the batch is bulk-loaded with
``COPY ... FROM STDIN (FORMAT csv)`` into a temp staging table (Arrow batches are rendered to CSV by
pyarrow in slices, never row by row), merged by the shared SQL, and published by the commit; any
exception rolls everything back, so readers see the previous load until the commit. A session-level
advisory lock keeps two loads of the same schema from interleaving.

Reads for the dashboard go through a small pool of long-lived, read-only, autocommit connections
(:mod:`pipeline.warehouse.pool`; a broken one is replaced), so concurrent sessions don't queue on one. Results are converted to pandas through DuckDB's own conversion, so a query returns the same
dtypes on PostgreSQL as on the DuckDB warehouse (numbers as numbers, dates as ``datetime64[us]``,
integer columns with NULLs as nullable ``Int32``/``Int64``).

The helpers at the bottom (Arrow <-> PostgreSQL type mapping, DataFrame building, error scrubbing)
are shared with :mod:`pipeline.warehouse.redshift_wh`: Redshift speaks the PostgreSQL type OIDs.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import io
import logging
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..config import redact_url
from ..sqlfiles import bind, load_sql, split_statements
from .base import WarehouseError, sql_type, server_exists, server_version
from .pool import ConnectionPool

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
COPY_SLICE_ROWS = 50_000  # rows rendered to CSV per COPY write (bounds memory on 2M-row backfills)
LOCK_NAMESPACE = "moco_traffic_stops.load"
APPLICATION_NAME = "moco-pipeline"
CONNECTION_DEFAULTS = {"application_name": APPLICATION_NAME, "keepalives": 1, "keepalives_idle": 30,
                       "keepalives_interval": 10, "keepalives_count": 3}
LOCK_SQL = "select pg_try_advisory_lock(hashtext(:ns), hashtext(coalesce(:schema, current_schema(), '')))"
READ_TIMEOUT_MS = 120_000  # a dashboard or status query is cancelled after two minutes
READ_POOL_SIZE = 4  # read connections per process: 50 sessions on 2 cores, bench/readers.py
STATS_COLUMNS = {"row_id", "stop_id", "content_key", "source", "load_id"}  # join/filter keys of the merges
BYTE_ORDER_COLLATIONS = {"c", "posix", "c.utf-8", "c.utf8", "ucs_basic"}

_LITERAL_OR_COMMENT = re.compile(r"('(?:[^']|'')*'|--[^\n]*)")


# --------------------------------------------------------------------------------------------------
# Shared helpers (also used by redshift_wh)
# --------------------------------------------------------------------------------------------------

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


def arrow_type_for_oid(oid: int | None) -> pa.DataType:
    return OID_ARROW.get(int(oid) if oid is not None else -1, pa.string())


def check_identifier(name: str, what: str = "table") -> str:
    """Table names are put into SQL text, so only plain lowercase identifiers are accepted."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise WarehouseError(f"not an allowed {what} name: {name!r}")
    return name


def bind_format(sql: str, params: Mapping[str, Any] | None) -> tuple[str, list[Any] | None]:
    """``:name`` -> ``%s`` for psycopg / redshift-connector; ``(sql, None)`` when nothing is bound.

    With no values the original text goes to the driver untouched (drivers only interpret ``%`` when
    parameters are passed). With values, ``%`` inside string literals and comments is doubled too:
    :func:`pipeline.sqlfiles.bind` leaves literals alone, which suits redshift-connector's
    literal-aware parser, but psycopg scans the whole text for placeholders.
    """
    text, values = bind(sql, params, "format")
    if not values:
        return sql, None
    parts = _LITERAL_OR_COMMENT.split(text)
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%")
    return "".join(parts), values


def bind_format_literal_aware(sql: str, params: Mapping[str, Any] | None) -> tuple[str, list[Any] | None]:
    """Like :func:`bind_format` but leaves literals alone (redshift-connector's own parser skips them)."""
    text, values = bind(sql, params, "format")
    if not values:
        return sql, None
    return text, values


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
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


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


def slices(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def frame_from_rows(description: Sequence[Any], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """A DataFrame with DuckDB's dtype semantics from DB-API rows and their cursor description."""
    names: list[str] = []
    arrays: list[pa.Array] = []
    for i, col in enumerate(description or []):
        name = col[0] if not hasattr(col, "name") else col.name
        oid = col[1] if not hasattr(col, "type_code") else col.type_code
        typ = arrow_type_for_oid(oid)
        values = [row[i] for row in rows]
        arrays.append(_to_arrow(values, typ))
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
# URL handling
# --------------------------------------------------------------------------------------------------


def parse_postgres_url(url: str) -> tuple[str, str | None, str | None]:
    """(libpq conninfo URL, schema to create or None, password or None) from PIPELINE_WAREHOUSE."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
        raise WarehouseError(f"not a PostgreSQL URL: {redact_url(url)}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    kept: list[tuple[str, str]] = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    if schema is not None:
        if not SCHEMA_NAME.match(schema):
            raise WarehouseError(f"not an allowed schema name: {schema!r}")
        options = [v for k, v in kept if k == "options"]
        kept = [(k, v) for k, v in kept if k != "options"]
        kept.append(("options", " ".join([*options, f"-csearch_path={schema}"]).strip()))
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept, quote_via=quote), ""))
    password = unquote(parts.password) if parts.password else None
    return conninfo, schema, password


# --------------------------------------------------------------------------------------------------
# Session and warehouse
# --------------------------------------------------------------------------------------------------


class PostgresSession:
    """One load transaction on one connection (see :class:`pipeline.warehouse.base.LoadSession`)."""

    kind = "postgresql"

    def __init__(self, conn: Any, secrets: Sequence[str | None] = ()) -> None:
        self.conn = conn
        self._secrets = list(secrets)

    # -- errors -----------------------------------------------------------------------------------
    def _fail(self, sql: str, exc: BaseException) -> WarehouseError:
        msg = scrub(f"{type(exc).__name__}: {exc}".strip(), self._secrets)
        err = WarehouseError(f"PostgreSQL statement failed ({first_line(sql)}): {msg}")
        err.sqlstate = getattr(exc, "sqlstate", None)  # type: ignore[attr-defined]
        return err

    def _run(self, sql: str, params: Mapping[str, Any] | None = None, fetch: bool = False) -> Any:
        import psycopg

        text, values = bind_format(sql, params)
        try:
            with self.conn.cursor() as cur:
                cur.execute(text, values)
                if fetch:
                    return cur.description, cur.fetchall()
                return None
        except psycopg.Error as exc:
            raise self._fail(sql, exc) from exc

    # -- LoadSession ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._run(sql, params)

    def script(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        for statement in split_statements(load_sql(name, self.kind)):
            used = {k: v for k, v in (params or {}).items() if f":{k}" in statement}
            self._run(statement, used)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        description, rows = self._run(sql, params, fetch=True)
        return frame_from_rows(description, rows)

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        _, rows = self._run(sql, params, fetch=True)
        return rows[0][0] if rows else None

    def columns(self, table: str) -> list[tuple[str, pa.DataType]]:
        """(name, Arrow type) of a table's columns, in table order."""
        description, _ = self._run(f"select * from {check_identifier(table)} where 1 = 0", fetch=True)
        return [(d.name, arrow_type_for_oid(d.type_code)) for d in description]

    def stage(self, table: str, data: Any, like: str | None = None) -> int:
        """Bulk-load ``data`` into a new temp table ``table`` (shaped like ``like``); return its row count."""
        check_identifier(table)
        self._run(f"drop table if exists pg_temp.{table}")
        if like:
            # CTAS (not LIKE) so NOT NULL constraints are not copied, as DuckDB's staging does.
            self._run(f"create temp table {table} as select * from {check_identifier(like)} where 1 = 0")
            columns = self.columns(table)
            batches = iter_batches(data)
        else:
            batches = iter_batches(data)
            first = next(batches, None)
            schema = first.schema if first is not None else pa.schema([])
            cols = ", ".join(f"{check_identifier(f.name, 'column')} {_pg_type(f.type)}" for f in schema)
            self._run(f"create temp table {table} ({cols})")
            columns = self.columns(table)
            batches = _chain([first] if first is not None else [], batches)
        self.copy_batches(table, columns, batches)
        # autovacuum never sees temp tables: give the planner the key columns' statistics (cheap)
        keys = [n for n, _ in columns if n in STATS_COLUMNS]
        if keys:
            self._run(f"analyze {table} ({', '.join(keys)})")
        return int(self.scalar(f"select count(*) from {table}"))

    def replace_table(self, table: str, data: pd.DataFrame) -> int:
        check_identifier(table)
        self._run(f"delete from {table}")
        self.copy_batches(table, self.columns(table), iter_batches(data))
        return len(data)

    def copy_batches(self, table: str, columns: Sequence[tuple[str, pa.DataType]], batches: Iterable[pa.RecordBatch]) -> int:
        """COPY Arrow batches into ``table`` as CSV, in slices of :data:`COPY_SLICE_ROWS` rows."""
        import psycopg

        col_list = ", ".join(check_identifier(n, "column") for n, _ in columns)
        statement = f"copy {check_identifier(table)} ({col_list}) from stdin (format csv)"
        options = pacsv.WriteOptions(include_header=False)
        rows = 0
        try:
            with self.conn.cursor() as cur, cur.copy(statement) as copy:
                for batch in batches:
                    for part in slices(conform_batch(batch, columns), COPY_SLICE_ROWS):
                        buf = io.BytesIO()
                        pacsv.write_csv(part, buf, options)
                        copy.write(buf.getbuffer())
                        rows += part.num_rows
        except psycopg.Error as exc:
            raise self._fail(statement, exc) from exc
        log.debug("copied %s row(s) into %s", f"{rows:,}", table)
        return rows


def _chain(first: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield from first
    yield from rest


def _pg_type(typ: pa.DataType) -> str:
    return sql_type(typ, "text")


class PostgresWarehouse:
    kind = "postgresql"

    def __init__(self, url: str, connect_timeout: int = 10, *, lock_wait_s: float = 60.0,
                 statement_timeout_s: float = 1800.0, read_pool_size: int = READ_POOL_SIZE) -> None:
        self.lock_wait_s = lock_wait_s
        self.statement_timeout_s = statement_timeout_s
        self._run_lock_held = False
        self.url = url
        self.redacted = redact_url(url)
        self.conninfo, self.schema, password = parse_postgres_url(url)
        self._secrets = [password]
        self.connect_timeout = connect_timeout
        self.readers = ConnectionPool(self._reader_connection, read_pool_size)
        self._collation_checked = False

    def __repr__(self) -> str:
        return f"PostgresWarehouse({self.redacted!r})"

    def _check_collation(self, session: "PostgresSession") -> None:
        """Warn once if text sorts differently here than on DuckDB and Redshift (byte order)."""
        if self._collation_checked:
            return
        self._collation_checked = True
        collation = session.scalar("select datcollate from pg_database where datname = current_database()")
        if str(collation).lower() not in BYTE_ORDER_COLLATIONS:
            log.warning(
                "database collation is %s: labels will sort differently than on DuckDB/Redshift; "
                "create the database with LC_COLLATE 'C.UTF-8' (see docs/DEPLOY.md)", collation,
            )

    # -- connections ------------------------------------------------------------------------------
    def _connect(self, *, autocommit: bool = False) -> Any:
        import psycopg
        from psycopg.types.numeric import FloatLoader

        try:
            options = {} if "connect_timeout" in self.conninfo else {"connect_timeout": self.connect_timeout}
            # Keepalives: a server whose client machine vanished (no FIN ever comes) drops the
            # connection, its transaction and its lock within ~1 minute instead of hours.
            for key, value in CONNECTION_DEFAULTS.items():
                if key not in self.conninfo:
                    options[key] = value
            conn = psycopg.connect(self.conninfo, autocommit=autocommit, **options)
        except psycopg.Error as exc:
            # from None: the driver's exception may echo connection details; the message is scrubbed
            raise WarehouseError(
                f"cannot connect to PostgreSQL at {self.redacted}: {scrub(str(exc), self._secrets)}"
            ) from None
        conn.adapters.register_loader("numeric", FloatLoader)
        return conn

    def close(self) -> None:
        self.readers.close()

    # -- Warehouse --------------------------------------------------------------------------------
    def _try_lock(self, session: "PostgresSession", wait_s: float) -> None:
        """Take the load lock (a session-level advisory lock keyed on the schema), waiting up to ``wait_s``.

        The server drops it with the connection. A killed client's connection is dropped at once
        when idle, within ``client_connection_check_interval`` when busy (see :meth:`session`), and
        by keepalives when its machine is gone; so a dead load's lock is gone within seconds and
        the wait here outlasts it.
        """
        deadline = time.monotonic() + wait_s
        params = {"ns": LOCK_NAMESPACE, "schema": self.schema}
        while not session.scalar(LOCK_SQL, params):
            if time.monotonic() >= deadline:
                holders = session.query(
                    "select pid, state, query_start, left(query, 60) as query from pg_stat_activity "
                    "where application_name = :app and pid <> pg_backend_pid()", {"app": APPLICATION_NAME})
                who = "; ".join(f"pid {r.pid} ({r.state}, since {r.query_start}: {r.query})" for r in holders.itertuples())
                raise WarehouseError(f"another load holds the warehouse lock (waited {wait_s:g} s){': ' + who if who else ''}; "
                                     "try again when it finishes")
            time.sleep(0.5)

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """Hold the load lock for a whole run, on a connection of its own (idle while the run works)."""
        conn = self._connect(autocommit=True)
        try:
            self._try_lock(PostgresSession(conn, self._secrets), self.lock_wait_s)
            self._run_lock_held = True
            yield
        finally:
            self._run_lock_held = False
            conn.close()

    @contextmanager
    def session(self, lock: bool = True) -> Iterator[PostgresSession]:
        """A load transaction. ``lock=False`` (the run log's own small writes) skips the load lock."""
        conn = self._connect()
        session = PostgresSession(conn, self._secrets)
        try:
            # A statement of a killed client is cancelled within 2 s (PostgreSQL 14+) instead of
            # running to its end with the lock held; no statement may run longer than the timeout.
            if conn.info.server_version >= 140000:
                session.execute("set client_connection_check_interval = 2000")
            session.execute(f"set statement_timeout = {int(self.statement_timeout_s * 1000)}")
            if lock and not self._run_lock_held:
                self._try_lock(session, self.lock_wait_s)
            self._check_collation(session)
            # Create the schema only when missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE
            # privilege on the database even when the schema exists (a least-privilege loader lacks it).
            if self.schema and not session.scalar(
                "select count(*) from pg_namespace where nspname = :schema", {"schema": self.schema}
            ):
                session.execute(f"create schema if not exists {self.schema}")
            session.script("warehouse/schema")
            conn.commit()  # the schema exists even if this load fails (the failure is logged into it)
            yield session
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
            conn.close()  # also releases the advisory lock and drops the temp tables

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        import psycopg

        text, values = bind_format(sql, params)
        for attempt in (1, 2):
            with self.readers.connection() as conn:
                try:
                    with conn.cursor() as cur:
                        cur.execute(text, values)
                        description, rows = cur.description, (cur.fetchall() if cur.description else [])
                    break
                except psycopg.OperationalError as exc:
                    conn.close()  # not returned to the pool
                    if attempt == 2:
                        raise WarehouseError(f"PostgreSQL query failed ({first_line(sql)}): "
                                             f"{scrub(str(exc), self._secrets)}") from None
                except psycopg.Error as exc:
                    raise WarehouseError(f"PostgreSQL query failed ({first_line(sql)}): "
                                         f"{scrub(f'{type(exc).__name__}: {exc}', self._secrets)}") from exc
        return frame_from_rows(description, rows)

    def _reader_connection(self) -> Any:
        conn = self._connect(autocommit=True)
        conn.execute("set default_transaction_read_only = on")
        conn.execute(f"set statement_timeout = {int(READ_TIMEOUT_MS)}")
        return conn

    def exists(self) -> bool:
        return server_exists(self.query)

    def version(self) -> str:
        """Changes whenever a load or a reference reload commits (the dashboard's cache key)."""
        return server_version(self.query)
