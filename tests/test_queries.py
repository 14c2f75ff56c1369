"""Every dashboard query function, checked against a direct SQL count on the same sample warehouse."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from dashboard import db, queries, tables
from dashboard.filters import FilterState
from dashboard.labels import DISTRICTS
from pipeline.config import load_settings

FILTERS = {
    "everything": FilterState(),
    "one zip in 2016": FilterState(zips=("20902",), date_from=date(2016, 1, 1), date_to=date(2016, 12, 31)),
    "black and hispanic women": FilterState(races=("BLACK", "HISPANIC"), genders=("F",)),
    "citations in two districts": FilterState(outcomes=("Citation",), districts=(DISTRICTS["3"], DISTRICTS["4"])),
    "two zips, warnings, men": FilterState(zips=("20902", "20910"), outcomes=("Warning",), genders=("M",)),
    "a zip with no stops": FilterState(zips=("20838",)),
}


@pytest.fixture
def wh(sample_warehouse, monkeypatch):
    """Point the dashboard at the sample warehouse; yield a read-only connection for direct SQL."""
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    con = duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True)
    yield con
    con.close()
    db.reset()


def where(f: FilterState, alias: str = "s", ignore: tuple[str, ...] = ()) -> tuple[str, list]:
    """An independent WHERE clause for the direct counts (not the dashboard's builder)."""
    parts, values = ["true"], []
    if f.date_from and "dates" not in ignore:
        parts.append(f"{alias}.date_of_stop >= ?")
        values.append(f.date_from)
    if f.date_to and "dates" not in ignore:
        parts.append(f"{alias}.date_of_stop <= ?")
        values.append(f.date_to)
    for name, column in (("races", "race"), ("genders", "gender"), ("zips", "zip5"),
                         ("outcomes", "outcome"), ("districts", "district")):
        chosen = getattr(f, name)
        if chosen and name not in ignore:
            parts.append(f"{alias}.{column} in ({', '.join('?' * len(chosen))})")
            values.extend(chosen)
    return " and ".join(parts), values


def scalar(con, sql, values=()):
    return con.execute(sql, list(values)).fetchall()[0][0]


@pytest.mark.parametrize("name", list(FILTERS))
def test_totals_count_stops_and_charges_like_a_direct_query(wh, name):
    f = FILTERS[name]
    clause, values = where(f)
    row = queries.totals(f).iloc[0]
    assert row["stops"] == scalar(wh, f"select count(*) from stops s where {clause}", values)
    # charges counted on the charge table itself (one row per charge), joined to the filtered stops
    assert row["charges"] == scalar(
        wh, f"select count(*) from moco_traffic_violations c join stops s on s.stop_id = c.stop_id where {clause}",
        values)
    assert row["stops_without_zip"] == scalar(wh, f"select count(*) from stops s where {clause} and s.zip5 is null",
                                              values)


@pytest.mark.parametrize("name", list(FILTERS))
def test_daily_and_monthly_series_add_up_to_the_totals(wh, name):
    f = FILTERS[name]
    clause, values = where(f)
    daily = queries.daily(f)
    monthly = queries.monthly(f)
    stops = scalar(wh, f"select count(*) from stops s where {clause}", values)
    assert daily["stops"].sum() == monthly["stops"].sum() == stops
    assert daily["date_of_stop"].is_monotonic_increasing
    if stops:
        busiest = daily.sort_values(["stops", "date_of_stop"], ascending=[False, True]).iloc[0]
        direct = scalar(wh, f"select count(*) from stops s where {clause} and s.date_of_stop = ?",
                        values + [pd.Timestamp(busiest["date_of_stop"]).date()])
        assert busiest["stops"] == direct


def test_residents_add_up_to_the_county_and_split_by_zip_without_double_counting(wh):
    county = queries.residents().iloc[0]
    assert county["residents"] == pytest.approx(scalar(
        wh, "select sum(totalpop) from census_tract where tractid like '24031%'"))
    assert county["black_alone"] == pytest.approx(scalar(
        wh, "select sum(totalpop * black / 100) from census_tract where tractid like '24031%'"))
    all_zips = [z for (z,) in wh.execute(
        "select distinct zip from zip_tract where tract like '24031%' order by 1").fetchall()]
    assert queries.residents(all_zips).iloc[0]["residents"] == pytest.approx(county["residents"])
    one = queries.residents(["20902"]).iloc[0]["residents"]
    assert 0 < one < county["residents"]


@pytest.mark.parametrize("name", ["everything", "black and hispanic women", "one zip in 2016"])
def test_zip_map_counts_each_zip_and_ignores_the_zip_filter(wh, name):
    f = FILTERS[name]
    clause, values = where(f, ignore=("zips",))
    m = queries.zip_map(f).set_index("zip5")
    direct = dict(wh.execute(
        f"select zip5, count(*) from stops s where {clause} and zip5 is not null group by zip5", values).fetchall())
    assert {z: n for z, n in m["stops"].items() if n} == direct
    assert m["residents_in_county"].sum() == pytest.approx(queries.residents().iloc[0]["residents"])
    assert m.index.is_monotonic_increasing


def test_location_grid_bins_located_stops_and_leaves_out_small_cells(wh):
    f = FILTERS["everything"]
    grid = queries.location_grid(f, 0.01, min_count=10)
    assert (grid["stops"] >= 10).all()
    all_cells = queries.location_grid(f, 0.01, min_count=1)
    located = scalar(wh, "select count(*) from stops where zip_status in ('matched', 'nearest') "
                         "and latitude is not null")
    assert all_cells["stops"].sum() == located
    assert grid["stops"].sum() < located
    top = grid.sort_values("stops").iloc[-1]
    assert top["stops"] == scalar(
        wh, "select count(*) from stops where zip_status in ('matched', 'nearest') "
            "and floor(latitude / 0.01) = ? and floor(longitude / 0.01) = ?",
        [int(top["cell_y"]), int(top["cell_x"])])


@pytest.mark.parametrize("name", ["everything", "citations in two districts"])
def test_weekday_hour_counts_match_and_sunday_is_zero(wh, name):
    f = FILTERS[name]
    clause, values = where(f)
    wk = queries.weekday_hour(f)
    assert wk["stops"].sum() == scalar(wh, f"select count(*) from stops s where {clause} and stop_hour is not null",
                                       values)
    sundays = scalar(wh, f"select count(*) from stops s where {clause} and stop_hour is not null "
                         "and dayname(date_of_stop) = 'Sunday'", values)
    assert wk.loc[wk["stop_weekday"] == 0, "stops"].sum() == sundays


COVERED_MATCH = """
    with covered as (select distinct date_of_stop from stops)
    select c.date_of_stop from covered c
    where c.date_of_stop between ? and ?
      and exists (select 1 from covered p where p.date_of_stop = c.date_of_stop - interval 1 year)
"""


@pytest.mark.parametrize("name", ["everything", "black and hispanic women", "one zip in 2016"])
def test_year_compare_counts_only_the_days_both_years_cover(wh, name):
    f = FILTERS[name]
    clause, values = where(f, ignore=("dates",))
    a, b = (date(2015, 1, 1), date(2015, 12, 31)), (date(2016, 1, 1), date(2016, 12, 31))
    pairs = tables.match_days(queries.covered_days()["date_of_stop"], a, b)
    days_b = [d for (d,) in wh.execute(COVERED_MATCH, [b[0], b[1]]).fetchall()]
    assert sorted(pairs["day_b"]) == sorted(days_b) and days_b, "2015 and 2016 share days with data"
    days_a = [d.replace(year=d.year - 1) for d in days_b]
    assert sorted(pairs["day_a"]) == sorted(days_a)
    out = queries.year_compare(f, "district", days_a, days_b, top_n=20)
    for days, col in ((days_a, "stops_a"), (days_b, "stops_b")):
        marks = ", ".join("?" for _ in days)
        direct = dict(wh.execute(
            f"select coalesce(district, '(unknown)'), count(*) from stops s where {clause} "
            f"and date_of_stop in ({marks}) group by 1", values + days).fetchall())
        got = {r.label: getattr(r, col) for r in out.itertuples() if getattr(r, col)}
        assert got == direct
    assert list(out["rank"]) == list(range(1, len(out) + 1))
    top = queries.year_compare(f, "description", days_a, days_b, top_n=3)
    assert len(top) <= 3 and top["stops_b"].is_monotonic_decreasing
    assert queries.year_compare(f, "district", [], days_b).empty


def test_compare_periods_matches_days_and_counts_like_sql(wh):
    f = FILTERS["black and hispanic women"]
    clause, values = where(f, ignore=("dates",))
    a, b = (date(2015, 1, 1), date(2015, 12, 31)), (date(2016, 1, 1), date(2016, 12, 31))
    row = tables.compare_periods(queries.covered_days(), queries.daily(f, ignore=("dates",)), a, b)
    days_b = [d for (d,) in wh.execute(COVERED_MATCH, [b[0], b[1]]).fetchall()]
    days_a = [d.replace(year=d.year - 1) for d in days_b]
    assert row["matched_days"] == len(days_b)
    assert row["covered_b"] == scalar(wh, "select count(distinct date_of_stop) from stops where stop_year = 2016")
    for days, col, all_col in ((days_a, "stops_a", "all_a"), (days_b, "stops_b", "all_b")):
        marks = ", ".join("?" for _ in days)
        assert row[col] == scalar(wh, f"select count(*) from stops s where {clause} and date_of_stop in ({marks})",
                                  values + days)
        assert row[all_col] == scalar(wh, f"select count(*) from stops where date_of_stop in ({marks})", days)


def test_stops_by_suppresses_small_cells_and_the_rest_add_up(wh):
    f = FILTERS["one zip in 2016"]
    clause, values = where(f)
    k = load_settings().small_count_threshold
    table = queries.stops_by(f, "race", "gender", suppress=True)
    assert table.loc[table["suppressed"] == 1, ["stops", "charges"]].isna().all().all()
    assert (table.loc[table["suppressed"] == 0, "stops"] >= k).all()
    raw = queries.stops_by(f, "race", "gender")
    assert raw["stops"].sum() == scalar(wh, f"select count(*) from stops s where {clause}", values)
    direct = dict(wh.execute(f"select race || '/' || gender, count(*) from stops s where {clause} group by 1",
                             values).fetchall())
    assert {f"{r.label}/{r.label2}": r.stops for r in raw.itertuples()} == direct


def test_a_cell_of_exactly_the_threshold_is_shown_and_one_below_is_not(wh, monkeypatch):
    """The threshold is "fewer than k stops": a cell of k is shown, k - 1 is suppressed."""
    f = FILTERS["one zip in 2016"]
    clause, values = where(f)
    sizes = dict(wh.execute(f"select race, count(*) from stops s where {clause} group by 1", values).fetchall())
    race, n = min(((r, c) for r, c in sizes.items() if c >= 2), key=lambda rc: rc[1])
    for k, suppressed in ((n, 0), (n + 1, 1)):
        monkeypatch.setenv("PIPELINE_SMALL_COUNT", str(k))
        row = queries.stops_by(f, "race", suppress=True).set_index("label").loc[race]
        assert int(row["suppressed"]) == suppressed, (race, n, k)
        assert (int(row["stops"]) == n) if not suppressed else pd.isna(row["stops"])


def test_stops_by_month_and_ignore(wh):
    f = FilterState(races=("BLACK",), date_from=date(2016, 1, 1), date_to=date(2016, 12, 31))
    by_month = queries.stops_by(f, "month")
    assert set(by_month["label"]) <= {f"2016{m:02d}" for m in range(1, 13)}
    by_race = queries.stops_by(f, "race", ignore=("races",))
    assert len(by_race) > 1  # the race filter was ignored


def test_outcomes_by_race_use_search_recorded_stops_as_denominator(wh):
    f = FILTERS["everything"]
    out = queries.outcomes_by_race(f).set_index("race")
    direct = wh.execute(
        "select coalesce(race, 'OTHER'), count(*), sum(case when outcome = 'Citation' then 1 else 0 end), "
        "sum(search_recorded), sum(case when search_recorded = 1 then searched else 0 end) "
        "from stops group by 1").fetchall()
    for race, n, cit, rec, searched in direct:
        assert out.loc[race, "stops"] == n
        assert out.loc[race, "citations"] == cit
        assert out.loc[race, "stops_search_recorded"] == rec
        assert out.loc[race, "searched"] == searched
    assert (out["warnings"] + out["seros"] + out["citations"] == out["stops"]).all()
    assert (out["searched"] <= out["stops_search_recorded"]).all()
    # the outcome filter is ignored: every outcome still shows up
    only_citations = queries.outcomes_by_race(FilterState(outcomes=("Citation",)))
    assert only_citations["warnings"].sum() > 0


def test_provenance_options_and_quality(wh, sample_warehouse):
    fresh = queries.provenance()
    assert fresh.stops == scalar(wh, "select count(*) from stops")
    assert fresh.charges == scalar(wh, "select count(*) from moco_traffic_violations")
    assert fresh.first_stop == scalar(wh, "select min(date_of_stop) from stops")
    assert fresh.is_sample and fresh.sample_charges == fresh.charges
    assert fresh.last_success_source == "sample"
    assert not fresh.is_stale(sample_warehouse.stale_after_days)
    assert fresh.is_stale(-1)
    options = queries.zip_options()
    stop_zips = {z for (z,) in wh.execute("select distinct zip5 from stops where zip5 is not null").fetchall()}
    assert stop_zips <= set(options)
    assert len(queries.county_zctas()) == 49 and {"20902", "20838"} <= set(options)
    cov = queries.year_coverage()
    assert cov["stops"].sum() == fresh.stops
    assert cov["days_covered"].sum() == scalar(wh, "select count(distinct date_of_stop) from stops")
    dq = queries.data_quality()
    assert "stops" in set(dq["measure"])
    assert len(queries.recent_runs(3)) >= 1


def test_values_are_bound_and_identifiers_come_from_allow_lists():
    f = FilterState(races=("BLACK'; drop table stops; --",), zips=("20902",))
    clause, params = queries.stop_filter(f)
    assert "drop" not in clause and "20902" not in clause
    assert "BLACK'; drop table stops; --" in params.values()
    with pytest.raises(KeyError):
        queries.stops_by(FilterState(), "race; drop table stops")


@pytest.mark.parametrize("clause", [
    "1 = 1 or 1 = 1",
    "1 = 1; drop table stops",
    "1 = 1 and s.race in (:f_races_0) or true",
    "1 = 1 and s.driver_city in (:x)",
    "1 = 1 and s.date_of_stop >= '2016-01-01'",
])
def test_a_filter_clause_not_made_of_the_templates_never_reaches_the_sql(wh, monkeypatch, clause):
    """The stop_filter slot's allow-list judges the text itself, not a list built from that text."""
    monkeypatch.setattr(queries, "stop_filter", lambda f, ignore=(): (clause, {}))
    with pytest.raises(ValueError, match="not in the allow-list"):
        queries.totals(FilterState())


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_clause_the_filters_build_passes_the_allow_list(name):
    for ignore in ((), ("dates",), ("races", "zips")):
        clause, _ = queries.stop_filter(FILTERS[name], ignore)
        assert queries.is_stop_filter(clause), clause


def test_a_secret_fills_in_only_when_the_environment_has_no_warehouse():
    assert queries.settings_env({}, secret="duckdb:///x.duckdb")["PIPELINE_WAREHOUSE"] == "duckdb:///x.duckdb"
    env = queries.settings_env({"PIPELINE_WAREHOUSE": "duckdb:///env.duckdb"}, secret="duckdb:///x.duckdb")
    assert env["PIPELINE_WAREHOUSE"] == "duckdb:///env.duckdb"


def test_a_committed_load_changes_the_cache_key(sample_warehouse_copy, monkeypatch):
    """Results are cached by warehouse version: after a load commits, the new numbers show."""
    from pipeline.warehouse import open_warehouse

    from pipeline import marts

    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse_copy.warehouse_url)
    monkeypatch.setattr(queries, "VERSION_TTL_S", 0.0)  # the version is re-read at every query
    before = int(queries.totals(FilterState()).iloc[0]["stops"])
    wh = open_warehouse(sample_warehouse_copy)
    old_reader = db._reader(wh)
    assert db._reader(wh) is old_reader  # one attached reader per published file, reused
    with wh.session() as s:  # the pipeline builds the next file beside it and renames it over
        s.execute("delete from stops where stop_year = 2016")
        s.execute("update pipeline_state set state_value = 'rebuild' where state_key = 'marts_version'")
        marts.refresh(s)  # as a load does after changing stops (here: a full build)
    after = int(queries.totals(FilterState()).iloc[0]["stops"])
    assert after < before
    assert db._reader(wh) is not old_reader
    # a query already running on the old reader still sees one consistent (old) snapshot
    assert old_reader.con.cursor().execute("select count(*) from wh.stops").fetchall()[0][0] == before
    db.reset()


