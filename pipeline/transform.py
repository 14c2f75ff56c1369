"""load_raw -> clean -> standardise, on a DuckDB work connection (the processing engine).

Sources give their rows as ``src_rows`` (a lazy view over CSV files) or as batches (API pages, as
they arrive); this module streams them once through ``typed`` (sql/transform/standardize.sql) into
landing Parquet files and a small ``quarantine`` table, then defines ``curated`` (keys, district,
ZIP5, partition columns) as a view over the landing files. Nothing the size of the batch is held in
memory. SQL lives in ``sql/transform``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .config import test_pause
from .extract.base import src_schema
from .schema import SOURCE_COLUMNS
from .sqlfiles import bind, load_sql, run_script, split_statements

log = logging.getLogger(__name__)

ZipAssigner = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class TransformCounts:
    typed: int  # rows the source gave that the reader could split into fields (before --since/--until)
    outside_window: int  # of those, rows outside --since/--until: counted, not loaded
    reader_rejects: int  # lines the CSV reader could not split (0 for the API)
    landed: int
    quarantined: int  # typed rows that failed a check + reader rejects
    with_zip: int
    zip_status: dict[str, int]
    quarantine_reasons: dict[str, int]
    landing_files: list[Path]  # one per stop year (the curated view reads these)
    quarantine: pa.Table  # rejected records with their reason (sql/transform/quarantine.sql)
    clipped: int = 0  # over-long text values clipped to the warehouse widths (rows kept)
    read_by_file: dict[str, int] = field(default_factory=dict)  # source file -> rows parsed + lines rejected
    landed_by_file: dict[str, int] = field(default_factory=dict)  # source file -> rows landed (before superseded)

    @property
    def records(self) -> int:
        """Source records this load is accountable for (= landed + quarantined)."""
        return self.typed - self.outside_window + self.reader_rejects


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
    run_script(lambda statement, used: con.execute(*bind(statement, used, "qmark")), load_sql(name), params, name)


def assign_zips(con: duckdb.DuckDBPyConnection, assign: ZipAssigner) -> None:
    """Create ``zip_lookup`` for the distinct coordinates in the landing file (far fewer than rows)."""
    coords = con.execute(
        "select distinct latitude, longitude from read_parquet(getvariable('landing_files')) "
        "where latitude is not null and longitude is not null"
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


class YearFiles:
    """Landing rows split by stop year: ``<dir>/charges_<year>.parquet``, row groups of ~``flush_rows``.

    Year files let the curated zone be written one year at a time, so its partitioned write holds
    one year's rows (~150k at county scale), not the whole batch: memory stays flat and time stays
    linear as batches grow.
    """

    def __init__(self, directory: Path, schema: pa.Schema, flush_rows: int = 65_536) -> None:
        self.directory, self.schema, self.flush_rows = directory, schema, flush_rows
        self._writers: dict[int, pq.ParquetWriter] = {}
        self._buffers: dict[int, list[pa.RecordBatch]] = {}
        self._counts: dict[int, int] = {}

    def _flush(self, year: int) -> None:
        writer = self._writers.get(year)
        if writer is None:
            writer = self._writers[year] = pq.ParquetWriter(
                self.directory / f"charges_{year}.parquet", self.schema, compression="zstd", compression_level=1)
        writer.write_table(pa.Table.from_batches(self._buffers.pop(year), self.schema))
        self._counts.pop(year)

    def write(self, batch: pa.RecordBatch, keep: np.ndarray | None = None) -> None:
        """Append ``batch``'s rows (only those where the boolean mask ``keep`` is true, if given)."""
        years = pc.fill_null(pc.year(batch.column("date_of_stop")), 0).to_numpy(zero_copy_only=False)
        rows = np.arange(len(years)) if keep is None else np.flatnonzero(keep)
        order = rows[np.argsort(years[rows], kind="stable")]
        years = years[order]
        cuts = np.flatnonzero(np.diff(years)) + 1
        for start, end in zip(np.r_[0, cuts], np.r_[cuts, len(years)]):
            if start == end:
                continue  # nothing kept
            year = int(years[start])
            # One gather per year straight from the typed batch: no filtered copy of every column
            # first (real rows carry long text, so each copy of a batch costs). And not slices of
            # one gather: a slice keeps its whole parent batch alive while its year's buffer waits
            # to fill, so a few late rows of an old year (an API read in :updated_at order has some
            # on every page) held every page: +30 MB a page at 50,000 rows.
            part = batch.take(pa.array(order[start:end]))
            self._buffers.setdefault(year, []).append(part)
            self._counts[year] = self._counts.get(year, 0) + int(end - start)
            if self._counts[year] >= self.flush_rows:
                self._flush(year)

    def close(self) -> list[Path]:
        """Flush and close every file; return them in year order."""
        for year in list(self._buffers):
            self._flush(year)
        for writer in self._writers.values():
            writer.close()
        if not self._writers:  # an empty batch still has a landing file (with the schema)
            empty = self.directory / "charges_empty.parquet"
            pq.write_table(self.schema.empty_table(), empty)
            return [empty]
        return [self.directory / f"charges_{y}.parquet" for y in sorted(self._writers)]


