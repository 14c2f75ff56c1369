"""The source's schema contract and the load's quality gates, checked before anything is published.

A source can change without an error: a field renamed at the portal (``description`` ->
``violation_description``) arrives as a missing column, which the standardiser fills with nulls,
and every re-read row would lose its value. So a field whose null rate jumps against its history
in the run log stops the load (exit 3) naming the field, unless a maintainer accepts the change
(``--accept-schema-change``). Gates on the batch as a whole: a load that lands nothing, or that
quarantines more than a configured share of its rows, stops too. Pure functions; the load calls them.
"""

from __future__ import annotations

from statistics import median

from .quality import QualityError

MIN_ROWS = 20  # below this a batch's null rates say too little to judge (a quiet day's few rows)
JUMP = 0.5  # a field's null rate this much above its usual (median) rate is a change at the source


class SchemaContractError(QualityError):
    """A known field disappeared or went (mostly) null: a renamed or dropped source field."""


def null_rate_jumps(current: dict[str, float], history: list[dict[str, float]], rows: int) -> dict[str, tuple[float, float]]:
    """Fields whose null rate now is ``JUMP`` or more above their median over ``history``: {field: (usual, now)}."""
    if rows < MIN_ROWS or not history:
        return {}
    jumps: dict[str, tuple[float, float]] = {}
    for name, now in current.items():
        past = [h[name] for h in history if name in h]
        if not past:
            continue
        usual = median(past)
        if now - usual >= JUMP:
            jumps[name] = (usual, now)
    return jumps


def check_schema(current: dict[str, float], history: list[dict[str, float]], rows: int, accept: bool) -> list[str]:
    """Raise :class:`SchemaContractError` on a jump unless ``accept``; return notes for the run log."""
    jumps = null_rate_jumps(current, history, rows)
    if not jumps:
        return []
    described = ", ".join(f"{name} (null in {usual:.0%} of rows usually, {now:.0%} now)" for name, (usual, now) in sorted(jumps.items()))
    if not accept:
        raise SchemaContractError(
            f"schema contract: field(s) gone or emptied at the source: {described}; a renamed or dropped field "
            "would lose these values for every row read. Check the source; if the change is real, rerun with "
            "--accept-schema-change"
        )
    return [f"schema change accepted (--accept-schema-change): {described}"]


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
