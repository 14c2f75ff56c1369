"""Write a batch's landing, quarantine and curated zones from the work connection (landing files, views).

The curated zone is a Delta table (:mod:`pipeline.curated`); a batch merges into it in one commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .curated import CuratedError, CuratedFile, CuratedTable, StagedFile, stage_partitioned, staging_select
from .lake import Lake, write_parquet
from .transform import landing_year

log = logging.getLogger(__name__)



def write_landing_and_quarantine(lake: Lake, load_id: str, landing: list[Path], quarantine: pa.Table) -> list[str]:
    """Landing = typed rows that passed (the files the transform wrote, one per stop year);
    quarantine = rows that did not, with the reason."""
    keys = []
    for path in landing:
        keys.append(f"landing/load_id={load_id}/{path.name}")
        lake.put_file(keys[-1], path)
    keys.append(f"quarantine/load_id={load_id}/rejects.parquet")
    write_parquet(lake, keys[-1], quarantine)
    return keys


CHUNK_ROWS = 400_000  # rows per merged month range: the merge's memory grows with this, not with the batch
LOOKUP_MAX_ROWS = 50_000  # a batch up to this size asks where its replaced rows are; a bigger one rewrites its months
FOLD_SHARE = 2  # small files of a month folded into a batch's new file there: up to this many times its rows

# (the batch's row_ids, the content_keys of its Socrata rows) -> (row_id, date_of_stop) of every row the
# zone holds that the batch replaces, by the merge's own rule (MERGE_SQL's ``kept``). The load answers
# from the warehouse, which holds exactly the zone's rows (the commit protocol; converge first).
ReplacedRows = Callable[[list[str], list[str]], list[tuple[str, date]]]


@dataclass
class CuratedCommit:
    """What one batch's commit did to the curated table."""

    version: int
    version_before: int | None
    local_files: list[str]  # local copies of the files the commit added (this batch's rows, and kept ones)
    batch_rows: int  # this batch's rows as written (counted in the files before the commit)
    chunks: list[tuple[int, int, int]]
    replaced_files: int = 0  # files the commit removed (their kept rows are in local_files)

    @property
    def months(self) -> set[tuple[int, int]]:
        """(year, month) partitions the commit wrote: every file it added or removed is in one of them."""
        return {(year, month) for year, lo, hi in self.chunks for month in range(lo, hi + 1)}


def _local_paths(stack: ExitStack, lake: Lake, keys: list[str]) -> list[str]:
    return [str(stack.enter_context(lake.local_copy(k))) for k in keys]


def months_holding_batch_rows(
    con: duckdb.DuckDBPyConnection, lake: Lake, files: list[CuratedFile]
) -> set[tuple[int, int]]:
    """(year, month) partitions among ``files`` holding a row_id of this batch (an edit can move a row).

    Reads every file given: the way for a batch too big to look its keys up (LOOKUP_MAX_ROWS).
    """
    if not files:
        return set()
    with ExitStack() as stack:
        local = dict(zip(_local_paths(stack, lake, [f.key for f in files]), files))
        rows = con.execute(
            "select distinct filename from read_parquet(?, filename = true, hive_partitioning = false) "
            "where row_id in (select row_id from curated)",
            [list(local)],
        ).fetchall()
    return {(local[r[0]].year, local[r[0]].month) for r in rows}


def files_holding(files: list[CuratedFile], rows: Iterable[tuple[str, date]]) -> list[CuratedFile]:
    """The files whose Delta statistics do not rule out holding one of ``rows`` (row_id, stop date)."""
    by_month: dict[tuple[int, int], list[tuple[str, date]]] = defaultdict(list)
    for row_id, day in rows:
        by_month[(day.year, day.month)].append((row_id, day))
    return [f for f in files if any(f.may_hold(row_id, day) for row_id, day in by_month.get((f.year, f.month), ()))]


def files_to_fold(files: list[CuratedFile], batch_rows: int) -> list[CuratedFile]:
    """Small files of one month to rewrite with the batch's new rows there, smallest first, while the
    rows read stay within FOLD_SHARE x the batch's. A month that daily runs append to so keeps a few
    files instead of one per run, and no run reads more than about FOLD_SHARE x what it brings."""
    budget = FOLD_SHARE * batch_rows
    chosen = []
    for f in sorted(files, key=lambda f: (f.rows, f.key)):
        if f.rows > budget:
            break
        chosen.append(f)
        budget -= f.rows
    return chosen


