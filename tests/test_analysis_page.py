"""The Disparities page when every test has enough data (synthetic results in a real DuckDB file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.analysis import aggregate_search_counts, outcome_test, veil_of_darkness
from dashboard import analysis_charts as figures
from pipeline.config import Settings
from pipeline.warehouse import open_warehouse
from tests.test_analysis_outcome import synthetic_stops as synthetic_searches
from tests.test_analysis_veil import synthetic_stops as synthetic_evening_stops


@pytest.fixture(scope="module")
def synthetic_results(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("synthetic_results")
    s = Settings(warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}", lake_url=str(root / "lake"))
    outcome = outcome_test(aggregate_search_counts(synthetic_searches(seed=1, hit_gap=0.10))).table
    veil = veil_of_darkness(synthetic_evening_stops(3_000, beta=-0.6, seed=3)).table
    with open_warehouse(s).session() as session:
        session.script("analysis/schema")
        session.replace_table("analysis_outcome_test", outcome.assign(computed_at=None))
        session.replace_table("analysis_veil_of_darkness", veil.assign(computed_at=None))
    return s


def test_page_draws_the_outcome_and_veil_results_and_says_the_benchmark_is_missing(
    synthetic_results: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PIPELINE_WAREHOUSE", synthetic_results.warehouse_url)
    at = AppTest.from_file("../pages/disparities.py", default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value.startswith("hit rates compared with White for BLACK") for s in at.success)
    assert any("Cannot be computed on this data" in w.value for w in at.warning)  # no benchmark rows
    assert any(m.value.startswith("- After dark") for m in at.markdown)
    assert len(at.dataframe) >= 1


def test_figures_carry_the_confidence_intervals_as_error_bars(synthetic_results: Settings) -> None:
    from pipeline.analysis import read_results

    res = read_results(open_warehouse(synthetic_results))
    fig = figures.outcome_rates(res["analysis_outcome_test"], "hit_rate")
    trace = fig.data[0]
    rows = figures.order_races(res["analysis_outcome_test"].query("level == 'county_weighted'"))
    assert list(trace.error_y.array) == pytest.approx(list(rows["hit_rate_high"] - rows["hit_rate"]))
    veil = figures.veil_odds_ratios(res["analysis_veil_of_darkness"])
    assert veil.data[0].error_x.array is not None and len(veil.data[0].x) == 2
    assert figures.outcome_rates(res["analysis_outcome_test"].iloc[0:0]).layout.annotations[0].text.startswith("Cannot")
