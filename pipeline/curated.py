"""The curated zone: one Delta Lake table of enriched charges, partitioned by stop year and month.

Why Delta Lake (delta-rs, the ``deltalake`` package): a load's whole change to the zone is one
atomic commit, on a local folder and on S3, with no catalog server. A crash before the commit
leaves only unreferenced files that no reader sees; a crash after it leaves a version that the
warehouse does not hold yet, which the next run undoes with :meth:`CuratedTable.restore` (the
commit protocol in :mod:`pipeline.load`). Versions give time travel, file statistics give pruning,
and Spark, Athena and Redshift Spectrum read the table as it is.

Layout: ``curated/charges/_delta_log/`` plus ``year=YYYY/month=M/part-*.parquet``. The partition
columns ``year`` and ``month`` repeat ``stop_year``/``stop_month``: Delta keeps partition values
in the log, not in the files, and the warehouse stages straight from the files, which must then
carry every column it loads.

NOTE: Delta Lake has no time-of-day type, so ``time_of_stop`` is stored as ``HH:MM:SS`` text and
cast back to TIME when staged (:func:`staging_select`).
"""

from __future__ import annotations

import logging
import re
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pyarrow as pa

from .lake import Lake

log = logging.getLogger(__name__)

CURATED_TABLE = "curated/charges"
PARTITION_BY = ["year", "month"]
VACUUM_RETENTION_HOURS = 168
CHECKPOINT_EVERY = 10  # versions between log checkpoints
CHECKPOINT_ACTIONS = 100  # a commit adding/removing this many files is checkpointed at once


class CuratedError(RuntimeError):
    """The curated zone and the warehouse disagree in a way no automatic step may repair."""


REPAIR_HINT = "run `.venv/bin/python -m pipeline repair` (docs/DEPLOY.md, runbook)"


# Columns whose per-file min/max go into each Add action's statistics: where a file's rows can be
# (stop date) and which keys it can hold (row_id). The merge picks the files a batch must rewrite
# from these alone (zones.files_holding), without reading any data file.
STATS_COLUMNS = ("row_id", "date_of_stop")


def curated_columns() -> list[tuple[str, str]]:
    """The curated files' columns and DuckDB types, in file order, as transform/curate.sql writes them
    (what :func:`pipeline.repair.repair` rebuilds the files with; tests/test_lake_integrity.py compares)."""
    from .schema import SOURCE_COLUMNS

    return [
        ("row_id", "VARCHAR"), ("stop_id", "VARCHAR"), ("content_key", "VARCHAR"), ("source", "VARCHAR"),
        ("source_updated_at", "TIMESTAMP"), ("load_id", "VARCHAR"), ("source_file", "VARCHAR"),
        ("raw_line", "BIGINT"),
        *[(name, "VARCHAR" if name == "time_of_stop" else typ) for name, typ in SOURCE_COLUMNS],
        ("district", "VARCHAR"), ("zip5", "VARCHAR"), ("zip_status", "VARCHAR"),
        ("stop_year", "BIGINT"), ("stop_month", "BIGINT"),
    ]


@dataclass(frozen=True)
class CuratedFile:
    key: str  # lake key of the data file
    year: int
    month: int
    rows: int
    size: int = 0
    # From the Add action's statistics; None for a file committed without them (then it may hold anything).
    min_date: date | None = None
    max_date: date | None = None
    min_row_id: str | None = None
    max_row_id: str | None = None

    def may_hold(self, row_id: str, day: date) -> bool:
        """False only when the statistics prove the file holds no row ``row_id`` dated ``day``."""
        if (day.year, day.month) != (self.year, self.month):
            return False
        if self.min_date is not None and self.max_date is not None and not self.min_date <= day <= self.max_date:
            return False
        if self.min_row_id is not None and self.max_row_id is not None:
            return self.min_row_id <= row_id <= self.max_row_id
        return True


@dataclass(frozen=True)
class StagedFile:
    """A data file written locally (by DuckDB), not yet in the table."""

    rel: str  # path inside the table: year=YYYY/month=M/part-<run>-<n>.parquet
    path: Path
    year: int
    month: int
    rows: int
    stats: dict = field(default_factory=dict)  # Delta statistics (numRecords, minValues, maxValues, nullCount)

    def key(self) -> str:
        return f"{CURATED_TABLE}/{self.rel}"


