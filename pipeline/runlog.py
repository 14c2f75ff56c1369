"""The run log (``pipeline_runs``), run ids and the pipeline's state (watermark, lake version).

Every run writes a ``running`` row first, in its own transaction, so a run that is killed still
leaves a trace. It ends as ``success`` (written in the load's own transaction, with the data, the
watermark and the curated version), ``failed`` (a small transaction of its own, still under the
load lock) or, when it died without a word, ``abandoned`` (written by the next run, which holds the
load lock, so the lock of every ``running`` run is provably free). An ``abandoned`` row is final:
a run that lost its lock, was marked abandoned and then stops (its commit is fenced off) adds its
own words to that row's message but does not rewrite its status.

The counts of a row are what it published: ``running``, ``failed`` and ``abandoned`` rows keep
what the run read (raw, landed, quarantined) and leave every published count null (curated,
inserted, replaced, warehouse rows and stops, changes, watermark, lake version). SQL lives in
``sql/runlog/``.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .sqlfiles import load_sql

log = logging.getLogger(__name__)

WATERMARK_KEY = "socrata_updated_at_watermark"
LAKE_VERSION_KEY = "curated_lake_version"

CHANGE_COLUMNS = ("charges_added", "charges_edited", "charges_removed", "stops_added", "stops_edited", "stops_removed")
# Columns added to pipeline_runs after its first release: an older warehouse gains them (ALTER TABLE).
ADDED_COLUMNS = (*CHANGE_COLUMNS, "lake_version", "values_clipped", "rows_restamped_older")
# What only a committed run published: null on every other row (its work was rolled back).
# Statuses of a run that committed what its row counts: a load's success, and a repair that rebuilt
# (or checked) the curated zone from the warehouse and recorded its version.
COMMITTED_STATUSES = ("success", "repaired", "verified")
PUBLISHED_COLUMNS = ("rows_curated", "rows_inserted", "rows_replaced", "warehouse_rows", "warehouse_stops",
                     "max_date_of_stop", "watermark", "lake_version", *CHANGE_COLUMNS)


@dataclass
class LoadResult:
    """One run as the run log records it."""

    run_id: str
    command: str
    source: str
    status: str
    rows_raw: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_curated: int = 0
    rows_with_zip: int = 0
    rows_inserted: int = 0
    rows_replaced: int = 0
    warehouse_rows: int = 0
    warehouse_stops: int = 0
    seconds: float = 0.0
    zip_status: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    watermark: datetime | None = None
    lake_version: int | None = None
    values_clipped: int = 0  # over-long text values clipped to the warehouse widths (rows kept)
    rows_restamped_older: int = 0  # rows read with an older :updated_at than the warehouse held
    message: str = ""

    def summary(self) -> str:
        c = self.changes
        return (
            f"{self.command} [{self.source}] {self.status}: raw {self.rows_raw:,} = landed {self.rows_landed:,} "
            f"+ quarantined {self.rows_quarantined:,}; {self.rows_with_zip:,} with ZIP5; charges "
            f"+{c.get('charges_added', 0):,} new, {c.get('charges_edited', 0):,} edited, "
            f"{c.get('charges_removed', 0):,} removed -> {self.warehouse_rows:,} charges in "
            f"{self.warehouse_stops:,} stops ({self.seconds:.1f} s)"
        )


def result_dict(result: LoadResult) -> dict[str, Any]:
    d = asdict(result)
    d["watermark"] = result.watermark.isoformat() if result.watermark else None
    return d


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def _naive(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value and value.tzinfo else value


def run_params(r: LoadResult, started: datetime, finished: datetime | None,
               nulls: dict[str, float] | None = None, max_date: Any = None) -> dict[str, Any]:
    params = {
        "run_id": r.run_id, "command": r.command, "source": r.source,
        "started_at": _naive(started), "finished_at": _naive(finished),
        "status": r.status, "rows_raw": r.rows_raw, "rows_landed": r.rows_landed,
        "rows_quarantined": r.rows_quarantined, "rows_curated": r.rows_curated,
        "rows_inserted": r.rows_inserted, "rows_replaced": r.rows_replaced,
        "warehouse_rows": r.warehouse_rows, "warehouse_stops": r.warehouse_stops,
        "rows_with_zip": r.rows_with_zip, "max_date_of_stop": max_date,
        "watermark": _naive(r.watermark), "null_rates": json.dumps(nulls or {}), "message": r.message[:4000],
        "lake_version": r.lake_version, "values_clipped": r.values_clipped,
        "rows_restamped_older": r.rows_restamped_older,
    }
    params.update({c: int(r.changes.get(c, 0)) for c in CHANGE_COLUMNS})
    if r.status not in COMMITTED_STATUSES:
        params.update(dict.fromkeys(PUBLISHED_COLUMNS))
    return params


def ensure_columns(session: Any) -> None:
    """Add the run-log columns newer than the warehouse (names from :data:`ADDED_COLUMNS` only)."""
    have = set(session.query(load_sql("runlog/columns"))["column_name"].str.lower())
    for column in ADDED_COLUMNS:
        if column not in have:
            session.execute(f"alter table pipeline_runs add column {column} bigint")
            log.info("run log: column %s added", column)


def record(session: Any, result: LoadResult, started: datetime, finished: datetime | None = None,
           nulls: dict[str, float] | None = None, max_date: Any = None) -> None:
    """Write the run's row (replacing its earlier one) in the caller's transaction."""
    session.script("runlog/delete", {"run_id": result.run_id})
    session.script("runlog/insert", run_params(result, started, finished, nulls, max_date))


@dataclass
class DeadRun:
    run_id: str
    command: str
    source: str | None
    started_at: Any


def abandon_message(kind: str, found_by: str) -> str:
    if kind == "redshift":  # no lock to look at: the fence says it can no longer publish
        return (f"abandoned: run {found_by} took the load fence, so this run can no longer publish (killed, "
                "crashed, or overtaken: Redshift has no lock to tell which)")
    return (f"abandoned: its load lock was free when run {found_by} took it (the process died, or its lock "
            "session ended); it can no longer publish")


def begin(warehouse: Any, result: LoadResult, started: datetime) -> list[DeadRun]:
    """Mark dead runs ``abandoned`` and write this run's ``running`` row; return the dead runs.

    Call it holding the load lock (:meth:`Warehouse.run_lock`, exclusive): then the lock of every
    ``running`` run is provably free, and its fencing token replaced, so it can never publish.
    """
    now = datetime.now(timezone.utc)
    with warehouse.session() as s:
        ensure_columns(s)
        dead = [DeadRun(str(r.run_id), str(r.command), r.source, r.started_at)
                for r in s.query(load_sql("runlog/running")).itertuples()]
        for run in dead:
            s.script("runlog/abandon", {"run_id": run.run_id, "found_at": _naive(now),
                                        "message": abandon_message(warehouse.kind, result.run_id)})
        record(s, result, started)
    for run in dead:
        log.warning("run %s (%s, started %s) died without finishing: marked abandoned", run.run_id, run.command,
                    run.started_at)
    return dead


def fail(warehouse: Any, result: LoadResult, started: datetime) -> None:
    """Record a failed run in its own small transaction (the load's transaction rolled back).

    A row already final is not rewritten: ``success`` stands (the failure came after the commit),
    and ``abandoned`` (another run found this one's lock free) gets this run's words appended.
    """
    try:
        with warehouse.session(lock=False) as s:
            ensure_columns(s)
            row = s.query(load_sql("runlog/outcome"), {"run_id": result.run_id})
            status = str(row["status"].iloc[0]) if len(row) else None
            if status == "abandoned":
                note = f"{row['message'].iloc[0] or ''}; then the run itself stopped: {result.message}"
                s.script("runlog/note", {"run_id": result.run_id, "message": note[:4000]})
                log.warning("run log: run %s had been marked abandoned (it lost its lock); kept so, with its "
                            "failure appended", result.run_id)
            elif status == "success":
                log.warning("run log: run %s committed before this failure; its success row stands: %s",
                            result.run_id, result.message)
            else:
                record(s, result, started, datetime.now(timezone.utc))
    except Exception:  # the failure itself is what matters; never mask it
        log.exception("could not record the failed run in the run log")


def read_state(warehouse: Any, key: str) -> str | None:
    if not warehouse.exists():
        return None
    df = warehouse.query(load_sql("runlog/state_get"), {"key": key})
    return None if df.empty or not df.iloc[0, 0] else str(df.iloc[0, 0])


def set_state(session: Any, key: str, value: str, now: datetime) -> None:
    session.script("runlog/state_set", {"key": key, "value": value, "now": _naive(now)})


def read_watermark(warehouse: Any) -> datetime | None:
    """The committed :updated_at watermark, or None before the first API load."""
    value = read_state(warehouse, WATERMARK_KEY)
    return datetime.fromisoformat(value) if value else None


def read_lake_version(warehouse: Any) -> int | None:
    """The curated Delta version the warehouse holds (written with the data), or None."""
    value = read_state(warehouse, LAKE_VERSION_KEY)
    return int(value) if value is not None else None


def null_history(warehouse: Any, min_rows: int) -> list[dict[str, float]]:
    """Null rates of the last successful loads (every source) with at least ``min_rows`` rows."""
    if not warehouse.exists():
        return []
    df = warehouse.query(load_sql("runlog/null_history"), {"min_rows": min_rows})
    out = []
    for text in df["null_rates"]:
        try:
            rates = json.loads(text or "{}")
        except ValueError:
            continue
        if rates:
            out.append({str(k): float(v) for k, v in rates.items()})
    return out


def warehouse_null_rates(warehouse: Any, min_rows: int) -> dict[str, float]:
    """Each canonical column's null rate over the charges the warehouse holds ({} below ``min_rows``)."""
    if not warehouse.exists():
        return {}
    row = warehouse.query(load_sql("runlog/warehouse_null_rates")).iloc[0]
    total = int(row["n_rows"])
    if total < min_rows:
        return {}
    return {str(c): round(1 - int(row[c]) / total, 4) for c in row.index if c != "n_rows"}
