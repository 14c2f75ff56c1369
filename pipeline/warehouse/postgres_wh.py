"""PostgreSQL warehouse (psycopg 3).

``PIPELINE_WAREHOUSE=postgresql://user[:password]@host[:port]/db[?options]``. A schema other than
the user's default is chosen with ``?schema=name`` (created if missing) or libpq's own
``?options=-csearch_path%3Dname``.

A load session is one transaction on its own connection: the batch is bulk-loaded with
``COPY ... FROM STDIN (FORMAT csv)`` into a temp staging table (Arrow batches are rendered to CSV by
pyarrow in slices, never row by row), merged by the shared SQL, and published by the commit; any
exception rolls everything back, so readers see the previous load until the commit. A session-level
advisory lock keeps two loads of the same schema from interleaving, on a lock session that cannot
time out; and since a lock can still be lost (an administrator terminates that session), every
commit under it is fenced: it checks, in its own transaction, that the fencing token in
``pipeline_lock_fence`` is still this run's (:meth:`DBAPIWarehouse._check_fence`).

Reads for the dashboard go through a small pool of long-lived, read-only, autocommit connections
(:mod:`pipeline.warehouse.pool`, shared with Redshift through the DB-API base; a broken one is
replaced), so concurrent sessions don't queue on one. Results are converted to pandas through DuckDB's own conversion, so a query returns the same
dtypes on PostgreSQL as on the DuckDB warehouse (numbers as numbers, dates as ``datetime64[us]``,
integer columns with NULLs as nullable ``Int32``/``Int64``).

What it shares with Redshift (sessions, reads, type mapping, DataFrame building, error scrubbing)
is in :mod:`pipeline.warehouse.dbapi`; this module keeps the psycopg specifics.
"""

from __future__ import annotations

import io
import logging
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import pyarrow as pa

from ..config import redact_url
from ..sqlfiles import load_sql
from .base import LockLost, LockRefused, WarehouseError, sql_type
from .dbapi import (
    DBAPISession,
    READ_POOL_SIZE,
    DBAPIWarehouse,
    bind_format,
    check_identifier,
    check_schema,
    export_select,
    conform_batch,
    iter_batches,
    new_fence_token,
    peek_schema,
    scrub,
    statement_timeout_sql,
    utc_now,
)

log = logging.getLogger(__name__)

COPY_SLICE_ROWS = 50_000  # rows rendered to CSV per COPY write (bounds memory on 2M-row backfills)
LOCK_NAMESPACE = "moco_traffic_stops.load"
APPLICATION_NAME = "moco-pipeline"
CONNECTION_DEFAULTS = {"application_name": APPLICATION_NAME, "keepalives": 1, "keepalives_idle": 30,
                       "keepalives_interval": 10, "keepalives_count": 3}
