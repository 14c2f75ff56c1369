"""CSV sources: the portal's export (plain or gzipped) and the bundled real sample."""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Callable

import duckdb

from ..config import SAMPLE_DIR
from ..lake import Lake
from ..schema import SOURCE_COLUMNS, map_headers
from .base import ExtractResult, SchemaError, create_src_rejects
from .csv_records import count_records, split_records

log = logging.getLogger(__name__)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def csv_headers(path: Path) -> list[str]:
    """Header names of a CSV export (plain or .gz), unique; an empty header becomes ``columnNN``.

    Read with Python's csv module rather than DuckDB's sniffer: the sniffer gives up on a file
    whose sampled lines include a malformed one, and malformed lines are what quarantine is for.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:  # gzip.BadGzipFile is an OSError
        raise SchemaError(f"{path}: not a CSV export (plain or .gz) of Traffic Violations: "
                          f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if not header:
        raise SchemaError(f"{path.name}: empty file (no header line)")
    names: list[str] = []
    for i, name in enumerate(header):
        name = name.strip() or f"column{i:02d}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def raw_key(source: str, load_date: date, load_id: str, path: Path, sha: str) -> str:
    # The content hash in the key makes a rerun of the same file on the same day reuse its raw copy.
    return f"raw/source={source}/load_date={load_date.isoformat()}/{sha[:16]}-{path.name}"


def read_csv_files(
    con: duckdb.DuckDBPyConnection, paths: list[Path], source: str
) -> tuple[Callable[[duckdb.DuckDBPyConnection], int], list[str]]:
    """Define ``src_rows`` as a lazy view over the CSV exports; return (finish, unknown columns).

    Nothing is read here: the transform streams the view once, straight into typed rows, so the
    all-text rows are never held (at 2M rows an all-VARCHAR copy is ~3 GB and spills to disk).
    ``finish(con)`` must be called after that scan: it builds ``src_rejects`` from the reader's
    rejects tables and returns the number of lines the reader rejected.

    Files may have different layouts (35-column 2012-2016 exports, the 43-column current one):
    each is mapped to canonical names on its own, then they are stacked by name.
    NOTE: a parallel CSV reader does not number the records it parses, so ``raw_line`` is null for
    parsed rows (their ``raw_text`` and ``source_file`` identify them); rejected lines keep their
    exact line number from the reader.
    """
    canon = [c for c, _ in SOURCE_COLUMNS]
    unknown_all: list[str] = []
    selects: list[str] = []
    for index, path in enumerate(paths):
        headers = csv_headers(path)
        mapping, unknown, missing = map_headers(headers)
        if missing:
            raise SchemaError(f"{path.name}: required column(s) missing: {', '.join(missing)}")
        if unknown:
            log.warning("%s: columns not in the canonical schema (kept in raw only): %s", path.name, unknown)
            unknown_all.extend(u for u in unknown if u not in unknown_all)
        # Views can't hold bound parameters; session variables can (set from bound values here).
        file_var, name_var = f"src_file_{index}", f"src_name_{index}"
        con.execute(f"set variable {file_var} = ?", [str(path)])
        con.execute(f"set variable {name_var} = ?", [path.name])
        by_canon = {v: k for k, v in mapping.items()}
        select = ", ".join(
            f"{_quote_ident(by_canon[c])} as {c}" if c in by_canon else f"cast(null as varchar) as {c}" for c in canon
        )
        columns = "{" + ", ".join(f"{_sql_string(h)}: 'VARCHAR'" for h in headers) + "}"
        # Explicit dialect and columns (no sniffing): every field is text until standardize.sql types it.
        selects.append(
            f"select {select}, cast(null as varchar) as row_id, cast(null as varchar) as source_updated_at, "
            f"getvariable('{name_var}') as source_file, cast(null as bigint) as raw_line "
            f"from read_csv(getvariable('{file_var}'), header = true, auto_detect = false, columns = {columns}, "
            f"sep = ',', quote = '\"', escape = '\"', store_rejects = true, "
            f"rejects_table = 'rejects_{index}', rejects_scan = 'rejects_{index}_scan')"
        )
    con.execute("create or replace temp view src_rows as " + " union all by name ".join(selects))

    def finish(con: duckdb.DuckDBPyConnection) -> int:
        create_src_rejects(con)
        records = 0
        for index, path in enumerate(paths):
            exists = con.execute(
                "select count(*) from duckdb_tables() where table_name = ?", [f"rejects_{index}"]
            ).fetchall()[0][0]
            if exists:
                con.execute(
                    f"insert into src_rejects select ?, line, string_agg(distinct error_type::varchar, '; ') || ': ' || "
                    f"first(error_message), first(csv_line) from rejects_{index} group by line",
                    [path.name],
                )
                split_swallowed(con, path.name)
            rejected = con.execute("select count(*) from src_rejects where source_file = ?", [path.name]).fetchall()[0][0]
            records += rejected
            log.info("%s: %s line(s) rejected by the CSV reader", path.name, f"{rejected:,}")
        return records

    return finish, unknown_all


def split_swallowed(con: duckdb.DuckDBPyConnection, source_file: str) -> int:
    """Give each record a reject swallowed its own ``src_rejects`` row; return how many were split out.

    A stray quote makes DuckDB read on to the next quote, often on a later line, and reject all of
    it as one line (pipeline/extract/csv_records.py). The records caught in it are cut back apart by
    the same rule that counts the file, so each is quarantined (and counted) on its own.
    """
    merged = con.execute(
        "select raw_line, reason, raw_text from src_rejects where source_file = ? and contains(raw_text, chr(10))",
        [source_file],
    ).fetchall()
    added = 0
    for line, reason, text in merged:
        pieces = split_records(text)
        if len(pieces) < 2:
            continue  # one record with a line break inside a quoted field
        rows = [(source_file, line, reason, pieces[0][1])] + [
            (source_file, line + offset,
             f"SWALLOWED BY A STRAY QUOTE: the CSV reader read this record as part of line {line} ({reason})", piece)
            for offset, piece in pieces[1:]
        ]
        con.execute("delete from src_rejects where source_file = ? and raw_line = ?", [source_file, line])
        con.executemany("insert into src_rejects values (?, ?, ?, ?)", rows)
        added += len(pieces) - 1
    if added:
        log.warning("%s: %d record(s) the CSV reader read as part of a stray-quoted line quarantined on their own",
                    source_file, added)
    return added


def _sql_string(text: str) -> str:
    """A SQL string literal for a CSV header name (headers come from the file; quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"


class FileSource:
    """One or more CSV exports from the portal (``.csv`` or ``.csv.gz``)."""

    name = "file"

    def __init__(self, paths: list[Path]) -> None:
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise FileNotFoundError(f"input file not found: {', '.join(map(str, missing))}")
        self.paths = [Path(p) for p in paths]

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        # Counted from the bytes, not by the reader: the load checks the reader's parsed + rejected
        # rows against these, file by file. The count (one core, ~1 s a 1M-row file) runs on a
        # thread of its own beside the raw copy and the transform's scan; finish() waits for it, so
        # ``file_records`` is complete when the transform returns, before anything reads it.
        counting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="count-records")
        counts = [(path.name, counting.submit(_timed_count, path)) for path in self.paths]
        counting.shutdown(wait=False)  # the submitted counts still run to their end
        keys = []
        for path in self.paths:
            # NOTE: hashing while copying in Python was measured slower (4.3 s vs 1.1 s for 790 MB) than
            # hashing, then letting the kernel copy (shutil.copyfile).
            key = raw_key(self.name, load_date, load_id, path, _sha256(path))
            if not lake.exists(key):
                lake.put_file(key, path)
            keys.append(key)
        read_finish, unknown = read_csv_files(con, self.paths, self.name)  # checks each file's header first
        counted: dict[str, int] = {}

        def finish(con: duckdb.DuckDBPyConnection) -> int:
            # Rows are counted while the transform streams the files (parsed) and here (rejected).
            rejected = read_finish(con)
            counted.update((name, done.result()) for name, done in counts)
            return rejected

        # Each file's own layout (an older export has no SeqID): the contract judges a column only
        # over the files that have it.
        layout = {path.name: frozenset(map_headers(csv_headers(path))[0].values()) for path in self.paths}
        return ExtractResult(raw_keys=keys, raw_records=None, unknown_columns=unknown, finish=finish,
                             file_records=counted, header_columns=layout)


