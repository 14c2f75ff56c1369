"""CSV sources: the portal's export (plain or gzipped) and the bundled real sample."""

from __future__ import annotations

import csv
import gzip
import hashlib
import logging
from datetime import date
from pathlib import Path

import duckdb

from ..config import SAMPLE_DIR
from ..lake import Lake
from ..schema import SOURCE_COLUMNS, map_headers
from .base import ExtractResult, SchemaError, create_src_tables

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
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
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
) -> tuple[int, list[str]]:
    """Create ``src_rows`` / ``src_rejects`` from CSV exports; return (records read, unknown columns).

    Files may have different layouts (35-column 2012-2016 exports, the 43-column current one):
    each is mapped to canonical names on its own, then they are stacked by name.
    """
    canon = [c for c, _ in SOURCE_COLUMNS]
    create_src_tables(con)
    unknown_all: list[str] = []
    records = 0
    for index, path in enumerate(paths):
        headers = csv_headers(path)
        mapping, unknown, missing = map_headers(headers)
        if missing:
            raise SchemaError(f"{path.name}: required column(s) missing: {', '.join(missing)}")
        if unknown:
            log.warning("%s: columns not in the canonical schema (kept in raw only): %s", path.name, unknown)
            unknown_all.extend(u for u in unknown if u not in unknown_all)
        rejects = f"rejects_{index}"
        # Explicit dialect and columns (no sniffing): every field is text until standardize.sql types it.
        con.execute("drop table if exists file_rows")
        con.read_csv(
            str(path), header=True, auto_detect=False, columns={h: "VARCHAR" for h in headers},
            sep=",", quotechar='"', escapechar='"', store_rejects=True,
            rejects_table=rejects, rejects_scan=f"{rejects}_scan",
        ).create("file_rows")
        by_canon = {v: k for k, v in mapping.items()}
        select = ", ".join(
            f"{_quote_ident(by_canon[c])} as {c}" if c in by_canon else f"cast(null as varchar) as {c}" for c in canon
        )
        con.execute(
            f"insert into src_rows by name select {select}, cast(null as varchar) as row_id, "
            "cast(null as varchar) as source_updated_at, ? as source_file, rowid + 1 as raw_line from file_rows",
            [path.name],
        )
        con.execute(
            f"insert into src_rejects select ?, line, string_agg(distinct error_type::varchar, '; ') || ': ' || "
            f"first(error_message), first(csv_line) from {rejects} group by line",
            [path.name],
        )
        parsed = con.execute("select count(*) from file_rows").fetchall()[0][0]
        rejected = con.execute(f"select count(distinct line) from {rejects}").fetchall()[0][0]
        records += parsed + rejected
        log.info("%s: %s records read, %s rejected by the CSV reader", path.name, f"{parsed + rejected:,}", rejected)
        con.execute("drop table file_rows")
    return records, unknown_all


class FileSource:
    """One or more CSV exports from the portal (``.csv`` or ``.csv.gz``)."""

    name = "file"

    def __init__(self, paths: list[Path]) -> None:
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            raise FileNotFoundError(f"input file not found: {', '.join(map(str, missing))}")
        self.paths = [Path(p) for p in paths]

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        keys = []
        for path in self.paths:
            key = raw_key(self.name, load_date, load_id, path, _sha256(path))
            if not lake.exists(key):
                lake.put_file(key, path)
            keys.append(key)
        records, unknown = read_csv_files(con, self.paths, self.name)
        return ExtractResult(raw_keys=keys, raw_records=records, unknown_columns=unknown)


class SampleSource(FileSource):
    """The real sample rows bundled in ``data/sample`` (see data/sample/README.md)."""

    name = "sample"

    def __init__(self, sample_dir: Path = SAMPLE_DIR) -> None:
        paths = sorted(Path(sample_dir).glob("*.csv*"))
        if not paths:
            raise FileNotFoundError(f"no bundled sample files in {sample_dir}")
        super().__init__(paths)


class DateWindow:
    """Keep only stops in [since, until) from a file source; the rest are counted, not loaded."""

    def __init__(self, inner: FileSource, since: date | None, until: date | None) -> None:
        self.inner, self.since, self.until = inner, since, until
        self.name = inner.name

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        result = self.inner.extract(con, lake, load_id, load_date)
        # Same date rules as sql/transform/standardize.sql; unparseable dates stay (they go to quarantine).
        parsed = "coalesce(try_strptime(trim(date_of_stop), '%m/%d/%Y'), try_cast(trim(date_of_stop) as timestamp))::date"
        before = con.execute("select count(*) from src_rows").fetchall()[0][0]
        if self.since:
            con.execute(f"delete from src_rows where {parsed} < ?", [self.since])
        if self.until:
            con.execute(f"delete from src_rows where {parsed} >= ?", [self.until])
        dropped = before - con.execute("select count(*) from src_rows").fetchall()[0][0]
        result.raw_records -= dropped
        result.notes.append(f"{dropped} row(s) outside --since/--until not loaded")
        log.info("date window: %s row(s) outside [%s, %s) skipped", f"{dropped:,}", self.since, self.until)
        return result
