"""Chart builders are pure: DataFrames in, figures out; numbers and accessibility checked directly."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from dashboard import charts
from dashboard.filters import RACE_LABELS


def test_monthly_trend_fills_empty_months_with_zero_and_labels_stops_and_charges():
    df = pd.DataFrame({"stop_year": [2016, 2016], "stop_month": [1, 4], "stops": [5, 7], "charges": [9, 8]})
    fig = charts.monthly_trend(df)
    names = [t.name for t in fig.data]
    assert names == ["Stops", "Charges (rows)"]
    assert list(fig.data[0].y) == [5, 0, 0, 7]
    # not colour alone: the two lines also differ by dash and marker
    assert fig.data[0].line.dash != fig.data[1].line.dash
    assert fig.data[0].marker.symbol != fig.data[1].marker.symbol


def test_daily_trend_switches_to_weeks_for_long_ranges():
    short = pd.DataFrame({"date_of_stop": pd.to_datetime(["2016-01-01", "2016-01-03"]), "stops": [2, 3],
                          "charges": [2, 3]})
    fig = charts.daily_trend(short)
    assert list(fig.data[0].y) == [2, 0, 3]
    long = pd.DataFrame({"date_of_stop": pd.to_datetime(["2015-01-01", "2016-06-01"]), "stops": [2, 3],
                         "charges": [2, 3]})
    assert "week" in charts.daily_trend(long).layout.title.text.lower()
    assert sum(charts.daily_trend(long).data[0].y) == 5


def test_empty_frames_give_a_message_not_an_error():
    empty = pd.DataFrame(columns=["stop_year", "stop_month", "stops", "charges"])
    for fig in (charts.monthly_trend(empty), charts.yearly_lines(empty),
                charts.daily_trend(pd.DataFrame(columns=["date_of_stop", "stops", "charges"])),
                charts.weekday_hour_heatmap(pd.DataFrame(columns=["stop_weekday", "stop_hour", "stops"]))):
        assert fig.layout.annotations and "No stops" in fig.layout.annotations[0].text


def test_weekday_hour_matrix_puts_monday_first():
    df = pd.DataFrame({"stop_weekday": [0, 1, 6], "stop_hour": [23, 0, 12], "stops": [4, 5, 6]})
    grid = charts.weekday_hour_matrix(df)
    assert grid.shape == (7, 24)
    assert grid.loc["Sun", 23] == 4 and grid.loc["Mon", 0] == 5 and grid.loc["Sat", 12] == 6
    assert list(grid.index) == charts.WEEKDAYS


def test_change_table_and_comparison_bars():
    df = pd.DataFrame({"label": ["A", "B"], "stops_a": [10, 0], "stops_b": [15, 4], "rank": [1, 2]})
    t = charts.change_table(df, 2015, 2016)
    assert list(t["change"]) == [5, 4]
    assert t["change_pct"].iloc[0] == pytest.approx(0.5) and pd.isna(t["change_pct"].iloc[1])
    fig = charts.comparison_bars(df, 2015, 2016, "x")
    assert [tr.name for tr in fig.data] == ["2015", "2016"]
    assert fig.data[0].marker.pattern.shape == "/" and not fig.data[1].marker.pattern.shape


def test_race_shares_use_overlapping_acs_categories_with_labels():
    stops = pd.DataFrame({"label": ["BLACK", "WHITE", "OTHER"], "stops": [30, 60, 10]})
    residents = pd.DataFrame([{"residents": 1000.0, "white_alone": 600.0, "black_alone": 200.0,
                               "asian_alone": 150.0, "native_alone": 5.0, "hispanic_any_race": 200.0}])
    t = charts.race_share_table(stops, residents, RACE_LABELS).set_index("race")
    assert t.loc["BLACK", "share_of_stops"] == pytest.approx(0.3)
    assert t.loc["BLACK", "share_of_residents"] == pytest.approx(0.2)
    assert pd.isna(t.loc["OTHER", "share_of_residents"])
    assert "incl. Hispanic" in t.loc["WHITE", "acs_category"]
    fig = charts.share_bars(t.reset_index(), "x")
    assert {tr.name for tr in fig.data} == {"Share of stops", "Share of residents (ACS)"}


def test_rates_are_withheld_below_the_threshold_and_show_denominators():
    df = pd.DataFrame({"race": ["BLACK", "ASIAN"], "searched": [3, 1], "stops_search_recorded": [60, 4]})
    t = charts.rate_table(df, RACE_LABELS, "searched", "stops_search_recorded", 10)
    assert t.loc[0, "rate"] == pytest.approx(0.05) and pd.isna(t.loc[1, "rate"])
    fig = charts.rate_bars(t, "searched", "stops_search_recorded", "Search rate", "search fields")
    assert list(fig.data[0].y) == ["Black"]
    assert "(3 of 60)" in fig.data[0].text[0]


def test_outcome_shares_add_to_one_and_small_groups_are_suppressed():
    df = pd.DataFrame({"race": ["BLACK", "NATIVE AMERICAN"], "stops": [100, 3], "warnings": [50, 1],
                       "seros": [10, 1], "citations": [40, 1]})
    t = charts.outcome_share_table(df, RACE_LABELS, 10)
    black = t.iloc[0]
    assert black[["warnings_share", "seros_share", "citations_share"]].sum() == pytest.approx(1.0)
    assert bool(t.iloc[1]["suppressed"])
    fig = charts.outcome_bars(t)
    assert all(len(tr.y) == 1 for tr in fig.data)


def _features():
    square = {"type": "Polygon", "coordinates": [[[-77.1, 39.0], [-77.0, 39.0], [-77.0, 39.1], [-77.1, 39.0]]]}
    return [{"zip5": z, "geometry": square, "lat": 39.05, "lon": -77.05} for z in ("20901", "20902", "20903")]


def _zips():
    return pd.DataFrame({
        "zip5": ["20901", "20902", "20903"], "stops": [50, 5, 200], "charges": [60, 6, 300],
        "residents_in_county": [20000.0, 30000.0, 500.0], "stops_per_1000": [2.5, 1 / 6, 400.0],
        "residents_zcta": [20000.0, 30000.0, 25000.0], "poverty_rate": [0.05, 0.10, 0.2],
        "density_per_sqmi": [3000.0, 5000.0, 100.0], "land_area_sqmi": [5.0, 6.0, 7.0], "notes": ["", "", ""],
    })


def test_map_withholds_small_counts_and_tiny_populations_and_outlines_the_selection():
    table = charts.map_table(_zips(), "rate", 10)
    assert list(table["small_count"]) == [False, True, False]
    assert table["value"].notna().tolist() == [True, False, False]  # 20902: 5 stops; 20903: 500 residents
    deck, legend = charts.zip_choropleth(_features(), table, "rate", "poverty", ["20901"], "/app/static/x.json")
    spec = json.loads(deck.to_json())
    props = {f["properties"]["zip5"]: f["properties"] for f in spec["layers"][0]["data"]["features"]}
    assert props["20902"]["fill"] == charts.NO_DATA_RGBA
    assert "Fewer than" in props["20902"]["l1"]
    assert props["20901"]["line_w"] > props["20903"]["line_w"]
    assert "50 ÷ 20,000" in props["20901"]["l2"]
    assert spec["mapStyle"] == "/app/static/x.json"
    assert spec["layers"][0]["lineWidthUnits"] == "pixels"  # a string literal, not an expression
    assert [layer["id"] for layer in spec["layers"]] == ["zips", "overlay"]
    assert legend[-1].label.startswith("no value")


def test_map_by_raw_stops_and_with_a_grid():
    table = charts.map_table(_zips(), "stops", 10)
    assert table["value"].tolist()[0] == 50 and table["value"].tolist()[2] == 200
    grid = pd.DataFrame({"cell_y": [3905], "cell_x": [-7705], "stops": [12]})
    deck, legend = charts.zip_choropleth(_features(), table, "stops", "none", [], None, grid, 0.01)
    spec = json.loads(deck.to_json())
    cell = spec["layers"][1]["data"][0]
    assert cell["polygon"][0] == pytest.approx([-77.05, 39.05])
    assert "12 stops" in cell["l1"]


def test_class_breaks_and_palette_are_ordered():
    edges = charts.class_breaks(pd.Series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0]))
    assert edges == sorted(edges) and len(edges) == 6
    assert charts.classify(1, edges) == 0 and charts.classify(10, edges) == 4
    assert len(charts.palette_for(edges)) == 5


def test_same_period_last_year_handles_leap_days():
    assert charts.same_period_last_year(date(2016, 2, 29), date(2016, 12, 31)) == (date(2015, 2, 28),
                                                                                    date(2015, 12, 31))
    assert charts.pct_change(110, 100) == pytest.approx(0.1) and charts.pct_change(5, 0) is None
