"""pytest fixtures for the real PostgreSQL server (127.0.0.1:5432, trust auth, database ``test``).

List this module in ``tests/conftest.py``: ``pytest_plugins = ["tests.pg_fixtures"]`` (test modules
that need it also name it in their own ``pytest_plugins``; pytest registers a plugin once).

Every test run gets its own schema (``t_<pid>_<random>``), dropped at the end of the run, and a test
that needs an empty warehouse asks for ``pg_fresh_url`` (one more schema, dropped after the test).
``TEST_PG_URL`` overrides the server. Without a reachable server the tests that need it are skipped,
or fail when ``MOCO_REQUIRE_SERVICES=1`` (CI: see tests/services.py).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
import uuid
from datetime import date
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from pipeline.config import Settings
from pipeline.marts import CUBES
from tests.services import service_missing

PG_URL = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

__all__ = [
    "PG_URL", "WAREHOUSE_TABLES", "table_frame", "DASHBOARD_CALLS", "NO_FILTER_KW", "FILTERED_KW", "pg_admin", "pg_run_schema", "pg_url", "pg_fresh_url", "pg_settings", "pg_sample_warehouse",
    "pg_schema_url", "new_schema", "drop_schema", "clone_schema", "schema_of", "backend_env",
]


DIMENSION_KEYS = ["stop_weekday", "stop_hour", "race", "gender", "zip5", "outcome", "district"]
CUBE_KEYS = ["date_of_stop", "stop_year", "stop_month", *DIMENSION_KEYS, "top_description"]
SPAN_KEYS = ["cell_size", "cell_y", "cell_x", "top_description", *DIMENSION_KEYS]

# Each warehouse table, the key that orders it, and the columns that legitimately differ between
# two loads of the same data (run ids and load timestamps). Used to compare backends table by table.
WAREHOUSE_TABLES: dict[str, tuple[list[str], list[str]]] = {
    "moco_traffic_violations": (["row_id"], ["load_id", "loaded_at"]),
    "stops": (["stop_id"], []),
    "zip_tract": (["zip", "tract"], []),
    "census_tract": (["tractid"], []),
    "zip_demographics": (["zip5"], []),
    "quarantine_rows": (["source_file", "raw_line", "reason"], ["load_id"]),
    "mart_data_quality": (["measure"], []),
    "pipeline_state": (["state_key"], ["updated_at"]),
    "pipeline_runs": (["command", "status"], ["run_id", "started_at", "finished_at", "message", "null_rates", "lake_version"]),
    "mart_provenance": (["charges"], []),
    "mart_charge_months": (["stop_year", "stop_month", "source", "file_name"], []),
    **{cube.name: (SPAN_KEYS if cube.grain == "all" else CUBE_KEYS, []) for cube in CUBES},
}


def table_frame(warehouse, table: str):  # noqa: ANN001, ANN201
    """A whole table as a DataFrame, in key order, without the columns that differ between loads."""
    keys, ignore = WAREHOUSE_TABLES[table]
    df = warehouse.query(f"select * from {table}")
    df = df.drop(columns=[c for c in ignore if c in df.columns])
    if table == "pipeline_state":  # the curated version counts lake commits, which two loads of one input differ in
        df = df[df["state_key"] != "curated_lake_version"]
    return df.sort_values(keys, kind="stable", na_position="last").reset_index(drop=True)


# The dashboard's questions, asked of every backend and compared (tests/test_postgres.py, test_redshift.py).
NO_FILTER_KW = {}
FILTERED_KW = dict(races=("BLACK", "WHITE"), genders=("F",), date_from=date(2016, 1, 1), date_to=date(2016, 12, 31))
RUN_LOG_VARIES = ["run_id", "started_at", "finished_at", "message"]

# id -> (call(queries module, FilterState), uses the filters)
DASHBOARD_CALLS = {
    "provenance": (lambda q, f: q.provenance(), False),
    "data_sources": (lambda q, f: q.data_sources(), False),
    "zip_options": (lambda q, f: q.zip_options(), False),
    "year_coverage": (lambda q, f: q.year_coverage(), False),
    "residents": (lambda q, f: q.residents(), False),
    "residents_of_zips": (lambda q, f: q.residents(["20902", "20906", "20850"]), False),
    "data_quality": (lambda q, f: q.data_quality(), False),
    "recent_runs": (lambda q, f: q.recent_runs(5).drop(columns=RUN_LOG_VARIES), False),
    "totals": (lambda q, f: q.totals(f), True),
    "daily": (lambda q, f: q.daily(f), True),
    "monthly": (lambda q, f: q.monthly(f), True),
    "zip_map": (lambda q, f: q.zip_map(f), True),
    "location_grid": (lambda q, f: q.location_grid(f), True),
    "weekday_hour": (lambda q, f: q.weekday_hour(f), True),
    "year_compare_district": (lambda q, f: q.year_compare(
        f, "district", [date(2015, m, 10) for m in range(1, 13)], [date(2016, m, 10) for m in range(1, 13)]), True),
    "year_compare_zip": (lambda q, f: q.year_compare(
        f, "zip", [date(2015, 3, d) for d in range(1, 31)], [date(2016, 3, d) for d in range(1, 31)], top_n=5), True),
    "covered_days": (lambda q, f: q.covered_days(), False),
    "change_log": (lambda q, f: q.change_log(5).drop(columns=RUN_LOG_VARIES[:3]), False),
    "stops_by_race_gender": (lambda q, f: q.stops_by(f, "race", "gender", suppress=True), True),
    "stops_by_month": (lambda q, f: q.stops_by(f, "month"), True),
    "stops_by_description": (lambda q, f: q.stops_by(f, "description", "outcome", suppress=True), True),
    "stops_by_reason": (lambda q, f: q.stops_by(f, "reason", "race", suppress=True), True),
    "year_compare_reason": (lambda q, f: q.year_compare(
        f, "reason", [date(2015, m, 10) for m in range(1, 13)], [date(2016, m, 10) for m in range(1, 13)], 20), True),
    "outcomes_by_race": (lambda q, f: q.outcomes_by_race(f), True),
}


def pg_schema_url(schema: str, base: str = PG_URL) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}schema={schema}"


def new_schema(tag: str = "t") -> str:
    return f"{tag}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def drop_schema(conn, schema: str) -> None:  # noqa: ANN001
    conn.execute(f'drop schema if exists "{schema}" cascade')


def clone_schema(source: str, target: str) -> None:
    """Create schema ``target`` as a copy of ``source``: every table with its columns, defaults,
    constraints and indexes (``like ... including all``) and its rows. The warehouse has tables only
    (no views, sequences or functions), so a test can start from a copied warehouse instead of loading
    it again, as DuckDB tests copy the file."""
    with psycopg.connect(PG_URL, autocommit=True) as conn, conn.transaction():
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE' "
            "order by table_name", [source]).fetchall()]
        assert tables, f"schema {source} has no table"
        conn.execute(f'create schema "{target}"')
        for table in tables:
            conn.execute(f'create table "{target}"."{table}" (like "{source}"."{table}" including all)')
            conn.execute(f'insert into "{target}"."{table}" select * from "{source}"."{table}"')


def schema_of(url: str) -> str:
    """The schema a PIPELINE_WAREHOUSE URL of ``pg_schema_url`` names."""
    return parse_qs(urlsplit(url).query)["schema"][0]

@contextmanager
def backend_env(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: dict[str, str],
                tag: str) -> Iterator[dict[str, str]]:
    """``values`` plus PIPELINE_WAREHOUSE for ``backend`` (a DuckDB file under tmp_path, or a new
    PostgreSQL schema dropped afterwards), all set in the environment for a CLI-level test."""
    values = dict(values)
    schema = None
    if backend == "duckdb":
        values["PIPELINE_WAREHOUSE"] = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        schema = new_schema(tag)
        values["PIPELINE_WAREHOUSE"] = pg_schema_url(schema)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    try:
        yield values
    finally:
        if schema:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                drop_schema(conn, schema)



@pytest.fixture(scope="session")
def pg_admin() -> Iterator[object]:
    """An autocommit psycopg connection to the test database (skip, or fail in CI, if the server is down)."""
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pg_run_schema(pg_admin) -> Iterator[str]:  # noqa: ANN001
    """This test run's schema (created now, dropped with everything in it at the end)."""
    schema = new_schema("run")
    pg_admin.execute(f'create schema "{schema}"')
    try:
        yield schema
    finally:
        drop_schema(pg_admin, schema)


