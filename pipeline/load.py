"""The load: extract (raw first) -> landing/quarantine -> curated -> warehouse, with checks.

Every stage's counts are reconciled with the next; the warehouse publishes only after every
check passed, in one transaction with the run log and the watermark.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .config import Settings
from .extract.base import ExtractResult, Source
from .lake import Lake, open_lake
from .quality import Checks, QualityError
from .transform import TransformCounts, null_rates, transform, work_connection
from .warehouse import Warehouse, open_warehouse
from .warehouse.base import REBUILD_AFFECTED_STOPS
from .zones import curated_batch_reader, curated_row_count, merge_curated, write_landing_and_quarantine

log = logging.getLogger(__name__)

WATERMARK_KEY = "socrata_updated_at_watermark"


@dataclass
class LoadResult:
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
    watermark: datetime | None = None
    message: str = ""

    def summary(self) -> str:
        return (
            f"{self.command} [{self.source}] {self.status}: raw {self.rows_raw:,} = landed {self.rows_landed:,} "
            f"+ quarantined {self.rows_quarantined:,}; {self.rows_with_zip:,} with ZIP5; warehouse "
            f"+{self.rows_inserted - self.rows_replaced:,} new, {self.rows_replaced:,} replaced -> "
            f"{self.warehouse_rows:,} charges in {self.warehouse_stops:,} stops ({self.seconds:.1f} s)"
        )


def new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def default_zip_assigner():  # noqa: ANN201 - returns the geo module's bound method
    from .geo import ZipLocator

    return ZipLocator.from_bundle().assign


def read_watermark(warehouse: Warehouse) -> datetime | None:
    """The committed :updated_at watermark, or None before the first API load."""
    if not warehouse.exists():
        return None
    df = warehouse.query(
        "select state_value from pipeline_state where state_key = :key", {"key": WATERMARK_KEY}
    )
    if df.empty or not df.iloc[0, 0]:
        return None
    return datetime.fromisoformat(str(df.iloc[0, 0]))


def _extract_notes(extracted: ExtractResult) -> list[str]:
    """What the source reported (no changes, watermark kept, new fields...), for the run log message."""
    notes = list(extracted.notes)
    new_fields = ", ".join(extracted.unknown_columns)
    if new_fields and not any(new_fields in n for n in notes):
        notes.append(f"columns not in the canonical schema (kept in raw only): {new_fields}")
    return notes


def _log_failure(warehouse: Warehouse, result: LoadResult, started: datetime) -> None:
    """Record a failed run in its own small transaction (the load's transaction rolled back)."""
    try:
        with warehouse.session() as s:
            s.script(
                "warehouse/insert_run",
                _run_params(result, started, datetime.now(timezone.utc), {}, None),
            )
    except Exception:  # the failure itself is what matters; never mask it
        log.exception("could not record the failed run in the run log")


def _run_params(
    r: LoadResult, started: datetime, finished: datetime, nulls: dict[str, float], max_date: Any
) -> dict[str, Any]:
    return {
        "run_id": r.run_id, "command": r.command, "source": r.source,
        "started_at": started.replace(tzinfo=None), "finished_at": finished.replace(tzinfo=None),
        "status": r.status, "rows_raw": r.rows_raw, "rows_landed": r.rows_landed,
        "rows_quarantined": r.rows_quarantined, "rows_curated": r.rows_curated,
        "rows_inserted": r.rows_inserted, "rows_replaced": r.rows_replaced,
        "warehouse_rows": r.warehouse_rows, "warehouse_stops": r.warehouse_stops,
        "rows_with_zip": r.rows_with_zip, "max_date_of_stop": max_date,
        "watermark": r.watermark.replace(tzinfo=None) if r.watermark else None,
        "null_rates": json.dumps(nulls), "message": r.message[:4000],
    }


def run_load(
    settings: Settings,
    source: Source,
    command: str = "backfill",
    *,
    lake: Lake | None = None,
    warehouse: Warehouse | None = None,
    zip_assigner=None,  # noqa: ANN001
    require_rows: bool = True,
    fail_after_extract: bool = False,
) -> LoadResult:
    """Run one load end to end; raise on failure after recording it. Returns the committed result."""
    lake = lake or open_lake(settings)
    warehouse = warehouse or open_warehouse(settings)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    result = LoadResult(run_id=new_run_id(started), command=command, source=source.name, status="running")
    log.info("run %s: %s from %s into %s", result.run_id, command, source.name, settings.redacted_warehouse)
    # DuckDB spills past its memory limit: beside a local lake, else in the system temp dir (never the cwd).
    spill = settings.lake_path / "_tmp" if not settings.lake_is_s3 else Path(tempfile.gettempdir()) / "moco-pipeline-spill"
    con = work_connection(spill, memory_limit=settings.memory_limit)  # creates the spill folder
    work_dir = Path(tempfile.mkdtemp(prefix="batch-", dir=spill))
    try:
        extracted = source.extract(con, lake, result.run_id, started.date())
        if fail_after_extract:  # used by tests to simulate a crash between extract and load
            raise RuntimeError("simulated crash after extract")
        counts: TransformCounts = transform(
            con, source.name, result.run_id, zip_assigner or default_zip_assigner(), work_dir,
            finish=extracted.finish, window=getattr(source, "window", (None, None)),
        )
        result.rows_raw = extracted.raw_records if extracted.raw_records is not None else counts.records
        result.watermark = extracted.watermark
        log.info("raw: %s records in %d object(s)", f"{result.rows_raw:,}", len(extracted.raw_keys))
        if counts.outside_window:
            extracted.notes.append(f"{counts.outside_window} row(s) outside --since/--until not loaded")
            log.info("date window: %s row(s) outside the window skipped", f"{counts.outside_window:,}")
        checks = Checks()
        if require_rows:
            checks.check("extract not empty", result.rows_raw > 0, "the source returned no rows")
        result.rows_landed, result.rows_quarantined = counts.landed, counts.quarantined
        result.rows_with_zip = counts.with_zip
        result.zip_status, result.quarantine_reasons = counts.zip_status, counts.quarantine_reasons
        checks.equal("raw = landing + quarantine", result.rows_raw, counts.landed + counts.quarantined, "records")
        if counts.quarantined:
            log.warning("quarantined %s row(s): %s", f"{counts.quarantined:,}", counts.quarantine_reasons)
        nulls = null_rates(counts.landing_files)

        write_landing_and_quarantine(con, lake, result.run_id, counts.landing_files)
        curated_keys, curated_batch = merge_curated(con, lake, result.run_id)
        result.rows_curated = curated_batch
        checks.equal("landing = curated", counts.landed, curated_batch, "rows")
        curated_total = curated_row_count(con, lake)
        quarantine_rows = con.table("quarantine").to_arrow_table()
        # The batch now lives in the curated zone: close the work connection so its memory is free
        # for the warehouse step (peak RSS is the larger of the two, not their sum).
        con.close()
        shutil.rmtree(work_dir, ignore_errors=True)

        with warehouse.session() as s:
            before = s.scalar("select count(*) from moco_traffic_violations")
            # Staged from the curated zone itself (this load's rows), so the warehouse holds exactly what the zone holds.
            if hasattr(s, "stage_parquet") and not settings.lake_is_s3:
                staged = s.stage_parquet("stg_charges", [lake.uri(k) for k in curated_keys], result.run_id,
                                         like="moco_traffic_violations")
            else:
                staged = s.stage("stg_charges", curated_batch_reader(lake, curated_keys, result.run_id),
                                 like="moco_traffic_violations")
            checks.equal("curated = staged", curated_batch, staged, "rows")
            first_load = int(before) == 0
            # A first load has nothing to replace and builds every stop, one stop year at a time.
            s.script("warehouse/first_load" if first_load else "warehouse/merge_charges")
            s.script("warehouse/insert_charges", {"loaded_at": started.replace(tzinfo=None)})
            if first_load:
                years = s.query("select distinct stop_year from moco_traffic_violations order by 1")["stop_year"]
                for year in (int(y) for y in years):
                    s.script("marts/stops", {"all_stops": True, "year_from": year, "year_to": year})
            else:
                s.script("marts/stops", REBUILD_AFFECTED_STOPS)
            s.execute("drop table affected_stops")
            s.stage("stg_quarantine", quarantine_rows, like="quarantine_rows")
            s.script("warehouse/merge_quarantine")
            after = s.scalar("select count(*) from moco_traffic_violations")
            result.warehouse_rows = int(after)
            result.rows_inserted = int(staged)
            result.rows_replaced = int(before + staged - after)
            result.warehouse_stops = int(s.scalar("select count(*) from stops"))
            wh_dupes = s.scalar("select count(*) - count(distinct row_id) from moco_traffic_violations")
            checks.check("no duplicate keys in warehouse", wh_dupes == 0, f"{wh_dupes} duplicate row_id(s)")
            stop_charges = s.scalar("select coalesce(sum(n_charges), 0) from stops")
            checks.equal("stops cover every charge", int(stop_charges), result.warehouse_rows, "charges")
            if curated_total is not None and source.name != "socrata_reconcile":
                checks.equal("curated zone = warehouse", int(curated_total), result.warehouse_rows, "rows")
            s.script("marts/refresh")
            if result.watermark is not None:
                s.execute("delete from pipeline_state where state_key = :key", {"key": WATERMARK_KEY})
                s.execute(
                    "insert into pipeline_state (state_key, state_value, updated_at) values (:key, :value, :now)",
                    {"key": WATERMARK_KEY, "value": result.watermark.isoformat(), "now": started.replace(tzinfo=None)},
                )
            max_date = s.scalar("select max(date_of_stop) from moco_traffic_violations")
            result.status = "success"
            result.seconds = time.perf_counter() - t0
            result.message = "; ".join([*_extract_notes(extracted), checks.summary()])
            s.script("warehouse/insert_run", _run_params(result, started, datetime.now(timezone.utc), nulls, max_date))
        log.info(result.summary())
        return result
    except BaseException as exc:
        result.status = "failed"
        result.seconds = time.perf_counter() - t0
        result.message = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, KeyboardInterrupt):
            _log_failure(warehouse, result, started)
        if isinstance(exc, QualityError):
            log.error("%s; the previous data keeps serving", exc)
        raise
    finally:
        con.close()
        shutil.rmtree(work_dir, ignore_errors=True)


def result_dict(result: LoadResult) -> dict[str, Any]:
    d = asdict(result)
    d["watermark"] = result.watermark.isoformat() if result.watermark else None
    return d
