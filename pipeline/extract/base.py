"""What every source gives the load: raw objects written first, then rows in canonical names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Protocol

import duckdb

from ..lake import Lake
from ..schema import SOURCE_COLUMNS


class SchemaError(ValueError):
    """The source's columns do not match the canonical schema (a required field is missing)."""


@dataclass
class ExtractResult:
    """What a source hands to the load after writing its raw objects.

    The source has created two DuckDB temp tables on the work connection:
    ``src_rows`` (every canonical column as VARCHAR, plus ``row_id``, ``source_updated_at``,
    ``raw_line``, ``source_file``) and ``src_rejects`` (``source_file``, ``raw_line``, ``reason``,
    ``raw_text``) for records the reader itself could not split into fields.

    A file source makes ``src_rows`` a lazy view instead (the transform streams it once) and gives
    ``finish``: called after that scan, it creates ``src_rejects`` and returns how many lines the
    reader rejected. Its ``raw_records`` is None until the transform has counted the rows, and
    ``file_records`` holds each file's records counted from its bytes, independently of the reader
    (pipeline/extract/csv_records.py), for the load to check the reader against.
    """

    raw_keys: list[str]
    raw_records: int | None
    unknown_columns: list[str] = field(default_factory=list)
    watermark: datetime | None = None  # newest :updated_at seen (API sources only)
    pages: int = 0
    notes: list[str] = field(default_factory=list)
    finish: Callable[[duckdb.DuckDBPyConnection], int] | None = None
    file_records: dict[str, int] = field(default_factory=dict)  # file name -> records (file sources only)


class Source(Protocol):
    name: str

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        """Write raw objects to the lake, then create ``src_rows`` and ``src_rejects`` on ``con``."""
        ...


def create_src_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty ``src_rows`` / ``src_rejects`` with the shape :class:`ExtractResult` documents."""
    canon = [c for c, _ in SOURCE_COLUMNS]
    con.execute(
        "create or replace temp table src_rows as select "
        + ", ".join(f"cast(null as varchar) as {c}" for c in canon + ["row_id", "source_updated_at", "source_file"])
        + ", cast(null as bigint) as raw_line limit 0"
    )
    con.execute(
        "create or replace temp table src_rejects (source_file varchar, raw_line bigint, reason varchar, raw_text varchar)"
    )