@pytest.fixture(scope="session")
def pg_url(pg_run_schema: str) -> str:
    """PIPELINE_WAREHOUSE URL of this run's shared schema."""
    return pg_schema_url(pg_run_schema)


@pytest.fixture
def pg_fresh_url(pg_admin) -> Iterator[str]:  # noqa: ANN001
    """PIPELINE_WAREHOUSE URL of an empty schema for one test (the warehouse creates it on first load)."""
    schema = new_schema("t")
    try:
        yield pg_schema_url(schema)
    finally:
        drop_schema(pg_admin, schema)


@pytest.fixture
def pg_settings(pg_fresh_url: str, tmp_path: Path) -> Settings:
    """Settings for an empty PostgreSQL warehouse and a local lake under tmp_path."""
    return Settings(warehouse_url=pg_fresh_url, lake_url=str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def pg_sample_warehouse(pg_admin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:  # noqa: ANN001
    """The bundled sample loaded once into its own PostgreSQL schema (reference tables included).

    Loaded exactly as ``sample_warehouse`` loads DuckDB (same entry points), so the two can be
    compared table by table and query by query. Treat as read-only.
    """
    from pipeline.extract.files import SampleSource
    from pipeline.load import run_load
    from pipeline.reference import ensure_reference
    from pipeline.warehouse import open_warehouse

    schema = new_schema("sample")
    root = tmp_path_factory.mktemp("pg_sample")
    settings = Settings(warehouse_url=pg_schema_url(schema), lake_url=str(root / "lake"))
    warehouse = open_warehouse(settings)
    try:
        ensure_reference(settings, warehouse)
        run_load(settings, SampleSource(), "backfill", warehouse=warehouse)
        yield settings
    finally:
        close = getattr(warehouse, "close", None)
        if close:
            close()
        drop_schema(pg_admin, schema)
