"""Amazon Redshift warehouse (redshift-connector; paramstyle ``format``, ``%s``).

``PIPELINE_WAREHOUSE=redshift://user:password@cluster.xxxx.region.redshift.amazonaws.com:5439/db``
plus ``REDSHIFT_IAM_ROLE=arn:aws:iam::123456789012:role/name`` (the role the *cluster* assumes to read
S3) and ``REDSHIFT_S3_STAGING=s3://bucket/prefix`` (where this process writes staging files).
Query parameters on the URL: ``schema`` (created if missing, then the search path) and a few
connection options passed to ``redshift_connector.connect`` (``sslmode``, ``ssl``, ``timeout``,
``iam``, ``cluster_identifier``, ``region``, ``db_user``, ``profile``, ``auto_create``,
``is_serverless``, ``serverless_acct_id``, ``serverless_work_group``, ``application_name``).
With ``iam=true`` the password may be left out and temporary credentials are fetched via the
standard AWS credential chain.

A load session is one transaction, committed once at the end and rolled back on any error:

1. ``stage()`` writes the Arrow batches as Parquet under
   ``REDSHIFT_S3_STAGING/<session id>/<table>/part-NNNNN.parquet`` and runs
   ``COPY <table> FROM 's3://.../' IAM_ROLE '...' FORMAT AS PARQUET`` into a temp table.
   COPY can't take bind parameters, so the role ARN and the S3 path are checked against strict
   allow-list patterns before they are put into the statement (table names likewise).
   Columnar COPY maps columns by position and needs exactly the table's columns, so every file is
   written with the staging table's columns in order. TIME and TIMESTAMP values travel as ISO text
   into a varchar landing table and are cast by Redshift (Parquet time/timestamp encodings are where
   Redshift's reader is known to be fussy); every other type travels natively.
2. The shared SQL merges (delete + insert on the key) and rebuilds the marts.
3. Commit. The staging objects are deleted afterwards, whatever the outcome.

Redshift has no advisory locks: two concurrent loads conflict under Redshift's serializable
isolation and one of them fails (error 1023) and rolls back; the scheduler runs one load at a time.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..config import Settings, redact_url
from .base import WarehouseError, sql_type
from .dbapi import (
    TEMPORAL_OIDS,
    DBAPISession,
    DBAPIWarehouse,
    arrow_type_for_oid,
    check_identifier,
    check_schema,
    conform_batch,
    iter_batches,
    peek_schema,
    scrub,
    statement_timeout_sql,
)

log = logging.getLogger(__name__)

# Allow-lists for the values COPY can't bind. Nothing outside these characters reaches the SQL text:
# no quotes, backslashes, whitespace or semicolons.
IAM_ROLE_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
S3_STAGING_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>[A-Za-z0-9_.=/-]*))?$")
PARQUET_PART_ROWS = 500_000

_BOOL_OPTIONS = {"ssl", "iam", "auto_create", "is_serverless", "tcp_keepalive"}
_INT_OPTIONS = {"timeout"}
_STR_OPTIONS = {
    "sslmode", "cluster_identifier", "region", "db_user", "profile", "serverless_acct_id",
    "serverless_work_group", "application_name",
}


def validate_iam_role(role: str | None) -> str:
    if not role or not IAM_ROLE_ARN.match(role):
        raise WarehouseError(
            "REDSHIFT_IAM_ROLE must be an IAM role ARN like arn:aws:iam::123456789012:role/RedshiftCopy "
            "(letters, digits and +=,.@_/- only)"
        )
    return role


def validate_s3_staging(url: str | None) -> tuple[str, str]:
    """(bucket, prefix without slashes) of REDSHIFT_S3_STAGING, or WarehouseError."""
    match = S3_STAGING_URL.match(url or "")
    if not match or ".." in (url or "") or "//" in (url or "")[5:]:
        raise WarehouseError(
            "REDSHIFT_S3_STAGING must be s3://bucket[/prefix] (lowercase bucket; prefix of letters, digits and _.=/- only)"
        )
    return match.group("bucket"), (match.group("prefix") or "").strip("/")


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def parse_redshift_url(url: str) -> tuple[dict[str, Any], str | None]:
    """(kwargs for redshift_connector.connect, schema or None)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "redshift":
        raise WarehouseError(f"not a Redshift URL: {redact_url(url)}")
    kwargs: dict[str, Any] = {
        "host": parts.hostname,
        "port": parts.port or 5439,
        "database": unquote(parts.path.lstrip("/")) or "dev",
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "numeric_to_float": True,
        "application_name": "moco-traffic-stops-pipeline",
    }
    schema = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = check_schema(value)
        elif key in _BOOL_OPTIONS:
            kwargs[key] = _truthy(value)
        elif key in _INT_OPTIONS:
            kwargs[key] = int(value)
        elif key in _STR_OPTIONS:
            kwargs[key] = value
        else:
            raise WarehouseError(f"unknown Redshift URL option {key!r}")
    return {k: v for k, v in kwargs.items() if v is not None}, schema


