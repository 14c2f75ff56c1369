"""Run every analysis against a warehouse and store the result tables.

Inputs are read with the SQL in ``sql/analysis/*.sql`` (aggregates, so little data leaves the
warehouse; the veil-of-darkness input is counted per date, minute, race and district, which is still
close to one row per evening stop because few stops share a minute); the statistics run in
pandas/statsmodels; the four result tables are replaced whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

import pandas as pd

from ..config import REFERENCE_DIR, Settings
from ..sqlfiles import load_sql, render
from . import benchmark, caveats, outcome, veil_of_darkness
from .population import county_population, read_county_race
from .stats import AnalysisResult

log = logging.getLogger(__name__)

TABLES: Final[dict[str, list[str]]] = {
    "analysis_benchmark": benchmark.COLUMNS,
    "analysis_outcome_test": outcome.COLUMNS,
    "analysis_veil_of_darkness": veil_of_darkness.COLUMNS,
    "analysis_caveats": caveats.COLUMNS,
}


@dataclass(frozen=True)
class AnalysisOptions:
    small_count: int = 10
    min_searches: int = outcome.MIN_SEARCHES
    min_stops: int = outcome.MIN_STOPS
    veil_min_n: int = veil_of_darkness.MIN_N
    veil_min_cell: int = veil_of_darkness.MIN_CELL
    spline_df: int = veil_of_darkness.SPLINE_DF


def _query(session: Any, name: str) -> pd.DataFrame:
    return session.query(load_sql(f"analysis/{name}", getattr(session, "kind", None)))


def compute_all(session: Any, options: AnalysisOptions, ref_dir: Path = REFERENCE_DIR) -> dict[str, AnalysisResult]:
    """Read the inputs through ``session.query`` and run the four analyses (no writes)."""
    try:
        county_pop = county_population(read_county_race(ref_dir))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        log.warning("county population unavailable: %s", exc)
        county_pop = None
    try:
        zip_pop = _query(session, "zip_population")
    except Exception as exc:  # reference tables not loaded yet
        log.warning("ZIP population unavailable: %s", exc)
        zip_pop = None

    results = {
        "analysis_benchmark": benchmark.population_benchmark(
            _query(session, "benchmark_residence_counts"), county_pop,
            _query(session, "benchmark_zip_counts"), zip_pop, small_count=options.small_count,
        ),
        "analysis_outcome_test": outcome.outcome_test(
            _query(session, "outcome_counts"), min_searches=options.min_searches, min_stops=options.min_stops,
        ),
        "analysis_veil_of_darkness": veil_of_darkness.veil_of_darkness(
            _query(session, "veil_stops"), min_n=options.veil_min_n, min_cell=options.veil_min_cell,
            spline_df=options.spline_df,
        ),
    }
    sources = _query(session, "data_sources")
    has_sample = bool((sources["source"] == "sample").any()) if len(sources) else False
    results["analysis_caveats"] = caveats.data_quality_caveats(_query(session, "caveat_counts"), has_sample)
    return results


def _write(session: Any, results: dict[str, AnalysisResult], now: datetime) -> dict[str, pd.DataFrame]:
    session.script("analysis/schema")
    out: dict[str, pd.DataFrame] = {}
    for table, result in results.items():
        frame = result.table.copy()
        frame["computed_at"] = pd.Timestamp(now.replace(tzinfo=None))
        frame = frame[TABLES[table]]
        session.replace_table(table, frame)
        out[table] = frame
        log.info("%s: %d row(s)%s", table, len(frame), "" if result.ran else f" (not run: {result.reason})")
    return out


def run_all(
    target: Any,
    settings: Settings | None = None,
    options: AnalysisOptions | None = None,
    ref_dir: Path = REFERENCE_DIR,
) -> dict[str, pd.DataFrame]:
    """Compute every analysis and replace the ``analysis_*`` tables; return them by table name.

    ``target`` is a warehouse (its own load session is opened: one transaction, published
    atomically), an open load session (the caller's transaction), or a :class:`Settings`.
    """
    if isinstance(target, Settings):
        from ..warehouse import open_warehouse

        settings = settings or target
        target = open_warehouse(target)
    if options is None:
        options = AnalysisOptions(small_count=settings.small_count_threshold if settings else 10)
    now = datetime.now(timezone.utc)
    if hasattr(target, "session") and callable(target.session):
        with target.session() as s:
            return _write(s, compute_all(s, options, ref_dir), now)
    return _write(target, compute_all(target, options, ref_dir), now)


def read_results(warehouse: Any) -> dict[str, pd.DataFrame]:
    """The stored ``analysis_*`` tables (empty dict entries for tables not created yet)."""
    out: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        sql = render("select * from {{ table }}", {"table": table}, {"table": TABLES.keys()})
        try:
            out[table] = warehouse.query(sql)
        except Exception as exc:  # table missing: analysis not run on this warehouse yet
            log.info("%s not readable: %s", table, exc)
            out[table] = pd.DataFrame(columns=TABLES[table])
    return out
