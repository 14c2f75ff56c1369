"""Table, chart and map builders are pure: DataFrames in, tables and figures out; numbers, the
small-count policy and accessibility checked directly."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts, i18n, maps, tables
from dashboard.ui import plain

K = 10


def test_monthly_trend_fills_empty_months_with_zero_and_labels_stops_and_charges():
    df = pd.DataFrame({"stop_year": [2016, 2016], "stop_month": [1, 4], "stops": [15, 17], "charges": [19, 18]})
    fig = charts.monthly_trend(df, K)
    assert [t.name for t in fig.data] == ["Stops", "Charges (rows)"]
    assert list(fig.data[0].y) == [15, 0, 0, 17]
    # not colour alone: the two lines also differ by dash and marker
    assert fig.data[0].line.dash != fig.data[1].line.dash
    assert fig.data[0].marker.symbol != fig.data[1].marker.symbol


def test_small_counts_are_not_drawn_nor_written():
    df = pd.DataFrame({"stop_year": [2016, 2016], "stop_month": [1, 2], "stops": [3, 40], "charges": [5, 60]})
    fig = charts.monthly_trend(df, K)
    stops, charges = (list(t.y) for t in fig.data)
    assert np.isnan(stops[0]) and np.isnan(charges[0])  # a month of 3 stops: neither its stops nor charges
    assert stops[1] == 40 and charges[1] == 60
    assert "fewer than 10" in fig.data[0].hovertext[0]
    daily = pd.DataFrame({"date_of_stop": pd.to_datetime(["2016-01-01", "2016-01-02"]), "stops": [2, 12],
                          "charges": [2, 12]})
    bars = charts.daily_trend(daily, K)
    assert np.isnan(bars.data[0].y[0]) and bars.data[0].y[1] == 12
    assert tables.count_text(3, K) == "fewer than 10" and tables.count_text(0, K) == "0"
    assert tables.count_text(12345, K) == "12,345"


def test_daily_trend_switches_to_weeks_for_long_ranges():
    long = pd.DataFrame({"date_of_stop": pd.to_datetime(["2015-01-01", "2016-06-01"]), "stops": [20, 30],
                         "charges": [20, 30]})
    fig = charts.daily_trend(long, K)
    assert "week" in fig.layout.title.text.lower()
    assert np.nansum(fig.data[0].y) == 50


def test_empty_frames_give_a_message_not_an_error():
    empty = pd.DataFrame(columns=["stop_year", "stop_month", "stops", "charges"])
    for fig in (charts.monthly_trend(empty, K), charts.yearly_lines(empty, [], K),
                charts.daily_trend(pd.DataFrame(columns=["date_of_stop", "stops", "charges"]), K),
                charts.weekday_hour_heatmap(pd.DataFrame(columns=["stop_weekday", "stop_hour", "stops"]), K)):
        assert fig.layout.annotations and "No stops" in fig.layout.annotations[0].text


def test_weekday_hour_matrix_puts_monday_first_and_hides_small_cells():
    df = pd.DataFrame({"stop_weekday": [0, 1, 6], "stop_hour": [23, 0, 12], "stops": [14, 15, 6]})
    grid = tables.weekday_hour_matrix(df, K)
    assert grid.shape == (7, 24)
    assert grid.loc[6, 23] == 14 and grid.loc[0, 0] == 15 and pd.isna(grid.loc[5, 12])


def test_change_table_withholds_small_counts_and_their_changes():
    df = pd.DataFrame({"label": ["A", "B"], "stops_a": [10, 0], "stops_b": [15, 4], "rank": [1, 2]})
    t = tables.change_table(df, K)
    assert t["change_pct"].iloc[0] == pytest.approx(0.5)
    assert pd.isna(t["stops_b"].iloc[1]) and pd.isna(t["change_pct"].iloc[1])
    fig = charts.comparison_bars(t, "2015", "2016", "x", K)
    assert [tr.name for tr in fig.data] == ["2015", "2016"]
    assert fig.data[0].marker.pattern.shape == "/" and not fig.data[1].marker.pattern.shape
    assert "fewer than 10" in list(fig.data[1].text)


def _cov(**kw):
    row = {"stops_a": 100, "stops_b": 120, "all_a": 1000, "all_b": 1100, "covered_a": 365, "covered_b": 200,
           "matched_days": 200, "first_a": None, "last_a": None, "first_b": date(2016, 1, 1), "last_b": date(2016, 7, 18)}
    return pd.Series({**row, **kw})


def test_a_change_is_shown_only_over_equal_coverage():
    ok = tables.assess(_cov(), K, is_sample=False)
    assert ok.change == pytest.approx(0.2) and ok.partial and ok.reason == ""
    assert tables.assess(_cov(), K, is_sample=True).change is None  # the bundled sample
    uneven = tables.assess(_cov(all_a=300), K, is_sample=False)  # a third of the records per day
    assert uneven.change is None and "records per day" in uneven.reason
    assert tables.assess(_cov(matched_days=0), K, is_sample=False).change is None
    assert tables.assess(_cov(stops_a=4), K, is_sample=False).change is None


@pytest.mark.parametrize(("all_a", "shown"), [(550, True), (549, False), (400, False), (2200, True), (2201, False)])
def test_a_change_is_withheld_when_one_period_has_more_than_twice_the_records_per_day(all_a, shown):
    # all_b = 1,100 records over the same matched days: 550 is exactly half (shown), 549 just under.
    result = tables.assess(_cov(all_a=all_a), K, is_sample=False)
    assert (result.change is not None) is shown, result.reason


def test_race_shares_use_overlapping_census_categories_and_hide_small_groups():
    stops = pd.DataFrame({"label": ["BLACK", "WHITE", "OTHER", "ASIAN"], "stops": [30, 60, 10, 3]})
    residents = pd.DataFrame([{"residents": 1000.0, "white_alone": 600.0, "black_alone": 200.0,
                               "asian_alone": 150.0, "native_alone": 5.0, "hispanic_any_race": 200.0}])
    t = tables.race_share_table(stops, residents, K).set_index("race")
    assert t.loc["BLACK", "share_of_stops"] == pytest.approx(30 / 103)
    assert t.loc["BLACK", "share_of_residents"] == pytest.approx(0.2)
    assert pd.isna(t.loc["OTHER", "share_of_residents"])
    assert pd.isna(t.loc["ASIAN", "stops"]) and pd.isna(t.loc["ASIAN", "share_of_stops"])
    assert "incl. Hispanic" in t.loc["WHITE", "acs_category"]
    fig = charts.share_bars(t.reset_index(), "x", K)
    assert {tr.name for tr in fig.data} == {"Share of stops", "Share of residents (census)"}


def test_rates_are_withheld_when_either_count_is_small():
    df = pd.DataFrame({"race": ["BLACK", "ASIAN", "WHITE"], "searched": [30, 1, 3],
                       "stops_search_recorded": [600, 4, 200]})
    t = tables.rate_table(df, "searched", "stops_search_recorded", K)
    assert t.loc[0, "rate"] == pytest.approx(0.05)
    assert pd.isna(t.loc[1, "rate"]) and pd.isna(t.loc[2, "rate"])  # small denominator; small numerator
    assert pd.isna(t.loc[2, "searched"])
    fig = charts.rate_bars(t, "searched", "stops_search_recorded", "Search rate", "none")
    assert list(fig.data[0].y) == ["Black"]
    assert "(30 of 600)" in fig.data[0].text[0]


def test_outcome_shares_add_to_one_and_small_groups_are_suppressed():
    df = pd.DataFrame({"race": ["BLACK", "NATIVE AMERICAN"], "stops": [100, 3], "warnings": [50, 1],
                       "seros": [10, 1], "citations": [40, 1]})
    t = tables.outcome_share_table(df, K)
    black = t.iloc[0]
    assert black[["warnings_share", "seros_share", "citations_share"]].sum() == pytest.approx(1.0)
    assert bool(t.iloc[1]["suppressed"]) and pd.isna(t.iloc[1]["stops"])
    fig = charts.outcome_bars(t)
    assert all(len(tr.y) == 1 for tr in fig.data)


def _features():
    square = {"type": "Polygon", "coordinates": [[[-77.1, 39.0], [-77.0, 39.0], [-77.0, 39.1], [-77.1, 39.0]]]}
    return [{"zip5": z, "geometry": square, "lat": 39.05, "lon": -77.05} for z in ("20901", "20902", "20903")]


def _zips():
    return pd.DataFrame({
        "zip5": ["20901", "20902", "20903"], "stops": [50, 5, 200], "charges": [60, 6, 300],
        "residents_in_county": [20000.0, 30000.0, 500.0], "per_1000_per_year": [1.25, 1 / 12, 200.0],
        "residents_zcta": [20000.0, 30000.0, 25000.0], "poverty_rate": [0.05, 0.10, 0.2],
        "density_per_sqmi": [3000.0, 5000.0, 100.0], "land_area_sqmi": [5.0, 6.0, 7.0], "notes": ["", "", ""],
    })


def _zip_traces(fig: go.Figure) -> dict[str, dict]:
    """Per ZIP code of an SVG map: its trace's colour, its z, its outline width, its tooltip."""
    out = {}
    for trace in fig.data:
        if trace.meta != "zips":
            continue
        for i, z in enumerate(trace.locations):
            out[z] = {"colour": trace.colorscale[0][1], "z": trace.z[i], "line_w": trace.marker.line.width[i],
                      "hover": trace.hovertext[i], "customdata": trace.customdata[i]}
    return out