def _redshift_type(typ: pa.DataType) -> str:
    return sql_type(typ, "varchar(65535)")


class RedshiftSession(DBAPISession):
    """One load transaction (see :class:`pipeline.warehouse.base.LoadSession`); paramstyle ``format``
    with literals left to redshift-connector's own parser (the base's :meth:`bind`)."""

    kind = "redshift"
    label = "Redshift"

    def __init__(self, conn: Any, warehouse: "RedshiftWarehouse") -> None:
        super().__init__(conn, warehouse.secrets)
        self.wh = warehouse
        self.session_id = uuid.uuid4().hex
        self.staged_keys: list[str] = []

    def stage(self, table: str, data: Any, like: str | None = None) -> int:
        """Parquet to S3, then COPY into a new temp table ``table``; returns its row count."""
        check_identifier(table)
        role = validate_iam_role(self.wh.iam_role)
        bucket, prefix = validate_s3_staging(self.wh.s3_staging)
        batches = iter_batches(data)
        self._run(f"drop table if exists {table}")
        if like:
            self._run(f"create temp table {table} as select * from {check_identifier(like)} where 1 = 0")
        else:
            schema, batches = peek_schema(batches)
            cols = ", ".join(f"{check_identifier(f.name, 'column')} {_redshift_type(f.type)}" for f in schema)
            self._run(f"create temp table {table} ({cols})")
        oids = self.column_oids(table)
        temporal = [name for name, oid in oids if oid in TEMPORAL_OIDS]
        # Wire types: TIME/TIMESTAMP as text (cast by Redshift below), everything else native.
        wire = [(name, pa.string() if oid in TEMPORAL_OIDS else arrow_type_for_oid(oid)) for name, oid in oids]
        landing = f"{table}_s3" if temporal else table
        if temporal:
            check_identifier(landing)
            select = ", ".join(f"cast({n} as varchar(64)) as {n}" if n in temporal else n for n, _ in oids)
            self._run(f"drop table if exists {landing}")
            self._run(f"create temp table {landing} as select {select} from {table} where 1 = 0")

        folder = "/".join(p for p in (prefix, self.session_id, table) if p)
        rows = self._write_parts(bucket, folder, wire, batches)
        if rows:
            source = f"s3://{bucket}/{folder}/"
            if not S3_STAGING_URL.match(source.rstrip("/")):
                raise WarehouseError("staging path failed validation")
            self._run(f"copy {landing} from '{source}' iam_role '{role}' format as parquet")
        if temporal:
            select = ", ".join(
                f"cast({n} as {_cast_target(oid)}) as {n}" if oid in TEMPORAL_OIDS else n for n, oid in oids
            )
            self._run(f"insert into {table} select {select} from {landing}")
            self._run(f"drop table {landing}")
        return int(self.scalar(f"select count(*) from {table}"))

    def _write_parts(self, bucket: str, folder: str, wire: Sequence[tuple[str, pa.DataType]],
                     batches: Iterable[pa.RecordBatch]) -> int:
        schema = pa.schema([pa.field(n, t) for n, t in wire])
        total = 0
        part_rows = 0
        buf: io.BytesIO | None = None
        writer: pq.ParquetWriter | None = None

        def flush() -> None:
            nonlocal buf, writer, part_rows
            if writer is None or buf is None:
                return
            writer.close()
            key = f"{folder}/part-{len(self.staged_keys):05d}.parquet"
            try:
                self.wh.s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())
            except Exception as exc:  # noqa: BLE001 - botocore errors carry no credentials
                raise WarehouseError(f"could not write the staging object s3://{bucket}/{key}: "
                                     f"{type(exc).__name__}: {exc}") from exc
            self.staged_keys.append(f"s3://{bucket}/{key}")
            buf, writer, part_rows = None, None, 0

        for batch in batches:
            batch = conform_batch(batch, wire)
            offset = 0
            while offset < batch.num_rows:
                if writer is None:
                    buf = io.BytesIO()
                    writer = pq.ParquetWriter(buf, schema, compression="snappy", version="2.4")
                take = min(PARQUET_PART_ROWS - part_rows, batch.num_rows - offset)
                writer.write_batch(batch.slice(offset, take))
                offset += take
                part_rows += take
                total += take
                if part_rows >= PARQUET_PART_ROWS:
                    flush()
        flush()
        log.debug("staged %s row(s) in %d Parquet part(s) under s3://%s/%s/", f"{total:,}",
                  len(self.staged_keys), bucket, folder)
        return total

    def replace_table(self, table: str, data: pd.DataFrame) -> int:
        """Reference tables: stage through S3 like a batch, then swap the rows in this transaction."""
        check_identifier(table)
        staging = f"stg_{table}"[:63]
        self.stage(staging, data, like=table)
        self._run(f"delete from {table}")
        self._run(f"insert into {table} select * from {staging}")
        self._run(f"drop table {staging}")
        return len(data)


