"""Every dashboard page in Streamlit's AppTest, pointed at the sample warehouse.

Numbers are read from metric values, dataframes, and the plotly / pydeck JSON in the element protos
(AppTest shows charts as unknown elements), and compared with direct SQL on the same warehouse.
"""

from __future__ import annotations

import base64
import json
import socket
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from tests.shown import shown_numbers
from tests.test_analysis_sample import analysed_sample  # noqa: F401  (a fixture: Disparities with its analyses)
from streamlit.testing.v1 import AppTest

from dashboard import db, routing
from dashboard.labels import DISTRICTS

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
PAGES = [p.file for p in routing.PAGES]
ZIP_WITHOUT_STOPS = "20838"  # a Montgomery County ZCTA the bundled sample has no stop in


@pytest.fixture
def con(sample_warehouse):
    c = duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True)
    yield c
    c.close()


@pytest.fixture
def app(sample_warehouse, monkeypatch):
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    monkeypatch.delenv("PIPELINE_STALE_AFTER_DAYS", raising=False)
    yield AppTest.from_file(str(APP), default_timeout=60)
    db.reset()  # release the sample file for other tests in this process


def count(con, where: str = "true", values=()) -> int:
    return con.execute(f"select count(*) from stops where {where}", list(values)).fetchall()[0][0]


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def as_int(text: str) -> int:
    return int(text.replace(",", ""))


