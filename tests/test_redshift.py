"""The Redshift warehouse.

redshift-connector can't talk to PostgreSQL, so the backend's own code is tested twice:

* against a thin fake connection that records every statement and its parameters (COPY text, IAM
  role, transaction boundaries, bound parameters, errors and redaction), and
* end to end on the real PostgreSQL server through a connection adapter that speaks the
  redshift-connector interface: Redshift-only clauses (DISTKEY/SORTKEY/DISTSTYLE) are stripped and
  ``COPY ... FROM 's3://...' FORMAT AS PARQUET`` is carried out by reading the staged Parquet back
  from the moto S3 server. So schema.redshift.sql, the merges and the marts run on a real engine and
  the result is compared with DuckDB's, table by table.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, time as dtime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redshift_connector
from redshift_connector.core import convert_paramstyle

from pipeline.config import Settings
from pipeline.extract.files import SampleSource
from pipeline.load import run_load
from pipeline.reference import ensure_reference
from pipeline.warehouse import WarehouseError, open_warehouse
from pipeline.warehouse.redshift_wh import (
    RedshiftWarehouse,
    parse_redshift_url,
    validate_iam_role,
    validate_s3_staging,
)

pytest_plugins = ["tests.pg_fixtures", "tests.s3_fixtures"]
pytest.register_assert_rewrite("tests.pg_fixtures")

from tests.pg_fixtures import (  # noqa: E402
    DASHBOARD_CALLS, FILTERED_KW, PG_URL, WAREHOUSE_TABLES, drop_schema, new_schema, table_frame,
)

ROLE = "arn:aws:iam::123456789012:role/RedshiftCopy"
PASSWORD = "Sup3r-s3cret!pw"
URL = f"redshift://loader:{PASSWORD}@example-cluster.abc123.us-east-1.redshift.amazonaws.com:5439/dev"


# ------------------------------------------------------------------------------------- the thin fake


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.deleted: list[str] = []

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        self.objects[(Bucket, Key)] = bytes(Body)

    def delete_objects(self, Bucket: str, Delete: dict) -> None:  # noqa: N803
        for obj in Delete["Objects"]:
            self.objects.pop((Bucket, obj["Key"]), None)
            self.deleted.append(f"s3://{Bucket}/{obj['Key']}")

    def parquet_under(self, url: str) -> list[pa.Table]:
        bucket, _, prefix = url[len("s3://"):].partition("/")
        return [pq.read_table(io.BytesIO(body)) for (b, k), body in sorted(self.objects.items())
                if b == bucket and k.startswith(prefix)]


class FakeCursor:
    def __init__(self, conn: "FakeConnection") -> None:
        self.conn = conn
        self.description: list[tuple] | None = None
        self._rows: list[tuple] = []

    def execute(self, sql: str, args: Any = None) -> "FakeCursor":
        self.conn.calls.append(("execute", sql, None if args is None else list(args)))
        if self.conn.fail_on and re.search(self.conn.fail_on, sql):
            raise self.conn.error
        self.description, self._rows = self.conn.respond(sql)
        return self

    def fetchall(self) -> list[tuple]:
        return self._rows

    def close(self) -> None:
        pass


class FakeConnection:
    """Records calls; knows just enough SQL to answer the staging code (columns and counts)."""

    def __init__(self, tables: dict[str, list[tuple[str, int]]], s3: FakeS3,
                 fail_on: str | None = None, error: Exception | None = None) -> None:
        self.tables = {k: list(v) for k, v in tables.items()}
        self.counts: dict[str, int] = {}
        self.s3 = s3
        self.calls: list[tuple] = []
        self.fail_on, self.error = fail_on, error
        self.autocommit = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.calls.append(("commit",))

    def rollback(self) -> None:
        self.calls.append(("rollback",))

    def close(self) -> None:
        self.calls.append(("close",))

    def respond(self, sql: str) -> tuple[list[tuple] | None, list[tuple]]:
        if m := re.fullmatch(r"select \* from (\w+) where 1 = 0", sql):
            return [(n, oid, None, None, None, None, None) for n, oid in self.tables[m[1]]], []
        if m := re.fullmatch(r"create temp table (\w+) as select (.+) from (\w+) where 1 = 0", sql, re.S):
            source = dict(self.tables[m[3]])
            if m[2] == "*":
                self.tables[m[1]] = list(self.tables[m[3]])
            else:
                cols = []
                for item in m[2].split(", "):
                    name = item.split(" as ")[-1]
                    cols.append((name, 1043 if item.startswith("cast(") else source[name]))
                self.tables[m[1]] = cols
        elif m := re.fullmatch(r"copy (\w+) from '(s3://[^']+)' iam_role '[^']+' format as parquet", sql):
            self.counts[m[1]] = sum(t.num_rows for t in self.s3.parquet_under(m[2]))
        elif m := re.fullmatch(r"insert into (\w+) select .+ from (\w+)", sql, re.S):
            self.counts[m[1]] = self.counts.get(m[1], 0) + self.counts.get(m[2], 0)
        elif m := re.fullmatch(r"select count\(\*\) from (\w+)", sql):
            return [("count", 20, None, None, None, None, None)], [(self.counts.get(m[1], 0),)]
        elif sql.startswith("select"):
            return [("answer", 23, None, None, None, None, None)], [(42,)]
        return None, []

    @property
    def statements(self) -> list[str]:
        return [c[1] for c in self.calls if c[0] == "execute"]


LIKE_COLUMNS = [
    ("row_id", 1043), ("date_of_stop", 1082), ("time_of_stop", 1083), ("loaded_at", 1114),
    ("n", 23), ("flag", 16), ("x", 701),
]


def fake_warehouse(tmp_settings: dict | None = None, **fake: Any) -> tuple[RedshiftWarehouse, list[FakeConnection], FakeS3]:
    s3 = FakeS3()
    conns: list[FakeConnection] = []

    def connect(**kwargs: Any) -> FakeConnection:
        conn = FakeConnection({"moco_like": LIKE_COLUMNS}, s3, **fake)
        conn.kwargs = kwargs  # type: ignore[attr-defined]
        conns.append(conn)
        return conn

    settings = Settings(warehouse_url=URL, redshift_iam_role=ROLE,
                        redshift_s3_staging="s3://staging-bucket/rs/stage", **(tmp_settings or {}))
    return RedshiftWarehouse(settings, connect=connect, s3_client=s3), conns, s3


def sample_reader() -> pa.RecordBatchReader:
    batch = pa.record_batch({
        "row_id": ["a", "b", "c"],
        "date_of_stop": pa.array([date(2020, 1, 2), None, date(2012, 2, 29)]),
        "time_of_stop": pa.array([dtime(7, 30), dtime(23, 59, 59), None], pa.time64("us")),
        "n": pa.array([1, None, 3], pa.int32()),
        "flag": [True, None, False],
        "x": [0.5, None, -77.25],
    })
    return pa.RecordBatchReader.from_batches(batch.schema, [batch, batch.slice(1)])


def test_stage_writes_parquet_to_s3_and_copies_it_with_the_iam_role() -> None:
    warehouse, conns, s3 = fake_warehouse()
    with warehouse.session() as s:
        n_schema_statements = len(conns[0].statements)
        staged = s.stage("stg_x", sample_reader(), like="moco_like")
        uploaded = dict(s3.objects)
        session_id = s.session_id
    assert staged == 5
    folder = f"s3://staging-bucket/rs/stage/{session_id}/stg_x/"
    assert conns[0].statements[n_schema_statements:] == [
        "drop table if exists stg_x",
        "create temp table stg_x as select * from moco_like where 1 = 0",
        "select * from stg_x where 1 = 0",
        "drop table if exists stg_x_s3",
        "create temp table stg_x_s3 as select row_id, date_of_stop, cast(time_of_stop as varchar(64)) as time_of_stop, "
        "cast(loaded_at as varchar(64)) as loaded_at, n, flag, x from stg_x where 1 = 0",
        f"copy stg_x_s3 from '{folder}' iam_role '{ROLE}' format as parquet",
        "insert into stg_x select row_id, date_of_stop, cast(time_of_stop as time) as time_of_stop, "
        "cast(loaded_at as timestamp) as loaded_at, n, flag, x from stg_x_s3",
        "drop table stg_x_s3",
        "select count(*) from stg_x",
    ]
    # the file has exactly the table's columns, in order (columnar COPY maps by position)
    [(key, body)] = [(k, v) for (b, k), v in uploaded.items() if b == "staging-bucket"]
    assert key == f"rs/stage/{session_id}/stg_x/part-00000.parquet"
    table = pq.read_table(io.BytesIO(body))
    assert table.schema.names == [name for name, _ in LIKE_COLUMNS]
    assert [str(t) for t in table.schema.types] == ["string", "date32[day]", "string", "string", "int32", "bool", "double"]
    assert table["time_of_stop"].to_pylist() == ["07:30:00.000000", "23:59:59.000000", None, "23:59:59.000000", None]
    assert table["loaded_at"].null_count == 5  # a column the batch lacks travels as NULLs
    # staging objects are removed once the session ends
    assert s3.objects == {} and s3.deleted == [f"s3://staging-bucket/{key}"]


def test_a_session_is_one_transaction_committed_once_at_the_end() -> None:
    warehouse, conns, _ = fake_warehouse()
    with warehouse.session() as s:
        s.stage("stg_x", sample_reader(), like="moco_like")
        s.execute("delete from t where k in (select k from stg_x)")
        s.script("marts/refresh")
        assert ("commit",) not in conns[0].calls
    calls = conns[0].calls
    assert [c[0] for c in calls if c[0] != "execute"] == ["commit", "close"]
    assert calls[-2:] == [("commit",), ("close",)]
    assert conns[0].autocommit is False


def test_an_error_rolls_back_never_commits_and_is_redacted() -> None:
    error = redshift_connector.ProgrammingError(
        {"S": "ERROR", "C": "XX000", "M": f"failed for redshift://loader:{PASSWORD}@host/dev (password {PASSWORD})"}
    )
    warehouse, conns, s3 = fake_warehouse(fail_on=r"^insert into stg_x", error=error)
    with pytest.raises(WarehouseError) as info:
        with warehouse.session() as s:
            s.stage("stg_x", sample_reader(), like="moco_like")
    message = str(info.value)
    assert PASSWORD not in message and "***" in message
    assert "insert into stg_x" in message  # which statement failed (text only, no values)
    assert ("commit",) not in conns[0].calls
    assert conns[0].calls[-2:] == [("rollback",), ("close",)]
    assert s3.objects == {}  # staged files are removed on failure too


def test_values_are_bound_parameters_never_sql_text() -> None:
    warehouse, conns, _ = fake_warehouse()
    hostile = "k'; drop table stops; --"
    with warehouse.session() as s:
        s.execute("delete from pipeline_state where state_key = :key and note like 'x%' and n = :n", {"key": hostile, "n": 3})
        s.execute("select 5 % 2, 'y%'")
    bound = [c for c in conns[0].calls if c[0] == "execute" and c[1].startswith(("delete from pipeline_state", "select 5"))]
    assert bound == [
        ("execute", "delete from pipeline_state where state_key = %s and note like 'x%' and n = %s", [hostile, 3]),
        ("execute", "select 5 % 2, 'y%'", None),  # no values: the driver never parses the text
    ]
    assert all(hostile not in c[1] for c in conns[0].calls if c[0] == "execute")
    # the text is what redshift-connector's own parser expects: %s -> $n, literals untouched
    converted, make_args = convert_paramstyle("format", bound[0][1])
    assert converted == "delete from pipeline_state where state_key = $1 and note like 'x%' and n = $2"
    assert list(make_args(bound[0][2])) == [hostile, 3]


def test_the_run_log_insert_binds_every_value() -> None:
    warehouse, conns, _ = fake_warehouse()
    params = {k: f"v{i}" for i, k in enumerate(
        "run_id command source started_at finished_at status rows_raw rows_landed rows_quarantined rows_curated "
        "rows_inserted rows_replaced warehouse_rows warehouse_stops rows_with_zip max_date_of_stop watermark "
        "null_rates message charges_added charges_edited charges_removed stops_added stops_edited stops_removed "
        "lake_version values_clipped rows_restamped_older".split())}
    with warehouse.session() as s:
        s.script("runlog/insert", params)
    [(_, sql, values)] = [c for c in conns[0].calls if c[0] == "execute" and "insert into pipeline_runs" in c[1]]
    assert sql.count("%s") == 28 and values == list(params.values())


@pytest.mark.parametrize("role", [
    f"{ROLE}' ; drop table stops; --",
    "arn:aws:iam::12345:role/short-account",
    "arn:aws:iam::123456789012:user/not-a-role",
    "arn:aws:iam::123456789012:role/has space",
    "arn:aws:iam::123456789012:role/new\nline",
    "arn:aws:iam::123456789012:role/quote'",
    "",
])
def test_an_iam_role_outside_the_allow_list_is_refused(role: str) -> None:
    with pytest.raises(WarehouseError, match="REDSHIFT_IAM_ROLE"):
        validate_iam_role(role)
    if role:
        with pytest.raises(WarehouseError):
            RedshiftWarehouse(Settings(warehouse_url=URL, redshift_iam_role=role), connect=lambda **k: None)


@pytest.mark.parametrize("url", [
    "s3://staging-bucket/x' iam_role 'arn:aws:iam::000000000000:role/evil",
    "s3://Upper/x", "s3://b/x", "http://bucket/x", "s3://bucket/a b", "s3://bucket/../x",
    "s3://bucket//x", "s3://bucket/x;y", "s3://bucket/x\\y", "",
])
def test_an_s3_staging_path_outside_the_allow_list_is_refused(url: str) -> None:
    with pytest.raises(WarehouseError, match="REDSHIFT_S3_STAGING"):
        validate_s3_staging(url)


@pytest.mark.parametrize(("role", "url"), [
    ("arn:aws:iam::123456789012:role/service-role/Redshift_Copy+x=y,z.a@b", "s3://my.bucket-1/a/b_c=d/"),
    ("arn:aws-us-gov:iam::123456789012:role/r", "s3://bkt"),
])
def test_well_formed_settings_are_accepted(role: str, url: str) -> None:
    assert validate_iam_role(role) == role
    assert validate_s3_staging(url)[0] in ("my.bucket-1", "bkt")


def test_staging_without_the_settings_fails_before_any_copy() -> None:
    s3 = FakeS3()
    conns: list[FakeConnection] = []

    def connect(**_: Any) -> FakeConnection:
        conns.append(FakeConnection({"moco_like": LIKE_COLUMNS}, s3))
        return conns[-1]

    warehouse = RedshiftWarehouse(Settings(warehouse_url=URL), connect=connect, s3_client=s3)
    with pytest.raises(WarehouseError, match="REDSHIFT_IAM_ROLE"):
        with warehouse.session() as s:
            s.stage("stg_x", sample_reader(), like="moco_like")
    assert not any(st.startswith("copy") for st in conns[0].statements)
    assert ("rollback",) in conns[0].calls and s3.objects == {}


def test_connection_errors_are_redacted_and_unchained() -> None:
    def refuse(**kwargs: Any) -> None:
        raise redshift_connector.InterfaceError(f"could not reach {kwargs['host']} as loader:{kwargs['password']}")

    warehouse = RedshiftWarehouse(Settings(warehouse_url=URL), connect=refuse)
    with pytest.raises(WarehouseError) as info:
        warehouse.query("select 1")
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(warehouse)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_the_url_carries_schema_and_connection_options() -> None:
    kwargs, schema = parse_redshift_url(
        "redshift://loader:p%40ss@wg.123.us-east-1.redshift-serverless.amazonaws.com:5439/dev"
        "?schema=analytics&sslmode=verify-full&is_serverless=true&timeout=30"
    )
    assert schema == "analytics"
    assert kwargs["password"] == "p@ss" and kwargs["user"] == "loader" and kwargs["database"] == "dev"
    assert (kwargs["sslmode"], kwargs["is_serverless"], kwargs["timeout"], kwargs["port"]) == ("verify-full", True, 30, 5439)
    assert kwargs["numeric_to_float"] is True
    with pytest.raises(WarehouseError, match="unknown Redshift URL option"):
        parse_redshift_url("redshift://u@h/dev?sslmod=typo")
    with pytest.raises(WarehouseError):
        parse_redshift_url("redshift://u@h/dev?schema=a;drop")


def test_reads_use_an_autocommit_connection_and_return_dataframes() -> None:
    warehouse, conns, _ = fake_warehouse()
    df = warehouse.query("select answer from t where k = :k", {"k": 1})
    assert df["answer"].tolist() == [42] and str(df["answer"].dtype) == "int32"
    assert conns[0].autocommit is True
    assert conns[0].calls == [("execute", "select answer from t where k = %s", [1])]


# ------------------------------------------------------------------- on the real PostgreSQL server

REDSHIFT_ONLY = [
    re.compile(r"\s+diststyle\s+(all|even|key|auto)\b", re.I),
    re.compile(r"\s+distkey\s*\(\s*\w+\s*\)", re.I),
    re.compile(r"\s+(compound\s+|interleaved\s+)?sortkey\s*\([^)]*\)", re.I),
]
COPY = re.compile(r"copy (\w+) from '(s3://[^']+)' iam_role '([^']+)' format as parquet")


class PostgresAsRedshift:
    """The redshift-connector connection interface, carried out by psycopg on PostgreSQL."""

    def __init__(self, s3_client, role: str) -> None:  # noqa: ANN001
        import psycopg

        self.pg = psycopg.connect(PG_URL)
        self.s3, self.role = s3_client, role
        self.statements: list[str] = []

    @property
    def autocommit(self) -> bool:
        return self.pg.autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self.pg.autocommit = value

    def cursor(self) -> "PostgresAsRedshift._Cursor":
        return self._Cursor(self)

    def commit(self) -> None:
        self.pg.commit()

    def rollback(self) -> None:
        self.pg.rollback()

    def close(self) -> None:
        self.pg.close()

    def copy_from_s3(self, table: str, url: str) -> None:
        from pipeline.warehouse.postgres_wh import PostgresSession

        bucket, _, prefix = url[len("s3://"):].partition("/")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for p in pages for o in p.get("Contents", []))
        assert keys, f"COPY from an empty prefix {url}"
        session = PostgresSession(self.pg)
        columns = session.columns(table)
        for key in keys:
            parquet = pq.read_table(io.BytesIO(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
            assert parquet.schema.names == [n for n, _ in columns], "columnar COPY maps by position"
            session.copy_batches(table, columns, parquet.to_batches())

    class _Cursor:
        def __init__(self, conn: "PostgresAsRedshift") -> None:
            self.conn = conn
            self.cur = conn.pg.cursor()

        @property
        def description(self):  # noqa: ANN201
            return self.cur.description

        def execute(self, sql: str, args: Any = None) -> None:
            import psycopg

            self.conn.statements.append(sql)
            try:
                if m := COPY.fullmatch(sql):
                    assert m[3] == self.conn.role
                    self.conn.copy_from_s3(m[1], m[2])
                    return
                for pattern in REDSHIFT_ONLY:
                    sql = pattern.sub("", sql)
                if args is not None:  # redshift-connector skips literals and comments; psycopg needs %% there
                    parts = re.split(r"('(?:[^']|'')*'|--[^\n]*)", sql)
                    sql = "".join(p.replace("%", "%%") if i % 2 else p for i, p in enumerate(parts))
                self.cur.execute(sql, args)
            except psycopg.Error as exc:
                raise redshift_connector.ProgrammingError(str(exc)) from None

        def fetchall(self) -> list[tuple]:
            return self.cur.fetchall()

        def fetchmany(self, num: int | None = None) -> list[tuple]:  # redshift_connector.Cursor.fetchmany(num)
            return self.cur.fetchmany(num) if num is not None else self.cur.fetchmany()

        def close(self) -> None:
            self.cur.close()


@pytest.fixture
def redshift_on_postgres(pg_admin, s3_client, s3_bucket: str, tmp_path: Path):  # noqa: ANN001, ANN201
    schema = new_schema("rs")
    settings = Settings(
        warehouse_url=f"redshift://loader:{PASSWORD}@example-cluster:5439/dev?schema={schema}",
        lake_url=str(tmp_path / "lake"),
        redshift_iam_role=ROLE,
        redshift_s3_staging=f"s3://{s3_bucket}/redshift-staging",
    )
    connections: list[PostgresAsRedshift] = []

    def connect(**kwargs: Any) -> PostgresAsRedshift:
        assert kwargs["password"] == PASSWORD and kwargs["port"] == 5439
        connections.append(PostgresAsRedshift(s3_client, ROLE))
        return connections[-1]

    warehouse = RedshiftWarehouse(settings, connect=connect, s3_client=s3_client)
    try:
        yield settings, warehouse, connections
    finally:
        warehouse.close()
        drop_schema(pg_admin, schema)


def test_the_redshift_backend_loads_the_sample_like_duckdb(redshift_on_postgres, sample_warehouse: Settings,  # noqa: ANN001
                                                           s3_client, s3_bucket: str) -> None:
    settings, warehouse, connections = redshift_on_postgres
    ensure_reference(settings, warehouse)
    first = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    assert first.status == "success" and first.warehouse_rows == first.rows_landed

    statements = [s for c in connections for s in c.statements]
    copies = [s for s in statements if s.startswith("copy ")]
    assert {COPY.fullmatch(c)[1] for c in copies} >= {"stg_charges_s3", "stg_quarantine", "stg_zip_tract"}
    assert any("sortkey (date_of_stop)" in s for s in statements)  # schema.redshift.sql was the one used
    staging = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="redshift-staging/").get("Contents", [])]
    assert staging == []  # every staging object was removed after its session

    duck = open_warehouse(sample_warehouse)
    for table in WAREHOUSE_TABLES:
        pd.testing.assert_frame_equal(table_frame(warehouse, table), table_frame(duck, table), obj=table)

    second = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    assert second.rows_replaced == second.rows_inserted == first.warehouse_rows
    assert (second.warehouse_rows, second.warehouse_stops) == (first.warehouse_rows, first.warehouse_stops)
    assert warehouse.exists() and warehouse.version().startswith("runs=2|")

    # the analyses refreshed after each load write through the same staging path (S3 + COPY)
    from pipeline.analysis import run_all
    from pipeline.analysis.runner import read_results

    written = run_all(warehouse, settings=settings)
    stored = read_results(warehouse)
    assert {t: len(df) for t, df in stored.items()} == {t: len(df) for t, df in written.items()}
    assert all(len(df) for df in stored.values())


@pytest.mark.parametrize("replica_mb", ["0", "256"], ids=["read-path", "local-copy"])
def test_the_dashboard_reads_the_redshift_backend_like_duckdb(redshift_on_postgres, sample_warehouse: Settings,  # noqa: ANN001
                                                              monkeypatch: pytest.MonkeyPatch, replica_mb: str) -> None:
    """Every dashboard query through the Redshift read path (format-style binding, autocommit reader),
    and through the dashboard's copy of the marts made by the generic export (rows fetched, no COPY)."""
    from dashboard import queries as q
    from dashboard.filters import FilterState

    from dashboard import replica

    settings, warehouse, connections = redshift_on_postgres
    ensure_reference(settings, warehouse)
    run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", replica_mb)
    # The version is asked again on a thread of its own every VERSION_TTL_S; on a busy machine that
    # check overlapped a page's query and the pool rightly opened a second reader (a flaky count).
    monkeypatch.setattr(q, "VERSION_TTL_S", 3600.0)
    replica.reset()
    f = FilterState(**FILTERED_KW)
    for name, (call, _) in DASHBOARD_CALLS.items():
        results = []
        for s, wh in ((sample_warehouse, open_warehouse(sample_warehouse)), (settings, warehouse)):
            monkeypatch.setenv("PIPELINE_WAREHOUSE", s.warehouse_url)
            monkeypatch.setattr(q, "open_warehouse", lambda _s, wh=wh: wh)
            monkeypatch.setattr(q, "_WAREHOUSES", {})
            with q.bypass_cache():
                results.append(call(q, f))
        duck, redshift = results
        if isinstance(duck, pd.DataFrame):
            pd.testing.assert_frame_equal(redshift, duck, obj=name)
        elif name == "provenance":
            assert (redshift.charges, redshift.stops, redshift.last_stop) == (duck.charges, duck.stops, duck.last_stop)
        else:
            assert redshift == duck, name
    # One long-lived autocommit reader (each read sees the latest committed load), and the dashboard's
    # copy of the marts (dashboard/replica.py): one connection of its own, one snapshot, then closed.
    readers = [c for c in connections if c.autocommit and not c.pg.closed]
    assert len(readers) == 1
    if replica_mb != "0":
        assert replica.keeper(q._warehouse_key(settings), warehouse, 256).current is not None
    replica.reset()


def test_a_failed_redshift_load_leaves_the_previous_data(redshift_on_postgres) -> None:  # noqa: ANN001
    settings, warehouse, _ = redshift_on_postgres
    ensure_reference(settings, warehouse)
    first = run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
    with pytest.raises(WarehouseError):
        with warehouse.session() as s:
            s.execute("delete from moco_traffic_violations")
            s.execute("insert into no_such_table values (1)")
    assert int(warehouse.query("select count(*) from moco_traffic_violations").iloc[0, 0]) == first.warehouse_rows