def _cast_target(oid: int) -> str:
    return {1083: "time", 1114: "timestamp", 1184: "timestamptz"}[oid]


class RedshiftWarehouse(DBAPIWarehouse):
    kind = "redshift"
    label = "Redshift"
    session_class = RedshiftSession

    def __init__(
        self,
        settings: Settings,
        *,
        connect: Callable[..., Any] | None = None,
        s3_client: Any | None = None,
    ) -> None:
        self.connect_kwargs, self.schema = parse_redshift_url(settings.warehouse_url)
        super().__init__(settings.warehouse_url, [self.connect_kwargs.get("password")])
        self.statement_timeout_s = settings.statement_timeout_s
        self.iam_role = settings.redshift_iam_role
        self.s3_staging = settings.redshift_s3_staging
        # Fail fast on a malformed setting, even before the first stage().
        if self.iam_role:
            validate_iam_role(self.iam_role)
        if self.s3_staging:
            validate_s3_staging(self.s3_staging)
        self._connect_fn = connect
        self._s3 = s3_client

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            self._s3 = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 8}))
        return self._s3

    def _connect(self) -> Any:
        try:
            if self._connect_fn is not None:
                return self._connect_fn(**self.connect_kwargs)
            import redshift_connector

            return redshift_connector.connect(**self.connect_kwargs)
        except Exception as exc:  # noqa: BLE001
            raise WarehouseError(
                f"cannot connect to Redshift at {self.redacted}: {scrub(f'{type(exc).__name__}: {exc}', self.secrets)}"
            ) from None

    def _new_session(self, conn: Any) -> RedshiftSession:
        return RedshiftSession(conn, self)

    @contextmanager
    def run_lock(self, owner: str | None = None, about: str = "") -> Iterator[None]:
        """Redshift has no advisory locks: the scheduler runs one load at a time. What a lock cannot
        give, the fencing token does: a run writes its token when it starts, and every commit of the
        run checks that the token is still its own (:meth:`DBAPIWarehouse._check_fence`), so of two
        overlapping loads the one that started first rolls back at its commit instead of publishing
        over the other (two commits that race conflict under serializable isolation)."""
        self._take_fence(owner)
        try:
            yield
        finally:
            self._fence = None

    def lock_holder(self) -> tuple[bool | None, str | None]:
        """Unknown: no lock to look at on Redshift."""
        return None, None

    def _begin(self, session: DBAPISession, lock: bool) -> None:
        """Schema and search path, timeout, tables (``lock`` is accepted for the common interface;
        see :meth:`run_lock`)."""
        if self.schema:
            # Only when missing: a least-privilege loader may own its schema without CREATE on the database.
            if not session.scalar("select count(*) from pg_namespace where nspname = :schema", {"schema": self.schema}):
                session.execute(f"create schema if not exists {check_schema(self.schema)}")
            session.execute(f"set search_path to {check_schema(self.schema)}")
        session.execute(statement_timeout_sql(self.statement_timeout_s))
        session.script("warehouse/schema")

    def _end(self, session: DBAPISession) -> None:
        self._delete_staged(session.staged_keys)  # type: ignore[attr-defined]

    def _delete_staged(self, uris: list[str]) -> None:
        by_bucket: dict[str, list[str]] = {}
        for uri in uris:
            bucket, _, key = uri[len("s3://"):].partition("/")
            by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for i in range(0, len(keys), 1000):
                try:
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
                except Exception as exc:  # noqa: BLE001 - a lifecycle rule on the prefix is the backstop
                    log.warning("could not delete %d staging object(s) in s3://%s: %s", len(keys), bucket,
                                type(exc).__name__)

    # -- reads ------------------------------------------------------------------------------------
    def _open_reader(self) -> Any:
        conn = self._connect()
        conn.autocommit = True  # each read sees the latest committed load
        if self.schema:
            cur = conn.cursor()
            cur.execute(f"set search_path to {check_schema(self.schema)}", None)
            cur.close()
        return conn

    def _is_connection_error(self, exc: BaseException) -> bool:
        return _is_connection_error(exc)


def _is_connection_error(exc: BaseException) -> bool:
    try:
        import redshift_connector

        if isinstance(exc, (redshift_connector.InterfaceError, redshift_connector.OperationalError)):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, (ConnectionError, OSError))