def file_stats(con, paths: list[str]) -> dict[str, dict]:  # noqa: ANN001
    """Delta statistics of local Parquet files, by path: row count, min/max and nulls of STATS_COLUMNS.

    Computed exactly with DuckDB (two columns of files this run just wrote), not taken from the
    Parquet footer, whose string statistics a writer may truncate.
    """
    if not paths:
        return {}
    aggregates = ", ".join(f"min({c}), max({c}), count(*) - count({c})" for c in STATS_COLUMNS)
    rows = con.execute(
        f"select filename, count(*), {aggregates} from read_parquet(?, filename = true, hive_partitioning = false) "
        "group by filename",
        [paths],
    ).fetchall()
    out = {}
    for filename, n, *values in rows:
        mins, maxs, nulls = {}, {}, {}
        for i, column in enumerate(STATS_COLUMNS):
            lo, hi, null = values[3 * i: 3 * i + 3]
            if lo is not None:
                mins[column], maxs[column] = str(lo), str(hi)  # dates as YYYY-MM-DD, as Delta wants
            nulls[column] = int(null)
        out[filename] = {"numRecords": int(n), "minValues": mins, "maxValues": maxs, "nullCount": nulls}
    return out


def stage_partitioned(con, select_sql: str, params: list, out_dir: Path, tag: str) -> list[StagedFile]:  # noqa: ANN001
    """COPY a query (with ``year`` and ``month`` columns) to Parquet files partitioned like the table.

    DuckDB writes them in bounded memory (one query's rows at most); the files carry every column but
    the partition columns, as Delta wants. ``tag`` makes the names unique to the run. Each file
    comes back with its Delta statistics.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # The target folder is a bound parameter: a lake path may hold a quote (issue 20). The tag is a
    # run id (digits, letters, '-'), checked because it is part of the SQL text.
    if not re.fullmatch(r"[A-Za-z0-9_-]+", tag):
        raise ValueError(f"not a file name tag: {tag!r}")
    con.execute(
        f"copy ({select_sql}) to ? (format parquet, compression zstd, compression_level 1, "
        f"partition_by (year, month), write_partition_columns false, filename_pattern 'part-{tag}-{{i}}')",
        [*params, str(out_dir)],
    )
    paths = sorted(out_dir.glob("year=*/month=*/*.parquet"))
    stats = file_stats(con, [str(p) for p in paths])
    staged = []
    for path in paths:
        rel = path.relative_to(out_dir).as_posix()
        parts = dict(p.split("=", 1) for p in rel.split("/")[:-1])
        file = stats[str(path)]
        staged.append(StagedFile(rel, path, int(parts["year"]), int(parts["month"]), file["numRecords"], file))
    return staged


def storage_options(lake: Lake) -> dict[str, str] | None:
    """delta-rs options for the lake: None for a folder; for S3, the settings boto3 would use.

    Credentials and the endpoint come from the same AWS chain as boto3 (delta-rs reads the
    ``AWS_*`` variables itself). Writes are serialised by the load lock, so the single-writer
    rename is safe (``AWS_S3_ALLOW_UNSAFE_RENAME``); see docs/DEPLOY.md before running two writers.
    """
    if not lake.url.startswith("s3://"):
        return None
    opts = {"AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    endpoint = getattr(lake, "endpoint_url", None)
    if endpoint and not endpoint.rstrip("/").endswith(".amazonaws.com"):  # moto, MinIO: say where
        opts["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    region = getattr(lake, "region", None)
    if region:
        opts["AWS_REGION"] = region
    return opts


class CuratedTable:
    """The Delta table at ``<lake>/curated/charges``.

    One snapshot of the log is kept and brought forward on each use (``update_incremental`` lists
    the log and reads only the commits since): opening the table afresh replays the log from its
    last checkpoint, which on S3 is a dozen requests and every commit since, each time.
    """

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.uri = lake.uri(CURATED_TABLE)
        self.options = storage_options(lake)
        self._current = None  # deltalake.DeltaTable of the latest version, once loaded

    def _table(self, version: int | None = None):  # noqa: ANN202 - deltalake.DeltaTable
        from deltalake import DeltaTable

        if version is not None:
            return DeltaTable(self.uri, version=version, storage_options=self.options)
        if self._current is None:
            self._current = DeltaTable(self.uri, storage_options=self.options)
        else:
            try:
                self._current.update_incremental()
            except Exception:  # noqa: BLE001 - the table was replaced under us: open it afresh
                self._current = DeltaTable(self.uri, storage_options=self.options)
        return self._current

    def exists(self) -> bool:
        from deltalake import DeltaTable

        return self._current is not None or DeltaTable.is_deltatable(self.uri, storage_options=self.options)

    def readable(self) -> str | None:
        """None when the Delta log can be read, else why not (a truncated or corrupt commit file)."""
        try:
            self._table()
        except Exception as exc:  # noqa: BLE001 - delta-rs raises its own kinds for a broken log
            self._current = None
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        return None

    def check_files(self, months: set[tuple[int, int]] | None = None) -> list[str]:
        """The data files of the current version (all, or those of ``months``) that are missing or
        hold another number of bytes than their Add action records: damage done outside the pipeline."""
        problems = []
        present = self.lake.sizes(CURATED_TABLE)  # one listing, not a request per file
        for f in self.files():
            if months is not None and (f.year, f.month) not in months:
                continue
            actual = present.get(f.key)
            if actual is None:
                problems.append(f"{f.key}: missing (the Delta log records {f.size:,} bytes, {f.rows:,} rows)")
            elif actual != f.size:
                problems.append(f"{f.key}: {actual:,} bytes, the Delta log records {f.size:,}")
        return problems

    def require_intact(self, months: set[tuple[int, int]] | None = None) -> None:
        """Raise CuratedError naming the damaged files (see :meth:`check_files`)."""
        problems = self.check_files(months)
        if problems:
            scope = "" if months is None else f" in the {len(months)} month(s) this run touches"
            raise CuratedError(
                f"the curated zone was changed outside the pipeline: {len(problems)} file(s){scope} missing or "
                f"damaged, first: {problems[0]}; nothing was published; {REPAIR_HINT}"
            )

    def version(self) -> int | None:
        return self._table().version() if self.exists() else None

    def files(self, version: int | None = None) -> list[CuratedFile]:
        """The data files of a version (default: the current one), with their statistics, from the Delta log alone."""
        if not self.exists():
            return []
        actions = pa.table(self._table(version).get_add_actions(flatten=True)).to_pydict()
        none = [None] * len(actions["path"])
        return [
            CuratedFile(f"{CURATED_TABLE}/{path}", int(year), int(month), int(rows), int(size), *bounds)
            for path, year, month, rows, size, *bounds in zip(
                actions["path"], actions["partition.year"], actions["partition.month"], actions["num_records"],
                actions["size_bytes"], *(actions.get(f"{side}.{column}", none)
                                         for column in ("date_of_stop", "row_id") for side in ("min", "max")),
            )
        ]

    def row_count(self) -> int:
        """Rows in the current version: the sum of the log's per-file record counts (no data read)."""
        return sum(f.rows for f in self.files())

    def month_counts(self) -> dict[tuple[int, int], int]:
        """(year, month) -> rows in the current version, from the log's per-file record counts."""
        counts: dict[tuple[int, int], int] = {}
        for f in self.files():
            counts[(f.year, f.month)] = counts.get((f.year, f.month), 0) + f.rows
        return counts

    def same_content(self, version: int) -> bool:
        """True when the current version holds exactly the files of ``version`` (e.g. after a restore)."""
        if version == self.version():
            return True
        return {f.key for f in self.files()} == {f.key for f in self.files(version)}

    def commit_files(self, added: list[StagedFile], removed: list[CuratedFile], schema: pa.Schema, run_id: str) -> int:
        """Put ``added`` into the table and drop ``removed`` from it in ONE commit; return the new version.

        The files are placed first (a local move, or an S3 upload); until the commit no reader sees
        them, and a crash before it leaves only unreferenced files for :meth:`vacuum`. Each Add
        action carries the file's statistics (:data:`STATS_COLUMNS`).
        """
        import json
        import time

        from deltalake import CommitProperties, Schema
        from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

        now = int(time.time() * 1000)
        adds = []
        placed: list[str] = []
        place = getattr(self.lake, "move_file", self.lake.put_file)
        try:
            for f in added:
                size = f.path.stat().st_size
                place(f.key(), f.path)
                placed.append(f.key())
                adds.append(AddAction(f.rel, size, {"year": str(f.year), "month": str(f.month)}, now, True,
                                      json.dumps(f.stats or {"numRecords": f.rows})))
            props = CommitProperties(custom_metadata={"run_id": run_id})
            if not self.exists():
                create_table_with_add_actions(self.uri, Schema.from_arrow(schema), adds, mode="append",
                                              partition_by=PARTITION_BY, storage_options=self.options,
                                              commit_properties=props)
            else:
                prefix = f"{CURATED_TABLE}/"
                removes = [RemoveAction(f.key[len(prefix):], True, now, f.size,
                                        {"year": str(f.year), "month": str(f.month)}) for f in removed]
                table = self._table()
                table.create_write_transaction([*removes, *adds], mode="append", schema=table.schema(),
                                               partition_by=PARTITION_BY, commit_properties=props)
        except BaseException:
            self._remove_uncommitted(placed)
            raise
        version = self._table().version()
        self._checkpoint(version, len(added) + len(removed))
        return version

    def _remove_uncommitted(self, keys: list[str]) -> None:
        """After a failed commit: delete the files it placed, unless a version references them (the
        commit got through before the error). Best effort; vacuum removes what is left."""
        try:
            if self.exists() and self.readable() is not None:
                return  # the log cannot say what was committed: leave the files to vacuum
            committed = {f.key for f in self.files()}
            for key in keys:
                if key not in committed:
                    self.lake.delete(key)
        except Exception as exc:  # noqa: BLE001
            log.warning("curated zone: files of the failed commit left for vacuum: %s: %s", type(exc).__name__, exc)

    def _checkpoint(self, version: int, actions: int) -> None:
        """Write a checkpoint after a big commit and every CHECKPOINT_EVERY versions.

        A reader replays the log from the last checkpoint, every commit twice (delta-rs): without one,
        a backfill's commit (one action per file) would be read again by every later run. Best effort:
        a checkpoint only saves reading; a crash before it loses nothing.
        """
        if actions < CHECKPOINT_ACTIONS and version % CHECKPOINT_EVERY:
            return
        try:
            self._table().create_checkpoint()
        except Exception as exc:  # noqa: BLE001
            log.warning("curated zone: checkpoint of version %s skipped: %s: %s", version, type(exc).__name__, exc)

    def delete_all(self, run_id: str) -> int:
        """Commit an empty version (the warehouse holds nothing): return the new version."""
        from deltalake import CommitProperties

        table = self._table()
        table.delete(commit_properties=CommitProperties(custom_metadata={"run_id": run_id}))
        return self._table().version()

    def restore(self, version: int) -> int:
        """Make the current version hold exactly ``version``'s files again (a new commit)."""
        self._table().restore(version)
        return self._table().version()

    def vacuum(self, retention_hours: int = VACUUM_RETENTION_HOURS) -> int:
        """Delete data files no version of the last ``retention_hours`` needs (replaced months, files a
        killed writer never committed); return how many. The converge step only ever restores the
        version the warehouse holds, which is current or at most one commit old, so a week is ample.
        ``full=True``: delta-rs's default ("lite") vacuum only deletes files the log removed and never
        sees a file that was placed but not committed, which would then stay forever."""
        removed = self._table().vacuum(retention_hours=retention_hours, dry_run=False,
                                       enforce_retention_duration=False, full=True)
        return len(removed)

    def legacy_files(self) -> list[str]:
        """Parquet files of the layout before the Delta table (``year=YYYY/month=MM/part.parquet``)."""
        if self.exists():
            return []
        return [k for k in self.lake.list(CURATED_TABLE) if k.endswith("/part.parquet")]

    def migrate_legacy(self, run_id: str, work_dir: Path) -> int:
        """Turn the pre-Delta curated files into the Delta table (one commit), then delete them."""
        import duckdb

        keys = self.legacy_files()
        con = duckdb.connect()
        try:
            with ExitStack() as stack:
                paths = [str(stack.enter_context(self.lake.local_copy(k))) for k in keys]
                select = ("select * replace (cast(time_of_stop as varchar) as time_of_stop), stop_year as year, "
                          "stop_month as month from read_parquet(?, hive_partitioning = false, union_by_name = true)")
                schema = con.sql(select + " limit 0", params=[paths]).to_arrow_table().schema
                out = work_dir / "legacy"
                staged = stage_partitioned(con, select, [paths], out, f"{run_id}-legacy")
                version = self.commit_files(staged, [], schema, run_id)
        finally:
            con.close()
        for key in keys:
            self.lake.delete(key)
        log.warning("curated zone: %d file(s) of the pre-Delta layout migrated into a Delta table (version %s)",
                    len(keys), version)
        return version


