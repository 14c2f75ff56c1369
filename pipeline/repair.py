"""The curated zone checked against its Delta log (``status --verify``) and rebuilt when damaged (``repair``).

The commit protocol (:mod:`pipeline.load`) keeps the curated zone equal to the warehouse, which
records the Delta version it holds. Damage done outside the pipeline breaks that: a data file
deleted or cut short, a commit file of ``_delta_log`` truncated or deleted. A load then stops with
exit 1 naming the damage (:meth:`CuratedTable.require_intact`, :func:`pipeline.curated.converge`);
``repair`` is the documented way back (docs/DEPLOY.md, runbook).

``repair`` rebuilds the table from the warehouse's rows, which are the zone's rows by the
protocol: the damaged log is moved aside to ``curated/repair-<run_id>/_delta_log/`` (kept for a
post-mortem), a new table is written (version 0, one file per month and chunk) and the warehouse
records that version. The old data files are deleted once the new table is committed. A repair
that dies half-way leaves a zone that ``repair`` rebuilds again; a load refuses to run on it.
The run log gets a row (command ``repair``, status ``repaired``, or ``verified`` when nothing was
wrong: not a load, so it never makes stale data look fresh).
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import datetime, timezone
from typing import Any

from . import runlog
from .config import Settings
from .curated import CURATED_TABLE, CuratedError, CuratedTable, curated_columns, stage_partitioned
from .lake import Lake, open_lake
from .load import spill_dir
from .runlog import LoadResult
from .transform import work_connection
from .warehouse import Warehouse, open_warehouse

log = logging.getLogger(__name__)

LOG_PREFIX = f"{CURATED_TABLE}/_delta_log"


def _warehouse_rows(warehouse: Warehouse) -> int:
    if not warehouse.exists():
        return 0
    return int(warehouse.query("select count(*) as n from moco_traffic_violations").iloc[0, 0])


def verify_lake(settings: Settings, warehouse: Warehouse | None = None, lake: Lake | None = None) -> list[str]:
    """Every way the curated zone differs from its log and from the warehouse, one line each ([] = intact).

    Checks every data file of the current version (present, with the size its Add action records),
    that the log can be read and reaches the version the warehouse holds, and the row totals.
    """
    warehouse = warehouse or open_warehouse(settings)
    table = CuratedTable(lake or open_lake(settings))
    rows = _warehouse_rows(warehouse)
    if not table.exists():
        return [f"the curated zone {table.uri} is missing; the warehouse holds {rows:,} charges"] if rows else []
    broken = table.readable()
    if broken:
        return [f"the Delta log cannot be read: {broken}"]
    problems = table.check_files()
    current, recorded = table.version(), runlog.read_lake_version(warehouse)
    if recorded is not None and recorded > current:
        problems.append(f"the Delta log ends at version {current}, the warehouse holds version {recorded} "
                        "(a log entry deleted, or the lake rolled back)")
    elif recorded == current and (zone_rows := table.row_count()) != rows:
        problems.append(f"the zone holds {zone_rows:,} rows, the warehouse {rows:,}")
    return problems


def repair(settings: Settings) -> dict[str, Any]:
    """Check the curated zone; when damaged, rebuild it from the warehouse. Returns what was done."""
    lake, warehouse = open_lake(settings), open_warehouse(settings)
    if not warehouse.exists():
        raise CuratedError("no warehouse to rebuild the curated zone from: run "
                           "`.venv/bin/python -m pipeline backfill` instead")
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    result = LoadResult(run_id=runlog.new_run_id(started), command="repair", source="warehouse", status="running")
    with warehouse.run_lock():  # no load may write the zone meanwhile
        runlog.begin(warehouse, result, started)
        try:
            problems = verify_lake(settings, warehouse, lake)
            if problems:
                for line in problems:
                    log.warning("curated zone: %s", line)
                outcome = _rebuild(settings, lake, warehouse, result, problems)
            else:
                table = CuratedTable(lake)
                outcome = {"problems": [], "rebuilt": False, "lake_version": table.version(),
                           "rows": table.row_count(),
                           "text": f"curated zone intact (version {table.version()}, {len(table.files())} file(s), "
                                   f"{table.row_count():,} rows = warehouse): nothing done"}
            # Never "success": freshness, provenance and the change log count successful *loads*.
            result.status = "repaired" if problems else "verified"
            result.warehouse_rows = outcome["rows"]
            result.lake_version = outcome["lake_version"]
            result.message = outcome["text"]
            result.seconds = time.perf_counter() - t0
            with warehouse.session() as s:
                if problems and outcome["lake_version"] is not None:
                    runlog.set_state(s, runlog.LAKE_VERSION_KEY, str(outcome["lake_version"]), datetime.now(timezone.utc))
                runlog.record(s, result, started, datetime.now(timezone.utc))
        except BaseException as exc:
            result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
            runlog.fail(warehouse, result, started)
            raise
    log.info(outcome["text"])
    return outcome


def _rebuild(settings: Settings, lake: Lake, warehouse: Warehouse, result: LoadResult,
             problems: list[str]) -> dict[str, Any]:
    """Move the log aside, write a new table from the warehouse's rows, delete the old data files."""
    run_id = result.run_id
    old_log = lake.list(LOG_PREFIX)
    old_data = [k for k in lake.list(CURATED_TABLE) if not k.startswith(LOG_PREFIX + "/")]
    backup = f"curated/repair-{run_id}/_delta_log"
    for key in old_log:  # kept for a post-mortem; small (commit files and checkpoints)
        lake.put_bytes(f"{backup}/{key[len(LOG_PREFIX) + 1:]}", lake.get_bytes(key))
    for key in old_log:
        lake.delete(key)
    rows = _warehouse_rows(warehouse)
    table = CuratedTable(lake)
    version = None
    work_dir = spill_dir(settings) / f"repair-{run_id}"
    con = work_connection(spill_dir(settings), memory_limit=settings.memory_limit)
    try:
        columns = curated_columns()
        names = ", ".join(name for name, _ in columns)
        select = ("select " + ", ".join(f"cast({name} as {typ}) as {name}" for name, typ in columns)
                  + ", stop_year as year, stop_month as month from wh_rows")
        staged = []
        years = warehouse.query("select distinct stop_year from moco_traffic_violations order by 1")["stop_year"]
        for n, year in enumerate(int(y) for y in years):
            # One stop year at a time: its rows are what a load's merge holds at most, too.
            frame = warehouse.query(f"select {names} from moco_traffic_violations where stop_year = :year",
                                    {"year": year})
            con.register("wh_rows", frame)
            schema = con.sql(select + " limit 0").to_arrow_table().schema
            staged += stage_partitioned(con, select, [], work_dir / f"{n:04d}", f"{run_id}-{n:04d}")
            con.unregister("wh_rows")
        if staged:
            version = table.commit_files(staged, [], schema, run_id)
    finally:
        con.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    kept = {f.key for f in table.files()} if version is not None else set()
    removed = [k for k in old_data if k not in kept]
    for key in removed:
        lake.delete(key)
    zone_rows = table.row_count() if version is not None else 0
    if zone_rows != rows:
        raise CuratedError(f"repair wrote {zone_rows:,} rows, the warehouse holds {rows:,}: nothing recorded")
    text = (f"curated zone rebuilt from the warehouse: {len(problems)} problem(s) found (first: {problems[0]}); "
            f"damaged log moved to {backup}/ ({len(old_log)} object(s)); "
            + (f"new table version {version}: {len(kept)} file(s), {zone_rows:,} rows = warehouse; "
               if version is not None else "the warehouse is empty, so is the zone; ")
            + f"{len(removed)} old data file(s) deleted")
    return {"problems": problems, "rebuilt": True, "lake_version": version, "rows": zone_rows,
            "backup": backup, "files_deleted": len(removed), "text": text}