def _county_view(width: float = 358) -> tuple[dict, int]:
    lons, lats = COUNTY_BOX
    height = maps.map_size(width, maps.aspect(lons, lats))
    return maps.fit_view(lons, lats, width, height), height


def test_the_map_withholds_small_counts_and_tiny_populations_and_outlines_the_selection():
    table = tables.map_table(_zips(), "rate", K)
    assert list(table["small_count"]) == [False, True, False]
    assert table["value"].notna().tolist() == [True, False, False]  # 20902: 5 stops; 20903: 500 residents
    view, height = _county_view()
    fig = maps.zip_figure(_features(), table, "rate", "poverty", ["20901"], view, height, K,
                          outline={"type": "FeatureCollection", "features": []})
    zips = _zip_traces(fig)
    assert zips["20902"]["colour"] == zips["20903"]["colour"] == maps._rgb_hex(maps.NO_DATA_RGBA)
    assert zips["20902"]["z"] == 0 and zips["20901"]["z"] == pytest.approx(1.25)  # z: the ZIP's own value
    assert zips["20901"]["colour"] in maps.VIRIDIS_5
    assert "Fewer than 10 stops: not shown" in zips["20902"]["hover"] and "5 stops" not in zips["20902"]["hover"]
    assert "1.25 stops per 1,000 residents per year" in zips["20901"]["hover"]
    assert "fewer than 1,000 county residents: no rate shown" in zips["20903"]["hover"]
    assert zips["20901"]["line_w"] > zips["20903"]["line_w"]  # the selected ZIP: a thick outline
    assert {z: d["customdata"] for z, d in zips.items()} == {z: z for z in zips}  # what a click reads
    # offline landmarks: the county outline and the ZIP numbers; the circles of the overlay
    assert [t.meta for t in fig.data if t.meta != "zips"] == ["overlay", "county", "labels"]
    # the three test ZIP codes share one label point: only the selected one's number fits there
    assert list(fig.data[-1].text) == ["20901"]
    legend = maps.legend(table, "rate", K)
    assert legend[-1].label.startswith("no value") and legend[0].color == zips["20901"]["colour"]


