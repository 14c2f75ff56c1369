"""What every source gives the load: raw objects written first, then rows in canonical names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable, Iterator, Protocol

import duckdb
import pyarrow as pa

from ..lake import Lake
from ..schema import SOURCE_COLUMNS


class SchemaError(ValueError):
    """The source's columns do not match the canonical schema (a required field is missing)."""


# The rows a source hands over: every canonical column as text, plus its lineage.
LINEAGE_TEXT = ("row_id", "source_updated_at", "source_file")


@dataclass
class ExtractResult:
    """What a source hands to the load after writing its raw objects.

    Rows come in canonical names, every column as VARCHAR, plus ``row_id``, ``source_updated_at``,
    ``raw_line`` and ``source_file``, in one of two shapes the transform streams exactly once:

    * a file source creates ``src_rows`` on the work connection, a lazy view over its files;
    * an API source gives ``batches``: one Arrow table per page (:func:`src_schema`), produced
      while the transform consumes them, each page's raw object written before it is yielded.
      Nothing the size of the batch is held: each page is typed into landing files as it arrives.

    ``finish(con)`` is called after that one scan. It creates ``src_rejects`` (``source_file``,
    ``raw_line``, ``reason``, ``raw_text``: records the reader itself could not split into fields)
    and returns how many there were. An API source may also create ``src_superseded``
    (``source_file``, ``raw_line``, ``reason``): records a later copy of the same row replaces
    (``reason`` null), which the transform removes from what it landed, and records it must
    quarantine after all (``reason``: rows sharing one ``:id``). ``finish`` also completes what only the whole read
    knows (``raw_records``, ``watermark``, ``pages``, ``notes``); ``raw_records`` None means the
    transform's count is the source's.

    ``header_columns`` and ``header_is_source`` tell the schema contract which fields each raw
    object carried at all (pipeline/contract.py).

    A file source's ``file_records`` holds each file's records counted from its bytes,
    independently of the reader (pipeline/extract/csv_records.py), for the load to check the reader
    against; the count runs beside the scan, and ``finish`` fills ``file_records`` (empty before).
    """

    raw_keys: list[str]
    raw_records: int | None
    unknown_columns: list[str] = field(default_factory=list)
    watermark: datetime | None = None  # newest :updated_at seen (API sources only)
    pages: int = 0
    notes: list[str] = field(default_factory=list)
    finish: Callable[[duckdb.DuckDBPyConnection], int] | None = None
    file_records: dict[str, int] = field(default_factory=dict)  # file name -> records (file sources only)
    batches: Iterator[pa.Table] | None = None
    # Canonical columns each raw object's header names (file name or page key -> columns; None: the
    # object had no header to judge, e.g. an API page without X-SODA2-Fields), for the schema contract.
    header_columns: dict[str, frozenset[str] | None] = field(default_factory=dict)
    # True when the header is the source's own schema (the API's field list: a field missing there is
    # gone at the source); False when it is one file's layout (an older export without a column).
    header_is_source: bool = False


class Source(Protocol):
    name: str

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        """Write raw objects to the lake (first), and give the rows as :class:`ExtractResult` says."""
        ...


def src_schema() -> pa.Schema:
    """The Arrow shape of source rows: canonical columns and lineage as text, ``raw_line`` int64."""
    names = [c for c, _ in SOURCE_COLUMNS] + list(LINEAGE_TEXT)
    return pa.schema([pa.field(n, pa.string()) for n in names] + [pa.field("raw_line", pa.int64())])


def create_src_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """An empty ``src_rejects`` with the shape :class:`ExtractResult` documents."""
    con.execute(
        "create or replace temp table src_rejects (source_file varchar, raw_line bigint, reason varchar, raw_text varchar)"
    )
