"""``python -m pipeline status``: last runs, row counts and freshness, from the warehouse.

A ``running`` row is checked against the load lock: alive only while the lock is held by that run
(or by a holder that does not say who it is); else it is reported ``dead (will be marked
abandoned)`` and ``status`` exits 1. On DuckDB, writes refused the lock are read from the refusal
side file (the run log is inside the locked file).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Settings
from .sqlfiles import load_sql
from .warehouse import open_warehouse


def _day(value: Any) -> str:
    return str(value)[:10] if value is not None else "-"


DEAD = "dead (will be marked abandoned)"
REFUSALS_SHOWN = 5


def running_states(warehouse: Any) -> dict[str, str]:
    """For each ``running`` row: ``running``, :data:`DEAD`, or ``running (unchecked: ...)``."""
    running = [str(r) for r in warehouse.query(load_sql("runlog/running"))["run_id"]]
    if not running:
        return {}
    held, owner = warehouse.lock_holder()
    if held is None:
        return dict.fromkeys(running, "running (unchecked: this warehouse has no lock to look at)")
    # Only the lock's holder can be alive; a holder that does not name itself may be any of them.
    return {run_id: "running" if held and owner in (None, run_id) else DEAD for run_id in running}


def refusals(warehouse: Any, limit: int = REFUSALS_SHOWN) -> list[dict[str, Any]]:
    """The last writes refused the lock, from the side file (DuckDB), newest first."""
    path: Path | None = getattr(warehouse, "refusal_log", None)
    if path is None or not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[-limit:]:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a full disk
    return out[::-1]


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
    states = running_states(warehouse)
    for r in runs.itertuples():
        state = states.get(str(r.run_id), r.status) if r.status == "running" else r.status
        lines.append(f"  {r.started_at}  {r.command:<9} {r.source or '':<8} {state:<8} "
                     f"raw {_count(r.rows_raw, 9)}  quarantined {_count(r.rows_quarantined, 6)}  "
                     f"warehouse {_count(r.warehouse_rows, 9)}  {(r.message or '')[:80]}")
    dead = sorted(run_id for run_id, state in states.items() if state == DEAD)
    if dead:
        lines += ["", f"dead runs: {', '.join(dead)}: {DEAD} by the next load; nothing of theirs was published"]
    refused = refusals(warehouse)
    if refused:
        lines += ["", f"refused the load lock (not in the run log; from {refusal_file(warehouse)}):"]
        lines += [f"  {e.get('refused_at')}  {e.get('owner') or '-'}  {e.get('about') or ''}: {e.get('message')}"
                  for e in refused]
    report = {"fresh": fresh, "age_days": age_days, "counts": row, "dead_runs": dead, "refused": refused,
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


def refusal_file(warehouse: Any) -> str:
    return Path(warehouse.refusal_log).name


def _count(value: Any, width: int) -> str:
    """A run-log count, ``-`` when null (nothing published)."""
    if value is None or str(value) in ("nan", "<NA>", "None"):
        return "-".rjust(width)
    return f"{int(value):>{width},}"