def test_the_svg_map_colours_each_zip_in_the_class_the_legend_gives_its_value():
    zips = _zips().assign(stops=[50, 120, 200])
    table = tables.map_table(zips, "stops", K)
    view, height = _county_view()
    colours = {z: d["colour"] for z, d in _zip_traces(maps.zip_figure(_features(), table, "stops", "none", [], view,
                                                                         height, K)).items()}
    edges = maps.class_breaks(table["value"])
    palette = maps.palette_for(edges)
    assert colours == {z: palette[maps.classify(v, edges)] for z, v in zip(table["zip5"], table["value"])}
    assert len(set(colours.values())) == 3


def test_the_svg_map_frames_the_county_box_like_the_streets_view():
    view, height = _county_view(560)
    fig = maps.zip_figure(_features(), tables.map_table(_zips(), "stops", K), "stops", "none", [], view, height, K)
    lon_range, lat_range = fig.layout.geo.lonaxis.range, fig.layout.geo.lataxis.range
    pad = maps.FIT_PADDING_PX * 360 / (512 * 2 ** view["zoom"])
    assert lon_range[0] < -77.1 - pad / 2 and lon_range[1] > -77.0 + pad / 2  # the test ZIPs' box, padded
    assert fig.layout.height == height and fig.layout.geo.visible is False  # no basemap of plotly's own
    assert fig.layout.geo.projection.type == "mercator"