def converge(table: CuratedTable, recorded: int | None, warehouse_rows: int | Callable[[], int], run_id: str,
             work_dir: Path) -> str:
    """Bring the curated zone back to the version the warehouse holds; return what was done.

    The warehouse records the version it loaded in the same transaction as the data. Anything
    newer in the lake was committed by a run that died before its warehouse commit, so it is
    undone here; the rerun of that input writes it again. A lake *behind* the warehouse (files
    lost, a restore from backup) cannot be repaired automatically and stops the run.
    ``warehouse_rows``: the warehouse's charges, or a function counting them, called only when the
    zone or the recorded version is missing (counting every charge on each daily run would be waste).
    """
    count = warehouse_rows if callable(warehouse_rows) else (lambda: warehouse_rows)
    broken = table.readable() if table.exists() else None
    if broken:
        raise CuratedError(f"the curated zone's Delta log at {table.uri} cannot be read ({broken}); {REPAIR_HINT}")
    if not table.exists() and table.legacy_files():
        table.migrate_legacy(run_id, work_dir)  # then adopted below when its rows equal the warehouse's
    if not table.exists():
        if held := count():
            raise CuratedError(
                f"the curated zone {table.uri} is missing but the warehouse holds {held:,} charges; "
                f"{REPAIR_HINT}"
            )
        return "curated zone: empty (first load)"
    current = table.version()
    if recorded is None:
        rows = table.row_count()
        warehouse_rows = count()
        if warehouse_rows == 0:
            if rows == 0:
                return f"curated zone: version {current}, empty like the warehouse"
            new = table.delete_all(run_id)
            log.warning("curated zone held %s row(s) the empty warehouse never committed (a killed first load): "
                        "emptied as version %s", f"{rows:,}", new)
            return f"curated zone emptied (version {current} -> {new}): a killed first load"
        if rows == warehouse_rows:  # a warehouse from before the lake version was recorded
            return f"curated zone: version {current} adopted ({rows:,} rows = warehouse)"
        raise CuratedError(
            f"the warehouse records no curated version and the zone holds {rows:,} rows vs {warehouse_rows:,} "
            f"in the warehouse; {REPAIR_HINT}"
        )
    if recorded > current:
        raise CuratedError(
            f"the curated zone (version {current}) is behind the warehouse (version {recorded}): "
            f"the lake was replaced or rolled back outside the pipeline (or a log entry deleted); {REPAIR_HINT}"
        )
    if table.same_content(recorded):
        return f"curated zone: version {current} = warehouse"
    new = table.restore(recorded)
    log.warning("curated zone was ahead of the warehouse (version %s vs %s: a run died after its lake commit); "
                "restored to version %s's files as version %s", current, recorded, recorded, new)
    return f"curated zone restored to version {recorded} (as {new}): a run died after its lake commit"


def staging_select(files: str = "?", load_id: str = "?") -> str:
    """SQL (DuckDB) reading curated files back with warehouse types, one load's rows only."""
    return (
        "select * replace (cast(time_of_stop as time) as time_of_stop) "
        f"from read_parquet({files}, hive_partitioning = false, union_by_name = true) "
        f"where load_id = {load_id}"
    )