def landing_year(path: Path | str) -> int | None:
    """The stop year of a landing file written by :class:`YearFiles` (None for an empty batch's file)."""
    suffix = Path(path).stem.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else None


def _typed_readers(
    con: duckdb.DuckDBPyConnection, text: str, values: list, batches: Iterable[pa.Table] | None, batch_rows: int
) -> Iterator[pa.RecordBatchReader]:
    """The typed rows, streamed: one reader over a lazy ``src_rows`` (file sources), or one per
    arriving batch (API pages), each registered as ``src_rows`` in turn. A source with no batches
    still gives one empty reader (over the empty ``src_rows`` :func:`transform` registered), for the schema."""
    if batches is None:
        yield con.sql(text, params=values).to_arrow_reader(batch_rows)
        return
    none = True
    for table in batches:
        none = False
        con.register("src_rows", table)
        yield con.sql(text, params=values).to_arrow_reader(batch_rows)
    if none:
        yield con.sql(text, params=values).to_arrow_reader(batch_rows)


def write_landing(
    con: duckdb.DuckDBPyConnection, params: dict, landing_dir: Path, batches: Iterable[pa.Table] | None = None,
    batch_rows: int = 122_880,
) -> tuple[dict[str, int], int, int, pa.Table, list[Path]]:
    """Stream typed rows once (sql/transform/landing.sql) and split them as they arrive.

    Passing rows go to one Parquet file per stop year in ``landing_dir``, rejected rows are
    returned as an Arrow table for the quarantine, rows outside the date window are only counted.
    One pass over the source keeps memory flat: nothing of the batch is materialised in DuckDB.
    ``batches`` (API pages) are typed one at a time as the source produces them.
    Returns (rows seen by source file, rows landed by source file, rows outside the window, values
    clipped, rejected rows, landing files).
    """
    statement = split_statements(load_sql("transform/landing"))[0]
    text, values = bind(statement, params, "qmark")
    start = time.perf_counter()
    drop = ("quarantine_reason", "raw_text", "in_window", "n_clipped")
    seen: dict[str, int] = {}
    landed: dict[str, int] = {}
    outside = clipped = 0
    rejects: list[pa.RecordBatch] = []
    years: YearFiles | None = None
    typed_schema = schema = None
    # con.sql(...) streams; an execute() result would be copied whole before the first batch.
    for reader in _typed_readers(con, text, values, batches, batch_rows):
        if years is None:
            typed_schema = reader.schema
            schema = pa.schema([f for f in typed_schema if f.name not in drop])
            years = YearFiles(landing_dir, schema)
        for batch in reader:
            by_file = pc.value_counts(batch.column("source_file"))
            for name, n in zip(by_file.field("values").to_pylist(), by_file.field("counts").to_pylist()):
                seen[name] = seen.get(name, 0) + n
            keep = batch.column("in_window")
            outside += batch.num_rows - (pc.sum(keep).as_py() or 0)
            failed = pc.is_valid(batch.column("quarantine_reason"))
            rejected = batch.filter(pc.and_(keep, failed))
            if rejected.num_rows:
                rejects.append(rejected)
            # The passing rows are never copied as a whole: their columns are gathered once, by year.
            passed = pc.and_(keep, pc.invert(failed))
            clipped += int(pc.sum(pc.filter(batch.column("n_clipped"), passed)).as_py() or 0)
            mask = passed.to_numpy(zero_copy_only=False)
            if mask.any():
                landed_files = pc.value_counts(pc.filter(batch.column("source_file"), passed))
                for name, n in zip(landed_files.field("values").to_pylist(), landed_files.field("counts").to_pylist()):
                    landed[name] = landed.get(name, 0) + n
                years.write(batch.select(schema.names), mask)
            test_pause("transforming")  # mid-stream: landing files open and unfinished
        del reader  # finished: the connection is free for the source's next page
    assert years is not None and typed_schema is not None
    files = years.close()
    log.debug("transform/landing: %s rows in %.2f s", f"{sum(seen.values()):,}", time.perf_counter() - start)
    rejected_table = pa.Table.from_batches(rejects, typed_schema) if rejects else typed_schema.empty_table()
    return seen, landed, outside, clipped, rejected_table, files


