"""Honest screens: My ZIP's numbers against SQL, comparisons only over equal coverage, and the
small-count policy swept over every page (no count of 1..k-1 anywhere a reader can see it)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import db
from dashboard.reasons import categorise, names as reason_names
from pipeline.analysis.stats import poisson_interval
from tests.test_analysis_sample import analysed_sample  # noqa: F401  (a fixture)
from tests.test_dashboard_pages import APP, PAGES, count_on, matched_days
from tests.shown import shown_numbers

K = 10


# page file -> the page hash st.navigation registers it under (the same in every session of the app),
# learnt from the first AppTest that switched to it.
_PAGE_HASHES: dict[str, str] = {}


def run_app(settings, monkeypatch, page: str, params: dict | None = None) -> AppTest:
    """The app opened at ``page`` with ``params`` in its link. The first time a page is asked for, the
    home page renders first and the test switches to the page (AppTest knows a page's hash only after a
    run); after that the page opens directly, as a visit to its link does, without rendering the home
    page first. Either way the run must have finished on ``page``."""
    monkeypatch.setenv("PIPELINE_WAREHOUSE", settings.warehouse_url)
    monkeypatch.delenv("PIPELINE_SMALL_COUNT", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params = dict(params or {})
    if page != PAGES[0] and page in _PAGE_HASHES:
        at._page_hash = _PAGE_HASHES[page]  # what switch_page sets (AppTest has no public way before a run)
        at.run()
    else:
        at.run()
        if page != PAGES[0]:
            at.switch_page(page)
            _PAGE_HASHES[page] = at._page_hash
            at.run()
    assert not at.exception, [e.value for e in at.exception]
    finished = at._registered_pages[at._finished_page_script_hash]["script_path"]
    assert Path(finished).resolve() == (APP.parent / page).resolve(), (page, finished)
    return at


@pytest.fixture
def con(sample_warehouse):
    c = duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True)
    yield c
    c.close()
    db.reset()


# ------------------------------------------------------------------------------------------------ My ZIP


def test_my_zip_says_in_plain_words_how_the_zip_compares_with_the_county(sample_warehouse, monkeypatch, con):
    at = run_app(sample_warehouse, monkeypatch, "pages/my_zip.py", {"zip": "20902"})
    assert at.selectbox(key="my_zip_pick").value == "20902"
    stops = con.execute("select count(*) from stops where zip5 = '20902'").fetchone()[0]
    residents = con.execute(
        "select sum(zt.weight * t.totalpop) from zip_tract zt join census_tract t on t.tractid = zt.tract "
        "where zt.zip = '20902' and t.tractid like '24031%'").fetchone()[0]
    county_stops = con.execute(
        "select count(*) from stops where zip5 in (select zip from zip_tract zt join census_tract t "
        "on t.tractid = zt.tract where t.tractid like '24031%')").fetchone()[0]
    county_res = con.execute("select sum(totalpop) from census_tract where tractid like '24031%'").fetchone()[0]
    years = con.execute("select count(distinct date_of_stop) from stops").fetchone()[0] / 365.25
    text = " ".join(md.value for md in at.markdown)

    def fmt(v: float) -> str:  # as every page prints a rate: 2 decimals under 10, 1 from 10 on
        return f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"

    rate = 1000 * stops / residents / years
    county_rate = 1000 * county_stops / county_res / years
    low, high = (1000 * float(x) / residents / years for x in poisson_interval(stops))
    assert f"**{stops:,} stops** located in ZIP 20902" in text
    assert f"**{fmt(rate)} stops per 1,000 residents per year** (95% interval {fmt(low)} to {fmt(high)})" in text
    assert f"{fmt(county_rate)} stops per 1,000 residents per year" in text
    assert f"**{rate / county_rate:,.1f} times**" in text
    # who is stopped vs who lives there, outcomes, the trend, the reasons, where: all on the page (the
    # charts' tables once opened: ui.on_demand builds a table only while its expander is open)
    assert not any("share_of_residents" in df.value.columns for df in at.dataframe)
    at.session_state["zip_race_table"] = at.session_state["zip_years_table"] = True
    at.run()
    shares = next(df.value for df in at.dataframe if "share_of_residents" in df.value.columns)
    black = shares.assign(stops=shown_numbers(shares["stops"]))[shares["group"] == "Black"].iloc[0]
    assert black["stops"] == con.execute("select count(*) from stops where zip5 = '20902' and race = 'BLACK'").fetchone()[0]
    outcomes = con.execute("select count(*) filter (where outcome = 'Citation') from stops where zip5 = '20902'").fetchone()[0]
    assert f"Citation (ticket): **{outcomes / stops:.0%}**" in text
    years = next(df.value for df in at.dataframe if "stop_year" in df.value.columns)
    by_year = dict(con.execute("select cast(stop_year as varchar), count(*) from stops where zip5 = '20902' "
                               "group by 1").fetchall())
    for row in years.itertuples():
        expected = by_year[row.stop_year]
        assert (row.stops == expected) if expected >= K else np.isnan(float(row.stops) if row.stops is not None else np.nan)
    # a static table (both columns kept on a phone), its numbers as the page prints them
    reasons = next(t.value for t in at.table if list(t.value.columns) == ["Reason for the stop", "Stops"])
    reasons = reasons.set_axis(["label", "stops"], axis=1).assign(stops=lambda d: shown_numbers(d["stops"]))
    by_text = con.execute("select top_description, count(*) from stops where zip5 = '20902' group by 1").fetchall()
    by_category: dict[str, int] = {}
    for description, n in by_text:  # the rules themselves are checked in test_reason_categories.py
        category = categorise(description)
        by_category[category] = by_category.get(category, 0) + n
    top = max(by_category, key=by_category.get)
    assert (reasons["label"].iloc[0], reasons["stops"].iloc[0]) == (reason_names()[top][0], by_category[top])
    assert not at.get("deck_gl_json_chart")  # the ZIP's map is SVG (plotly), no WebGL
    zip_map = [json.loads(el.proto.spec) for el in at.get("plotly_chart")
               if [t.get("meta") for t in json.loads(el.proto.spec)["data"]][:1] == ["zip"]]
    assert len(zip_map) == 1 and zip_map[0]["data"][0]["locations"] == ["20902"]
    captions = " ".join(c.value for c in at.caption)
    assert "not where the driver lives" in captions and "Print" in captions
    assert any("bundled sample" in w.value for w in at.warning)


def test_my_zip_without_a_zip_asks_for_one_and_picking_one_sets_the_link(sample_warehouse, monkeypatch):
    at = run_app(sample_warehouse, monkeypatch, "pages/my_zip.py")
    assert any("Pick your ZIP code" in i.value for i in at.info)
    at.selectbox(key="my_zip_pick").set_value("20910").run()
    assert not at.exception
    assert at.query_params == {"zip": "20910"}
    assert any("ZIP 20910" in s.value for s in at.header)
    db.reset()


# ------------------------------------------------------------------------------------ coverage-aware


@pytest.fixture
def full_data_copy(sample_warehouse_copy):
    """The sample relabelled as if it came from the portal, so comparisons are not refused outright."""
    c = duckdb.connect(str(sample_warehouse_copy.duckdb_path))
    c.execute("update moco_traffic_violations set source = 'file'")
    c.execute("update mart_provenance set sample_charges = 0")  # the load's one-row summary of the same
    c.close()
    yield sample_warehouse_copy
    db.reset()


YEARS = [2012, 2013, 2014, 2015, 2016, 2019]


def all_stops_ratio(con, days_a, days_b) -> float:
    a, b = count_on(con, days_a), count_on(con, days_b)
    return max(a, b) / min(a, b) if min(a, b) else float("inf")


def test_the_sample_never_prints_a_change_across_periods(sample_warehouse, monkeypatch):
    at = run_app(sample_warehouse, monkeypatch, "pages/trends.py")
    for i, a in enumerate(YEARS):
        for b in YEARS[i + 1:]:
            at.selectbox(key="trend_year_b").set_value(b)
            at.selectbox(key="trend_year_a").set_value(a).run()
            assert not at.exception
            changes = [m.value for m in at.metric if m.label == "Change"]
            assert changes in ([], ["–"]), (a, b, changes)
            assert not any(re.search(r"[+−-]\d+%", m.value) for m in at.markdown)
    for year in YEARS:
        over = run_app(sample_warehouse, monkeypatch, "pages/overview.py",
                       {"from": f"{year}-01-01", "to": f"{year}-12-31"})
        assert [m.value for m in over.metric if m.label == "Change vs a year earlier"] == ["–"]
        assert not any(re.search(r"\d+% (more|fewer)", m.value) for m in over.markdown)
    db.reset()


def test_on_full_data_a_change_is_printed_only_over_matched_days_of_even_recording(full_data_copy, monkeypatch):
    c = duckdb.connect(str(full_data_copy.duckdb_path), read_only=True)
    at = run_app(full_data_copy, monkeypatch, "pages/trends.py")
    printed = refused = 0
    for i, a in enumerate(YEARS):
        for b in YEARS[i + 1:]:
            at.selectbox(key="trend_year_b").set_value(b)
            at.selectbox(key="trend_year_a").set_value(a).run()
            assert not at.exception
            days_a, days_b = matched_days(c, a, b)
            if not days_b:
                assert any("no day with data in common" in i.value for i in at.info)
                refused += 1
                continue
            na, nb = count_on(c, days_a), count_on(c, days_b)
            change = next(m.value for m in at.metric if m.label == "Change")
            if all_stops_ratio(c, days_a, days_b) > 2 or min(na, nb) < K:
                assert change == "–", (a, b)
                refused += 1
            else:
                assert change == f"{'+' if nb >= na else '−'}{abs(nb - na) / na:.0%}", (a, b)
                assert int(next(m.value for m in at.metric if m.label == f"Stops in {a}").replace(",", "")) == na
                printed += 1
    assert printed and refused  # the data has both kinds of pair
    c.close()


# ----------------------------------------------------------------------------- the small-count sweep

# Links whose filters leave cells of 1-9 stops: a rare race, a single ZIP, one district, a short range.
SWEEP_LINKS = [
    {"race": "native"},
    {"race": "asian", "zip": "20902"},
    {"zip": "20902", "gender": "f", "from": "2015-01-01", "to": "2015-12-31"},
    {"district": "5", "outcome": "sero"},
    {"from": "2019-06-03", "to": "2019-06-04", "race": "hispanic"},
]
COUNT_WORDS = re.compile(r"(stops?|charges?|searche[sd]?|arrest|contraband|residents?|cells?|ZIP)", re.I)


def _numbers(value) -> list[float]:  # noqa: ANN001
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).astype(float).tolist()
    if isinstance(value, (list, tuple)):
        out: list[float] = []
        for v in value:
            out += _numbers(v)
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def small(x: float) -> bool:
    return not np.isnan(x) and 0 < x < K and float(x).is_integer()


def counts_in_text(text: str) -> list[int]:
    """Whole numbers written next to a word that makes them counts ('3 stops', '(3 of 40)', 'n=3')."""
    out = []
    for m in re.finditer(r"(?<![\d.,:/-])(\d[\d,]*)(?![\d.,%:/-])", text):
        n = int(m.group(1).replace(",", ""))
        after = text[m.end(): m.end() + 24]
        before = text[max(0, m.start() - 3): m.start()]
        of_count = after.startswith(" of ") and not re.match(r" of [\d,]+ (days|total|rows)", after)
        if COUNT_WORDS.match(after.strip()) or of_count or before.endswith("n="):
            out.append(n)
    return out


def sweep(at: AppTest) -> list[str]:
    """Every place a count of 1..k-1 shows on the rendered page."""
    bad: list[str] = []
    for m in at.metric:
        for n in counts_in_text(f"{m.value} {m.label}") + ([int(m.value.replace(',', ''))] if m.value.replace(',', '').isdigit() else []):
            if small(n):
                bad.append(f"metric {m.label}={m.value}")
    for kind in ("markdown", "caption", "info", "warning", "success", "header", "subheader"):
        for e in at.get(kind):
            bad += [f"{kind}: …{e.value[:120]}… ({n})" for n in counts_in_text(e.value) if small(n)]
    for df in at.dataframe:
        frame = df.value
        for col in frame.columns:
            name = str(col).lower()
            if any(w in name for w in ("stops", "charges", "searched", "arrested", "contraband", "searches",
                                       "stops_a", "stops_b", "count")) or re.fullmatch(r"\d{4}|\d{2}h", name):
                for v in frame[col].tolist():
                    try:
                        x = float(str(v).replace(",", ""))
                    except ValueError:
                        bad += [f"table {col}: {v}" for n in counts_in_text(f"{v} stops") if small(n)]
                        continue
                    if small(x):
                        bad.append(f"table {col}: {v}")
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = (spec["layout"].get("title") or {}).get("text", "")
        if "rate" in title.lower() or "share" in title.lower() or "odds" in title.lower() or "residents" in title.lower():
            values_to_check = []  # a rate's axis values are not counts; their texts are checked below
        else:
            values_to_check = ["x", "y", "z"]
        for trace in spec["data"]:
            for axis in values_to_check:
                if axis in trace and trace.get("orientation") != ("h" if axis == "y" else "v"):
                    bad += [f"chart {title!r} {axis}={x}" for x in _numbers(trace[axis]) if small(x)]
            for key in ("text", "hovertext"):
                for t in trace.get(key) or []:
                    bad += [f"chart {title!r} {key}: {t}" for n in counts_in_text(str(t)) if small(n)]
    for deck in at.get("deck_gl_json_chart"):
        for layer in json.loads(deck.proto.json)["layers"]:
            data = layer.get("data")
            features = data.get("features", []) if isinstance(data, dict) else (data or [])
            for f in features:
                props = f.get("properties", f) if isinstance(f, dict) else {}
                for key in ("l1", "l2", "l3"):
                    bad += [f"map {key}: {props[key]}" for n in counts_in_text(str(props.get(key, ""))) if small(n)]
    return bad


@pytest.fixture
def downloads(monkeypatch) -> list[bytes]:
    """Every file a page offers for download (the bytes st.download_button hands to Streamlit)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    seen: list[bytes] = []
    original = MediaFileManager.add

    def add(self, path_or_data, mimetype, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if mimetype == "text/csv":
            seen.append(bytes(path_or_data))
        return original(self, path_or_data, mimetype, *args, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add", add)
    return seen


def csv_small_counts(files: list[bytes]) -> list[str]:
    bad = []
    for content in files:
        assert content.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel reads the file as UTF-8
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        # the file says which filters and data made it, in its last two columns
        assert rows[0][-2:] in (["Filters", "Data source"], ["Filtros", "Fuente de los datos"])
        bad += [f"csv: {row}" for row in rows[1:] if any(small(n) for n in _csv_numbers(",".join(row[:-2])))]
    return bad


def _csv_numbers(line: str) -> list[float]:
    out = []
    for cell in line.split(","):
        try:
            out.append(float(cell))
        except ValueError:
            pass
    return out


@pytest.mark.parametrize("link", SWEEP_LINKS, ids=lambda d: "&".join(f"{k}={v}" for k, v in d.items()))
@pytest.mark.parametrize("page", [p for p in PAGES if p != "pages/disparities.py"])
def test_no_count_under_the_threshold_is_shown_anywhere(sample_warehouse, monkeypatch, downloads, page, link):
    at = run_app(sample_warehouse, monkeypatch, page, link)
    if page == "pages/data.py":  # every grouping of the download
        for dim2 in ("none", "gender", "year"):
            at.selectbox(key="data_dim2").set_value(dim2).run()
            assert not sweep(at), sweep(at)[:5]
        assert downloads and not csv_small_counts(downloads), csv_small_counts(downloads)[:5]
    elif page == "pages/map.py":
        at.radio(key="map_overlay").set_value("grid").run()
    elif page == "pages/my_zip.py" and "zip" not in link:
        at.selectbox(key="my_zip_pick").set_value("20902").run()
    assert not sweep(at), sweep(at)[:8]
    db.reset()


def test_the_disparities_page_shows_no_small_count(analysed_sample, monkeypatch):
    at = run_app(analysed_sample[0], monkeypatch, "pages/disparities.py")
    for year in at.selectbox(key="disp_year").options:
        at.selectbox(key="disp_year").set_value(int(year)).run()
        assert not sweep(at), sweep(at)[:8]


def test_the_sweep_finds_a_small_count_when_there_is_one(sample_warehouse, monkeypatch):
    """The sweep itself can fail: with the threshold at 100, counts of 10-99 are 'small' to it."""
    global K
    at = run_app(sample_warehouse, monkeypatch, "pages/people.py", {"race": "native"})
    saved, K = K, 1000
    try:
        assert sweep(at)
    finally:
        K = saved
    db.reset()


# ------------------------------------------------------------------------------------ what changed


def test_what_changed_lists_each_successful_load_in_plain_words(sample_warehouse_copy, monkeypatch):
    """A rerun of the same backfill re-reads every row (rows_replaced) but changes none: it reads as 0."""
    from pipeline.extract.files import SampleSource
    from pipeline.load import run_load

    run_load(sample_warehouse_copy, SampleSource(), "backfill")
    c = duckdb.connect(str(sample_warehouse_copy.duckdb_path))
    c.execute("insert into pipeline_runs (run_id, command, source, started_at, finished_at, status, message) "
              "values ('zz-failed', 'run', 'socrata', now()::timestamp, now()::timestamp, 'failed', 'boom')")
    runs = c.execute("select charges_added, charges_edited, charges_removed, stops_added, stops_edited, "
                     "stops_removed, rows_replaced from pipeline_runs where status = 'success' "
                     "order by finished_at desc").fetchall()
    c.close()
    assert len(runs) == 2 and runs[0][6] > 0  # the rerun replaced rows...
    at = run_app(sample_warehouse_copy, monkeypatch, "pages/changes.py")
    lines = [md.value for md in at.markdown if "Added" in md.value]
    assert len(lines) == 2  # the failed run is not a load that changed anything
    for line, (ca, ce, cr, sa, se, sr, _replaced) in zip(lines, runs):
        assert (f"Added {sa:,} stops ({ca:,} charges), corrected {se:,} stops ({ce:,} charges), "
                f"removed {sr:,} stops ({cr:,} charges).") in line.replace("fewer than 10", "?")
    assert "Added 0 stops (0 charges), corrected 0 stops (0 charges)" in lines[0]  # ...but changed nothing
    table = next(df.value for df in at.dataframe if "stops_added" in df.value.columns)
    assert list(table["stops_added"]) == [f"{r[3]:,}" for r in runs]
    es = run_app(sample_warehouse_copy, monkeypatch, "pages/changes.py", {"lang": "es"})
    assert any(f"Añadió {runs[1][3]:,} paradas".replace(",", ".") in md.value for md in es.markdown)
    db.reset()
