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
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from .lake import Lake

log = logging.getLogger(__name__)

CURATED_TABLE = "curated/charges"
PARTITION_BY = ["year", "month"]


class CuratedError(RuntimeError):
    """The curated zone and the warehouse disagree in a way no automatic step may repair."""


@dataclass(frozen=True)
class CuratedFile:
    key: str  # lake key of the data file
    year: int
    month: int
    rows: int


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


def partition_predicate(chunks: list[tuple[int, int, int]]) -> str:
    """Delta predicate for the (year, first month, last month) ranges a commit replaces (ints only)."""
    return " OR ".join(
        f"(year = {int(y)} AND month >= {int(lo)} AND month <= {int(hi)})" for y, lo, hi in chunks
    )


class CuratedTable:
    """The Delta table at ``<lake>/curated/charges``."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.uri = lake.uri(CURATED_TABLE)
        self.options = storage_options(lake)

    def _table(self, version: int | None = None):  # noqa: ANN202 - deltalake.DeltaTable
        from deltalake import DeltaTable

        return DeltaTable(self.uri, version=version, storage_options=self.options)

    def exists(self) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self.uri, storage_options=self.options)

    def version(self) -> int | None:
        return self._table().version() if self.exists() else None

    def files(self, version: int | None = None) -> list[CuratedFile]:
        """The data files of a version (default: the current one), from the Delta log alone."""
        if not self.exists():
            return []
        actions = pa.table(self._table(version).get_add_actions(flatten=True)).to_pydict()
        return [
            CuratedFile(f"{CURATED_TABLE}/{path}", int(year), int(month), int(rows))
            for path, year, month, rows in zip(
                actions["path"], actions["partition.year"], actions["partition.month"], actions["num_records"]
            )
        ]

    def row_count(self) -> int:
        """Rows in the current version: the sum of the log's per-file record counts (no data read)."""
        return sum(f.rows for f in self.files())

    def same_content(self, version: int) -> bool:
        """True when the current version holds exactly the files of ``version`` (e.g. after a restore)."""
        return {f.key for f in self.files()} == {f.key for f in self.files(version)}

    def commit(
        self, data: pa.RecordBatchReader, chunks: list[tuple[int, int, int]], run_id: str
    ) -> int:
        """Replace the month ranges ``chunks`` with ``data`` in one atomic commit; return the new version."""
        from deltalake import CommitProperties, WriterProperties, write_deltalake

        exists = self.exists()
        write_deltalake(
            self.uri,
            data,
            partition_by=PARTITION_BY,
            mode="overwrite" if exists else "append",
            predicate=partition_predicate(chunks) if exists and chunks else None,
            storage_options=self.options,
            writer_properties=WriterProperties(compression="ZSTD", compression_level=1),
            commit_properties=CommitProperties(custom_metadata={"run_id": run_id}),
        )
        return self._table().version()

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

    def history_run_ids(self, limit: int = 20) -> Iterator[tuple[int, str | None]]:
        for entry in self._table().history(limit):
            yield int(entry.get("version", -1)), entry.get("run_id")


def converge(table: CuratedTable, recorded: int | None, warehouse_rows: int, run_id: str) -> str:
    """Bring the curated zone back to the version the warehouse holds; return what was done.

    The warehouse records the version it loaded in the same transaction as the data. Anything
    newer in the lake was committed by a run that died before its warehouse commit, so it is
    undone here; the rerun of that input writes it again. A lake *behind* the warehouse (files
    lost, a restore from backup) cannot be repaired automatically and stops the run.
    """
    if not table.exists():
        if warehouse_rows:
            raise CuratedError(
                f"the curated zone {table.uri} is missing but the warehouse holds {warehouse_rows:,} charges; "
                "restore the lake from backup, or reload: `python -m pipeline backfill` into an empty warehouse"
            )
        return "curated zone: empty (first load)"
    current = table.version()
    if recorded is None:
        rows = table.row_count()
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
            "in the warehouse; reload into an empty warehouse"
        )
    if recorded > current:
        raise CuratedError(
            f"the curated zone (version {current}) is behind the warehouse (version {recorded}): "
            "the lake was replaced or rolled back outside the pipeline; restore it from backup"
        )
    if table.same_content(recorded):
        return f"curated zone: version {current} = warehouse"
    new = table.restore(recorded)
    log.warning("curated zone was ahead of the warehouse (version %s vs %s: a run died after its lake commit); "
                "restored to version %s's files as version %s", current, recorded, recorded, new)
    return f"curated zone restored to version {recorded} (as {new}): a run died after its lake commit"


def staging_select(load_id_param: str = "?") -> str:
    """SQL (DuckDB) reading curated files back with warehouse types, one load's rows only."""
    return (
        "select * replace (cast(time_of_stop as time) as time_of_stop) "
        "from read_parquet(?, hive_partitioning = false, union_by_name = true) "
        f"where load_id = {load_id_param}"
    )
