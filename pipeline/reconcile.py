"""Reconcile: find rows deleted at the source (SODA has no tombstones) and, when asked, remove them.

Safety rules are in :func:`reconcile`'s docstring. The warehouse deletes, the stops rebuild, the
marts, the curated version and the run log row are one warehouse transaction; the curated zone's
Delta commit comes just before it (the same protocol as a load, see :mod:`pipeline.load`).
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

import duckdb
import pyarrow as pa

from . import marts, runlog
from .config import Settings
from .curated import CuratedTable, stage_partitioned
from .extract.socrata import SocrataExtractor
from .lake import Lake, open_lake
from .runlog import LoadResult
from .warehouse import Warehouse
from .warehouse.base import rebuild_stops

log = logging.getLogger(__name__)

__all__ = ["ReconcileError", "ReconcileResult", "reconcile"]


class ReconcileError(RuntimeError):
    """Reconcile refused to act (incomplete listing, or a mass delete without the explicit flag)."""


@dataclass
class ReconcileResult:
    run_id: str
    portal_ids: int = 0
    warehouse_ids: int = 0  # warehouse rows with source = 'socrata'
    missing_at_source: int = 0  # in the warehouse, gone from the portal (deleted there)
    missing_here: int = 0  # at the portal, not in the warehouse (and not quarantined)
    quarantined_here: int = 0  # at the portal, held in quarantine_rows instead
    confirmed_deleted: int = 0  # missing at source and confirmed absent one by one
    deleted: int = 0  # removed from the warehouse and the curated zone
    stops_rebuilt: int = 0
    warehouse_rows: int = 0
    warehouse_stops: int = 0
    sample_missing_at_source: list[str] = field(default_factory=list)
    sample_missing_here: list[str] = field(default_factory=list)
    message: str = ""

    def summary(self) -> str:
        return (
            f"reconcile [socrata]: portal {self.portal_ids:,} ids, warehouse {self.warehouse_ids:,} socrata rows; "
            f"missing at source {self.missing_at_source:,} (deleted {self.deleted:,}), missing here "
            f"{self.missing_here:,}, quarantined {self.quarantined_here:,}"
        )


def _present_at_portal(extractor: SocrataExtractor, ids: Iterable[str]) -> set[str]:
    """The ids of ``ids`` that the portal still serves, asked one by one (``$where=:id = '...'``)."""
    present = set()
    for row_id in ids:
        if "'" in row_id:  # never splice a quote into SoQL; such an id cannot be confirmed
            present.add(row_id)
            continue
        found = extractor.count(where=f":id = '{row_id}'")
        if found is None or found > 0:  # unknown counts as present: never delete on a failed check
            present.add(row_id)
    return present


def _remove_from_curated(lake: Lake, removed: pa.Table, run_id: str) -> int | None:
    """Commit the curated table without ``removed`` (row_id, stop_year, stop_month): one Delta commit
    replacing just the months that held them. Returns the new version (None if there is no table)."""
    import tempfile
    from pathlib import Path

    table = CuratedTable(lake)
    if not table.exists():
        return None
    con = duckdb.connect()
    try:
        con.register("removed", removed)
        months = {(int(y), int(m)) for y, m in con.execute("select distinct stop_year, stop_month from removed").fetchall()}
        files = [f for f in table.files() if (f.year, f.month) in months]
        if not files:
            return table.version()
        with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="reconcile-") as tmp:
            paths = [str(stack.enter_context(lake.local_copy(f.key))) for f in files]
            select = ("select *, stop_year as year, stop_month as month "
                      "from read_parquet(?, hive_partitioning = false, union_by_name = true) "
                      "where row_id not in (select row_id from removed)")
            schema = con.sql(select + " limit 0", params=[paths]).to_arrow_table().schema
            staged = stage_partitioned(con, select, [paths], Path(tmp), f"{run_id}-reconcile")
            return table.commit_files(staged, files, schema, run_id)
    finally:
        con.close()


def reconcile(settings: Settings, warehouse: Warehouse, *args, **kwargs) -> ReconcileResult:  # noqa: ANN002, ANN003
    """:func:`_reconcile` under the load lock (a reconcile and a load never interleave)."""
    with warehouse.run_lock("reconcile", "reconcile"):
        return _reconcile(settings, warehouse, *args, **kwargs)


def _reconcile(
    settings: Settings,
    warehouse: Warehouse,
    delete: bool = False,
    *,
    allow_mass_delete: bool = False,
    max_delete_fraction: float = 0.05,
    verify_limit: int = 1000,
    extractor: SocrataExtractor | None = None,
    sleep: Callable[[float], None] = time.sleep,
    lake: Lake | None = None,
) -> ReconcileResult:
    """Compare every ``:id`` at the portal with the warehouse; with ``delete=True`` remove rows deleted there.

    Safety rules, in order:

    1. The listing must be complete. ``count()`` is taken before and after the listing. If
       either differs from the number of distinct ids listed, the dataset changed while it was
       paged, and offset paging may have skipped a live id. Then nothing is deleted (with
       ``delete=True`` this raises :class:`ReconcileError`).
    2. Only rows loaded before the listing started are candidates. A row loaded during the
       listing may be newer than the listing.
    3. Each candidate (up to ``verify_limit`` of them) is confirmed absent by its own
       ``:id = '...'`` query.
    4. Deleting more than ``max_delete_fraction`` of the warehouse's socrata rows needs
       ``allow_mass_delete=True``.

    The deletes, the stop rebuild (``sql/marts/stops.sql`` over ``affected_stops``), the marts and
    the run log row are one warehouse session. The curated partitions are rewritten inside that
    session, just before the commit. If the session fails, rerunning reconcile converges.
    """
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    run = LoadResult(run_id=runlog.new_run_id(started), command="reconcile", source="socrata", status="running")
    result = ReconcileResult(run_id=run.run_id)
    owned = extractor is None
    extractor = extractor or SocrataExtractor(settings, sleep=sleep)
    try:
        if not warehouse.exists():
            raise ReconcileError("no warehouse yet: nothing to reconcile")
        before = extractor.count()
        listed: set[str] = set()
        n_listed = 0
        for row_id in extractor.all_ids():
            listed.add(row_id)
            n_listed += 1
        after = extractor.count()
        result.portal_ids = len(listed)
        complete = before is not None and before == after == len(listed) == n_listed
        if not complete:
            problem = (
                f"the listing is not known to be complete: count() {before} before, {after} after, "
                f"{n_listed:,} ids listed ({len(listed):,} distinct); the dataset changed while it was paged"
            )
            if delete:
                raise ReconcileError(problem + "; nothing deleted, run reconcile again")
            log.warning("reconcile: %s (report only)", problem)

        with warehouse.session() as s:
            here = s.query(
                "select row_id, loaded_at < :listing_started as before_listing "
                "from moco_traffic_violations where source = 'socrata'",
                {"listing_started": started.replace(tzinfo=None)},
            )
            all_here = set(here["row_id"].astype(str))
            # Only rows loaded before the listing started can be candidates for deletion.
            candidates = set(here.loc[here["before_listing"].astype(bool), "row_id"].astype(str))
            result.warehouse_ids = len(all_here)
            quarantined = set(
                s.query("select distinct row_id from quarantine_rows where row_id is not null")["row_id"].astype(str)
            )
            gone = sorted(candidates - listed)
            new_here = listed - all_here
            result.quarantined_here = len(new_here & quarantined)
            new_here -= quarantined
            result.missing_at_source = len(gone)
            result.missing_here = len(new_here)
            result.sample_missing_at_source = gone[:20]
            result.sample_missing_here = sorted(new_here)[:20]
            log.info("reconcile: %s", result.summary())
            if result.missing_here:
                log.warning(
                    "reconcile: %s row(s) at the portal are not in the warehouse (e.g. %s); "
                    "`python -m pipeline backfill --source socrata` loads them",
                    f"{result.missing_here:,}", ", ".join(result.sample_missing_here[:5]),
                )

            to_delete: list[str] = []
            if delete and gone:
                limit = max_delete_fraction * max(result.warehouse_ids, 1)
                if len(gone) > limit and not allow_mass_delete:
                    raise ReconcileError(
                        f"refusing to delete {len(gone):,} of {result.warehouse_ids:,} rows "
                        f"({len(gone) / max(result.warehouse_ids, 1):.1%} > {max_delete_fraction:.0%}): "
                        "check the portal, then rerun with --allow-mass-delete"
                    )
                if len(gone) <= verify_limit:
                    still_there = _present_at_portal(extractor, gone)
                    if still_there:
                        log.warning("reconcile: %d id(s) missing from the listing still exist at the portal; kept: %s",
                                    len(still_there), sorted(still_there)[:10])
                    to_delete = [g for g in gone if g not in still_there]
                else:
                    log.warning("reconcile: %s candidates exceed verify_limit=%d; relying on the complete listing",
                                f"{len(gone):,}", verify_limit)
                    to_delete = gone
                result.confirmed_deleted = len(to_delete)

            if to_delete:
                s.stage("stg_deleted_ids", pa.table({"row_id": pa.array(to_delete, pa.string())}))
                removed = s.query(
                    "select row_id, stop_id, stop_year, stop_month from moco_traffic_violations "
                    "where row_id in (select row_id from stg_deleted_ids)"
                )
                s.execute(
                    "create temp table affected_stops as select distinct stop_id from moco_traffic_violations "
                    "where row_id in (select row_id from stg_deleted_ids)"
                )
                result.stops_rebuilt = int(s.scalar("select count(*) from affected_stops"))
                s.execute("delete from moco_traffic_violations where row_id in (select row_id from stg_deleted_ids)")
                rebuild_stops(s)  # rebuilds the affected stops from the remaining charges
                remaining = int(s.scalar("select count(*) from stops as s join (select distinct stop_id from affected_stops) as a on a.stop_id = s.stop_id"))
                s.execute("drop table affected_stops")
                marts.refresh(s)
                result.deleted = len(removed)
                run.changes = {"charges_removed": result.deleted, "stops_edited": remaining,
                               "stops_removed": result.stops_rebuilt - remaining}
            result.warehouse_rows = int(s.scalar("select count(*) from moco_traffic_violations"))
            result.warehouse_stops = int(s.scalar("select count(*) from stops"))
            stop_charges = int(s.scalar("select coalesce(sum(n_charges), 0) from stops"))
            if stop_charges != result.warehouse_rows:
                raise ReconcileError(f"stops cover {stop_charges:,} charges but the warehouse holds {result.warehouse_rows:,}")
            if to_delete and len(removed):
                lake = lake or open_lake(settings)
                removed_table = pa.Table.from_pandas(
                    removed[["row_id", "stop_year", "stop_month"]], preserve_index=False
                )
                # Committed before the warehouse, which records the version in this transaction: a
                # crash between the two is undone by the next run (pipeline.curated.converge).
                run.lake_version = _remove_from_curated(lake, removed_table, run.run_id)
                if run.lake_version is not None:
                    runlog.set_state(s, runlog.LAKE_VERSION_KEY, str(run.lake_version), datetime.now(timezone.utc))
                log.info("reconcile: curated zone committed as version %s", run.lake_version)

            result.message = result.summary() + (
                f"; confirmed absent {result.confirmed_deleted:,}, {result.stops_rebuilt:,} stop(s) rebuilt"
                if delete else "; report only (no --delete-missing)"
            ) + ("" if complete else "; listing incomplete (dataset changed while paged)")
            run.status = "success"
            run.rows_raw = result.portal_ids
            run.warehouse_rows, run.warehouse_stops = result.warehouse_rows, result.warehouse_stops
            run.rows_replaced = result.deleted  # rows removed, in the run log's "replaced" column
            run.seconds = time.perf_counter() - t0
            run.message = result.message
            max_date = s.scalar("select max(date_of_stop) from moco_traffic_violations")
            runlog.record(s, run, started, datetime.now(timezone.utc), {}, max_date)
        log.info(result.message)
        return result
    except BaseException as exc:
        run.status = "failed"
        run.seconds = time.perf_counter() - t0
        run.message = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, KeyboardInterrupt) and warehouse.exists():
            runlog.fail(warehouse, run, started)
        raise
    finally:
        if owned:
            extractor.close()
