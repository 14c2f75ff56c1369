"""Shared fixtures: an isolated lake + DuckDB warehouse per test, and one sample-loaded warehouse per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.config import Settings

os.environ.setdefault("MPLBACKEND", "Agg")


def make_settings(root: Path, **overrides: object) -> Settings:
    return Settings(
        warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}",
        lake_url=str(root / "lake"),
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A fresh DuckDB warehouse and local lake under tmp_path."""
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The bundled real sample loaded once (reference tables included); treat as read-only."""
    from pipeline.extract.files import SampleSource
    from pipeline.load import run_load
    from pipeline.reference import ensure_reference
    from pipeline.warehouse import open_warehouse

    root = tmp_path_factory.mktemp("sample_wh")
    s = make_settings(root)
    wh = open_warehouse(s)
    ensure_reference(s, wh)
    run_load(s, SampleSource(), "backfill", warehouse=wh)
    return s


@pytest.fixture
def sample_warehouse_copy(sample_warehouse: Settings, tmp_path: Path) -> Settings:
    """A private copy of the sample warehouse and its lake that a test may modify."""
    shutil.copyfile(sample_warehouse.duckdb_path, tmp_path / "warehouse.duckdb")
    shutil.copytree(sample_warehouse.lake_path, tmp_path / "lake")
    return make_settings(tmp_path)


# --------------------------------------------------------------------------------------------
# The fast tier: `pytest -m core` (test.sh runs it first). One list, here, rather than a marker
# sprinkled over files: what the core covers is read in one place (docs/TESTING.md maps each rule
# to its tests). A file name takes the whole file; a node id prefix takes those tests.
# --------------------------------------------------------------------------------------------

CORE_TESTS = (
    # stop rule, outcome, date window
    "tests/test_stop_rule.py",
    "tests/test_date_window.py",
    # ZIP assignment and the tract -> ZIP allocation
    "tests/test_geo.py",
    "tests/test_zip_boundaries.py",
    "tests/test_crosswalk.py",
    # the Socrata read: retries, paging, watermark; reconcile's confirmation; the curated table
    "tests/test_socrata_client.py",
    "tests/test_watermark.py",
    "tests/test_reconcile.py",
    "tests/test_curated.py",
    # commit protocol, gates, contract, clipping
    "tests/test_quality_gates.py",
    "tests/test_first_load_checks.py",
    "tests/test_load.py::test_a_dead_runs_work_folders_are_removed_and_other_files_kept",
    "tests/test_load.py::test_a_crash_mid_load_keeps_serving_the_previous_data",
    "tests/test_load.py::test_a_failed_quality_check_rolls_back",
    "tests/test_load.py::test_sample_backfill_reconciles_raw_landing_quarantine_and_warehouse",
    "tests/test_marts.py::test_a_stop_moved_to_another_month_leaves_both_months_right",
    "tests/test_marts.py::test_a_warehouse_that_lost_a_charge_the_lake_holds_fails_the_next_load",
    "tests/test_marts.py::test_each_query_reads_the_smallest_cube_keeping_its_columns",
    # value and identity rules, the contract across sources (issue 20; DuckDB halves)
    "tests/test_value_rules.py::test_a_clipped_value_is_the_longest_whole_character_prefix_within_the_width",
    "tests/test_value_rules.py::test_long_multibyte_values_keep_every_character_that_fits",
    "tests/test_data_faults.py",
    # the load lock (exclusive, waits, refusals recorded) and a failed run's clean-up
    "tests/test_lock_fencing.py::test_duckdb_lock_is_exclusive_and_a_refusal_is_recorded",
    "tests/test_lock_fencing.py::test_a_failed_row_keeps_what_was_read_and_nulls_what_was_never_published",
    "tests/test_lake_integrity.py::test_a_failed_run_leaves_no_landing_quarantine_or_temp_file",
    "tests/test_lake_integrity.py::test_put_file_removes_its_temp_file_when_the_disk_is_full",
    # small-count suppression, period comparisons (pure) and their SQL on the sample warehouse
    "tests/test_dashboard_charts.py",
    "tests/test_queries.py::test_stops_by_suppresses_small_cells_and_the_rest_add_up",
    "tests/test_queries.py::test_a_cell_of_exactly_the_threshold_is_shown_and_one_below_is_not",
    "tests/test_queries.py::test_year_compare_counts_only_the_days_both_years_cover",
    "tests/test_queries.py::test_compare_periods_matches_days_and_counts_like_sql",
    "tests/test_queries.py::test_residents_add_up_to_the_county_and_split_by_zip_without_double_counting",
    # the dashboard's result cache (a hit never shares a frame), the width class a page is drawn for
    "tests/test_dashboard_cache.py",
    "tests/test_browser_fit.py",
    # the install writes bytecode (a daily run and a dashboard start would compile every module)
    "tests/test_install.py",
    # analyses
    "tests/test_analysis_stats.py",
    "tests/test_analysis_outcome.py",
    "tests/test_analysis_benchmark.py",
    "tests/test_analysis_veil.py",
    "tests/test_analysis_caveats.py",
    "tests/test_sun_times.py",
)


# Left out of the fast tier wherever they occur: the PostgreSQL half of a DuckDB/PostgreSQL pair
# (the same rule, checked again for parity in the second run).
NOT_CORE_PARAMS = ("[postgresql]",)


def _is_core(nodeid: str) -> bool:
    if any(param in nodeid for param in NOT_CORE_PARAMS):
        return False
    for entry in CORE_TESTS:
        if "::" in entry:
            if nodeid == entry or nodeid.startswith(entry + "[") or nodeid.startswith(entry + "::"):
                return True
        elif nodeid.split("::", 1)[0] == entry:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m core`` (or ``-m "core and ..."``), files holding no core test are not even imported:
    collecting the whole suite imports streamlit, playwright, ... and takes longer than the core's tests."""
    mark = config.getoption("markexpr", "")
    if not (mark == "core" or mark.startswith("core and ")) or not collection_path.name.startswith("test_"):
        return None
    core_files = {entry.split("::", 1)[0] for entry in CORE_TESTS}
    root = config.rootpath
    relative = collection_path.relative_to(root).as_posix() if collection_path.is_relative_to(root) else ""
    return True if relative not in core_files else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_core(item.nodeid) and item.get_closest_marker("statistics") is None:
            item.add_marker(pytest.mark.core)


# Seconds per test file (setup + call + teardown of its tests), printed at the end of every run so
# that CI output shows where the time goes (`--durations` gives the slowest single tests).
_FILE_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    if not _FILE_SECONDS:
        return
    terminalreporter.write_sep("=", "seconds per test file")
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  {path}")
    terminalreporter.write_line(f"{sum(_FILE_SECONDS.values()):8.1f} s  total")
