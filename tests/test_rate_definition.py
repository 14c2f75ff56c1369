"""One rate, one definition: "stops per 1,000 residents per year" is the same figure on Overview,
My ZIP and Map for the same filters, and it is the figure the definition gives when computed
directly in SQL on the served warehouse (located stops in county ZIP codes / their county residents /
days with data in the window / 365.25)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import db, rates

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
RATE_LABEL = "Stops per 1,000 residents per year"
NUMBER = r"([0-9][0-9,]*\.[0-9]+|[0-9][0-9,]*)"


@pytest.fixture
def app(sample_warehouse, monkeypatch):
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    monkeypatch.delenv("PIPELINE_SMALL_COUNT", raising=False)
    yield AppTest.from_file(str(APP), default_timeout=90)
    db.reset()


def _run(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.query_params = dict(params)
    at.run()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _direct_rate(path: Path, first: date, last: date) -> float:
    """The definition, written out in SQL independently of dashboard/rates.py and zip_map.sql."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        residents = dict(con.execute(
            "select zt.zip, sum(zt.weight * t.totalpop) from census_tract t join zip_tract zt on zt.tract = t.tractid "
            "where t.tractid like '24031%' group by zt.zip having sum(zt.weight * t.totalpop) > 0").fetchall())
        located = dict(con.execute(
            "select zip5, count(*) from stops where zip5 is not null and date_of_stop between ? and ? group by zip5",
            [first, last]).fetchall())
        days = con.execute("select count(distinct date_of_stop) from stops where date_of_stop between ? and ?",
                           [first, last]).fetchone()[0]
    finally:
        con.close()
    stops = sum(n for z, n in located.items() if z in residents)
    return 1000 * stops / sum(residents.values()) / (days / 365.25)


def _figure(pattern: str, texts: list[str]) -> str:
    for text in texts:
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    raise AssertionError(f"{pattern!r} not in {texts}")


def _pages(params: dict[str, str]) -> dict[str, str]:
    """The county figure as each page prints it, for the same filters in the URL (My ZIP adds its ZIP)."""
    at = _run("pages/overview.py", params)
    shown = {"overview": next(m.value for m in at.metric if m.label == RATE_LABEL)}
    at = _run("pages/my_zip.py", {**params, "zip": "20902"})
    shown["my_zip"] = _figure(r"The county as a whole has " + NUMBER + r" stops per 1,000 residents per year",
                              [md.value for md in at.markdown])
    at = _run("pages/map.py", params)
    shown["map"] = _figure(r"The county as a whole: " + NUMBER + r" stops per 1,000 residents per year",
                           [c.value for c in at.caption])
    return shown


@pytest.mark.parametrize("params, first, last", [
    ({}, None, None),
    ({"from": "2016-01-01", "to": "2016-12-31"}, date(2016, 1, 1), date(2016, 12, 31)),
])
def test_overview_my_zip_and_map_show_one_county_rate_the_definition_gives(app, sample_warehouse, params, first, last):
    con = duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True)
    lo, hi = con.execute("select min(date_of_stop), max(date_of_stop) from stops").fetchone()
    con.close()
    expected = _direct_rate(sample_warehouse.duckdb_path, first or lo, last or hi)
    shown = _pages(params)
    assert len(set(shown.values())) == 1, shown  # one figure on every page
    assert float(shown["overview"].replace(",", "")) == pytest.approx(expected, abs=0.006 if expected < 10 else 0.06)


def test_the_rate_is_per_year_of_covered_days_and_per_located_stop():
    zmap = pd.DataFrame({"zip5": ["20901", "20902", "21000"], "stops": [300, 100, 50],
                         "residents_in_county": [20000.0, 10000.0, None]})
    covered = pd.DataFrame({"date_of_stop": pd.to_datetime(["2019-12-31", "2020-01-01", "2020-06-30", "2021-01-01"])})
    per = rates.period(covered, date(2020, 1, 1), date(2020, 12, 31))
    assert per.covered_days == 2
    county = rates.area_rate(zmap, [], per)
    # 400 located stops in county ZIP codes (21000 has no county residents) / 30,000 residents / (2 / 365.25) years
    assert (county.stops, county.residents, county.zip_count) == (400, 30000.0, 2)
    assert county.value == pytest.approx(1000 * 400 / 30000 / (2 / 365.25))
    one = rates.area_rate(zmap, ["20902"], per)
    assert one.value == pytest.approx(1000 * 100 / 10000 / (2 / 365.25))
    table = rates.with_zip_rates(zmap, per)
    assert table[rates.RATE_COLUMN].iloc[0] == pytest.approx(1000 * 300 / 20000 / (2 / 365.25))
    assert pd.isna(table[rates.RATE_COLUMN].iloc[2])
    assert rates.area_rate(zmap, [], rates.period(covered, date(2022, 1, 1), date(2022, 12, 31))).value is None


def test_every_rate_label_says_per_year(app):
    at = app.run()
    labels = [m.label for m in at.metric]
    assert RATE_LABEL in labels
    assert not [label for label in labels if "per 1,000" in label and "per year" not in label]
    assert any("How the rate per 1,000 residents per year is computed" in e.label for e in at.expander)
