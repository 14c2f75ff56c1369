"""Disparity analyses of Montgomery County traffic stops (see docs/METHODS.md).

Pure functions on DataFrames (no warehouse needed, each returns an :class:`AnalysisResult` with
``ran`` / ``reason`` / ``table``):

* :func:`population_benchmark` - stops per 1,000 residents by race (county, residents only, ZIP)
* :func:`outcome_test` - search and contraband hit rates by race within districts
* :func:`veil_of_darkness` - Black share of stops after dark vs daylight at the same clock time
* :func:`data_quality_caveats` - missing/OTHER shares per year, plus the known limits as text

and :func:`run_all` which reads the inputs from a warehouse (``sql/analysis/*.sql``) and writes
``analysis_benchmark``, ``analysis_outcome_test``, ``analysis_veil_of_darkness`` and
``analysis_caveats``. Every rate counts **stops**, never charges.
"""

from .benchmark import aggregate_residence_counts, aggregate_zip_counts, population_benchmark
from .caveats import data_quality_caveats
from .outcome import aggregate_search_counts, outcome_test
from .places import residence_status, residence_statuses
from .population import county_population, read_county_race
from .runner import TABLES, AnalysisOptions, compute_all, read_results, run_all
from .stats import AnalysisResult, poisson_interval, rate_ratio_interval, wilson_interval
from .veil_of_darkness import intertwilight_window, sun_times, veil_of_darkness

__all__ = [
    "TABLES", "AnalysisOptions", "AnalysisResult",
    "aggregate_residence_counts", "aggregate_search_counts", "aggregate_zip_counts",
    "compute_all", "county_population", "data_quality_caveats", "intertwilight_window",
    "outcome_test", "poisson_interval", "population_benchmark", "rate_ratio_interval",
    "read_county_race", "read_results", "residence_status", "residence_statuses", "run_all",
    "sun_times", "veil_of_darkness", "wilson_interval",
]
