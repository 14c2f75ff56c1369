"""The Socrata source for the load: incremental on ``:updated_at``; each page to the raw zone, then to the transform.

How a run avoids missing or duplicating a row:

* **Window.** ``run`` reads rows with ``:updated_at >= watermark - lookback``. The watermark is the
  newest ``:updated_at`` of the last fully committed run (Socrata's clock, never ours). It is
  stored in ``pipeline_state`` by :func:`pipeline.load.run_load` in the same transaction as the
  rows, so a failed or crashed run leaves it where it was and the next run reads the same window
  again. Edited rows get a new ``:updated_at`` and fall inside the window. So do late-arriving
  stops, whatever their ``date_of_stop``.
* **Upsert.** Rows are keyed on ``:id`` (``row_id``), and ``sql/warehouse/merge_charges.sql``
  deletes and inserts on it. The same row read again (lookback, rerun) replaces itself. A row first
  loaded from a CSV export (no ``:id``) is replaced by the API row with the same ``content_key``.
* **Paging.** Pages are read by key in ``(:updated_at, :id)`` order (see
  :meth:`SocrataExtractor.pages`), so no row is skipped by a set that changes during the run, and
  the newest ``:updated_at`` received is a safe watermark even when the read ends early (an empty
  page from a flaky portal): every unread row sorts after it. A row re-stamped during the read can
  arrive twice; the earlier copy is dropped (:func:`_superseded`), keeping the newest ``:updated_at``,
  unless the portal holds two rows under that ``:id``: then every copy is quarantined.
* **Identity.** A row without ``:id`` is quarantined (``keyed``), never keyed by its content hash. A
  row read with an older ``:updated_at`` than the warehouse holds is counted and reported
  (:func:`pipeline.load._note_older_restamps`).
* **Bounded memory.** Pages are typed into landing files as they arrive (``ExtractResult.batches``):
  a 2M-row backfill holds one page, not the read (BENCHMARKS.md, "API backfill").
* **Partial runs never advance the watermark.** A run filtered by ``--since/--until`` (stop
  dates) keeps the old watermark. So does a run that got no rows.
* **Deletes.** SODA has no tombstones. :func:`pipeline.reconcile.reconcile` compares every ``:id`` at the portal with
  the warehouse. It acts only on a complete listing and refuses a mass delete without an explicit
  flag.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import duckdb
import pyarrow as pa

from ..config import Settings
from ..lake import Lake, open_lake
from ..schema import SOURCE_COLUMNS
from .base import ExtractResult, SchemaError, create_src_rejects
from .socrata import (SocrataError, SocrataExtractor, header_fields, parse_socrata_timestamp, rows_to_table,
                      soql_timestamp)

log = logging.getLogger(__name__)

__all__ = ["SocrataSource", "raw_page_key", "stop_date_where"]


def raw_prefix(load_date: date, load_id: str) -> str:
    return f"raw/source=socrata/load_date={load_date.isoformat()}/{load_id}"


def raw_page_key(load_date: date, load_id: str, number: int) -> str:
    """``raw/source=socrata/load_date=YYYY-MM-DD/<load_id>/page-00001.json.gz``."""
    return f"{raw_prefix(load_date, load_id)}/page-{number:05d}.json.gz"


def stop_date_where(since: date | None, until: date | None) -> str | None:
    """SoQL filter on the stop date, both ends inclusive: ``since <= date_of_stop < until + 1 day``.

    ``date_of_stop`` is a floating timestamp column on the portal (``2016-11-23T00:00:00.000``).
    """
    clauses = []
    if since is not None:
        clauses.append(f"date_of_stop >= '{since.isoformat()}T00:00:00.000'")
    if until is not None:
        clauses.append(f"date_of_stop < '{(until + timedelta(days=1)).isoformat()}T00:00:00.000'")
    return " AND ".join(clauses) or None


def _track_ids(con: duckdb.DuckDBPyConnection, page: pa.Table, number: int) -> None:
    """Note each row's ``:id``, ``:updated_at`` and place (page, line) in ``src_ids``, for :func:`_superseded`."""
    con.register("_socrata_ids", page.select(["row_id", "source_updated_at", "raw_line"]))
    try:
        con.execute(
            "insert into src_ids select row_id, try_cast(source_updated_at as timestamp), ?, raw_line "
            "from _socrata_ids where row_id is not null", [number])
    finally:
        con.unregister("_socrata_ids")


