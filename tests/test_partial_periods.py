"""Partial periods are drawn as partial: a month the data covers only in part (one day of November)
is left out of the line and marked, a month or year without data is a gap (never a zero, never
skipped), and the heatmap's withheld cells have a legend entry."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from dashboard import charts, tables
from tests.test_dashboard_pages import values

K = 10


def _days(first: str, last: str) -> list[pd.Timestamp]:
    return list(pd.date_range(first, last, freq="D"))


def _covered(*ranges: tuple[str, str]) -> pd.DataFrame:
    days = [d for lo, hi in ranges for d in _days(lo, hi)]
    return pd.DataFrame({"date_of_stop": days, "stops": 1, "charges": 1})


def test_month_coverage_calls_the_last_month_partial_and_a_month_without_data_none():
    cov = tables.month_coverage(_covered(("2025-09-01", "2025-10-31"), ("2025-12-01", "2025-12-01")))
    assert cov["status"].tolist() == ["full", "full", "none", "partial"]
    assert cov["days_covered"].tolist() == [30, 31, 0, 1]
    # the date window cuts a month too: 15 Sep .. 31 Oct makes September partial
    cov = tables.month_coverage(_covered(("2025-09-01", "2025-10-31")), date(2025, 9, 15), date(2025, 10, 31))
    assert cov["status"].tolist() == ["partial", "full"]


def _monthly(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["stop_year", "stop_month", "stops"]).assign(charges=lambda d: d["stops"] * 2)


def test_one_day_of_november_is_not_drawn_as_a_fall():
    covered = _covered(("2025-09-01", "2025-11-01"))
    coverage = tables.month_coverage(covered)
    monthly = _monthly([(2025, 9, 3000), (2025, 10, 3100), (2025, 11, 100)])
    fig = charts.monthly_trend(monthly, K, coverage).to_plotly_json()
    stops = next(t for t in fig["data"] if t["name"] == "Stops")
    assert values(stops["y"])[:2] == [3000.0, 3100.0] and np.isnan(values(stops["y"])[2])
    marked = [t for t in fig["data"] if t["name"] == "Partial month (data for part of it)"]
    assert values(marked[0]["y"]) == [100.0] and marked[0]["marker"]["symbol"] == "circle-open"

    lines = charts.yearly_lines(monthly, [2025], K, coverage).to_plotly_json()["data"]
    line = next(t for t in lines if t["name"] == "2025")
    assert values(line["y"])[9] == 3100.0 and np.isnan(values(line["y"])[10])
    assert any(t["name"] == "Partial month (data for part of it)" and values(t["y"]) == [100.0] for t in lines)


def test_a_month_without_data_is_a_gap_not_a_zero():
    covered = _covered(("2016-01-01", "2016-01-31"), ("2016-03-01", "2016-03-31"))
    fig = charts.monthly_trend(_monthly([(2016, 1, 500), (2016, 3, 600)]), K,
                               tables.month_coverage(covered)).to_plotly_json()
    stops = next(t for t in fig["data"] if t["name"] == "Stops")
    y = values(stops["y"])
    assert y[0] == 500.0 and np.isnan(y[1]) and y[2] == 600.0 and stops["connectgaps"] is False


def test_stops_per_year_keeps_a_place_for_the_missing_years_and_hatches_partial_ones():
    per_year = pd.DataFrame({"stop_year": [2016, 2019], "stops": [1200, 300]})
    fig = charts.year_bars(per_year, K, "t", {2016: "full", 2019: "partial"}).to_plotly_json()
    bar = fig["data"][0]
    assert list(bar["x"]) == ["2016", "2017", "2018", "2019"]
    assert list(bar["text"]) == ["1,200", "no data", "no data", "300 (partial year)"]
    assert list(bar["marker"]["pattern"]["shape"]) == ["", "", "", "/"]
    # the hatch is drawn over the bar's colour: plotly's default fill mode replaces it with the
    # pattern's background, and a partial year read as an empty bar (seen at 2M rows, 2025)
    assert bar["marker"]["pattern"]["fillmode"] == "overlay"


def test_year_status_counts_leap_years():
    cov = pd.DataFrame({"stop_year": [2016, 2017, 2019], "days_covered": [366, 365, 2]})
    assert tables.year_status(cov) == {2016: "full", 2017: "full", 2019: "partial"}
    assert tables.year_status(pd.DataFrame({"stop_year": [2016], "days_covered": [365]})) == {2016: "partial"}


def test_the_heatmaps_withheld_cells_are_in_its_legend():
    wh = pd.DataFrame([(d, h, 50) for d in range(7) for h in range(24)], columns=["stop_weekday", "stop_hour", "stops"])
    fig = charts.weekday_hour_heatmap(wh, K).to_plotly_json()
    assert not [t for t in fig["data"] if t.get("name", "").startswith("Blank")]
    wh.loc[0, "stops"] = 3
    fig = charts.weekday_hour_heatmap(wh, K).to_plotly_json()
    legend = [t for t in fig["data"] if t.get("name") == "Blank: fewer than 10 stops (withheld)"]
    assert len(legend) == 1 and legend[0]["showlegend"] is True and legend[0]["marker"]["color"] == "white"


def test_a_first_or_last_week_the_data_covers_in_part_is_hatched_and_says_so():
    days = pd.date_range("2024-01-03", "2025-11-01", freq="D")  # a Wednesday .. a Saturday
    daily = pd.DataFrame({"date_of_stop": days, "stops": 40, "charges": 60})
    bar = charts.daily_trend(daily, K).to_plotly_json()["data"][0]
    shapes = list(bar["marker"]["pattern"]["shape"])
    assert bar["marker"]["pattern"]["fillmode"] == "overlay"
    assert shapes[0] == "/" and shapes[-1] == "/" and set(shapes[1:-1]) == {""}
    assert bar["hovertext"][-1] == "Week of 27 Oct 2025: 240 stops (partial week)"
    assert not bar["hovertext"][1].endswith("(partial week)")
