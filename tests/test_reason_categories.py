"""Plain-language reasons: the county's charge descriptions mapped to categories by data/reason_rules.csv.

The share of charges that land in a category (not "other") is measured on every real sample: the
shared copies under /work/shared/data (when present) and the bundled sample under data/sample. The
rules render to one SQL ``case`` that must agree with the Python matcher, on DuckDB and PostgreSQL,
and the dashboard's grouping by reason (Python, per distinct text) must equal that ``case`` over the stops.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard import reasons

pytest_plugins = ["tests.pg_fixtures"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "traffic_violations"  # beside the repository, when present
# Coverage measured with the rules as committed (charges categorised / charges), written out: a rule
# change that moves one of these shows up here and in the report.
COVERAGE = {
    "mcpd_tv_sample_esraahefny333_2016": (11983, 0.9927),
    "mcpd_tv_sample_nikolausn_2016": (4991, 0.9908),
    "mcpd_tv_sample_tolu238_2017": (999, 0.9820),
    "mcpd_tv_sample_nerox_2019": (439, 0.9932),
    "mcpd_tv_sample_nischal_2025_augmented": (567, 0.9965),
}
SAMPLES = sorted(ROOT.glob("data/sample/*.csv.gz")) + (sorted(SHARED.glob("*.csv")) if SHARED.is_dir() else [])


def _descriptions(path: Path) -> pd.Series:
    return pd.read_csv(path, dtype=str, usecols=["Description"], keep_default_na=False)["Description"]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_at_least_95_percent_of_each_real_samples_charges_have_a_category(path):
    descriptions = _descriptions(path)
    stem = path.name.split(".")[0]
    share = reasons.coverage(descriptions)
    n, expected = COVERAGE[stem]
    assert len(descriptions) == n
    assert share == pytest.approx(expected, abs=5e-5), f"{stem}: {share:.4f} of {n} charges categorised"
    assert share >= 0.95


def test_the_bundled_sample_is_measured():
    assert {p.name.split(".")[0] for p in ROOT.glob("data/sample/*.csv.gz")} <= set(COVERAGE)


@pytest.mark.parametrize("text, category", [
    ("EXCEEDING THE POSTED SPEED LIMIT OF 30 MPH", "speeding"),
    ("DRIVER FAILURE TO OBEY PROPERLY PLACED TRAFFIC CONTROL DEVICE INSTRUCTIONS", "signals_signs"),
    ("STOP LIGHTS (*)", "equipment"),
    ("DRIVING VEH. W/O ADEQUATE REAR REG. PLATE ILLUMINATION", "equipment"),  # a lamp, not the plate itself
    ("DISPLAYING EXPIRED REGISTRATION PLATE ISSUED BY ANY STATE", "registration"),
    ("PERSON DRIVING MOTOR VEHICLE ON HIGHWAY OR PUBLIC USE PROPERTY ON SUSPENDED LICENSE AND PRIVILEGE", "licence"),
    ("OPERATOR NOT RESTRAINED BY SEATBELT", "seat_belt"),
    ("DRIVER USING HANDS TO USE HANDHELD TELEPHONE WHILEMOTOR VEHICLE IS IN MOTION", "phone"),
    ("DRIVING VEHICLE WHILE UNDER THE INFLUENCE OF ALCOHOL", "alcohol_drugs"),
    ("NEGLIGENT DRIVING VEHICLE IN CARELESS AND IMPRUDENT MANNER ENDANGERING PROPERTY, LIFE AND PERSON", "reckless"),
    ("KNOWINGLY DRIVING UNINSURED VEHICLE", "insurance"),
    ("OWNER FAILURE TO MAINTAIN REQUIRED SECURITY FOR VEH. DURING REG. PERIOD", "insurance"),  # before 'reg. '
    ("FAILURE TO RETURN TO & REMAIN AT SCENE OF ACCIDENT", "crash"),  # 'return' is not a turn
    ("DRIVER CHANGING LANES WHEN UNSAFE", "lanes_turns"),
    ("A WORDING THE COUNTY ADDS NEXT YEAR", "other"),
    (None, "other"),
])
def test_a_description_gets_the_category_of_the_first_rule_it_matches(text, category):
    assert reasons.categorise(text) == category


def test_every_category_has_an_english_and_a_spanish_name():
    names = reasons.names()
    assert len(names) >= 12 and "other" in names
    assert all(en and es and en != es for en, es in names.values())
    assert {r.category for r in reasons.rules()} == set(names) - {"other"}  # no category without a rule


def sql_case(column: str = "s.top_description") -> str:
    """The rules as one SQL ``case`` expression over ``column`` (the same on DuckDB, PostgreSQL and
    Redshift): consecutive rules of one category share a ``when``; the first match wins, as in
    reasons.categorise. Yields varchar category codes. (The dashboard grouped by it until it cost
    DuckDB 40-80 ms a query to plan; now the tests' reference.)"""
    groups: list[tuple[str, list[str]]] = []
    for rule in reasons.rules():
        if groups and groups[-1][0] == rule.category:
            groups[-1][1].append(rule.pattern)
        else:
            groups.append((rule.category, [rule.pattern]))
    subject = f"lower({column})"
    whens = " ".join(
        "when " + " or ".join(f"{subject} like '{p}'" for p in patterns) + f" then '{category}'"
        for category, patterns in groups)
    return f"cast(case {whens} else '{reasons.OTHER}' end as varchar(16))"


def _sql_categories(execute, texts: list[str | None]) -> list[str]:
    case = sql_case("s.d")
    rows = execute(f"select s.i, {case} from t as s order by s.i")
    return [c for _i, c in rows]


def _texts() -> list[str | None]:
    values = sorted(set(_descriptions(ROOT / "data/sample/mcpd_tv_sample_esraahefny333_2016.csv.gz")))
    return values + [None, "Exceeding the posted SPEED limit", "plain text with no rule"]


def test_the_sql_case_agrees_with_the_python_rules_on_duckdb():
    texts = _texts()
    con = duckdb.connect()
    con.execute("create table t (i integer, d varchar)")
    con.executemany("insert into t values (?, ?)", list(enumerate(texts)))
    got = _sql_categories(lambda sql: con.execute(sql).fetchall(), texts)
    assert got == [reasons.categorise(t) for t in texts]


def test_the_sql_case_agrees_with_the_python_rules_on_postgresql(pg_admin):
    from tests.pg_fixtures import drop_schema, new_schema

    texts = _texts()
    schema = new_schema("reasons")
    pg_admin.execute(f'create schema "{schema}"')
    try:
        pg_admin.execute(f'create table "{schema}".t (i integer, d varchar(1024))')
        with pg_admin.cursor() as cur:
            cur.executemany(f'insert into "{schema}".t values (%s, %s)', list(enumerate(texts)))
        got = _sql_categories(
            lambda sql: pg_admin.execute(sql.replace("from t as s", f'from "{schema}".t as s')).fetchall(), texts)
    finally:
        drop_schema(pg_admin, schema)
    assert got == [reasons.categorise(t) for t in texts]


def test_a_pattern_that_could_break_out_of_its_sql_literal_is_refused(tmp_path, monkeypatch):
    rules = tmp_path / "rules.csv"
    rules.write_text("category,pattern\nspeeding,%speed' or 1=1 --%\n", encoding="utf-8")
    monkeypatch.setattr(reasons, "RULES_FILE", rules)
    reasons.rules.cache_clear()
    try:
        with pytest.raises(ValueError, match="character outside"):
            reasons.rules()
    finally:
        reasons.rules.cache_clear()


def test_the_data_page_downloads_stops_by_category_with_the_countys_wording_beside_it(sample_warehouse, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboard import db

    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90).run()
    at.switch_page("pages/data.py").run()
    try:
        at.selectbox(key="data_dim").set_value("reason")
        at.selectbox(key="data_dim2").set_value("description").run()
        assert not at.exception, [e.value for e in at.exception]
        table = at.dataframe[0].value
        english = {en for en, _es in reasons.names().values()}
        assert set(table["label"]) <= english and "Speeding" in set(table["label"])
        # each county wording sits under the category its first matching rule gives
        pairs = table[["label", "label2"]].drop_duplicates()
        assert all(reasons.names()[reasons.categorise(text)][0] == category
                   for category, text in pairs.itertuples(index=False) if text != "(none recorded)")
    finally:
        db.reset()


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
@pytest.mark.parametrize("filters", [{}, {"races": ("BLACK", "WHITE"), "zips": ("20902", "20906")},
                                     {"date_from": date(2016, 3, 5), "date_to": date(2017, 2, 11), "genders": ("M",)}],
                         ids=["none", "people+place", "odd days"])
def test_grouping_by_reason_equals_the_rules_as_a_sql_case_over_the_stops(backend, filters, request, monkeypatch):
    """The dashboard categorises each charge text after the SQL grouped by it (cubes or stops); the
    reference is the rules run in the warehouse, per stop, by the same SQL files."""
    from dashboard import queries as q
    from dashboard.filters import FilterState
    from pipeline.sqlfiles import load_sql

    settings = request.getfixturevalue("sample_warehouse" if backend == "duckdb" else "pg_sample_warehouse")
    monkeypatch.setenv("PIPELINE_WAREHOUSE", settings.warehouse_url)
    monkeypatch.setenv("PIPELINE_DASHBOARD_REPLICA_MB", "0")
    monkeypatch.setattr(q, "small_count", lambda: 11)
    f = FilterState(**filters)
    clause, params = q.stop_filter(f)
    anything = {"dim": lambda v: True, "dim2": lambda v: True, "stop_filter": q.is_stop_filter,
                "facts": q._facts_allowed, "day_ranges": lambda v: True}
    stops = load_sql("marts/stop_facts")
    case = sql_case("s.top_description")
    race = q.DIMENSIONS["race"][0]
    with q.bypass_cache():
        for dim, dim2, slots in (("reason", "race", {"dim": case, "dim2": race}),
                                 ("race", "reason", {"dim": race, "dim2": case})):
            expected = q.run("stops_by", {**params, "min_count": 11},
                             {**slots, "stop_filter": clause, "facts": stops}, anything)
            got = q.stops_by(f, dim, dim2, suppress=True)
            assert got["suppressed"].sum() > 0 and (got["suppressed"] == 0).sum() > 0  # both kinds of cell checked
            pd.testing.assert_frame_equal(got, expected, obj=f"{dim} x {dim2}")
        days_a = [date(2015, 1, 1) + timedelta(days=i) for i in range(0, 365, 2)]
        days_b = [d.replace(year=2016) for d in days_a]
        ranges, values = q._day_ranges(days_a, days_b)
        clause, params = q.stop_filter(f, ignore=("dates",))  # the compared days replace the date filter
        for top_n in (3, 20):
            expected = q.run("year_compare", {**params, **values, "top_n": top_n},
                             {"dim": case, "day_ranges": ranges, "stop_filter": clause, "facts": stops}, anything)
            got = q.year_compare(f, "reason", days_a, days_b, top_n)
            assert len(got) == min(top_n, len(expected)) > 1
            pd.testing.assert_frame_equal(got, expected, obj=f"year_compare top {top_n}")