def _superseded(con: duckdb.DuckDBPyConnection, page_key: Callable[[int], str],
                id_counts: Callable[[list[str]], dict[str, int]]) -> tuple[int, int]:
    """Create ``src_superseded``: copies of a row to drop, and rows to quarantine; return (dropped, quarantined).

    An id seen more than once in the read is asked of the portal (``id_counts``). Held once (or no
    longer): the row was re-stamped while the read paged; the copy kept has the newest
    ``:updated_at``, then the later page, then the later line, and the others are dropped. Held
    more than once: two rows share one ``:id``; neither can be upserted on it, so every copy is
    quarantined with that reason (the warehouse keeps what it held under the id). Only ids seen
    more than once are ranked, so this stays small whatever the read's size.
    """
    repeated = [r for (r,) in con.execute(
        "select row_id from src_ids group by row_id having count(*) > 1 order by row_id").fetchall()]
    shared = {i: n for i, n in id_counts(repeated).items() if n > 1} if repeated else {}
    con.register("_shared_ids", pa.table({"row_id": pa.array(list(shared), pa.string()),
                                          "held": pa.array(list(shared.values()), pa.int64())}))
    try:
        con.execute(
            """create or replace temp table src_superseded_pages as
               with repeated as (
                   select row_id from src_ids group by row_id having count(*) > 1
               ),
               ranked as (
                   select row_id, page, raw_line, row_number() over (
                       partition by row_id order by updated_at desc nulls last, page desc, raw_line desc) as copy
                   from src_ids
                   where row_id in (select row_id from repeated)
               )
               select r.page, r.raw_line,
                      case when s.row_id is not null then 'duplicate :id: ' || s.held
                          || ' rows share :id ' || r.row_id || ' at the source; none loaded' end as reason
               from ranked as r left join _shared_ids as s using (row_id)
               where r.copy > 1 or s.row_id is not null"""
        )
    finally:
        con.unregister("_shared_ids")
    pages = [p for (p,) in con.execute("select distinct page from src_superseded_pages").fetchall()]
    con.register("_superseded_keys", pa.table({"page": pa.array(pages, pa.int64()),
                                               "source_file": pa.array([page_key(p) for p in pages], pa.string())}))
    try:
        con.execute(
            "create or replace temp table src_superseded as select k.source_file, s.raw_line, s.reason "
            "from src_superseded_pages as s join _superseded_keys as k using (page)")
    finally:
        con.unregister("_superseded_keys")
    con.execute("drop table src_superseded_pages")
    con.execute("drop table src_ids")
    dropped, quarantined = con.execute(
        "select count(*) filter (where reason is null), count(reason) from src_superseded").fetchall()[0]
    return int(dropped), int(quarantined)


class _Progress:
    """Pages, rows and rows/s: a tqdm bar on a terminal, log lines otherwise."""

    def __init__(self, expected: int | None, enabled_bar: bool | None = None) -> None:
        self.expected = expected
        self.t0 = time.perf_counter()
        self.rows = 0
        self.pages = 0
        use_bar = sys.stderr.isatty() if enabled_bar is None else enabled_bar
        self.bar = None
        self._redirect = None
        if use_bar:
            try:
                from tqdm import tqdm
                from tqdm.contrib.logging import logging_redirect_tqdm
            except ImportError:  # pragma: no cover - tqdm is in requirements.txt
                return
            self.bar = tqdm(total=expected, unit="rows", unit_scale=True, desc="socrata", file=sys.stderr)
            self._redirect = logging_redirect_tqdm()  # log lines print above the bar, not through it
            self._redirect.__enter__()

    def page(self, number: int, rows: int) -> None:
        self.pages += 1
        self.rows += rows
        rate = self.rows / max(time.perf_counter() - self.t0, 1e-9)
        if self.bar is not None:
            self.bar.update(rows)
            self.bar.set_postfix(pages=self.pages)
        else:
            of = f" of {self.expected:,} expected" if self.expected is not None else ""
            log.info("socrata: page %d loaded, %s rows%s (%s rows/s)", number, f"{self.rows:,}", of, f"{rate:,.0f}")

    def close(self) -> None:
        if self._redirect is not None:
            self._redirect.__exit__(None, None, None)
            self._redirect = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@dataclass