def _timed_count(path: Path) -> int:
    start = time.perf_counter()
    records = count_records(path)
    log.info("%s: %s record(s) counted from the file's bytes in %.2f s", path.name, f"{records:,}",
             time.perf_counter() - start)
    return records


class SampleSource(FileSource):
    """The real sample rows bundled in ``data/sample`` (see data/sample/README.md)."""

    name = "sample"

    def __init__(self, sample_dir: Path = SAMPLE_DIR) -> None:
        paths = sorted(Path(sample_dir).glob("*.csv*"))
        if not paths:
            raise FileNotFoundError(f"no bundled sample files in {sample_dir}")
        super().__init__(paths)


class DateWindow:
    """Keep only stops from ``since`` to ``until`` (both inclusive) from a file source; the rest are
    counted, not loaded.

    The window is applied while the transform streams the rows (``TransformCounts.outside_window``),
    with the same date parsing as sql/transform/standardize.sql; unparseable dates stay in (they go
    to quarantine).
    """

    def __init__(self, inner: FileSource, since: date | None, until: date | None) -> None:
        self.inner, self.since, self.until = inner, since, until
        self.name = inner.name

    @property
    def window(self) -> tuple[date | None, date | None]:
        return self.since, self.until

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        return self.inner.extract(con, lake, load_id, load_date)