def test_the_grid_is_not_a_click_target_so_a_click_selects_the_zip_under_it():
    table = tables.map_table(_zips(), "stops", K)
    grid = pd.DataFrame({"cell_y": [3905, 3906], "cell_x": [-7705, -7706], "stops": [12, 48]})
    view, height = _county_view()
    fig = maps.zip_figure(_features(), table, "stops", "none", [], view, height, K, grid, 0.01)
    cells = next(t for t in fig.data if t.meta == "grid")
    assert cells.hoverinfo == "skip"  # no hover, so no click: plotly's click goes to the ZIP below
    assert all(t.hoverinfo == "text" for t in fig.data if t.meta == "zips")
    ring = cells.geojson["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5  # a closed square (d3 drops an open ring's last corner)
    assert [min(x for x, _y in ring), min(y for _x, y in ring)] == pytest.approx([-77.05, 39.05])
    assert list(cells.z) == [12, 48] and cells.zmax == 48  # each square's own count
    # darker with more stops, by the square root: a quarter of the most stops is half-way dark
    scale = dict(cells.colorscale)
    alpha = [float(scale[t].rsplit(",", 1)[1].rstrip(")")) for t in (0.0, 0.25, 1.0)]
    assert alpha[1] == pytest.approx((alpha[0] + alpha[2]) / 2, abs=0.01) and alpha[0] < alpha[2]


@pytest.mark.parametrize("ring", [[[0, 0], [1, 0], [1, 1], [0, 0]], [[0, 0], [1, 1], [1, 0], [0, 0]]])
def test_outer_rings_are_wound_clockwise_for_d3_and_holes_the_other_way(ring):
    hole = [[0.6, 0.2], [0.8, 0.2], [0.8, 0.4], [0.6, 0.2]]
    poly = maps.d3_geometry({"type": "Polygon", "coordinates": [ring, hole]})["coordinates"]
    assert maps._ring_area(poly[0]) < 0 < maps._ring_area(poly[1])
    multi = maps.d3_geometry({"type": "MultiPolygon", "coordinates": [[ring], [hole]]})["coordinates"]
    assert maps._ring_area(multi[0][0]) < 0 and maps._ring_area(multi[1][0]) < 0


def test_my_zip_map_draws_the_zip_outline_and_its_squares_cut_to_it():
    from shapely.geometry import Polygon, shape

    feature = {"zip5": "20902", "geometry": {"type": "Polygon", "coordinates": [
        [[-77.05, 39.0], [-77.0, 39.0], [-77.0, 39.05], [-77.05, 39.0]]]}}
    grid = pd.DataFrame({"cell_y": [7800, 7809], "cell_x": [-15409, -15420], "stops": [40, 30]})
    fig = maps.single_zip_figure(feature, grid, 0.005, 358)
    assert [t.meta for t in fig.data] == ["zip", "grid"]
    cells = fig.data[1].geojson["features"]
    inside = shape(feature["geometry"]).buffer(1e-9)
    assert len(cells) == 1 and inside.contains(Polygon(cells[0]["geometry"]["coordinates"][0]))
    assert fig.layout.height == maps.map_size(358, maps.aspect([-77.05, -77.0], [39.0, 39.05]), max_height=480)


def test_the_streets_view_keeps_the_same_colours_outlines_and_layers():
    table = tables.map_table(_zips(), "rate", K)
    outline = {"type": "FeatureCollection", "features": []}
    deck = maps.zip_choropleth(_features(), table, "rate", K, "poverty", ["20901"], "https://x.example/style.json",
                               outline=outline)
    spec = json.loads(deck.to_json())
    props = {f["properties"]["zip5"]: f["properties"] for f in spec["layers"][0]["data"]["features"]}
    assert props["20902"]["fill"] == maps.NO_DATA_RGBA
    assert "Fewer than 10" in props["20902"]["l1"] and "5" not in props["20902"]["l1"]
    assert props["20901"]["line_w"] > props["20903"]["line_w"]
    assert props["20901"]["l2"] == "1.25 stops per 1,000 residents per year"
    assert spec["mapStyle"] == "https://x.example/style.json"
    assert spec["layers"][0]["lineWidthUnits"] == "pixels"  # a string literal, not an expression
    assert [layer["id"] for layer in spec["layers"]] == ["zips", "overlay", "county", "labels"]
    assert [d["zip5"] for d in spec["layers"][-1]["data"]] == ["20901"]
    grid = pd.DataFrame({"cell_y": [3905], "cell_x": [-7705], "stops": [12]})
    cells = next(layer for layer in json.loads(maps.zip_choropleth(_features(), table, "stops", K, "none", [], None, grid,
                                                                   0.01).to_json())["layers"] if layer["id"] == "grid")
    assert cells["pickable"] is False


def test_class_breaks_and_palette_are_ordered():
    edges = maps.class_breaks(pd.Series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0]))
    assert edges == sorted(edges) and len(edges) == 6
    assert maps.classify(1, edges) == 0 and maps.classify(10, edges) == 4
    assert len(maps.palette_for(edges)) == 5


