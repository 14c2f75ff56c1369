"""load_raw -> clean -> standardise, on a DuckDB work connection (the processing engine).

Sources create ``src_rows``/``src_rejects``; this module turns them into ``typed`` ->
``landing`` + ``quarantine`` -> ``curated`` (district, ZIP5, partition columns), all temp tables
on the work connection. SQL lives in ``sql/transform``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

from .schema import SOURCE_COLUMNS
from .sqlfiles import bind, load_sql, split_statements

log = logging.getLogger(__name__)

ZipAssigner = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class TransformCounts:
    typed: int
    landed: int
    quarantined: int
    curated: int
    with_zip: int
    zip_status: dict[str, int]
    quarantine_reasons: dict[str, int]


def work_connection(temp_dir: Path | None = None, memory_limit: str = "1500MB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for processing; spills to ``temp_dir`` past ``memory_limit``."""
    con = duckdb.connect()
    con.execute(f"set memory_limit = '{memory_limit}'")
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("set temp_directory = ?", [str(temp_dir)])
    if threads:
        con.execute(f"set threads = {int(threads)}")
    con.execute("set preserve_insertion_order = false")
    return con


def run_sql(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> None:
    for i, statement in enumerate(split_statements(load_sql(name))):
        used = {k: v for k, v in (params or {}).items() if f":{k}" in statement}
        text, values = bind(statement, used, "qmark")
        start = time.perf_counter()
        con.execute(text, values)
        log.debug("%s[%d]: %.2f s", name, i, time.perf_counter() - start)


def assign_zips(con: duckdb.DuckDBPyConnection, assign: ZipAssigner) -> None:
    """Create ``zip_lookup`` for the distinct coordinates in ``landing`` (far fewer than rows)."""
    coords = con.execute(
        "select distinct latitude, longitude from landing where latitude is not null and longitude is not null"
    ).fetchnumpy()
    lat = np.asarray(coords["latitude"], dtype="float64")
    lon = np.asarray(coords["longitude"], dtype="float64")
    if len(lat):
        zips, status = assign(lat, lon)
    else:
        zips, status = np.array([], dtype=object), np.array([], dtype=object)
    table = pa.table(
        {
            "latitude": pa.array(lat, pa.float64()),
            "longitude": pa.array(lon, pa.float64()),
            "zip5": pa.array([z if z else None for z in zips], pa.string()),
            "zip_status": pa.array([str(s) for s in status], pa.string()),
        }
    )
    con.register("_zip_lookup_src", table)
    con.execute("create or replace temp table zip_lookup as select * from _zip_lookup_src")
    con.unregister("_zip_lookup_src")


def transform(con: duckdb.DuckDBPyConnection, source: str, load_id: str, assign: ZipAssigner) -> TransformCounts:
    """``src_rows`` + ``src_rejects`` -> ``landing``, ``quarantine``, ``curated`` temp tables."""
    run_sql(con, "transform/standardize")
    typed = con.execute("select count(*) from src_rows").fetchall()[0][0]
    run_sql(con, "transform/landing", {"source": source, "load_id": load_id})
    run_sql(con, "transform/quarantine", {"load_id": load_id})
    con.execute("drop view typed; drop table src_rows")  # landing + quarantine hold everything now
    assign_zips(con, assign)
    run_sql(con, "transform/curate")
    one = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
    status = dict(con.execute("select zip_status, count(*) from curated group by 1").fetchall())
    reasons = dict(
        con.execute(
            "select regexp_replace(reason, ':.*$', ''), count(*) from quarantine group by 1 order by 2 desc"
        ).fetchall()
    )
    return TransformCounts(
        typed=typed,
        landed=one("select count(*) from landing"),
        quarantined=one("select count(*) from quarantine"),
        curated=one("select count(*) from curated"),
        with_zip=one("select count(*) from curated where zip5 is not null"),
        zip_status={str(k): int(v) for k, v in status.items()},
        quarantine_reasons={str(k): int(v) for k, v in reasons.items()},
    )


def null_rates(con: duckdb.DuckDBPyConnection, table: str = "landing") -> dict[str, float]:
    """Share of nulls per canonical column in this load (recorded in the run log)."""
    cols = [c for c, _ in SOURCE_COLUMNS]
    total = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    if not total:
        return {}
    counts = con.execute(f"select {', '.join(f'count({c})' for c in cols)} from {table}").fetchall()[0]
    return {c: round(1 - n / total, 4) for c, n in zip(cols, counts)}