def _targeted_files(
    con: duckdb.DuckDBPyConnection, existing: list[CuratedFile], month_rows: dict[tuple[int, int], int],
    replaced: ReplacedRows,
) -> tuple[list[CuratedFile], int]:
    """The files a small batch rewrites, from the Delta log's statistics and the rows it replaces
    (no data file read): those that may hold a replaced row, plus small files of its months to fold.
    Returns them and how many rows they must lose."""
    row_ids = [r[0] for r in con.execute("select row_id from curated").fetchall()]
    content_keys = [r[0] for r in con.execute("select content_key from curated where source = 'socrata'").fetchall()]
    old = replaced(row_ids, content_keys)
    touched = files_holding(existing, old)
    held = {f.key for f in touched}
    for (year, month), rows in month_rows.items():
        touched += files_to_fold([f for f in existing if (f.year, f.month) == (year, month) and f.key not in held], rows)
    return touched, len(old)


def _month_chunks(month_rows: dict[tuple[int, int], int]) -> list[tuple[int, int, int]]:
    """(year, first month, last month) runs of consecutive months holding <= ~CHUNK_ROWS rows each.

    At county scale a year (~150k rows) is one run; at 10x a year splits into a few, so no merge
    query holds more than ~CHUNK_ROWS rows (measured: a 1.4M-row year spilled and made the 20M
    backfill superlinear). Every month of a run is one the batch touches, so replacing the run's
    files replaces nothing else.
    """
    chunks: list[tuple[int, int, int]] = []
    for year in sorted({y for y, _ in month_rows}):
        start = last = None
        total = 0
        for month in range(1, 13):
            if (year, month) not in month_rows:
                continue
            rows = month_rows[(year, month)]
            if start is not None and (total + rows > CHUNK_ROWS or month != last + 1):
                chunks.append((year, start, last))
                start, total = None, 0
            if start is None:
                start = month
            total += rows
            last = month
        if start is not None:
            chunks.append((year, start, last))
    return chunks


MERGE_SQL = """
with old as ({old_sql}),
kept as (
    select * from old as o
    where not exists (select 1 from batch_keys as b where b.row_id = o.row_id)
      and not (o.source in ('file', 'sample') and exists (
          select 1 from batch_keys as b where b.source = 'socrata' and b.content_key = o.content_key))
),
new as (
    select * replace (cast(time_of_stop as varchar) as time_of_stop) from curated
    where {new_where}
),
merged as (
    select * from kept
    union all by name
    select * from new
)
select *, stop_year as year, stop_month as month from merged
"""
NO_OLD_ROWS = "select * replace (cast(time_of_stop as varchar) as time_of_stop) from curated where false"


