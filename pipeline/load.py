"""The load: extract (raw first) -> landing/quarantine -> curated -> warehouse, with checks.

The commit protocol (what makes a crash anywhere harmless):

1. Take the load lock for the whole run (:meth:`Warehouse.run_lock`; the kernel or the server drops
   it when the process dies; waiting ``PIPELINE_LOCK_WAIT_SECONDS``) with its fencing token, and
   write a ``running`` row to the run log (own transaction). Runs still ``running`` are dead (their
   lock is free: this run holds it): mark them ``abandoned`` and remove what they left.
2. Converge: the warehouse records the curated Delta version it holds, in the same transaction as
   its data. A newer lake version was committed by a run that died before its warehouse commit;
   restore the lake to the warehouse's version (:func:`pipeline.curated.converge`).
3. Extract (raw zone first), type, gate (schema contract, quarantine share), write landing and
   quarantine objects: nothing here is visible to readers.
4. Merge the batch into the curated table: one Delta commit.
5. One warehouse transaction: stage from the files that commit added, merge, rebuild the affected
   stops and the marts, check every count, and record the lake version, the watermark and the
   run's ``success`` row; last, the fencing check (the run still holds the lock, or it rolls back).
   Readers see all of it or none of it. A failure is recorded still holding the lock.

A crash before 4 leaves unreferenced files; between 4 and 5, a lake version the next run undoes;
after 5, a finished load. Every stage boundary has a test that kills a real process there
(tests/test_crash_recovery.py).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from . import marts, runlog
from .batch import Batch
from .config import Settings, test_pause
from .contract import MIN_ROWS, check_batch, check_schema, file_layout_rates, layout_notes, missing_from_header
from .curated import VACUUM_RETENTION_HOURS, CuratedTable, converge
from .extract.base import Source
from .lake import Lake, open_lake
from .quality import Checks
from .runlog import LoadResult
from .sqlfiles import load_sql
from .schema import SOURCE_COLUMNS
from .transform import TransformCounts, null_counts, transform, work_connection
from .warehouse import Warehouse, open_warehouse
from .warehouse.base import (STALE_SHARE, LockRefused, first_load_copies, first_load_passes, older_restamps,
                             rebuild_stops, refresh_statistics, replaced_rows)
from .zones import CuratedCommit, curated_batch_reader, merge_curated, write_landing_and_quarantine

log = logging.getLogger(__name__)

# The large tables a load's own statements join: analyzed by the load when their statistics are
# missing or stale (PostgreSQL; see warehouse/stale_statistics.postgresql.sql).
STATISTICS_TABLES = ("moco_traffic_violations", "stops")


def default_zip_assigner():  # noqa: ANN201 - returns the geo module's bound method
    from .geo import ZipLocator

    return ZipLocator.from_bundle().assign


def spill_dir(settings: Settings) -> Path:
    """Where DuckDB spills and batches are staged: beside a local lake, else the system temp dir (never the cwd)."""
    if settings.lake_is_s3:
        # One folder per warehouse and lake: a run empties it of dead runs' work holding its own
        # warehouse's load lock, which says nothing of another warehouse's runs on this machine.
        key = hashlib.sha256(f"{settings.warehouse_url}|{settings.lake_url}".encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"moco-pipeline-spill-{key}"
    return settings.lake_path / "_tmp"


def _clean_dead_runs(dead: list[runlog.DeadRun], lake: Lake, spill: Path, settings: Settings) -> None:
    """Remove what dead runs left: their work folders and their landing/quarantine objects.

    Raw objects stay (the raw zone is an archive of what the source sent). Curated files a dead
    run wrote without committing are unreferenced; Delta's vacuum removes them after its retention.
    """
    from .alerts import alert_abandoned

    # Work folders: any left in the spill folder belongs to a run that is over (this run holds the
    # load lock and has not made its own yet), including one killed after its commit.
    for folder in spill.glob("batch-*") if spill.exists() else []:
        shutil.rmtree(folder, ignore_errors=True)
    for run in dead:
        for zone in ("landing", "quarantine"):
            for key in lake.list(f"{zone}/load_id={run.run_id}"):
                lake.delete(key)
        alert_abandoned(settings, run.run_id, run.command, run.started_at)


def _clean_failed_run(lake: Lake, run_id: str) -> None:
    """A run that failed (exit 1 or 3) removes its own landing and quarantine objects: nothing reads
    them, and on a full disk they would make the next attempt fail sooner. Raw objects stay (the
    archive of what the source sent, which a rerun reuses). Best effort: the failure is what matters."""
    for zone in ("landing", "quarantine"):
        try:
            for key in lake.list(f"{zone}/load_id={run_id}"):
                lake.delete(key)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not remove the failed run's %s objects: %s: %s", zone, type(exc).__name__, exc)


def _vacuum(table: CuratedTable) -> None:
    """Best effort after a committed load: a failure here must not turn a success into a failure."""
    try:
        if table.exists() and (removed := table.vacuum()):
            log.info("curated zone: vacuum removed %d file(s) older than %d h that no version needs",
                     removed, VACUUM_RETENTION_HOURS)
    except Exception as exc:  # noqa: BLE001
        log.warning("curated zone: vacuum skipped: %s: %s", type(exc).__name__, exc)


def _warehouse_rows(warehouse: Warehouse) -> int:
    if not warehouse.exists():
        return 0
    return int(warehouse.query("select count(*) as n from moco_traffic_violations").iloc[0, 0])


def run_load(
    settings: Settings,
    source: Source,
    command: str = "backfill",
    *,
    lake: Lake | None = None,
    warehouse: Warehouse | None = None,
    zip_assigner=None,  # noqa: ANN001
    require_rows: bool = True,
    accept_schema_change: bool = False,
) -> LoadResult:
    """Run one load end to end; raise on failure after recording it. Returns the committed result."""
    lake = lake or open_lake(settings)
    warehouse = warehouse or open_warehouse(settings)
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    result = LoadResult(run_id=runlog.new_run_id(started), command=command, source=source.name, status="running")
    log.info("run %s: %s from %s into %s", result.run_id, command, source.name, settings.redacted_warehouse)
    spill = spill_dir(settings)
    work_dir = spill / f"batch-{result.run_id}"
    recorded = False
    try:
        with warehouse.run_lock(result.run_id, f"{command} from {source.name}"):
            try:
                dead = runlog.begin(warehouse, result, started)
                _clean_dead_runs(dead, lake, spill, settings)
                test_pause("begin")
                table = CuratedTable(lake)
                lake_note = converge(table, runlog.read_lake_version(warehouse), lambda: _warehouse_rows(warehouse),
                                     result.run_id, work_dir)
                log.info(lake_note)
                _load(settings, source, result, started, lake, warehouse, table, work_dir, spill,
                      zip_assigner=zip_assigner, require_rows=require_rows, accept_schema_change=accept_schema_change)
            except BaseException as exc:
                # Still under the lock: no other run is writing, and a run waiting for it never sees
                # this run `running`.
                _clean_failed_run(lake, result.run_id)
                _failed(result, exc, t0)
                runlog.fail(warehouse, result, started)
                recorded = True
                raise
            _vacuum(table)
        result.seconds = time.perf_counter() - t0
        log.info(result.summary())
        return result
    except BaseException as exc:
        if not recorded:  # the lock was refused (or failed): this run did nothing
            _failed(result, exc, t0)
            if not (isinstance(exc, LockRefused) and hasattr(warehouse, "refusal_log")):
                runlog.fail(warehouse, result, started)  # else it is in the refusal side file already
        raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _failed(result: LoadResult, exc: BaseException, t0: float) -> None:
    result.status = "failed"
    result.seconds = time.perf_counter() - t0
    result.message = f"{type(exc).__name__}: {exc}"


def _load(
    settings: Settings, source: Source, result: LoadResult, started: datetime, lake: Lake, warehouse: Warehouse,
    table: CuratedTable, work_dir: Path, spill: Path, *, zip_assigner, require_rows: bool,  # noqa: ANN001
    accept_schema_change: bool,
) -> None:
    con = work_connection(spill, memory_limit=settings.memory_limit)  # creates the spill folder
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        extracted = source.extract(con, lake, result.run_id, started.date())
        test_pause("extracted")
        counts: TransformCounts = transform(
            con, source.name, result.run_id, zip_assigner or default_zip_assigner(), work_dir,
            finish=extracted.finish, window=getattr(source, "window", (None, None)), batches=extracted.batches,
            keyed=getattr(source, "keyed", False),
        )
        batch = Batch(result.run_id, source.name, extracted, counts)
        result.rows_raw = extracted.raw_records if extracted.raw_records is not None else counts.records
        if extracted.file_records:  # counted from the files' bytes, not by the reader that split them
            result.rows_raw = sum(extracted.file_records.values()) - counts.outside_window
        result.watermark = extracted.watermark
        log.info("raw: %s records in %d object(s)", f"{result.rows_raw:,}", len(extracted.raw_keys))
        if counts.outside_window:
            extracted.notes.append(f"{counts.outside_window} row(s) outside --since/--until not loaded")
            log.info("date window: %s row(s) outside the window skipped", f"{counts.outside_window:,}")
        result.rows_landed, result.rows_quarantined = counts.landed, counts.quarantined
        result.rows_with_zip = counts.with_zip
        result.zip_status, result.quarantine_reasons = counts.zip_status, counts.quarantine_reasons
        checks = Checks()
        checks.files_read_whole(extracted.file_records, counts.read_by_file)
        checks.equal("raw = landing + quarantine", result.rows_raw, counts.landed + counts.quarantined, "records")
        if counts.quarantined:
            log.warning("quarantined %s row(s): %s", f"{counts.quarantined:,}", counts.quarantine_reasons)
        write_landing_and_quarantine(lake, result.run_id, counts.landing_files, batch.quarantine)
        test_pause("landed")
        check_batch(result.rows_raw, counts.landed, counts.quarantined, settings.max_quarantine_share, require_rows)
        _check_contract(warehouse, extracted, counts, batch, accept_schema_change)
        result.values_clipped = counts.clipped
        if counts.clipped:
            extracted.notes.append(f"{counts.clipped:,} over-long text value(s) clipped to the warehouse widths")

        if counts.landed:
            warehouse.check_lock()  # a run that lost its lock must not commit to the lake either
            held: dict = {}  # row id -> the :updated_at the warehouse holds, for the rows this batch replaces
            batch.commit = merge_curated(con, lake, table, result.run_id, counts.landing_files, work_dir,
                                         replaced=lambda ids, keys: replaced_rows(warehouse, ids, keys, held))
            if getattr(source, "keyed", False) and held:
                _note_older_restamps(con, held, counts.landing_files, result, extracted.notes)
            result.rows_curated = batch.commit.batch_rows
            result.lake_version = batch.commit.version
            checks.equal("landing = curated", counts.landed, batch.commit.batch_rows, "rows")
            test_pause("curated")
        staging = None
        if batch.commit is not None:
            # A DuckDB warehouse reads the local copies of the committed files itself (a view: no
            # copy of a 2M-row batch); the others stream them through the work connection.
            staging = _staging(con, batch.commit, result.run_id, in_place=warehouse.kind == "duckdb")
        _publish(result, started, warehouse, table, batch, staging, checks)
    finally:
        con.close()


def _check_contract(warehouse: Warehouse, extracted, counts: TransformCounts, batch: Batch,  # noqa: ANN001
                    accept: bool) -> None:
    """The schema contract (pipeline/contract.py) over this batch; its notes go to the run log.

    The run log records the null rates over every row; a file batch is judged over the files whose
    header has each column (a column a file lacks is that file's layout, said in the notes).
    """
    rows, nulls = null_counts(counts.landing_files)
    batch.null_rates = {c: round(n / rows, 4) for c, n in nulls.items()} if rows else {}
    fields = [c for c, _ in SOURCE_COLUMNS]
    missing = missing_from_header(extracted.header_columns, fields)
    history = runlog.null_history(warehouse, min_rows=MIN_ROWS)
    if not history and (held := runlog.warehouse_null_rates(warehouse, min_rows=MIN_ROWS)):
        history = [held]
        log.info("schema contract: no null-rate history in the run log; judged against the warehouse's own rows")
    if extracted.header_is_source:
        judged, gone = batch.null_rates, missing
    else:
        judged, gone = file_layout_rates(nulls, rows, missing, counts.landed_by_file), {}
        for note in layout_notes(missing, fields):
            log.warning("%s", note)
            extracted.notes.append(note)
    extracted.notes.extend(check_schema(judged, history, counts.landed, accept, gone=gone))


def _note_older_restamps(con, held: dict, files: list[Path], result: LoadResult,  # noqa: ANN001
                         notes: list[str]) -> None:
    """Count and report the batch's rows whose :updated_at is older than the one the warehouse holds.

    NOTE: the portal can re-stamp a row backwards (a restore, a re-import). Read inside the window,
    such a row is loaded as the portal's current values, and said: it moved behind rows already
    loaded, so had it moved further back than the lookback it would not have been read at all.
    ``held`` comes from the merge's own lookup of the rows a daily batch replaces (no extra query);
    a bigger batch (a backfill) does no lookup and reads everything anyway.
    """
    stamps = dict(con.execute(
        "select src_row_id, source_updated_at from read_parquet(?) "
        "where src_row_id is not null and source_updated_at is not null", [[str(p) for p in files]]).fetchall())
    older = older_restamps(held, stamps)
    result.rows_restamped_older = len(older)
    if older:
        row_id, was, now = older[0]
        notes.append(f"{len(older):,} row(s) re-stamped by the portal to an older :updated_at than the one loaded "
                     f"(e.g. {row_id}: {was.isoformat()} -> {now.isoformat()}); loaded with the portal's current "
                     "values. A row moved back beyond the lookback is not read: run --reconcile")
        log.warning("socrata: %s", notes[-1])


def _staging(con, commit: CuratedCommit, run_id: str, in_place: bool):  # noqa: ANN001, ANN202
    """What the warehouse stages from: local copies of the files the curated commit added (this run's
    rows only; nothing is read back from S3), as their paths (``in_place``) or as Arrow batches."""
    if in_place:
        return commit.local_files
    return curated_batch_reader(con, commit.local_files, run_id)


def _stage(s, batch, run_id: str) -> int:  # noqa: ANN001
    if isinstance(batch, list):
        return int(s.stage_parquet("stg_charges", batch, run_id, like="moco_traffic_violations"))
    return int(s.stage("stg_charges", batch, like="moco_traffic_violations"))


def _copy_first_load(s, batch, started: datetime) -> int:  # noqa: ANN001
    """A first load's batch copied straight into the empty charges table (base.first_load_copies),
    every row stamped with the run's start as insert_charges.sql stamps it; the rows copied."""
    loaded_at = pa.scalar(started.replace(tzinfo=None), pa.timestamp("us"))
    return int(s.copy_into("moco_traffic_violations", batch, {"loaded_at": loaded_at}))


def _publish(
    result: LoadResult, started: datetime, warehouse: Warehouse, table: CuratedTable, batch: Batch,
    staging, checks: Checks,  # noqa: ANN001
) -> None:
    """The warehouse transaction: stage, merge, stops, marts, checks, lake version, watermark, run row.

    ``staging`` is None when the source had nothing new (a quiet day): the run is still recorded.
    The commit is fenced (the warehouse checks, in this transaction, that the run still holds the lock).
    """
    warehouse.check_lock()
    with warehouse.session() as s:
        before = marts.charges_held(s)
        if staging is None:
            _record_quiet_run(s, result, started, table, checks, batch, before)
            return
        first_load = before == 0
        copied = first_load and first_load_copies(s.kind)  # straight into the empty charges table
        staged = _copy_first_load(s, staging, started) if copied else _stage(s, staging, result.run_id)
        checks.equal("curated = staged", result.rows_curated, int(staged), "rows")
        if not first_load:
            refresh_statistics(s, STATISTICS_TABLES)
        if copied:
            s.script("warehouse/first_load_copied")
        else:
            # A first load has nothing to replace and builds every stop, in stop-year passes (first_load_passes).
            s.script("warehouse/first_load" if first_load else "warehouse/merge_charges")
            s.script("warehouse/insert_charges", {"loaded_at": started.replace(tzinfo=None)})
        if first_load:  # the stops are built from these charges: plan with their statistics
            refresh_statistics(s, ("moco_traffic_violations",), force=True)
        wh_dupes = None
        if first_load:  # both checks in one pass over the charges: on a first load they are the batch
            counted = s.query(load_sql("warehouse/first_load_counts", s.kind), {"run_id": result.run_id}).iloc[0]
            received, wh_dupes = int(counted["received"]), int(counted["duplicates"])
        else:
            received = int(s.scalar(load_sql("warehouse/received"), {"run_id": result.run_id}))
        checks.equal("staged = received by the warehouse", int(staged), received, "rows")
        if first_load:
            years = s.query("select distinct stop_year from moco_traffic_violations order by 1")["stop_year"]
            for passes in first_load_passes(s.kind, [int(y) for y in years]):
                rebuild_stops(s, passes)
            result.changes = {"charges_added": received,
                              "stops_added": int(s.scalar("select count(*) from stops"))}
            s.execute("drop table affected_stops")
            refresh_statistics(s, ("stops",), force=True)
        else:
            rebuild_stops(s)
            if int(staged) > STALE_SHARE * before:
                # Analyzed now, with this batch in them (an analyze counts the transaction's own rows), so
                # the statistics are not stale for the next run, which would analyze 1M+ charges instead.
                refresh_statistics(s, STATISTICS_TABLES, force=True)
            row = s.query(load_sql("warehouse/changes", s.kind)).iloc[0]
            result.changes = {k: int(row[k]) for k in row.index}
            for temp in ("affected_stops", "charge_changes", "replaced_file_rows", "stops_before"):
                s.execute(f"drop table {temp}")
        s.stage("stg_quarantine", batch.quarantine, like="quarantine_rows")
        s.script("warehouse/merge_quarantine")
        if wh_dupes is None:
            wh_dupes = s.scalar(load_sql("warehouse/duplicate_keys"))
        checks.check("no duplicate keys in warehouse", wh_dupes == 0, f"{wh_dupes} duplicate row_id(s)")
        # The stop cubes and mart_charge_months of the months this load touched, recounted from the
        # stops and the charges; then the small marts. The checks below read their month totals.
        marts.refresh(s, first_load=first_load)
        months = marts.month_totals(s)
        after = sum(c for c, _, _ in months.values())
        result.warehouse_rows = after
        result.rows_inserted = int(staged)
        result.rows_replaced = before + int(staged) - after
        result.warehouse_stops = sum(n for _, _, n in months.values())
        # Month by month, so a month this load recounted cannot hide behind the total: the charges
        # (counted from the charges) against the stops' charges (from the stops), and against the
        # zone's rows (the Delta log's per-file counts); then the files of the months this load
        # touched, present with the sizes the log records.
        equal_by_month(checks, "stops cover every charge", {k: sc for k, (_, sc, _) in months.items()},
                       {k: c for k, (c, _, _) in months.items()}, "charges")
        equal_by_month(checks, "curated zone = warehouse", table.month_counts(),
                       {k: c for k, (c, _, _) in months.items()}, "rows")
        table.require_intact(batch.commit.months)
        now = datetime.now(timezone.utc)
        runlog.set_state(s, runlog.LAKE_VERSION_KEY, str(result.lake_version), now)  # set by the curated commit
        if result.watermark is not None:
            runlog.set_state(s, runlog.WATERMARK_KEY, result.watermark.isoformat(), now)
        test_pause("warehouse", busy=_server_busy(s))
        max_date = s.scalar("select max(date_of_stop) from stops")  # stops cover every charge (checked above)
        result.status = "success"
        result.message = "; ".join([*batch.notes, checks.summary()])
        runlog.record(s, result, started, datetime.now(timezone.utc), batch.null_rates, max_date)
    test_pause("committed")


def equal_by_month(checks: Checks, name: str, left: dict[tuple[int, int], int], right: dict[tuple[int, int], int],
                   unit: str) -> None:
    """Check that two counts per (year, month) agree in every month; the detail gives the totals and
    the first months that differ."""
    months = sorted(k for k in set(left) | set(right) if left.get(k, 0) != right.get(k, 0))
    detail = f"{unit}: {sum(left.values()):,} vs {sum(right.values()):,}"
    if months:
        detail += "; months that differ: " + ", ".join(
            f"{y}-{m:02d} ({left.get((y, m), 0):,} vs {right.get((y, m), 0):,})" for y, m in months[:5])
    checks.check(name, not months, detail)


def _record_quiet_run(s, result: LoadResult, started: datetime, table: CuratedTable, checks: Checks,  # noqa: ANN001
                      batch: Batch, rows: int) -> None:
    """A run that read nothing new: nothing to merge; the run and its (kept) watermark are recorded."""
    result.warehouse_rows = rows
    result.warehouse_stops = int(s.scalar("select count(*) from stops"))
    checks.equal("curated zone = warehouse", table.row_count(), rows, "rows")
    marts.ensure(s)  # after an upgrade the marts are built on the first run, new rows or not
    now = datetime.now(timezone.utc)
    result.lake_version = table.version()
    if result.watermark is not None:
        runlog.set_state(s, runlog.WATERMARK_KEY, result.watermark.isoformat(), now)
    result.status = "success"
    result.message = "; ".join([*batch.notes, checks.summary()])
    max_date = s.scalar("select max(date_of_stop) from moco_traffic_violations")
    runlog.record(s, result, started, now, batch.null_rates, max_date)


def _server_busy(session):  # noqa: ANN001, ANN202
    """For the crash tests: a statement the server is still running when the client is killed."""
    if session.kind == "duckdb":
        return None
    return lambda: session.execute("select pg_sleep(3600)")