def drop_superseded(con: duckdb.DuckDBPyConnection, files: list[Path]) -> int:
    """Remove from the landing files the records the source superseded or quarantined; return how many were dropped.

    ``src_superseded`` (``source_file``, ``raw_line``, ``reason``), when a source leaves one, lists
    records a later copy of the same row replaces (``reason`` null: an API row re-stamped while the
    read paged, both copies typed as they arrived), and records that must go to the quarantine
    after all (``reason`` set: rows sharing one ``:id``). The first are dropped; the second move to
    ``typed_rejects`` with their reason. Only the files holding such a record are rewritten.
    """
    exists = con.execute("select count(*) from duckdb_tables() where table_name = 'src_superseded'").fetchall()[0][0]
    if not exists:
        return 0
    removed = 0
    if con.execute("select count(*) from src_superseded").fetchall()[0][0]:
        for path in files:
            rows = con.execute(
                "select l.file_row_number, s.reason from read_parquet(?, file_row_number = true) as l "
                "join src_superseded as s on l.source_file = s.source_file and l.raw_line = s.raw_line",
                [str(path)],
            ).fetchall()
            if not rows:
                continue
            con.execute(
                "insert into typed_rejects by name select l.* exclude (file_row_number), s.reason as quarantine_reason "
                "from read_parquet(?, file_row_number = true) as l join src_superseded as s "
                "on l.source_file = s.source_file and l.raw_line = s.raw_line where s.reason is not null",
                [str(path)],
            )
            _rewrite_without(path, np.array([r[0] for r in rows], dtype=np.int64))
            removed += sum(1 for _, reason in rows if reason is None)
        con.execute(
            "update typed_rejects set quarantine_reason = s.reason from src_superseded as s "
            "where s.source_file = typed_rejects.source_file and s.raw_line = typed_rejects.raw_line "
            "and s.reason is not null and typed_rejects.quarantine_reason is distinct from s.reason"
        )
        before = con.execute("select count(*) from typed_rejects").fetchall()[0][0]
        con.execute(
            "delete from typed_rejects where exists (select 1 from src_superseded as s "
            "where s.source_file = typed_rejects.source_file and s.raw_line = typed_rejects.raw_line "
            "and s.reason is null)"
        )
        removed += before - con.execute("select count(*) from typed_rejects").fetchall()[0][0]
    con.execute("drop table src_superseded")
    return removed


def _rewrite_without(path: Path, row_numbers: np.ndarray) -> None:
    """Rewrite one landing file without the given rows (0-based), keeping the order of the rest."""
    source = pq.ParquetFile(path)
    keep = np.ones(source.metadata.num_rows, dtype=bool)
    keep[row_numbers] = False
    tmp = path.with_name(path.name + ".tmp")
    at = 0
    with pq.ParquetWriter(tmp, source.schema_arrow, compression="zstd", compression_level=1) as writer:
        for batch in source.iter_batches(batch_size=65_536):
            mask = pa.array(keep[at : at + batch.num_rows])
            at += batch.num_rows
            writer.write_batch(batch.filter(mask))
    source.close()
    tmp.replace(path)