def merge_curated(
    con: duckdb.DuckDBPyConnection, lake: Lake, table: CuratedTable, load_id: str, landing: list[Path],
    work_dir: Path, replaced: ReplacedRows | None = None,
) -> CuratedCommit:
    """Merge the batch into the curated table in one Delta commit, so that each row_id is in exactly one place.

    Which existing files the commit replaces:

    - a batch of at most LOOKUP_MAX_ROWS rows, with ``replaced`` given: the files whose statistics
      (stop-date and row_id range, in the Delta log) may hold a row it replaces, plus a few small
      files of its months to fold; new rows otherwise go into new files beside the old ones. No
      data file is read but those rewritten.
    - a bigger batch: every file of the months it touches, plus any month holding an older version
      of a batch row whose date was edited (found by reading the other months' row_ids).

    DuckDB writes the replaced files' rows that the batch does not replace (same rule as the
    warehouse merge) plus the batch's rows as new files, one run of consecutive months at a time
    (<= ~CHUNK_ROWS rows in memory); one commit then adds them and removes the replaced files. A
    rerun writes the same rows, and the zone's total always equals the warehouse's. Nothing is
    visible until the commit.
    """
    before = table.version()
    existing = table.files()
    all_files = [str(p) for p in landing]
    by_year = {year: f for f in all_files if (year := landing_year(f)) is not None}
    month_rows: dict[tuple[int, int], int] = {}
    for year, month, n in con.execute(
        "select year(date_of_stop), month(date_of_stop), count(*) from read_parquet(?) group by 1, 2", [all_files]
    ).fetchall():
        month_rows[(int(year), int(month))] = int(n)
    batch_months = set(month_rows)
    con.execute("set variable curate_files = ?", [all_files])
    must_drop = None  # rows the replaced files must lose, when known before the merge
    if not existing:
        touched: list[CuratedFile] = []
    elif replaced is not None and sum(month_rows.values()) <= LOOKUP_MAX_ROWS:
        touched, must_drop = _targeted_files(con, existing, month_rows, replaced)
    else:
        table.require_intact()  # every other month's files are read just below
        moved = months_holding_batch_rows(con, lake, [f for f in existing if (f.year, f.month) not in batch_months])
        touched = [f for f in existing if (f.year, f.month) in batch_months | moved]
    if existing:
        # The files of the months this batch writes to must be as the log records them: a file deleted
        # or cut short outside the pipeline is named here, not met as a read error (or silently kept).
        table.require_intact(batch_months | {(f.year, f.month) for f in touched})
    for f in touched:
        month_rows[(f.year, f.month)] = month_rows.get((f.year, f.month), 0) + f.rows
    chunks = _month_chunks(month_rows)
    # The batch's keys, only when there are old rows to replace (a first backfill has none).
    keys_sql = "select row_id, content_key, source from curated" + ("" if touched else " limit 0")
    con.execute(f"create or replace temp table batch_keys as {keys_sql}")
    schema = con.sql(MERGE_SQL.format(old_sql=NO_OLD_ROWS, new_where="false")).to_arrow_table().schema
    staged: list[StagedFile] = []
    old_rows = 0  # rows the replaced files hold, from their footers (not the log's counts: checked below)
    out_root = work_dir / "curated"
    with ExitStack() as stack:
        for n, (year, lo, hi) in enumerate(chunks):
            old = [f.key for f in touched if f.year == year and lo <= f.month <= hi]
            old_paths = _local_paths(stack, lake, old)
            old_rows += sum(pq.ParquetFile(p).metadata.num_rows for p in old_paths)
            landing_file = by_year.get(year)
            # The curated view reads the variable curate_files: this year's landing file only.
            con.execute("set variable curate_files = ?", [[landing_file] if landing_file else all_files[:1]])
            old_sql = ("select * from read_parquet(?, union_by_name = true, hive_partitioning = false)"
                       if old_paths else NO_OLD_ROWS)
            new_where = "stop_month between ? and ?" if landing_file else "false"
            params = ([old_paths] if old_paths else []) + ([lo, hi] if landing_file else [])
            staged += stage_partitioned(con, MERGE_SQL.format(old_sql=old_sql, new_where=new_where), params,
                                        out_root / f"{n:04d}", f"{load_id}-{n:04d}")
    con.execute("set variable curate_files = ?", [all_files])
    con.execute("drop table batch_keys")
    batch_rows = con.execute(
        "select count(*) from read_parquet(?, hive_partitioning = false) where load_id = ?",
        [[str(f.path) for f in staged], load_id],
    ).fetchall()[0][0] if staged else 0
    dropped = old_rows - (sum(f.rows for f in staged) - int(batch_rows))
    if must_drop is not None and dropped != must_drop:
        raise CuratedError(
            f"the curated files holding this batch's replaced rows lost {dropped:,} row(s), the warehouse names "
            f"{must_drop:,}: the zone and the warehouse disagree; restore the lake from backup or reload"
        )
    version = table.commit_files(staged, touched, schema, load_id)
    log.info("curated: version %s -> %s, %d month range(s), %d file(s) added, %d replaced (%d row(s) replaced; "
             "%d month(s) touched only by moved rows)", before, version, len(chunks), len(staged), len(touched),
             dropped, len({(f.year, f.month) for f in touched} - batch_months))
    return CuratedCommit(version, before, [_committed_copy(lake, f) for f in staged], int(batch_rows), chunks,
                         len(touched))


def _committed_copy(lake: Lake, staged: StagedFile) -> str:
    """A local path holding the bytes of a file the commit added: the staged file an S3 upload leaves
    behind, or on a local lake the committed file itself (the staged one was moved there)."""
    return str(staged.path) if staged.path.exists() else lake.uri(staged.key())


def curated_batch_reader(con: duckdb.DuckDBPyConnection, paths: list[str], load_id: str) -> pa.RecordBatchReader:
    """Stream this load's rows (``load_id``) out of the files its curated commit added, with warehouse types.

    ``paths`` are local copies of those files (:attr:`CuratedCommit.local_files`): the bytes the
    commit made part of the zone (an S3 PUT is checksummed), so what the warehouse loads is exactly
    what the zone holds, without reading it back from S3.
    """
    if not paths:
        raise ValueError("no curated files to stage")
    return con.sql(staging_select(), params=[paths, load_id]).to_arrow_reader(64_000)
