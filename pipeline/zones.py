"""Write a batch's landing, quarantine and curated zones from the work connection's temp tables."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import duckdb

from .lake import Lake

log = logging.getLogger(__name__)

CURATED_PREFIX = "curated/charges"


def _copy_to_lake(con: duckdb.DuckDBPyConnection, lake: Lake, select_sql: str, key: str, tmp: Path) -> None:
    path = tmp / Path(key).name
    con.execute(f"copy ({select_sql}) to '{path}' (format parquet, compression zstd)")
    lake.put_file(key, path)


def write_landing_and_quarantine(con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str) -> list[str]:
    """Landing = typed rows that passed; quarantine = rows that did not, with the reason."""
    keys = [f"landing/load_id={load_id}/charges.parquet", f"quarantine/load_id={load_id}/rejects.parquet"]
    with tempfile.TemporaryDirectory(prefix="zones-") as tmp:
        _copy_to_lake(con, lake, "select * from landing", keys[0], Path(tmp))
        _copy_to_lake(con, lake, "select * from quarantine", keys[1], Path(tmp))
    return keys


def partition_key(year: int, month: int) -> str:
    return f"{CURATED_PREFIX}/year={year}/month={month:02d}/part.parquet"


def merge_curated(con: duckdb.DuckDBPyConnection, lake: Lake) -> list[str]:
    """Merge the batch into its year/month partitions: a partition holds each row_id once.

    Rows already in a partition are replaced by the batch's version (same rule as the warehouse
    merge), so a rerun rewrites the same partitions with the same rows.
    """
    months = con.execute("select distinct stop_year, stop_month from curated order by 1, 2").fetchall()
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="curated-") as tmp:
        tmpdir = Path(tmp)
        for year, month in months:
            key = partition_key(year, month)
            batch = f"select * from curated where stop_year = {int(year)} and stop_month = {int(month)}"
            out = tmpdir / f"{year}-{month:02d}.parquet"
            if lake.exists(key):
                with lake.local_copy(key) as existing:
                    con.execute(
                        f"""copy (
                            select * from read_parquet('{existing}') as old
                            where old.row_id not in (select row_id from curated)
                              and not (old.source in ('file', 'sample') and old.content_key in
                                       (select content_key from curated where source = 'socrata'))
                            union all by name
                            {batch}
                        ) to '{out}' (format parquet, compression zstd)"""
                    )
            else:
                con.execute(f"copy ({batch}) to '{out}' (format parquet, compression zstd)")
            lake.put_file(key, out)
            written.append(key)
    log.info("curated: %d month partition(s) written", len(written))
    return written


def curated_row_count(con: duckdb.DuckDBPyConnection, lake: Lake) -> int | None:
    """Rows across all curated partitions (for the zone-vs-warehouse cross-check); None if not local."""
    keys = [k for k in lake.list(CURATED_PREFIX) if k.endswith(".parquet")]
    if not keys:
        return 0
    if lake.url.startswith("s3://"):
        import io

        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(io.BytesIO(lake.get_bytes(k))).metadata.num_rows for k in keys)
    paths = [lake.uri(k) for k in keys]
    return con.execute("select count(*) from read_parquet(?)", [paths]).fetchall()[0][0]
