"""The source's schema contract and the load's quality gates, checked before anything is published.

A source can change without an error: a field renamed at the portal (``description`` ->
``violation_description``) arrives as a missing column, which the standardiser fills with nulls,
and every re-read row would lose its value. So the contract sees every load:

* **History across sources.** A field whose null rate jumps against its usual (median) rate over
  the last successful loads, file, sample and API alike, stops the load (exit 3) naming the field,
  unless a maintainer accepts the change (``--accept-schema-change``). So the first API run after
  a CSV backfill is judged against the backfill. With no history at all, the warehouse's own null
  rates are the history (a first run is judged against the data it would change).
* **A field's presence in the batch's header.** A field absent from an API page's field list
  (``X-SODA2-Fields``) is gone at the source: it is null in every row now, whatever the number of
  rows, so a field usually filled fails the contract even on a quiet day below :data:`MIN_ROWS`.
  A column absent from a *file's* header is a property of that file (an older export layout), not
  a change at the source: it is said (log and run log) and that file's rows are left out of the
  column's judged rate; the file loads.

Gates on the batch as a whole: a load that lands nothing, or that quarantines more than a
configured share of its rows, stops too. Pure functions; the load calls them.
"""

from __future__ import annotations

from statistics import median
from typing import Mapping

from .quality import QualityError

MIN_ROWS = 20  # below this a batch's null rates say too little to judge (a quiet day's few rows)
JUMP = 0.5  # a field's null rate this much above its usual (median) rate is a change at the source


class SchemaContractError(QualityError):
    """A known field disappeared or went (mostly) null: a renamed or dropped source field."""


def usual_rates(history: list[dict[str, float]]) -> dict[str, float]:
    """Each field's usual null rate: the median over ``history``."""
    names = {name for h in history for name in h}
    return {name: median(h[name] for h in history if name in h) for name in names}


def null_rate_jumps(current: dict[str, float], history: list[dict[str, float]], rows: int) -> dict[str, tuple[float, float]]:
    """Fields whose null rate now is ``JUMP`` or more above their median over ``history``: {field: (usual, now)}."""
    if rows < MIN_ROWS or not history:
        return {}
    usual = usual_rates(history)
    return {name: (usual[name], now) for name, now in current.items()
            if name in usual and now - usual[name] >= JUMP}


def missing_from_header(header_columns: Mapping[str, frozenset[str] | None], fields: list[str]) -> dict[str, list[str]]:
    """{field: the raw objects (files, pages) whose header lacks it}; an object without a header is not judged."""
    missing: dict[str, list[str]] = {}
    for name, present in header_columns.items():
        if present is None:
            continue
        for field in fields:
            if field not in present:
                missing.setdefault(field, []).append(name)
    return missing


def file_layout_rates(nulls: Mapping[str, int], rows: int, missing: Mapping[str, list[str]],
                      landed_by_file: Mapping[str, int]) -> dict[str, float]:
    """Null rates over the rows of the files whose header has the column (a file without it says
    nothing about the source); a column no file of the batch has is not judged (left out)."""
    rates: dict[str, float] = {}
    for field, n in nulls.items():
        without = sum(landed_by_file.get(f, 0) for f in missing.get(field, ()))
        if rows - without > 0:
            rates[field] = round(max(n - without, 0) / (rows - without), 4)
    return rates


def _where(objects: list[str]) -> str:
    return ", ".join(objects[:3]) + (f" and {len(objects) - 3} more" if len(objects) > 3 else "")


def check_schema(current: dict[str, float], history: list[dict[str, float]], rows: int, accept: bool, *,
                 gone: Mapping[str, list[str]] | None = None) -> list[str]:
    """Raise :class:`SchemaContractError` on a jump, or on a usually filled field ``gone`` from the
    source's header (its pages), unless ``accept``; return notes for the run log."""
    usual = usual_rates(history) if history else {}
    absent = {f: pages for f, pages in (gone or {}).items() if f in usual and 1.0 - usual[f] >= JUMP}
    jumps = {f: v for f, v in null_rate_jumps(current, history, rows).items() if f not in absent}
    if not absent and not jumps:
        return []
    parts = []
    if absent:
        parts.append("field(s) absent from the source's field list: " + ", ".join(
            f"{f} (null in {usual[f]:.0%} of rows usually; missing from {_where(pages)})" for f, pages in sorted(absent.items())))
    if jumps:
        parts.append("field(s) gone or emptied at the source: " + ", ".join(
            f"{f} (null in {u:.0%} of rows usually, {now:.0%} now)" for f, (u, now) in sorted(jumps.items())))
    described = "; ".join(parts)
    if not accept:
        raise SchemaContractError(
            f"schema contract: {described}; a renamed or dropped field would lose these values for every row "
            "read. Check the source; if the change is real, rerun with --accept-schema-change"
        )
    return [f"schema change accepted (--accept-schema-change): {described}"]


def layout_notes(missing: Mapping[str, list[str]], fields: list[str]) -> list[str]:
    """What the run log says of file columns absent from a file's header: one note per file."""
    by_file: dict[str, list[str]] = {}
    for field in fields:
        for name in missing.get(field, ()):
            by_file.setdefault(name, []).append(field)
    return [f"file {name} has no column(s) {', '.join(cols)} (its export's layout, not a change at the source): "
            "its rows carry null there, left out of the schema contract's rates" for name, cols in by_file.items()]


def check_batch(raw: int, landed: int, quarantined: int, max_share: float, require_rows: bool) -> None:
    """The batch-level gates: something to load, something landed, not too much quarantined."""
    if require_rows and raw == 0:
        raise QualityError("quality check failed: extract not empty: the source returned no rows")
    if raw and not landed:
        raise QualityError(
            f"quality check failed: nothing landed: all {quarantined:,} row(s) were quarantined (the lake's quarantine/ zone holds them, with reasons)"
        )
    share = quarantined / raw if raw else 0.0
    if share > max_share:
        raise QualityError(
            f"quality check failed: quarantine share: {quarantined:,} of {raw:,} rows ({share:.1%}) quarantined, "
            f"above PIPELINE_MAX_QUARANTINE_SHARE={max_share:.0%}; the source or the rules changed"
        )