def plotly_figures(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def values(data) -> list:
    """Plotly >= 6 writes numeric arrays as {"dtype", "bdata" (base64)[, "shape"]}: decode them."""
    if isinstance(data, dict) and "bdata" in data:
        arr = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        if "shape" in data:
            arr = arr.reshape([int(x) for x in str(data["shape"]).split(",")])
        return arr.tolist()
    return list(data)


def map_spec(at: AppTest) -> dict:
    """The Map page's SVG map (its one plotly chart; the WebGL streets view only when asked)."""
    assert not at.get("deck_gl_json_chart")
    figures = plotly_figures(at)
    assert len(figures) == 1
    return figures[0]


def map_zips(at: AppTest) -> dict[str, dict]:
    """Per ZIP code on the map: its z (its value; 0 for none), outline width and tooltip."""
    out = {}
    for trace in map_spec(at)["data"]:
        if trace.get("meta") == "zips":
            widths = values(trace["marker"]["line"]["width"])
            for z, v, w, h in zip(trace["locations"], values(trace["z"]), widths, trace["hovertext"]):
                out[z] = {"z": v, "line_w": w, "hover": h}
    return out


def map_layers(at: AppTest) -> list[str]:
    metas = [t.get("meta") for t in map_spec(at)["data"]]
    return ["zips"] + [m for m in metas if m != "zips"]


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def switch(at: AppTest, page: str) -> AppTest:
    return at.switch_page(page).run()


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_the_shared_sidebar(app, page):
    at = app.run()
    if page != PAGES[0]:
        switch(at, page)
    no_errors(at)
    assert at.title, "each page has a title"
    assert {w.key for w in at.sidebar.multiselect} == {"flt_race", "flt_gender", "flt_zip", "flt_outcome",
                                                       "flt_district"}
    assert {w.key for w in at.sidebar.date_input} == {"flt_from", "flt_to"}
    assert not any("out of date" in w.value for w in at.warning)  # the sample was just loaded
    # where the numbers come from, on every page
    assert any(c.value.startswith("Data: the bundled sample") for c in at.caption)


def test_overview_counts_stops_and_charges_like_the_warehouse(app, con):
    at = app.run()
    assert as_int(metric(at, "Stops")) == count(con)
    charges = con.execute("select count(*) from moco_traffic_violations").fetchall()[0][0]
    assert as_int(metric(at, "Charges (rows)")) == charges
    assert any("per 1,000 residents" in md.value for md in at.markdown)
    assert any("residents" in c.value and "not by drivers" in c.value for c in at.caption)
    figs = plotly_figures(at)
    monthly = next(f for f in figs if "month" in f["layout"]["title"]["text"])
    drawn = con.execute("select sum(n) from (select count(*) n from stops group by stop_year, stop_month "
                        "having count(*) >= 10)").fetchall()[0][0]
    stops_line = next(t for t in monthly["data"] if t["name"] == "Stops")
    # months the data covers only in part are drawn as hollow markers beside the line (the first, for stops)
    partial = [t for t in monthly["data"] if t["name"] == "Partial month (data for part of it)"][:1]
    shown = np.nansum(values(stops_line["y"])) + sum(np.nansum(values(t["y"])) for t in partial)
    assert shown == drawn < count(con)  # months of 1-9 stops not drawn


@pytest.mark.parametrize(
    "key, value, where, values, url",
    [
        ("flt_race", ["BLACK"], "race = ?", ["BLACK"], {"race": "black"}),
        ("flt_gender", ["F"], "gender = ?", ["F"], {"gender": "f"}),
        ("flt_zip", ["20902"], "zip5 = ?", ["20902"], {"zip": "20902"}),
        ("flt_outcome", ["Citation"], "outcome = ?", ["Citation"], {"outcome": "citation"}),
        ("flt_district", [DISTRICTS["4"]], "district = ?", [DISTRICTS["4"]], {"district": "4"}),
    ],
)
def test_each_sidebar_filter_changes_the_numbers_and_the_url(app, con, key, value, where, values, url):
    at = app.run()
    total = as_int(metric(at, "Stops"))
    at.sidebar.multiselect(key=key).set_value(value).run()
    no_errors(at)
    expected = count(con, where, values)
    assert as_int(metric(at, "Stops")) == expected != total
    assert at.query_params == url


def test_the_date_range_filter_changes_the_numbers_but_the_sample_shows_no_change(app, con):
    at = app.run()
    at.sidebar.date_input(key="flt_from").set_value(date(2016, 1, 1))
    at.sidebar.date_input(key="flt_to").set_value(date(2016, 12, 31)).run()
    no_errors(at)
    assert as_int(metric(at, "Stops")) == count(con, "stop_year = 2016")
    assert metric(at, "Change vs a year earlier") == "–"  # the bundled sample can't show change
    assert any("No change from a year earlier is shown: the bundled sample" in md.value for md in at.markdown)
    assert at.query_params == {"from": "2016-01-01", "to": "2016-12-31"}
    assert any("in 2016" in md.value for md in at.markdown)


def test_dates_typed_in_the_wrong_order_are_swapped_and_the_filters_say_so(app, con):
    """filters.settle swaps a 'From' after 'To' (the numbers are the swapped range's), and the
    filters' widgets, drawn after the page (filters.draw), say so."""
    at = app.run()
    at.sidebar.date_input(key="flt_from").set_value(date(2016, 12, 31))
    at.sidebar.date_input(key="flt_to").set_value(date(2016, 1, 1)).run()
    no_errors(at)
    assert as_int(metric(at, "Stops")) == count(con, "stop_year = 2016")
    assert [w.value for w in at.sidebar.warning] == ["'From' is after 'To'; the dates were swapped."]
    at.sidebar.date_input(key="flt_from").set_value(date(2016, 1, 1)).run()
    assert not at.sidebar.warning


def test_filters_are_kept_when_switching_pages(app, con):
    app.session_state["outcomes_table"] = True  # the chart's table, built once its expander is open (ui.on_demand)
    at = app.run()
    at.sidebar.multiselect(key="flt_race").set_value(["HISPANIC"]).run()
    switch(at, "pages/people.py")
    no_errors(at)
    assert at.sidebar.multiselect(key="flt_race").value == ["HISPANIC"]
    assert at.query_params == {"race": "hispanic"}
    outcome_table = next(df.value for df in at.dataframe if "warnings_share" in df.value.columns)
    assert list(outcome_table["group"]) == ["Hispanic"]
    assert outcome_table["stops"].iloc[0] == count(con, "race = 'HISPANIC'")
    switch(at, "pages/overview.py")
    assert as_int(metric(at, "Stops")) == count(con, "race = 'HISPANIC'")


def test_a_link_reproduces_the_view(app, con):
    app.query_params = {"race": "black,white", "zip": "20902", "from": "2016-01-01", "to": "2016-12-31",
                        "outcome": "warning"}
    at = app.run()
    no_errors(at)
    assert not at.warning
    assert at.sidebar.multiselect(key="flt_race").value == ["WHITE", "BLACK"]
    assert at.sidebar.multiselect(key="flt_zip").value == ["20902"]
    assert at.sidebar.date_input(key="flt_from").value == date(2016, 1, 1)
    expected = count(con, "race in ('BLACK', 'WHITE') and zip5 = '20902' and stop_year = 2016 and outcome = 'Warning'")
    assert as_int(metric(at, "Stops")) == expected
    assert at.query_params == {"race": "white,black", "zip": "20902", "from": "2016-01-01", "to": "2016-12-31",
                               "outcome": "warning"}


def test_invalid_link_values_are_ignored_with_a_notice(app, con):
    app.query_params = {"race": "martian", "zip": "99999", "from": "someday", "district": "9"}
    at = app.run()
    no_errors(at)
    notices = " ".join(w.value for w in at.warning)
    assert "race" in notices and "99999" in notices and "from" in notices and "district" in notices
    assert as_int(metric(at, "Stops")) == count(con)
    assert at.query_params == {}  # the bad values are dropped from the address too


def test_reset_clears_every_filter(app, con):
    app.query_params = {"race": "black", "gender": "m", "zip": "20902"}
    at = app.run()
    assert as_int(metric(at, "Stops")) < count(con)
    at.sidebar.button[0].click().run()
    no_errors(at)
    assert as_int(metric(at, "Stops")) == count(con)
    assert at.query_params == {}


@pytest.mark.parametrize("page", PAGES)
def test_a_zip_with_no_stops_gets_a_friendly_message(app, page):
    app.query_params = {"zip": ZIP_WITHOUT_STOPS}
    at = app.run()
    if page != PAGES[0]:
        switch(at, page)
    no_errors(at)
    assert not any("Ignored" in w.value for w in at.warning)  # the ZIP is valid, just empty
    if page in ("pages/disparities.py", "pages/changes.py"):  # not filtered by ZIP
        return
    if page == "pages/my_zip.py":
        assert any("no stops" in md.value for md in at.markdown)
        return
    if page != "pages/map.py":
        assert any("No stops match" in i.value for i in at.info)
    if page == "pages/map.py":  # the map still shows every ZIP, the chosen one outlined
        assert map_zips(at)[ZIP_WITHOUT_STOPS]["line_w"] == 3


def test_the_map_shows_every_county_zip_with_counts_and_denominators(app, con):
    at = switch(app.run(), "pages/map.py")
    no_errors(at)
    zips = map_zips(at)
    assert len(zips) == 49
    n = count(con, "zip5 = '20902'")
    hover = zips["20902"]["hover"].split("<br>")
    assert hover[:2] == ["<b>ZIP 20902</b>", f"{n:,} stops"]
    assert map_layers(at) == ["zips", "county", "labels"]  # landmarks without a basemap
    assert hover[2].endswith("stops per 1,000 residents per year")
    assert hover[3].startswith("Residents in the county part: ")  # the denominator
    legend = " ".join(md.value for md in at.markdown)
    assert "Stops per 1,000 residents per year" in legend and "no value" in legend
    assert any("not by drivers" in c.value for c in at.caption)

    at.radio(key="map_metric").set_value("stops").run()
    at.radio(key="map_overlay").set_value("poverty").run()
    no_errors(at)
    assert map_layers(at) == ["zips", "overlay", "county", "labels"]
    assert map_zips(at)["20902"]["z"] == n  # coloured by stops now
    assert "Poverty rate" in " ".join(c.value for c in at.caption) or "poverty" in " ".join(c.value for c in at.caption)

    # one layer on top at a time: the squares replace the circles (each keeps its own legend)
    at.radio(key="map_overlay").set_value("grid").run()
    assert map_layers(at) == ["zips", "grid", "county", "labels"]
    captions = " ".join(c.value for c in at.caption)
    assert "Orange squares" in captions and "Hollow orange circles" not in captions

    at.selectbox(key="map_pick").set_value("20902").run()
    no_errors(at)
    assert at.query_params == {"zip": "20902"}
    assert at.sidebar.multiselect(key="flt_zip").value == ["20902"]


def test_the_map_is_svg_and_offline_and_the_streets_view_is_webgl_only_when_asked(app):
    at = switch(app.run(), "pages/map.py")
    no_errors(at)
    (chart,) = at.get("plotly_chart")
    config = json.loads(chart.proto.config)
    # plotly loads a world outline before it draws any geo map: from this server, never cdn.plot.ly
    assert config["topojsonURL"] == "/app/static/topojson/" and config["scrollZoom"] is False
    world = json.loads((APP.parent / "static" / "topojson" / "world_110m.json").read_text())
    assert world["type"] == "Topology" and world["objects"] == {}  # empty: the map draws its own shapes
    assert map_spec(at)["layout"]["geo"]["projection"]["type"] == "mercator"

    at.sidebar.toggle(key="map_online").set_value(True).run()
    no_errors(at)
    decks = at.get("deck_gl_json_chart")
    assert len(decks) == 1 and not at.get("plotly_chart")
    spec = json.loads(decks[0].proto.json)
    assert "cartocdn" in spec["mapStyle"]
    assert [layer["id"] for layer in spec["layers"]] == ["zips", "county", "labels"]
    props = {f["properties"]["zip5"]: f["properties"] for f in spec["layers"][0]["data"]["features"]}
    assert len(props) == 49 and props["20902"]["title"] == "ZIP 20902"


def test_the_map_flags_small_counts(app):
    app.query_params = {"race": "native"}
    app.session_state["map_table"] = True  # the table under the map, opened (ui.on_demand)
    at = switch(app.run(), "pages/map.py")
    no_errors(at)
    small = [z for z, d in map_zips(at).items() if "<br>Fewer than 10 stops: not shown" in d["hover"]]
    assert small, "native american stops per ZIP are all under the threshold"
    table = next(df.value for df in at.dataframe if "zip" in df.value.columns)
    stops = pd.to_numeric(table["stops"].astype(str).str.replace(",", "", regex=False), errors="coerce")
    shown = stops.dropna()
    assert ((shown == 0) | (shown >= 10)).all()  # 1-9 never shown
    assert (table["stops"] == "").any()  # withheld: a blank cell, never "None"


MATCHED_DAYS = """
    with covered as (select distinct date_of_stop from stops)
    select c.date_of_stop from covered c
    where year(c.date_of_stop) = ? and exists (
        select 1 from covered p where p.date_of_stop = c.date_of_stop - to_years(? - ?))
"""


def matched_days(con, year_a: int, year_b: int) -> tuple[list, list]:
    """The days of year B with data whose same day in year A has data too, and those days of A."""
    days_b = [d for (d,) in con.execute(MATCHED_DAYS, [year_b, year_b, year_a]).fetchall()]
    return [d.replace(year=year_a) for d in days_b], days_b


def count_on(con, days: list, where: str = "true") -> int:
    if not days:
        return 0
    marks = ", ".join("?" for _ in days)
    return count(con, f"date_of_stop in ({marks}) and {where}", days)


def test_trends_compare_two_years_on_the_days_both_cover(app, con):
    at = switch(app.run(), "pages/trends.py")
    no_errors(at)
    at.selectbox(key="trend_year_b").set_value(2016)
    at.selectbox(key="trend_year_a").set_value(2015).run()
    no_errors(at)
    days_a, days_b = matched_days(con, 2015, 2016)
    assert as_int(metric(at, "Stops in 2016")) == count_on(con, days_b)
    assert as_int(metric(at, "Stops in 2015")) == count_on(con, days_a)
    assert metric(at, "Change") == "–"  # the bundled sample
    assert any(f"on the {len(days_b)} days both years have data" in s.value for s in at.header)
    captions = " ".join(c.value for c in at.caption)
    assert "Partial" in captions or "partial" in captions
    figs = plotly_figures(at)
    lines = next(f for f in figs if "one line per year" in f["layout"]["title"]["text"])
    y2016 = next(t for t in lines["data"] if t["name"] == "2016")
    drawn = con.execute("select sum(n) from (select count(*) n from stops where stop_year = 2016 "
                        "group by stop_month having count(*) >= 10)").fetchall()[0][0]
    assert np.nansum(values(y2016["y"])) == drawn
    districts = next(f for f in figs if "district" in f["layout"]["title"]["text"])
    assert {t["name"] for t in districts["data"]} == {"2015", "2016"}
    heat = next(f for f in figs if "hour" in f["layout"]["title"]["text"])
    shown = con.execute("select coalesce(sum(n), 0) from (select count(*) n from stops where stop_hour is not null "
                        "group by dayofweek(date_of_stop), stop_hour having count(*) >= 10)").fetchall()[0][0]
    assert np.nansum(values(heat["data"][0]["z"])) == shown
    assert not any("% change" in str(df.value.columns) for df in at.dataframe)

    at.sidebar.multiselect(key="flt_gender").set_value(["F"]).run()
    women = count_on(con, days_b, "gender = 'F'")
    assert metric(at, "Stops in 2016") == (f"{women:,}" if women >= 10 or women == 0 else "fewer than 10")


def test_people_compare_stops_with_residents_and_give_denominators(app, con):
    for key in ("race_share_table", "outcomes_table"):  # the charts' tables, opened (ui.on_demand)
        app.session_state[key] = True
    at = switch(app.run(), "pages/people.py")
    no_errors(at)
    shares = next(df.value for df in at.dataframe if "share_of_residents" in df.value.columns)
    shares = shares.assign(**{c: shown_numbers(shares[c]) for c in ("stops", "share_of_stops", "share_of_residents")})
    black = shares[shares["group"] == "Black"].iloc[0]
    assert black["stops"] == count(con, "race = 'BLACK'")
    # shares are shown to one decimal of a percent (a column with a withheld cell is text)
    assert black["share_of_stops"] == pytest.approx(count(con, "race = 'BLACK'") / count(con), abs=0.0005)
    # residents in ACS 2013-2017 B03002's exclusive groups, as on Disparities (not race alone incl. Hispanic):
    # not-Hispanic Black 182,541 and Hispanic 197,242 of 1,039,198 county residents
    assert black["share_of_residents"] == pytest.approx(182541 / 1039198, abs=0.0005)
    hispanic = shares[shares["group"] == "Hispanic"].iloc[0]
    assert hispanic["share_of_residents"] == pytest.approx(197242 / 1039198, abs=0.0005)
    assert shares["share_of_residents"].sum() < 1  # exclusive: no resident is counted twice
    captions = " ".join(c.value for c in at.caption)
    assert "ACS 2013-2017 5-year estimates, table B03002" in captions and "not the driving population" in captions
    assert "only its Montgomery County part" not in captions
    recorded = count(con, "search_recorded = 1")
    assert any(f"{recorded:,} of {count(con):,} stops" in md.value for md in at.markdown)

    # the race filter narrows the outcome table but not the race-share comparison
    at.sidebar.multiselect(key="flt_race").set_value(["WHITE"]).run()
    shares = next(df.value for df in at.dataframe if "share_of_residents" in df.value.columns)
    assert len(shares) == 6
    outcomes = next(df.value for df in at.dataframe if "warnings_share" in df.value.columns)
    assert list(outcomes["group"]) == ["White"]


def test_the_data_page_suppresses_small_cells_and_offers_a_csv(app, con):
    app.query_params = {"zip": "20902"}
    at = switch(app.run(), "pages/data.py")
    no_errors(at)
    at.selectbox(key="data_dim").set_value("race")
    at.selectbox(key="data_dim2").set_value("gender").run()
    no_errors(at)
    table = at.dataframe[0].value
    assert list(table.columns) == ["label", "label2", "stops", "charges", "note"]
    suppressed = table[table["note"] != ""]
    assert len(suppressed) and (suppressed["stops"] == "").all() and (suppressed["charges"] == "").all()
    assert shown_numbers(table["stops"]).dropna().ge(10).all()
    names = {"White": "WHITE", "Black": "BLACK", "Hispanic": "HISPANIC", "Asian": "ASIAN",
             "Native American": "NATIVE AMERICAN", "Other / unknown": "OTHER"}
    genders = {"Female": "F", "Male": "M", "Unknown": "U"}
    for row in table[table["note"] == ""].assign(stops=shown_numbers(table["stops"])).itertuples():
        assert row.stops == count(con, "zip5 = '20902' and race = ? and gender = ?",
                                  [names[row.label], genders[row.label2]])
    assert at.get("download_button")
    # data quality: a static table, so that all four columns stay on a phone
    quality = next(t.value for t in at.table if "Measure" in t.value.columns)
    assert list(quality.columns) == ["Measure", "Value", "Out of", "Share"] and "stops" in set(quality["Measure"])
    charges = con.execute("select count(*) from moco_traffic_violations").fetchall()[0][0]
    assert any("Last successful load" in md.value and f"{charges:,} charges" in md.value for md in at.markdown)


def test_the_csv_says_which_filters_made_it_and_hides_small_cells(app):
    from dashboard import ui
    from dashboard.filters import FilterState

    assert ui.csv_name("moco_traffic_stops_by_race", FilterState(races=("BLACK",), zips=("20902",))) == \
        "moco_traffic_stops_by_race__race-black_zip-20902.csv"
    app.query_params = {"zip": "20902", "race": "black"}
    at = switch(app.run(), "pages/data.py")
    no_errors(at)
    table = at.dataframe[0].value
    raw = ui.csv_bytes(table, {"label": "Group", "stops": "Stops", "note": "Note"},
                       {"Filters": "x", "Data source": "Data: the bundled sample"})
    # Excel reads UTF-8 only after a byte-order mark, and a first line starting '#' would be a data row.
    assert raw.startswith(b"\xef\xbb\xbf")
    header, first_row = raw[3:].decode("utf-8").splitlines()[:2]
    assert header == "Group,Stops,Note,Filters,Data source"
    assert first_row.endswith(",x,Data: the bundled sample")


def test_the_data_page_and_banner_read_the_last_successful_load(sample_warehouse_copy, monkeypatch):
    """A failed or abandoned run after a good load never describes the data that is served."""
    path = sample_warehouse_copy.duckdb_path
    c = duckdb.connect(str(path))
    charges = c.execute("select count(*) from moco_traffic_violations").fetchall()[0][0]
    stops = c.execute("select count(*) from stops").fetchall()[0][0]
    for status, minutes in (("failed", 5), ("abandoned", 10), ("running", 15)):
        c.execute("insert into pipeline_runs (run_id, command, source, started_at, finished_at, status, "
                  "warehouse_rows, warehouse_stops, message) values (?, 'run', 'socrata', "
                  "now()::timestamp + to_minutes(?), now()::timestamp + to_minutes(?), ?, 0, 0, 'boom')",
                  [f"later-{status}", minutes, minutes, status])
    c.close()
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse_copy.warehouse_url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at = switch(at, "pages/data.py")
    no_errors(at)
    text = " ".join(md.value for md in at.markdown)
    assert f"{charges:,} charges and {stops:,} stops" in text and "0 charges" not in text
    assert "NaT" not in text and "None" not in text
    assert any("did not succeed" in c.value for c in at.caption)
    runs = next(df.value for df in at.dataframe if "status" in df.value.columns)
    assert (runs.loc[runs["status"] != "success", "warehouse_rows"] == "").all()
    db.reset()


def test_an_unreachable_warehouse_is_said_as_such(monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PIPELINE_WAREHOUSE", f"postgresql://nobody@127.0.0.1:{port}/nowhere")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert any("can't be reached" in e.value for e in at.error)
    assert not any("No data has been loaded" in i.value for i in at.info)


def test_a_stale_warehouse_shows_a_banner(app, monkeypatch):
    monkeypatch.setenv("PIPELINE_STALE_AFTER_DAYS", "0")
    at = app.run()
    no_errors(at)
    assert any("out of date" in w.value for w in at.warning)


def test_the_warehouse_can_come_from_streamlit_secrets(sample_warehouse, monkeypatch, con):
    monkeypatch.delenv("PIPELINE_WAREHOUSE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["PIPELINE_WAREHOUSE"] = sample_warehouse.warehouse_url
    at.run()
    no_errors(at)
    assert as_int(metric(at, "Stops")) == count(con)
    db.reset()


def test_the_data_page_says_what_the_value_rules_did_in_the_last_load(sample_warehouse_copy, monkeypatch):
    """Rows re-stamped to an older :updated_at and clipped values, from the run log (docs/METHODS.md, value rules)."""
    c = duckdb.connect(str(sample_warehouse_copy.duckdb_path))
    c.execute("update pipeline_runs set rows_restamped_older = 12, values_clipped = 40 where status = 'success'")
    c.close()
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse_copy.warehouse_url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at = switch(at, "pages/data.py")
    no_errors(at)
    captions = " ".join(c.value for c in at.caption)
    assert ("The last successful load read 12 charges that the portal had re-stamped with an older update time "
            "than the one already loaded") in captions
    assert "The last successful load shortened 40 over-long text values to their column's width" in captions
    db.reset()


def test_my_zip_with_several_zips_in_the_link_shows_the_first_one(app):
    app.query_params = {"zip": "20906,20902"}
    at = switch(app.run(), "pages/my_zip.py")
    no_errors(at)
    assert at.selectbox(key="my_zip_pick").value == "20902"  # the first valid one, in the filter's order
    assert at.sidebar.multiselect(key="flt_zip").value == ["20902"]
    assert at.query_params == {"zip": "20902"}
    assert any("one ZIP code: 20902, the first of 20902, 20906" in w.value.replace("\\", "") for w in at.warning)
    assert at.header[0].value.startswith("Stops in ZIP 20902")
    at.run()  # a rerun with the same view (as the browser helper's width report causes) keeps the notice
    assert any("the first of 20902, 20906" in w.value.replace("\\", "") for w in at.warning)
    at.sidebar.multiselect(key="flt_race").set_value(["BLACK"]).run()  # a changed view drops it
    assert not any("the first of" in w.value.replace("\\", "") for w in at.warning)


def test_disparities_hides_the_filters_it_does_not_apply_and_counts_its_checks(analysed_sample, monkeypatch):
    from tests.test_dashboard_i18n import render

    monkeypatch.delenv("PIPELINE_STALE_AFTER_DAYS", raising=False)
    at = render(analysed_sample[0], monkeypatch, "pages/disparities.py", "en", race="black")
    no_errors(at)
    assert any("filters do not apply to this page" in i.value for i in at.sidebar.info)
    assert any(".st-key-sidebar_filters { display: none" in h.proto.body for h in at.get("html"))
    checks = [t.label for t in at.tabs if t.label != "Data caveats"]
    said = next(c.value for c in at.caption if "standard checks" in c.value)
    assert said.startswith({3: "Three", 4: "Four"}[len(checks)] + " standard checks")
    at = switch(at, "pages/overview.py")  # the filters come back as they were
    assert at.sidebar.multiselect(key="flt_race").value == ["BLACK"]
    assert not any("filters do not apply" in i.value for i in at.sidebar.info)
    assert not any("sidebar_filters" in h.proto.body for h in at.get("html"))


def test_times_are_local_and_dates_have_one_style_on_the_data_and_changes_pages(app):
    import re

    local = re.compile(r"\b\d{1,2} [A-Z][a-z]{2} \d{4}, \d{1,2}:\d{2}\s[AP]M E[SD]T\b")
    iso = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
    at = app.run()
    assert any(re.search(r"last successful load .* \(today\)", c.value) for c in at.caption)
    at = switch(at, "pages/data.py")
    no_errors(at)
    text = " ".join(md.value for md in at.markdown)
    assert local.search(text) and "full load from the bundled sample" in text and "UTC" not in text
    runs = next(df.value for df in at.dataframe if "started_at" in df.value.columns)
    assert all(local.fullmatch(v) for v in runs["started_at"]) and set(runs["command"]) == {"full load"}
    assert set(runs["source"]) == {"the bundled sample"}
    at = switch(at, "pages/changes.py")
    shown = " ".join(md.value for md in at.markdown) + " ".join(
        str(v) for df in at.dataframe for col in df.value.columns for v in df.value[col])
    assert local.search(shown) and not iso.search(shown) and "UTC" not in shown


def test_the_server_switches_threads_often_enough_for_its_static_files(app):
    """streamlit_app.SWITCH_INTERVAL_S: the router shortens the GIL's switch interval (5 ms by default),
    so the event loop serving the JavaScript chunks is not held back by a page script's thread."""
    import sys

    sys.setswitchinterval(0.005)
    try:
        app.run()
        assert not app.exception
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    finally:
        sys.setswitchinterval(0.005)