LOCK_SQL = "select pg_try_advisory_lock(hashtext(:ns), hashtext(coalesce(:schema, current_schema(), '')))"
LOCK_OWNER_PREFIX = f"{APPLICATION_NAME} lock "  # + the run id: the lock session's application_name
# The lock session idles for the whole run: no server timeout may end it (that would free the lock
# under a live run), whatever the role or database sets (idle_session_timeout is a common hardening).
# Server-side keepalives drop it, and the lock, within ~1 minute when the client machine is gone.
LOCK_SESSION_SETTINGS = {"idle_in_transaction_session_timeout": 0, "statement_timeout": 0,
                         "tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
# Memory for a load session's own sorts and hashes (server defaults: 4 MB, 64 MB, 8 MB). A first
# load aggregates every charge into stops in one pass (base.first_load_passes) and then builds the
# charges' and stops' indexes; at the defaults the aggregate and every index sort spill to disk.
# Per load session only (one at a time, under the load lock); readers keep the server's defaults.
# temp_buffers is set before the session touches a temp table (PostgreSQL ignores it after).
LOAD_SESSION_MEMORY = {"work_mem": "256MB", "maintenance_work_mem": "512MB", "temp_buffers": "256MB"}
# Hash tables (aggregates, hash joins) may use this many times work_mem (server default 2). A first
# load's stops aggregate keeps ~1 KB per stop (two dozen aggregate states, a dozen text maxima): 540 MB
# for 1M charges, so at 2 x 256 MB it spilled into 5 batches and took 6.7 s, at 4 x 3.7 s (load 6,
# BENCHMARKS.md "h23-pgload"). Past 1 GB it still spills instead of failing. PostgreSQL 13+.
LOAD_SESSION_HASH_MEM = ("hash_mem_multiplier", "4", 130000)
READ_TIMEOUT_S = 120.0  # a dashboard or status query is cancelled after two minutes
STATS_COLUMNS = {"row_id", "stop_id", "content_key", "source", "load_id"}  # join/filter keys of the merges
# PostgreSQL type OIDs -> the DuckDB column type a copied table gets (dashboard/replica.py); text
# and anything else: varchar.
DUCKDB_TYPES = {16: "boolean", 20: "bigint", 21: "smallint", 23: "integer", 26: "bigint", 700: "real",
                701: "double", 1700: "double", 1082: "date", 1083: "time", 1114: "timestamp",
                1184: "timestamptz"}
BYTE_ORDER_COLLATIONS = {"c", "posix", "c.utf-8", "c.utf8", "ucs_basic"}


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
        check_schema(schema)
        options = [v for k, v in kept if k == "options"]
        kept = [(k, v) for k, v in kept if k != "options"]
        kept.append(("options", " ".join([*options, f"-csearch_path={schema}"]).strip()))
    # libpq splits user:password@host at the first '@'; urlsplit (and the operator) at the last. A
    # password with an unencoded '@' is re-encoded so both read the same host.
    netloc = parts.netloc
    if parts.password is not None and "@" in unquote(parts.password):
        userinfo, _, host = netloc.rpartition("@")
        user, _, pw = userinfo.partition(":")
        netloc = f"{user}:{quote(unquote(pw), safe='')}@{host}"
    conninfo = urlunsplit(("postgresql", netloc, parts.path, urlencode(kept, quote_via=quote), ""))
    password = unquote(parts.password) if parts.password else None
    return conninfo, schema, password


# --------------------------------------------------------------------------------------------------
# Session and warehouse
# --------------------------------------------------------------------------------------------------


class PostgresSession(DBAPISession):
    """One load transaction on one connection (see :class:`pipeline.warehouse.base.LoadSession`)."""

    kind = "postgresql"
    label = "PostgreSQL"
    bind = staticmethod(bind_format)  # psycopg scans literals for placeholders too

    @staticmethod
    def driver_errors() -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

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
            schema, batches = peek_schema(iter_batches(data))
            cols = ", ".join(f"{check_identifier(f.name, 'column')} {_pg_type(f.type)}" for f in schema)
            self._run(f"create temp table {table} ({cols})")
            columns = self.columns(table)
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

    def copy_into(self, table: str, data: Any, constants: Mapping[str, pa.Scalar]) -> int:
        """COPY ``data`` straight into the existing table ``table`` (a first load's charges: no
        staging copy, no insert ... select), ``constants`` giving one value to every row of their
        columns; return the server's count of rows copied (COPY's own tag, not the rows sent)."""
        columns = self.columns(check_identifier(table))
        return self.copy_batches(table, columns, (with_constants(b, constants) for b in iter_batches(data)),
                                 server_count=True)

    def copy_batches(self, table: str, columns: Sequence[tuple[str, pa.DataType]], batches: Iterable[pa.RecordBatch],
                     server_count: bool = False) -> int:
        """COPY Arrow batches into ``table`` as CSV, in slices of :data:`COPY_SLICE_ROWS` rows; the rows
        sent (``server_count``: the rows the server says it copied)."""
        col_list = ", ".join(check_identifier(n, "column") for n, _ in columns)
        statement = f"copy {check_identifier(table)} ({col_list}) from stdin (format csv)"
        import pyarrow.csv as pacsv  # the load path only: the dashboard's reader never copies in
        from psycopg.copy import QueuedLibpqWriter

        options = pacsv.WriteOptions(include_header=False)
        rows = 0
        try:
            with self.conn.cursor() as cur:
                # A thread sends each slice while this one renders the next (pyarrow and libpq both
                # release the GIL), so the server parses one while the client writes another;
                # psycopg bounds the queue (1,024 buffers of 128 kB).
                with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
                    for batch in batches:
                        for part in slices(conform_batch(batch, columns), COPY_SLICE_ROWS):
                            buf = io.BytesIO()
                            pacsv.write_csv(part, buf, options)
                            copy.write(buf.getbuffer())
                            rows += part.num_rows
                copied = cur.rowcount
        except self.driver_errors() as exc:
            raise self._fail(statement, exc) from exc
        log.debug("copied %s row(s) into %s (server: %s)", f"{rows:,}", table, copied)
        return int(copied) if server_count else rows


def with_constants(batch: pa.RecordBatch, constants: Mapping[str, pa.Scalar]) -> pa.RecordBatch:
    """``batch`` with one more column per constant, its value on every row (a column it has already
    is an error: the constant would hide the data)."""
    taken = [n for n in constants if n in batch.schema.names]
    if taken:
        raise WarehouseError(f"column(s) already in the batch: {', '.join(taken)}")
    arrays = [*batch.columns, *(pa.repeat(value, batch.num_rows) for value in constants.values())]
    return pa.RecordBatch.from_arrays(arrays, names=[*batch.schema.names, *constants])


def slices(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def _owner(application_name: Any) -> str | None:
    """The run id a lock session names in its application_name, else None."""
    name = str(application_name or "")
    return (name[len(LOCK_OWNER_PREFIX):] or None) if name.startswith(LOCK_OWNER_PREFIX) else None


def _pg_type(typ: pa.DataType) -> str:
    return sql_type(typ, "text")


class PostgresWarehouse(DBAPIWarehouse):
    kind = "postgresql"
    label = "PostgreSQL"
    session_class = PostgresSession

    def __init__(self, url: str, connect_timeout: int = 10, *, lock_wait_s: float = 60.0,
                 statement_timeout_s: float = 1800.0, read_pool_size: int = READ_POOL_SIZE) -> None:
        self.conninfo, self.schema, password = parse_postgres_url(url)
        super().__init__(url, [password], read_pool_size)
        self.lock_wait_s = lock_wait_s
        self.statement_timeout_s = statement_timeout_s
        self._run_lock_held = False
        self._lock_session: PostgresSession | None = None
        self.connect_timeout = connect_timeout
        self._collation_checked = False

    def _check_collation(self, session: PostgresSession) -> None:
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
                f"cannot connect to PostgreSQL at {self.redacted}: {scrub(str(exc), self.secrets)}"
            ) from None
        conn.adapters.register_loader("numeric", FloatLoader)
        return conn

    def _open_reader(self) -> Any:
        conn = self._connect(autocommit=True)
        conn.execute("set default_transaction_read_only = on")
        conn.execute(statement_timeout_sql(READ_TIMEOUT_S))
        return conn

    SNAPSHOT_BEGIN = "begin transaction isolation level repeatable read read only"

    def _export(self, conn: Any, table: str, into: Any, target: str, columns: Sequence[str] | None = None) -> int:
        """One ``COPY (select ... from table) TO STDOUT`` as CSV, read by DuckDB with the table's own
        column types: ~10x faster than fetching rows into Python (1M-row cubes, dashboard/replica.py)."""
        import tempfile

        select = export_select(table, columns)
        typed = []
        cursor = conn.cursor()
        try:
            cursor.execute(f"{select} where 1 = 0")
            for col in cursor.description or []:
                typed.append((check_identifier(col.name, "column"), DUCKDB_TYPES.get(col.type_code, "varchar")))
            with tempfile.NamedTemporaryFile(suffix=".csv") as out:
                with cursor.copy(f"copy ({select}) to stdout (format csv)") as copy:
                    for chunk in copy:
                        out.write(chunk)
                out.flush()
                # Values are never put into this text: names are checked identifiers, types come from
                # DUCKDB_TYPES; an unquoted empty field is NULL, a quoted one the empty string.
                spec = ", ".join(f"'{col}': '{typ}'" for col, typ in typed)
                into.execute(f"create table {check_identifier(target)} as select * from read_csv(?, columns = {{{spec}}}, "
                             "header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
                             "allow_quoted_nulls = false)", [out.name])
        finally:
            cursor.close()
        return int(into.execute(f"select count(*) from {check_identifier(target)}").fetchall()[0][0])

    def _reader_usable(self, conn: Any) -> bool:
        return not (conn.closed or conn.broken)

    def _is_connection_error(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError)

    # -- Warehouse --------------------------------------------------------------------------------
    def _no_timeouts(self, session: PostgresSession, settings: dict[str, int]) -> None:
        """Turn off the server timeouts that would end an idle session (values are fixed integers)."""
        if session.conn.info.server_version >= 140000:
            session.execute("set idle_session_timeout = 0")
        for name, value in settings.items():
            session.execute(f"set {name} = {int(value):d}")

    def _lock_params(self) -> dict[str, Any]:
        return {"ns": LOCK_NAMESPACE, "schema": self.schema}

    def _try_lock(self, session: PostgresSession, wait_s: float) -> None:
        """Take the load lock (a session-level advisory lock keyed on the schema), waiting up to ``wait_s``.

        The server drops it with the connection. A killed client's connection is dropped at once
        when idle, within ``client_connection_check_interval`` when busy (see :meth:`_begin`), and
        by keepalives when its machine is gone; so a dead load's lock is gone within seconds and
        the wait here outlasts it.
        """
        deadline = time.monotonic() + wait_s
        waiting = False
        while not session.scalar(LOCK_SQL, self._lock_params()):
            if time.monotonic() >= deadline:
                # Who holds this lock, in this database (not every pipeline session on the server).
                holders = session.query(load_sql("warehouse/lock_holders", self.kind), self._lock_params())
                who = "; ".join(f"pid {r.pid} ({_owner(r.application_name) or 'not a load run'}, "
                                f"{r.state} since {r.state_change})" for r in holders.itertuples())
                raise LockRefused(f"another load holds the warehouse lock (waited {wait_s:g} s)"
                                  f"{': ' + who if who else ''}; try again when it finishes")
            if not waiting:
                waiting = True
                log.info("waiting up to %g s for the load lock (another session holds it)", wait_s)
            time.sleep(0.5)

    @contextmanager
    def run_lock(self, owner: str | None = None, about: str = "") -> Iterator[None]:
        """Hold the load lock for a whole run, on a connection of its own (idle while the run works),
        and take the fencing token that every commit under it checks."""
        conn = self._connect(autocommit=True)
        self._lock_session = PostgresSession(conn, self.secrets)
        try:
            self._no_timeouts(self._lock_session, LOCK_SESSION_SETTINGS)
            if owner:  # so that `status` and a refused load can tell which run holds it
                self._lock_session.execute("select set_config('application_name', :name, false)",
                                           {"name": (LOCK_OWNER_PREFIX + owner)[:63]})
            self._try_lock(self._lock_session, self.lock_wait_s)
            self._run_lock_held = True
            self._take_fence(owner)
            yield
        finally:
            self._run_lock_held = False
            self._fence = None
            self._lock_session = None
            conn.close()

    def _take_fence(self, owner: str | None) -> None:
        """On the lock session itself (one small transaction; a new load session costs ~0.2 s), once
        the fence table exists; before that, in a load session, which creates the tables."""
        session = self._lock_session
        if session is None or session.scalar("select to_regclass('pipeline_lock_fence') is null"):
            super()._take_fence(owner)
            return
        token = new_fence_token(owner)
        with session.conn.transaction():
            session.script("warehouse/fence_take", {"token": token, "now": utc_now()})
        self._fence = token

    def check_lock(self) -> None:
        """Between stages: the lock session is still there (else LockLost) and the fence is ours."""
        if self._lock_session is None:
            return
        try:
            self._lock_session.scalar("select 1")
        except WarehouseError as exc:
            raise LockLost(f"this run lost the load lock: its lock session ended ({exc}); stopped before "
                           "publishing anything") from None
        super().check_lock()

    def lock_holder(self) -> tuple[bool | None, str | None]:
        holders = self.query(load_sql("warehouse/lock_holders", self.kind), self._lock_params())
        if holders.empty:
            return False, None
        return True, _owner(holders["application_name"].iloc[0])

    def _begin(self, session: PostgresSession, lock: bool) -> None:
        """Timeouts, the load lock (``lock=False``: the run log's own small writes skip it), the
        schema; committed at once, so the schema exists even if the load fails (it logs into it)."""
        # A statement of a killed client is cancelled within 2 s (PostgreSQL 14+) instead of
        # running to its end with the lock held; no statement may run longer than the timeout.
        if session.conn.info.server_version >= 140000:
            session.execute("set client_connection_check_interval = 2000")
        # The transaction idles while Python prepares the next batch: only the statement timeout
        # bounds it, not a database's idle timeouts.
        self._no_timeouts(session, {"idle_in_transaction_session_timeout": 0})
        session.execute(statement_timeout_sql(self.statement_timeout_s))
        for name, value in LOAD_SESSION_MEMORY.items():  # fixed constants, not input
            session.execute(f"set {name} = '{value}'")
        name, value, since = LOAD_SESSION_HASH_MEM
        if session.conn.info.server_version >= since:
            session.execute(f"set {name} = '{value}'")
        if lock and not self._run_lock_held:
            self._try_lock(session, self.lock_wait_s)
        self._check_collation(session)
        # Create the schema only when missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE
        # privilege on the database even when the schema exists (a least-privilege loader lacks it).
        if self.schema and not session.scalar(
            "select count(*) from pg_namespace where nspname = :schema", {"schema": self.schema}
        ):
            session.execute(f"create schema if not exists {check_schema(self.schema)}")
        session.script("warehouse/schema")
        session.conn.commit()
