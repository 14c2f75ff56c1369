"""``python -m pipeline status``: last runs, row counts and freshness, from the warehouse."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from .config import Settings
from .sqlfiles import load_sql
from .warehouse import open_warehouse


def _day(value: Any) -> str:
    return str(value)[:10] if value is not None else "-"


def _plain(value: Any) -> Any:
    """None for a missing value (NaT, NaN, NA: a warehouse with no successful load yet), so that
    neither the text nor the JSON ever shows "NaT"."""
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):  # a list or dict is never missing
        return value


def status_report(settings: Settings, verify: bool = False) -> dict[str, Any]:
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        return {"fresh": False, "text": f"no warehouse yet at {settings.redacted_warehouse}; "
                "run `.venv/bin/python -m pipeline backfill --source sample`"}
    runs = warehouse.query(load_sql("dashboard/recent_runs"), {"limit": 10})
    counts = warehouse.query(load_sql("dashboard/freshness"))
    row = {k: _plain(v) for k, v in counts.iloc[0].to_dict().items()}
    last_ok = row.get("last_success_at")
    age_days = None
    if last_ok is not None:
        age_days = (datetime.now(timezone.utc).replace(tzinfo=None) - pd.Timestamp(last_ok).to_pydatetime()
                    ).total_seconds() / 86400
    fresh = age_days is not None and age_days <= settings.stale_after_days
    lines = [
        f"warehouse: {settings.redacted_warehouse}",
        f"charges (rows): {int(row['charges']):,}   stops: {int(row['stops']):,}",
        f"stops from {_day(row['first_stop'])} to {_day(row['last_stop'])}",
        f"last successful load: {last_ok or 'never'}"
        f"{' (%.1f days ago)' % age_days if age_days is not None else ''}"
        f" -> {'FRESH' if fresh else 'STALE'} (threshold {settings.stale_after_days:g} days)",
        "",
        "recent runs:",
    ]
    for r in runs.itertuples():
        lines.append(f"  {r.started_at}  {r.command:<9} {r.source or '':<8} {r.status:<8} "
                     f"raw {int(r.rows_raw or 0):>9,}  quarantined {int(r.rows_quarantined or 0):>6,}  "
                     f"warehouse {int(r.warehouse_rows or 0):>9,}  {(r.message or '')[:80]}")
    report = {"fresh": fresh, "age_days": age_days, "counts": row,
              "runs": [{k: _plain(v) for k, v in r.items()} for r in runs.to_dict(orient="records")]}
    if verify:
        from .repair import verify_lake

        problems = verify_lake(settings, warehouse)
        report["lake_problems"] = problems
        lines += ["", "curated zone: " + ("every file present with its recorded size" if not problems else
                                          f"{len(problems)} problem(s); run `.venv/bin/python -m pipeline repair`")]
        lines += [f"  {p}" for p in problems[:20]]
    report["text"] = "\n".join(lines)
    return report