def test_same_period_last_year_handles_leap_days():
    assert tables.same_period_last_year(date(2016, 2, 29), date(2016, 12, 31)) == (date(2015, 2, 28),
                                                                                    date(2015, 12, 31))
    assert tables.pct_change(110, 100) == pytest.approx(0.1) and tables.pct_change(5, 0) is None


def test_charts_speak_spanish_with_spanish_numbers():
    i18n.set_lang("es")
    try:
        df = pd.DataFrame({"stop_year": [2016, 2016], "stop_month": [1, 2], "stops": [1500, 40], "charges": [2500, 60]})
        fig = charts.monthly_trend(df, K)
        assert fig.layout.title.text == "Paradas y cargos por mes"
        assert [t.name for t in fig.data] == ["Paradas", "Cargos (filas)"]
        assert fig.layout.separators == ",."
        assert tables.count_text(3, K) == "menos de 10"
        assert i18n.fmt_int(12345) == "12.345" and i18n.fmt_pct(0.123) == "12,3\u00a0%"
        assert i18n.fmt_date(date(2016, 3, 1)) == "1 mar 2016"
    finally:
        i18n.set_lang("en")


@pytest.mark.parametrize("hostile", [
    "[Click here](http://evil.example/phish)",
    "![x](http://evil.example/pixel.png) http://bare.example",
    ":red[official] :material/warning: **bold** <b>b</b> $x$ `code`\n# heading",
])
def test_plain_text_escapes_every_markdown_character(hostile):
    import re

    out = plain(hostile)
    # every ASCII punctuation character is backslash-escaped (CommonMark then shows it literally)
    unescaped = re.findall(r"(?<!\\)[!-/:-@\[-`{-~]", re.sub(r"\\[!-/:-@\[-`{-~]", "", out))
    assert not unescaped, out
    assert "\n" not in out  # one line: no heading or list can start
    assert re.sub(r"\\(.)", r"\1", out).replace("\u200b", "") == " ".join(hostile.split())
    assert "http:" not in out.replace("\\", "")  # no bare URL left for the autolinker
    assert len(plain("y" * 60_000)) <= 600