def transform(
    con: duckdb.DuckDBPyConnection,
    source: str,
    load_id: str,
    assign: ZipAssigner,
    work_dir: Path,
    *,
    finish: Callable[[duckdb.DuckDBPyConnection], int] | None = None,
    window: tuple[date | None, date | None] = (None, None),
    batches: Iterable[pa.Table] | None = None,
    keyed: bool = False,
) -> TransformCounts:
    """Source rows -> landing file in ``work_dir`` + ``quarantine`` table + ``curated`` view.

    ``keyed``: every row must carry the source's row id (the API's ``:id``); a row without one is
    quarantined (sql/transform/landing.sql).

    The rows are the lazy view ``src_rows`` (file sources) or ``batches`` (API pages, typed as they
    arrive). ``finish`` runs after the one scan: it creates ``src_rejects`` (and may create
    ``src_superseded``, see :func:`drop_superseded`).
    """
    if batches is not None:
        con.register("src_rows", src_schema().empty_table())  # what standardize.sql binds to; each page replaces it
    run_sql(con, "transform/standardize")
    landing_dir = work_dir / "landing"
    landing_dir.mkdir(parents=True, exist_ok=True)
    params = {"source": source, "load_id": load_id, "since": window[0], "until": window[1], "keyed": keyed}
    try:
        seen, landed_by_file, outside, clipped, rejected, landing = write_landing(con, params, landing_dir, batches)
    finally:
        close = getattr(batches, "close", None)  # a generator: closes the source's read (and its client)
        if close is not None:
            close()
    typed = sum(seen.values())
    if clipped:
        log.warning("%s over-long text value(s) clipped to the warehouse column widths (rows kept)", f"{clipped:,}")
    reader_rejects = finish(con) if finish else con.execute("select count(*) from src_rejects").fetchall()[0][0]
    read_by_file = dict(seen)
    for name, n in con.execute("select source_file, count(*) from src_rejects group by 1").fetchall():
        read_by_file[name] = read_by_file.get(name, 0) + n
    con.register("_typed_rejects", rejected)
    con.execute("create or replace temp table typed_rejects as select * from _typed_rejects")
    con.unregister("_typed_rejects")
    superseded = drop_superseded(con, landing)
    if superseded:
        log.info("%s record(s) replaced by a later copy of the same row removed from the landing files", f"{superseded:,}")
    typed -= superseded
    run_sql(con, "transform/quarantine", {"load_id": load_id})
    con.execute("drop view typed")
    if batches is not None:
        con.unregister("src_rows")
    else:
        con.execute("drop view src_rows")  # the landing file holds the batch now
    files = [str(p) for p in landing]
    con.execute("set variable landing_files = ?", [files])
    con.execute("set variable curate_files = ?", [files])  # zones.merge_curated narrows it year by year
    con.execute("drop table if exists dup_ordinals")
    for path in files:
        con.execute("set variable keys_file = ?", [path])
        run_sql(con, "transform/keys")
    assign_zips(con, assign)
    run_sql(con, "transform/curate")
    one = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
    # Counted on the landing file's narrow columns, not through the curated view (which is the
    # one full pass the curated zone makes).
    by_status = con.execute(
        "select coalesce(z.zip_status, 'no_coordinates'), count(*), count(z.zip5) "
        "from read_parquet(getvariable('landing_files')) as l "
        "left join zip_lookup as z on l.latitude = z.latitude and l.longitude = z.longitude group by 1"
    ).fetchall()
    status = {k: n for k, n, _ in by_status}
    reasons = dict(
        con.execute(
            "select regexp_replace(reason, ':.*$', ''), count(*) from quarantine group by 1 order by 2 desc"
        ).fetchall()
    )
    landed = one("select count(*) from read_parquet(getvariable('landing_files'))")
    quarantine = con.table("quarantine").to_arrow_table()
    con.execute("drop table quarantine")
    return TransformCounts(
        typed=typed,
        outside_window=outside,
        reader_rejects=int(reader_rejects),
        landed=landed,
        quarantined=quarantine.num_rows,
        with_zip=sum(int(z) for _, _, z in by_status),
        zip_status={str(k): int(v) for k, v in status.items()},
        quarantine_reasons={str(k): int(v) for k, v in reasons.items()},
        landing_files=landing,
        quarantine=quarantine,
        clipped=clipped,
        read_by_file=read_by_file,
        landed_by_file=landed_by_file,
    )


def null_counts(paths: list[Path]) -> tuple[int, dict[str, int]]:
    """(rows, nulls per canonical column) in this load, from the landing files' Parquet statistics."""
    metas = [pq.ParquetFile(p).metadata for p in paths]
    total = sum(m.num_rows for m in metas)
    names = {c for c, _ in SOURCE_COLUMNS}
    nulls: dict[str, int] = {}
    for meta, rg in ((m, i) for m in metas for i in range(m.num_row_groups)):
        group = meta.row_group(rg)
        for i in range(group.num_columns):
            col = group.column(i)
            name = col.path_in_schema
            if name in names:
                stats = col.statistics
                nulls[name] = nulls.get(name, 0) + (stats.null_count if stats is not None and stats.has_null_count else 0)
    return total, {c: nulls.get(c, 0) for c, _ in SOURCE_COLUMNS}
