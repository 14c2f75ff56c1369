"""Write a batch's landing, quarantine and curated zones from the work connection (landing file, views)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

import duckdb
import pyarrow as pa

from .lake import Lake
from .transform import landing_year

log = logging.getLogger(__name__)

CURATED_PREFIX = "curated/charges"


def _copy_to_lake(con: duckdb.DuckDBPyConnection, lake: Lake, select_sql: str, key: str, tmp: Path) -> None:
    path = tmp / Path(key).name
    con.execute(f"copy ({select_sql}) to '{path}' (format parquet, compression zstd, compression_level 1)")
    lake.put_file(key, path)


def write_landing_and_quarantine(
    con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, landing: list[Path]
) -> list[str]:
    """Landing = typed rows that passed (the files the transform wrote, one per stop year);
    quarantine = rows that did not, with the reason."""
    keys = []
    for path in landing:
        keys.append(f"landing/load_id={load_id}/{path.name}")
        lake.put_file(keys[-1], path)
    keys.append(f"quarantine/load_id={load_id}/rejects.parquet")
    with tempfile.TemporaryDirectory(prefix="zones-") as tmp:
        _copy_to_lake(con, lake, "select * from quarantine", keys[-1], Path(tmp))
    return keys


def partition_key(year: int, month: int) -> str:
    return f"{CURATED_PREFIX}/year={int(year)}/month={int(month):02d}/part.parquet"


def _partition_of(key: str) -> tuple[int, int]:
    parts = dict(p.split("=", 1) for p in key.split("/") if "=" in p)
    return int(parts["year"]), int(parts["month"])


def partitions_holding_batch_rows(con: duckdb.DuckDBPyConnection, lake: Lake, keys: list[str]) -> set[str]:
    """Existing partitions that hold a row_id of this batch (an edit can move a row to another month)."""
    if not keys:
        return set()
    with ExitStack() as stack:
        local = {str(stack.enter_context(lake.local_copy(k))): k for k in keys}
        rows = con.execute(
            "select distinct filename from read_parquet(?, filename = true, union_by_name = true, hive_partitioning = false) "
            "where row_id in (select row_id from curated)",
            [list(local)],
        ).fetchall()
    return {local[r[0]] for r in rows}


def merge_curated(con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str) -> tuple[list[str], int]:
    """Merge the batch into its year/month partitions so that each row_id is in exactly one.

    For each run of consecutive months the batch touches (its months, plus any month holding an
    older version of a batch row whose date was edited), at most ``CHUNK_ROWS`` rows within one
    year: those months' existing partitions are read, rows the batch replaces are dropped (same
    rule as the warehouse merge), the batch's rows of those months are added, and the result is
    written partitioned by month and uploaded over the old objects. A rerun therefore rewrites the
    same partitions with the same rows, and the zone's total always equals the warehouse's. The
    bounded runs keep the partitioned write's memory flat (the landing files are split by year). Returns the keys written and how many
    of this load's rows they hold (counted in the files before upload).
    """
    existing = {k for k in lake.list(CURATED_PREFIX) if k.endswith(".parquet")}
    batch_months = {partition_key(y, m) for y, m in con.execute(
        "select distinct year(date_of_stop), month(date_of_stop) from read_parquet(getvariable('landing_files'))"
    ).fetchall()}
    moved = partitions_holding_batch_rows(con, lake, sorted(existing - batch_months))
    touched_existing = sorted((batch_months | moved) & existing)
    all_files = con.execute("select getvariable('landing_files')").fetchall()[0][0]
    by_year = {year: f for f in all_files if (year := landing_year(f)) is not None}
    years = sorted(set(by_year) | {_partition_of(k)[0] for k in touched_existing})
    # The batch's keys, only when there are old rows to replace (a first backfill has none).
    keys_sql = "select row_id, content_key, source from curated" + ("" if touched_existing else " limit 0")
    con.execute(f"create or replace temp table batch_keys as {keys_sql}")
    written: list[str] = []
    batch_rows = 0
    with tempfile.TemporaryDirectory(prefix="curated-") as tmp:
        for year, lo, hi in _month_chunks(con, lake, years, by_year, touched_existing):
            old_keys = [k for k in touched_existing if _partition_of(k)[0] == year and lo <= _partition_of(k)[1] <= hi]
            out_dir = Path(tmp) / f"{year}-{lo:02d}"
            produced = _merge_months(con, lake, out_dir, old_keys, by_year.get(year), all_files, (lo, hi))
            if produced:
                batch_rows += con.execute(
                    "select count(*) from read_parquet(?, hive_partitioning = false) where load_id = ?",
                    [[str(p) for p in produced.values()], load_id],
                ).fetchall()[0][0]
            for key, path in produced.items():
                lake.put_file(key, path)
                written.append(key)
            for key in set(old_keys) - set(produced):  # every row of that month moved elsewhere
                lake.delete(key)
            shutil.rmtree(out_dir, ignore_errors=True)
    con.execute("set variable curate_files = ?", [all_files])
    con.execute("drop table batch_keys")
    log.info("curated: %d month partition(s) written (%d touched only by moved rows)", len(written), len(moved - batch_months))
    return written, int(batch_rows)


CHUNK_ROWS = 400_000  # rows per partitioned write: its memory grows with this, not with the batch


def _rows_in(lake: Lake, key: str) -> int:
    if hasattr(lake, "parquet_num_rows"):  # S3: the footer only
        return int(lake.parquet_num_rows(key))  # type: ignore[attr-defined]
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(lake.uri(key)).metadata.num_rows)


def _month_chunks(
    con: duckdb.DuckDBPyConnection, lake: Lake, years: list[int], by_year: dict[int, str], old: list[str]
) -> list[tuple[int, int, int]]:
    """(year, first month, last month) groups of consecutive months holding <= ~CHUNK_ROWS rows each.

    At county scale a year (~150k rows) is one chunk; at 10x a year is split into a few, so the
    partitioned write never holds more than ~CHUNK_ROWS rows (measured: a 1.4M-row year spilled and
    made the 20M backfill superlinear).
    """
    chunks: list[tuple[int, int, int]] = []
    for year in years:
        rows = dict.fromkeys(range(1, 13), 0)
        if year in by_year:
            for month, n in con.execute(
                "select month(date_of_stop), count(*) from read_parquet(?) group by 1", [by_year[year]]
            ).fetchall():
                rows[int(month)] += int(n)
        for key in old:
            y, m = _partition_of(key)
            if y == year:
                rows[m] += _rows_in(lake, key)
        start, total = None, 0
        for month in range(1, 13):
            if not rows[month]:
                continue
            if start is not None and total + rows[month] > CHUNK_ROWS:
                chunks.append((year, start, last))
                start, total = None, 0
            if start is None:
                start = month
            total += rows[month]
            last = month
        if start is not None:
            chunks.append((year, start, last))
    return chunks


def _merge_months(
    con: duckdb.DuckDBPyConnection, lake: Lake, out_dir: Path, old_keys: list[str], landing_file: str | None,
    all_files: list[str], months: tuple[int, int],
) -> dict[str, Path]:
    """Write the merged month partitions of one year's month range to ``out_dir``; return {lake key: local file}."""
    # The curated view reads the variable curate_files: this year's landing file only.
    con.execute("set variable curate_files = ?", [[landing_file] if landing_file else all_files[:1]])
    new_sql = ("select * from curated where stop_month between ? and ?" if landing_file
               else "select * from curated where false")
    with ExitStack() as stack:
        old_paths = [str(stack.enter_context(lake.local_copy(k))) for k in old_keys]
        old_sql = ("select * from read_parquet(?, union_by_name = true, hive_partitioning = false)"
                   if old_paths else "select * from curated where false")
        con.execute(
            f"""copy (
                with old as ({old_sql}),
                kept as (
                    select * from old as o
                    where not exists (select 1 from batch_keys as b where b.row_id = o.row_id)
                      and not (o.source in ('file', 'sample') and exists (
                          select 1 from batch_keys as b where b.source = 'socrata' and b.content_key = o.content_key))
                ),
                merged as (
                    select * from kept
                    union all by name
                    {new_sql}
                )
                select *, stop_year as year, stop_month as month from merged
            ) to '{out_dir}' (format parquet, compression zstd, compression_level 1, partition_by (year, month),
                             write_partition_columns false, filename_pattern 'part_{{i}}')""",
            ([old_paths] if old_paths else []) + (list(months) if landing_file else []),
        )
    produced: dict[str, Path] = {}
    for path in sorted(out_dir.glob("year=*/month=*/*.parquet")):
        key = partition_key(*_partition_of(str(path.relative_to(out_dir))))
        if key in produced:
            raise RuntimeError(f"more than one file written for {key}")
        produced[key] = path
    return produced