class ExtractStats:
    """Where an extract spent its time (seconds) and what it saw."""

    http_seconds: float = 0.0  # waiting for the next page: request, retries, body, JSON parse
    raw_seconds: float = 0.0  # gzip + write to the raw zone
    table_seconds: float = 0.0  # rows -> Arrow, ids noted for duplicates
    total_seconds: float = 0.0  # the read from start to finish, typing into landing files included
    t0: float = 0.0
    pages: int = 0
    rows_received: int = 0
    duplicates_dropped: int = 0
    shared_ids: int = 0  # rows quarantined because the portal holds another row under the same :id
    expected_rows: int | None = None
    watermark_before: datetime | None = None
    watermark_seen: datetime | None = None
    watermark_after: datetime | None = None
    advanced: bool = False
    reason_kept: str = ""


class SocrataSource:
    """The Socrata API as a load source (``python -m pipeline run`` / ``backfill --source socrata``).

    ``full=True`` reads the whole dataset (backfill); otherwise the window starts at the committed
    watermark minus the lookback (a first run, with no watermark yet, reads everything).
    ``since``/``until`` filter on ``date_of_stop`` at the portal; such a run is partial, so it
    never moves the watermark. ``warehouse`` is where the watermark is read (default: the
    settings' warehouse). ``extractor`` and ``sleep`` are for tests.
    """

    name = "socrata"
    keyed = True  # every row must carry its :id (a row without one is quarantined: transform.transform)

    def __init__(
        self,
        settings: Settings,
        full: bool = False,
        since: date | None = None,
        until: date | None = None,
        *,
        extractor: SocrataExtractor | None = None,
        sleep: Callable[[float], None] = time.sleep,
        warehouse: Any = None,
        progress_bar: bool | None = None,
    ) -> None:
        if since and until and since > until:
            raise ValueError(f"--since {since} must not be after --until {until}")
        self.settings = settings
        self.full = full
        self.since = since
        self.until = until
        self._extractor = extractor
        self._sleep = sleep
        self._warehouse = warehouse
        self._progress_bar = progress_bar
        self.stats = ExtractStats()

    # -- helpers -------------------------------------------------------------------------------

    def _read_watermark(self) -> datetime | None:
        from ..runlog import read_watermark
        from ..warehouse import open_warehouse

        warehouse = self._warehouse if self._warehouse is not None else open_warehouse(self.settings)
        return read_watermark(warehouse)

    def _extractor_or_new(self) -> tuple[SocrataExtractor, bool]:
        if self._extractor is not None:
            return self._extractor, False
        return SocrataExtractor(self.settings, sleep=self._sleep), True

    # -- the Source protocol -----------------------------------------------------------------

    def extract(self, con: duckdb.DuckDBPyConnection, lake: Lake, load_id: str, load_date: date) -> ExtractResult:
        """Count the window, then hand the transform the pages as they arrive (raw zone first, each).

        Nothing is read here but the watermark and ``count(*)``: the transform pulls
        ``result.batches`` and types each page into landing files before the next is asked for,
        so memory holds one page, whatever the read's size. ``result.finish`` then settles what
        only the whole read knows: duplicates, the watermark, the manifest, the notes.
        """
        stats = self.stats = ExtractStats()
        stats.t0 = time.perf_counter()
        stored = self._read_watermark()
        stats.watermark_before = stored
        since_ts = None if self.full else stored
        date_where = stop_date_where(self.since, self.until)
        extractor, owned = self._extractor_or_new()
        mode = "full" if since_ts is None else f"incremental from {soql_timestamp(since_ts)}Z minus {self.settings.socrata_lookback_hours:g} h lookback"
        log.info("socrata: %s read%s (committed watermark: %s)", mode,
                 f", stop dates {date_where}" if date_where else "", stored.isoformat() if stored else "none")
        try:
            stats.expected_rows = extractor.count(since_ts, where=date_where)
        except BaseException:
            if owned:
                extractor.close()
            raise
        result = ExtractResult(raw_keys=[], raw_records=None, header_is_source=True)
        read = _Read(extractor, owned, since_ts, date_where, load_id, load_date)
        result.batches = self._batches(con, lake, read, result)
        result.finish = lambda con: self._finish(con, lake, read, result)
        return result

    def _batches(self, con: duckdb.DuckDBPyConnection, lake: Lake, read: "_Read", result: ExtractResult) -> Iterator[pa.Table]:
        """Each page: raw zone (exactly as received, gzipped), then its canonical text columns."""
        stats = self.stats
        con.execute("create or replace temp table src_ids (row_id varchar, updated_at timestamp, page bigint, raw_line bigint)")
        progress = _Progress(stats.expected_rows, self._progress_bar)
        try:
            pages = read.extractor.pages(read.since_ts, where=read.date_where)
            while True:
                t_http = time.perf_counter()
                page = next(pages, None)
                stats.http_seconds += time.perf_counter() - t_http
                if page is None:
                    break
                # 1. Raw zone first, exactly as received (gzipped), before anything parses it further.
                t_raw = time.perf_counter()
                key = raw_page_key(read.load_date, read.load_id, page.number)
                lake.put_bytes(key, gzip.compress(page.raw, compresslevel=6, mtime=0))
                result.raw_keys.append(key)
                stats.raw_seconds += time.perf_counter() - t_raw
                read.manifest_pages.append({
                    "key": key, "number": page.number, "offset": page.offset, "rows": len(page.rows),
                    "bytes": len(page.raw), "sha256": hashlib.sha256(page.raw).hexdigest(), "url": page.url,
                    "max_updated_at": page.max_updated_at,
                    "repaired": page.repaired.describe() if page.repaired else None,
                })
                if page.repaired:
                    read.repaired.append(f"page {page.number} ({key}): {page.repaired.describe()}")
                # 2. Canonical text columns for the transform, which types this page before asking for the next.
                t_table = time.perf_counter()
                result.header_columns[key] = header_fields(page.fields)
                table, page_unknown = rows_to_table(page.rows, page.fields)
                result.unknown_columns.extend(u for u in page_unknown if u not in result.unknown_columns)
                table = table.append_column("source_file", pa.array([key] * table.num_rows, pa.string()))
                _track_ids(con, table, page.number)
                stats.table_seconds += time.perf_counter() - t_table
                if page.max_updated_at:
                    stamp = parse_socrata_timestamp(page.max_updated_at)
                    read.seen = stamp if read.seen is None or stamp > read.seen else read.seen
                stats.pages += 1
                stats.rows_received += len(page.rows)
                progress.page(page.number, len(page.rows))
                del page
                yield table
                del table
        finally:
            progress.close()
            if read.owned:
                read.extractor.close()

    def _finish(self, con: duckdb.DuckDBPyConnection, lake: Lake, read: "_Read", result: ExtractResult) -> int:
        """After the last page: duplicates, the watermark this run may commit, the manifest, the notes."""
        stats = self.stats
        create_src_rejects(con)  # the API has no reader rejects: a page is JSON or it is retried
        try:
            stats.duplicates_dropped, stats.shared_ids = _superseded(
                con, lambda n: raw_page_key(read.load_date, read.load_id, n), read.extractor.id_counts)
        finally:
            if read.owned:
                read.extractor.close()  # id_counts may have opened a client again
        distinct = stats.rows_received - stats.duplicates_dropped
        stored, seen = stats.watermark_before, read.seen
        stats.watermark_seen = seen
        notes = result.notes
        for repaired in read.repaired:  # invalid Unicode replaced, the rows loaded (socrata.scrub_rows)
            notes.append(f"invalid Unicode replaced by U+FFFD: {repaired}")
            log.warning("socrata: %s", notes[-1])
        if stats.duplicates_dropped:
            notes.append(f"{stats.duplicates_dropped} row(s) seen twice across pages (re-stamped while the read "
                         "paged; the portal holds each once); newest kept")
            log.warning("socrata: %s", notes[-1])
        if stats.shared_ids:
            notes.append(f"{stats.shared_ids} row(s) share an :id with another row at the source: quarantined "
                         "(reason 'duplicate :id'), none loaded under that id")
            log.warning("socrata: %s", notes[-1])

        # The watermark this run may commit: never our clock, never backwards, never after a partial
        # run. Pages come in (:updated_at, :id) order, so the newest :updated_at received is safe
        # even when the read ended early: every row not received sorts after it.
        keep_reason = ""
        if distinct == 0:
            keep_reason = "no changes: the source returned no rows"
        elif read.date_where:
            keep_reason = "stop-date filter (--since/--until): a partial read"
        if keep_reason or seen is None:
            stats.watermark_after = stored
        else:
            stats.watermark_after = seen if stored is None or seen > stored else stored
        stats.advanced = stats.watermark_after != stored
        stats.reason_kept = keep_reason
        if stats.expected_rows is not None and stats.rows_received < stats.expected_rows:
            notes.append(
                f"read ended at {stats.rows_received:,} of the {stats.expected_rows:,} row(s) count() reported "
                "(rows deleted or re-stamped while paging, or a short page from the portal); the rest sort after "
                "the new watermark and are read by the next run"
            )
            log.warning("socrata: %s", notes[-1])
        if stats.expected_rows is None and distinct:
            notes.append("count() unavailable: progress unknown (paging by key keeps the watermark safe)")
        if keep_reason:
            notes.append(f"watermark kept at {stored.isoformat() if stored else 'none'} ({keep_reason})")
        elif stats.watermark_after is not None:
            notes.append(f"watermark {stored.isoformat() if stored else 'none'} -> {stats.watermark_after.isoformat()} (after commit)")
        if result.unknown_columns:
            notes.append(f"new source field(s) kept in raw only: {', '.join(result.unknown_columns)}")

        stats.total_seconds = time.perf_counter() - stats.t0
        manifest = {
            "source": "socrata", "dataset": self.settings.socrata_dataset, "load_id": read.load_id,
            "mode": "full" if read.since_ts is None else "incremental",
            "watermark_before": stored.isoformat() if stored else None,
            "where": read.extractor.window_where(read.since_ts, None, read.date_where),
            "lookback_hours": self.settings.socrata_lookback_hours,
            "expected_rows": stats.expected_rows, "rows_received": stats.rows_received,
            "duplicates_dropped": stats.duplicates_dropped, "max_updated_at": seen.isoformat() if seen else None,
            "pages": read.manifest_pages, "unknown_fields": result.unknown_columns,
        }
        lake.put_bytes(f"{raw_prefix(read.load_date, read.load_id)}/manifest.json", json.dumps(manifest, indent=1).encode())
        rate = stats.rows_received / max(stats.total_seconds, 1e-9)
        log.info(
            "socrata: %s rows in %d page(s) (%s expected, %d duplicate(s) dropped) in %.1f s (%s rows/s; "
            "HTTP %.1f s, raw zone %.1f s, tables %.1f s, the rest typing into landing files); max :updated_at %s; "
            "watermark %s",
            f"{stats.rows_received:,}", stats.pages,
            f"{stats.expected_rows:,}" if stats.expected_rows is not None else "?", stats.duplicates_dropped,
            stats.total_seconds, f"{rate:,.0f}", stats.http_seconds, stats.raw_seconds, stats.table_seconds,
            seen.isoformat() if seen else "-",
            "kept" if not stats.advanced else f"-> {stats.watermark_after.isoformat()} once committed",
        )
        result.raw_records, result.watermark, result.pages = distinct, stats.watermark_after, stats.pages
        return 0


@dataclass
class _Read:
    """One read's parameters and what it has seen so far (shared by the page stream and ``finish``)."""

    extractor: SocrataExtractor
    owned: bool
    since_ts: datetime | None
    date_where: str | None
    load_id: str
    load_date: date
    seen: datetime | None = None  # the newest :updated_at received
    manifest_pages: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # pages whose invalid Unicode was replaced, described


__all__ += ["ExtractStats", "SchemaError", "SocrataError"]