def test_gather_returns_each_querys_result_in_order_like_running_them_one_by_one(wh):
    from functools import partial

    with queries.bypass_cache():
        calls = [partial(queries.totals, f) for f in FILTERS.values()] + [partial(queries.monthly, FILTERS["everything"])]
        together = queries.gather(*calls)
        one_by_one = [c() for c in calls]
    assert len(together) == len(calls)
    for got, expected in zip(together, one_by_one):
        pd.testing.assert_frame_equal(got, expected)


def test_gather_raises_the_error_of_a_failing_query(wh):
    from functools import partial

    def broken():
        return queries.run("no_such_query")

    with pytest.raises(FileNotFoundError, match="no_such_query"):
        queries.gather(partial(queries.totals, FilterState()), broken)


def test_gather_keeps_the_cache_bypass_of_the_calling_thread(wh, monkeypatch):
    calls = []
    real = queries._execute_cached

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(queries, "_execute_cached", counting)
    with queries.bypass_cache():
        queries.gather(lambda: queries.totals(FilterState()), lambda: queries.monthly(FilterState()))
    assert calls == []  # both ran uncached, on other threads
    queries.gather(lambda: queries.totals(FilterState()), lambda: queries.monthly(FilterState()))
    assert len(calls) == 2


class CountingVersions:
    kind = "duckdb"
    calls = 0

    def version(self):
        self.calls += 1
        return f"v{self.calls}"


def test_the_served_version_is_asked_at_most_every_few_seconds(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(queries.time, "monotonic", lambda: clock[0])
    wh = CountingVersions()
    assert queries.served_version("k-test", wh) == queries.served_version("k-test", wh) == "v1"
    clock[0] += queries.VERSION_TTL_S + 0.1  # a load committed meanwhile shows after the TTL
    assert queries.served_version("k-test", wh) == "v2" and wh.calls == 2
    queries._versions.pop("k-test")


def test_a_server_warehouse_version_is_asked_again_off_the_page_thread(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(queries.time, "monotonic", lambda: clock[0])
    wh = CountingVersions()
    wh.kind = "postgresql"
    assert queries.served_version("k-server", wh) == "v1"  # the first answer is waited for
    clock[0] += queries.VERSION_TTL_S + 0.1
    assert queries.served_version("k-server", wh) == "v1"  # expired: the known one serves while asked again
    queries._version_checks["k-server"].join(5)
    assert wh.calls == 2 and queries.served_version("k-server", wh) == "v2"
    queries._versions.pop("k-server")