def curated_batch_reader(lake: Lake, keys: list[str], load_id: str) -> pa.RecordBatchReader:
    """Stream this load's rows (``load_id``) back out of the curated partitions it wrote.

    The warehouse stages from the curated zone, so what it loads is exactly what the zone holds.
    """
    import pyarrow.parquet as pq

    if not keys:
        raise ValueError("no curated partitions to stage")
    with lake.local_copy(keys[0]) as first:
        schema = pq.read_schema(first)

    def batches():  # noqa: ANN202
        for key in keys:
            with lake.local_copy(key) as path:
                table = pq.read_table(path, filters=[("load_id", "=", load_id)], schema=schema)
            yield from table.to_batches(max_chunksize=64_000)

    return pa.RecordBatchReader.from_batches(schema, batches())


def curated_row_count(con: duckdb.DuckDBPyConnection, lake: Lake) -> int | None:
    """Rows across all curated partitions (for the zone-vs-warehouse cross-check); None if not local."""
    keys = [k for k in lake.list(CURATED_PREFIX) if k.endswith(".parquet")]
    if not keys:
        return 0
    if lake.url.startswith("s3://"):
        # Footers only (ranged GETs, in parallel): a full-history lake is ~170 partitions of data
        # that never needs to leave S3 for a count.
        return lake.parquet_row_count(keys)  # type: ignore[attr-defined]
    paths = [lake.uri(k) for k in keys]
    return con.execute("select count(*) from read_parquet(?, hive_partitioning = false)", [paths]).fetchall()[0][0]
