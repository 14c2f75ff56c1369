"""``python -m pipeline status``: last runs, row counts and freshness, from the warehouse."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .config import Settings
from .sqlfiles import load_sql
from .warehouse import open_warehouse


def _day(value: Any) -> str:
    return str(value)[:10] if value is not None else "-"


def status_report(settings: Settings) -> dict[str, Any]:
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        return {"fresh": False, "text": f"no warehouse yet at {settings.redacted_warehouse}; "
                "run `python -m pipeline backfill --source sample`"}
    runs = warehouse.query(load_sql("dashboard/recent_runs"), {"limit": 10})
    counts = warehouse.query(load_sql("dashboard/freshness"))
    row = counts.iloc[0].to_dict()
    last_ok = row.get("last_success_at")
    age_days = None
    if last_ok is not None and str(last_ok) != "NaT":
        age_days = (datetime.now(timezone.utc).replace(tzinfo=None) - last_ok.to_pydatetime()).total_seconds() / 86400
    fresh = age_days is not None and age_days <= settings.stale_after_days
    lines = [
        f"warehouse: {settings.redacted_warehouse}",
        f"charges (rows): {int(row['charges']):,}   stops: {int(row['stops']):,}",
        f"stops from {_day(row['first_stop'])} to {_day(row['last_stop'])}",
        f"last successful load: {last_ok} ({'%.1f days ago' % age_days if age_days is not None else 'never'})"
        f" -> {'FRESH' if fresh else 'STALE'} (threshold {settings.stale_after_days:g} days)",
        "",
        "recent runs:",
    ]
    for r in runs.itertuples():
        lines.append(f"  {r.started_at}  {r.command:<9} {r.source or '':<8} {r.status:<8} "
                     f"raw {int(r.rows_raw or 0):>9,}  quarantined {int(r.rows_quarantined or 0):>6,}  "
                     f"warehouse {int(r.warehouse_rows or 0):>9,}  {(r.message or '')[:80]}")
    return {"fresh": fresh, "age_days": age_days, "counts": row,
            "runs": runs.to_dict(orient="records"), "text": "\n".join(lines)}