def test_days_match_at_the_same_place_in_each_period_and_only_when_both_have_data():
    covered = pd.Series([date(2015, 12, 30), date(2016, 1, 2), date(2016, 2, 29), date(2016, 12, 30),
                         date(2017, 1, 2), date(2017, 1, 3), date(2017, 3, 1)])
    pairs = tables.match_days(covered, (date(2015, 7, 1), date(2016, 6, 30)), (date(2016, 7, 1), date(2017, 6, 30)))
    assert list(zip(pairs["day_a"], pairs["day_b"])) == [(date(2015, 12, 30), date(2016, 12, 30)),
                                                        (date(2016, 1, 2), date(2017, 1, 2))]
    daily = pd.DataFrame({"date_of_stop": covered, "stops": [10, 20, 5, 30, 40, 7, 9]})
    row = tables.compare_periods(daily, daily.assign(stops=daily["stops"] // 2),
                                 (date(2015, 7, 1), date(2016, 6, 30)), (date(2016, 7, 1), date(2017, 6, 30)))
    assert (row["all_a"], row["all_b"], row["stops_a"], row["stops_b"]) == (30, 70, 15, 35)
    assert (row["covered_a"], row["covered_b"], row["matched_days"]) == (3, 4, 2)
    assert tables.day_ranges([date(2016, 1, 3), date(2016, 1, 1), date(2016, 1, 2), date(2016, 1, 5)]) == [
        (date(2016, 1, 1), date(2016, 1, 3)), (date(2016, 1, 5), date(2016, 1, 5))]


def test_days_in_any_order_or_repeated_match_as_sorted_days_do():
    covered = [date(2015, 12, 30), date(2016, 1, 2), date(2016, 2, 29), date(2016, 12, 30),
               date(2017, 1, 2), date(2017, 1, 3), date(2017, 3, 1)]
    a, b = (date(2015, 7, 1), date(2016, 6, 30)), (date(2016, 7, 1), date(2017, 6, 30))
    shuffled = pd.Series([covered[i] for i in (4, 0, 6, 3, 1, 4, 5, 2, 0)])  # two days twice, out of order
    pd.testing.assert_frame_equal(tables.match_days(shuffled, a, b), tables.match_days(pd.Series(covered), a, b))
    # A day listed twice counts its last row (the daily frames list a day once; the rule is kept stable).
    daily = pd.DataFrame({"date_of_stop": shuffled, "stops": [40, 10, 9, 30, 20, 41, 7, 5, 11]})
    row = tables.compare_periods(daily, daily, a, b)
    assert (row["all_a"], row["all_b"], row["matched_days"]) == (11 + 20, 30 + 41, 2)
    assert row["days_b"] == [date(2016, 12, 30), date(2017, 1, 2)]


# ---------------------------------------------------------------- a map a resident can read (issue 21)

COUNTY_BOX = ([-77.52, -76.888], [38.934, 39.353])  # Montgomery County's outline, rounded


def _projected_px(view: dict, lon: float, lat: float) -> tuple[float, float]:
    """Where deck.gl draws (lon, lat), in pixels from the map's centre (Web Mercator, 512-px world)."""
    scale = 512 * 2 ** view["zoom"]
    return ((maps._merc_x(lon) - maps._merc_x(view["longitude"])) * scale,
            (maps._merc_y(lat) - maps._merc_y(view["latitude"])) * scale)


@pytest.mark.parametrize("width", [358, 560, 790])
def test_the_county_fills_the_map_at_phone_and_desktop_width(width):
    lons, lats = COUNTY_BOX
    height = maps.map_size(width, maps.aspect(lons, lats))
    view = maps.fit_view(lons, lats, width, height)
    xs, ys = zip(*(_projected_px(view, x, y) for x in lons for y in lats))
    drawn_w, drawn_h = max(xs) - min(xs), max(ys) - min(ys)
    # inside the frame, and filling it along one side up to the padding
    assert max(abs(v) for v in xs) <= width / 2 and max(abs(v) for v in ys) <= height / 2
    assert max(drawn_w / (width - 2 * maps.FIT_PADDING_PX), drawn_h / (height - 2 * maps.FIT_PADDING_PX)) == pytest.approx(1, abs=0.01)
    # the frame has the county's shape: both sides at least 85% filled (the issue saw about a third)
    assert drawn_w * drawn_h >= 0.85 * width * height * 0.85


def test_a_phone_map_zooms_out_less_than_the_old_fixed_view_did():
    lons, lats = COUNTY_BOX
    assert maps.fit_view(lons, lats, 358, maps.map_size(358, maps.aspect(lons, lats)))["zoom"] == pytest.approx(8.6, abs=0.15)
    assert maps.fit_view(lons, lats, 560, maps.map_size(560, maps.aspect(lons, lats)))["zoom"] == pytest.approx(9.2, abs=0.15)


def test_grid_squares_are_cut_to_the_outline_so_none_is_drawn_outside():
    from shapely.geometry import Polygon, shape

    zip_outline = {"type": "Polygon", "coordinates": [[[-77.05, 39.0], [-77.0, 39.0], [-77.0, 39.05], [-77.05, 39.0]]]}
    grid = pd.DataFrame({"cell_y": [3900, 3900, 3904], "cell_x": [-7705, -7701, -7710], "stops": [40, 12, 30]})
    cells = maps.grid_cells(grid, 0.01, zip_outline)
    inside = shape(zip_outline).buffer(1e-9)
    assert cells and all(inside.contains(Polygon(c["polygon"])) for c in cells)
    assert all(c["stops"] != 30 for c in cells)  # the cell wholly outside is not drawn at all
    whole = maps.grid_cells(grid, 0.01, None)  # no outline: whole squares
    assert len(whole) == 3 and Polygon(whole[0]["polygon"]).area == pytest.approx(1e-4)


@pytest.mark.parametrize("width", [358, 560])
def test_zip_labels_are_drawn_only_where_they_fit_and_every_zip_has_its_tooltip(width):
    from dashboard import queries

    features = queries.county_zctas()
    outline = queries.county_outline()
    table = tables.map_table(pd.DataFrame({"zip5": [f["zip5"] for f in features], "stops": 100, "charges": 150,
                                           "residents_in_county": 20000.0, "per_1000_per_year": 5.0,
                                           "residents_zcta": 20000.0, "poverty_rate": 0.1, "density_per_sqmi": 3000.0,
                                           "land_area_sqmi": 5.0, "notes": ""}), "stops", K)
    lons, lats = maps.features_bounds(outline["features"])
    view = maps.fit_view(lons, lats, width, maps.map_size(width, maps.aspect(lons, lats)))
    fig = maps.zip_figure(features, table, "stops", "none", ["20902"], view,
                          maps.map_size(width, maps.aspect(lons, lats)), K, outline=outline)
    labels = fig.data[-1]
    candidates = {f["zip5"]: maps.label_item(f, {"20902"}) for f in features}
    shown = [candidates[z] for z in labels.text]
    assert [(d["lon"], d["lat"]) for d in shown] == list(zip(labels.lon, labels.lat))
    boxes = [maps.label_box(view, d) for d in shown]
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
    assert not overlaps, "no two ZIP numbers touch at the first view"
    assert "20902" in {d["zip5"] for d in shown}  # the selected ZIP keeps its number
    assert 10 < len(shown) < len(features)  # crowded downcounty: some numbers are left to the tooltip
    if width == 560:
        phone = maps.labels_that_fit(shown, maps.fit_view(lons, lats, 358, maps.map_size(358, maps.aspect(lons, lats))))
        assert len(phone) < len(shown)  # fewer fit on a phone
    hovers = {z: d["hover"] for z, d in _zip_traces(fig).items()}
    assert len(hovers) == len(features) and hovers["20902"].startswith("<b>ZIP 20902</b>")  # every ZIP's number on hover/tap


def test_titles_and_axis_titles_wrap_instead_of_being_cut():
    fig = charts.year_bars(pd.DataFrame({"stop_year": [2016, 2017], "stops": [120, 130]}), K,
                           "Paradas por año en el código postal 20902 frente al condado en su conjunto")
    fig.update_yaxes(title_text="Paradas por semana (una parada tiene 1 o más cargos) en el periodo elegido")
    narrow = charts.fit_to_width(go.Figure(fig), 358)
    title = narrow.layout.title.text
    assert "<br>" in title and all(len(line) <= (358 - 16) / (charts.GLYPH * 15) for line in title.split("<br>"))
    assert narrow.layout.margin.t >= narrow.layout.title.pad.t + 28 + 20 * (title.count("<br>") + 1)
    assert "<br>" in narrow.layout.yaxis.title.text and narrow.layout.yaxis.automargin is True
    assert charts.title_of(narrow) == "Paradas por año en el código postal 20902 frente al condado en su conjunto"
    wide = charts.fit_to_width(go.Figure(fig), 1100)
    assert "<br>" not in wide.layout.title.text


# -- the small-count policy at its edges, whole tables written out (mutation survivors, issue 23) --


def test_outcome_shares_show_a_group_of_exactly_k_stops_and_withhold_a_share_below_k():
    df = pd.DataFrame({"race": ["BLACK", "WHITE", "ASIAN"], "stops": [10, 9, 40],
                       "warnings": [10, 7, 21], "seros": [0, 2, 9], "citations": [0, 0, 10]})
    expected = pd.DataFrame({
        "race": ["BLACK", "WHITE", "ASIAN"],
        "group": ["Black", "White", "Asian"],
        "stops": pd.array([10, pd.NA, 40], dtype="Int64"),      # 10 stops shown, 9 withheld
        "suppressed": [False, True, False],                     # and all of its shares, even a zero one
        "warnings_share": [1.0, np.nan, 0.525],                 # 21 / 40
        "seros_share": [0.0, np.nan, np.nan],                   # 0 is shown; 9 of 40 would give 9 away
        "citations_share": [0.0, np.nan, 0.25],                 # 10 of 40 is shown
    })
    pd.testing.assert_frame_equal(tables.outcome_share_table(df, K), expected)


def test_a_rate_is_shown_at_exactly_k_and_withheld_for_a_numerator_or_denominator_below_k():
    df = pd.DataFrame({"race": ["BLACK", "WHITE", "ASIAN", "HISPANIC", "OTHER"],
                       "searched": [10, 9, 1, 0, 0], "stops_search_recorded": [10, 100, 50, 10, 9]})
    expected = pd.DataFrame({
        "race": ["BLACK", "WHITE", "ASIAN", "HISPANIC", "OTHER"],
        "group": ["Black", "White", "Asian", "Hispanic", "Other / unknown"],
        "searched": pd.array([10, pd.NA, pd.NA, 0, pd.NA], dtype="Int64"),   # 0 searches is shown
        "stops_search_recorded": pd.array([10, 100, 50, 10, pd.NA], dtype="Int64"),
        "rate": [1.0, np.nan, np.nan, 0.0, np.nan],
        "suppressed": [False, True, True, False, True],
    })
    pd.testing.assert_frame_equal(tables.rate_table(df, "searched", "stops_search_recorded", K), expected)


def test_without_small_count_suppression_only_a_zero_denominator_has_no_rate():
    df = pd.DataFrame({"race": ["BLACK", "WHITE"], "searched": [1, 0], "stops_search_recorded": [1, 0]})
    t = tables.rate_table(df, "searched", "stops_search_recorded", 0)
    assert t["rate"].tolist()[0] == 1.0 and pd.isna(t["rate"].tolist()[1])
    assert t["suppressed"].tolist() == [False, True]
    assert t["searched"].tolist()[0] == 1 and pd.isna(t["searched"].tolist()[1])  # suppressed with its rate
    assert t["stops_search_recorded"].tolist() == [1, 0]


def test_the_map_value_is_the_rate_or_the_stops_and_the_residents_threshold_is_inclusive():
    zips = pd.DataFrame({
        "zip5": ["20901", "20902", "20903", "20904"], "stops": [50, 60, 9, 70],
        "residents_in_county": [1000.0, 999.0, 5000.0, np.nan],
        "per_1000_per_year": [2.5, 3.0, 0.5, np.nan],
    })
    rate = tables.map_table(zips, "rate", K)
    assert rate["small_count"].tolist() == [False, False, True, False]
    assert rate["few_residents"].tolist() == [False, True, False, True]  # 1,000 residents are enough
    assert rate["value"].tolist()[0] == 2.5 and rate["value"].isna().tolist() == [False, True, True, True]
    stops = tables.map_table(zips, "stops", K)
    assert stops["value"].tolist()[:2] + stops["value"].tolist()[3:] == [50.0, 60.0, 70.0]  # residents don't matter
    assert pd.isna(stops["value"].tolist()[2])
    # unknown residents count as none, whatever the threshold
    assert tables.map_table(zips, "rate", K, min_residents=1)["few_residents"].tolist() == [False, False, False, True]
    # a ZIP of 1..k-1 stops is a small count; 0 and exactly k are shown
    edges = tables.map_table(zips.assign(stops=[0, 1, 9, 10]), "stops", K)
    assert edges["small_count"].tolist() == [False, True, True, False]
    assert edges["value"].tolist()[0] == 0.0 and edges["value"].tolist()[3] == 10.0


def test_is_small_takes_one_to_k_minus_one_whatever_the_number_type_and_never_a_missing_count():
    assert [tables.is_small(n, K) for n in (0, 1, 9, 10)] == [False, True, True, False]
    assert [tables.is_small(n, K) for n in (0.0, 1.0, 3.0, 9.5, 10.0)] == [False, True, True, True, False]
    assert [tables.is_small(n, K) for n in (np.int64(1), np.float64(3.0))] == [True, True]
    assert [tables.is_small(n, K) for n in (None, float("nan"), pd.NA)] == [False, False, False]
    masked = tables.mask_small(pd.Series([0, 1, 9, 10, None]), K)
    assert str(masked.dtype) == "Int64" and masked.isna().tolist() == [False, True, True, False, True]
    assert (masked[0], masked[3]) == (0, 10)
