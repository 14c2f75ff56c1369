"""The stop cubes: every dashboard answer read from a cube equals the answer read from ``stops``, on
DuckDB and PostgreSQL; a load refreshes exactly the months it touched and ends equal to a full build."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline import marts
from pipeline.config import Settings
from pipeline.extract.files import FileSource, SampleSource
from pipeline.load import run_load
from pipeline.warehouse import open_warehouse

try:  # one module object whether tests/ or the project root is on sys.path
    from tests.pg_fixtures import *  # noqa: F401,F403 - fixtures
    from tests.pg_fixtures import DASHBOARD_CALLS
    from tests.handmade import charge, write_csv
except ImportError:  # pragma: no cover
    from pg_fixtures import *  # type: ignore[no-redef]  # noqa: F401,F403
    from pg_fixtures import DASHBOARD_CALLS  # type: ignore[no-redef]
    from handmade import charge, write_csv  # type: ignore[no-redef]

BACKENDS = ["duckdb", "postgresql"]

# Filters that send the queries to different cubes: none, people, place, both, whole months, odd days.
FILTERS = {
    "none": {},
    "people": {"races": ("BLACK", "HISPANIC"), "genders": ("M",)},
    "place": {"zips": ("20902", "20906"), "districts": ("4th District, Wheaton",)},
    "people+place": {"outcomes": ("Citation",), "zips": ("20902", "20910", "20906")},
    "whole months": {"date_from": date(2016, 1, 1), "date_to": date(2016, 12, 31), "races": ("WHITE",)},
    "odd days": {"date_from": date(2016, 3, 5), "date_to": date(2017, 2, 11), "districts": ("3rd District, Silver Spring",)},
}


@pytest.fixture
def backend_warehouse(request: pytest.FixtureRequest) -> Settings:
    name = request.param
    return request.getfixturevalue("sample_warehouse" if name == "duckdb" else "pg_sample_warehouse")


# ------------------------------------------------------------------------------------ routing


def test_each_query_reads_the_smallest_cube_keeping_its_columns() -> None:
    assert marts.covering([], day=False).name == "cube_month"
    assert marts.covering(["date_of_stop"], day=True).name == "cube_day"
    assert marts.covering(["race"], day=False).name == "cube_month_people"
    assert marts.covering(["race", "stop_weekday"], day=True).name == "cube_day_people"  # weekday is a day's
    assert marts.covering(["zip5", "date_of_stop"], day=True).name == "cube_day_place"
    assert marts.covering(["race", "zip5"], day=False).name == "cube_month_all"
    assert marts.covering(["race", "zip5"], day=True) is None  # too many cells by day: the stops answer
    assert marts.covering(["stop_weekday", "stop_hour", "gender"], day=False).name == "cube_all_hour"
    assert marts.covering(["stop_weekday", "stop_hour", "gender", "date_of_stop"], day=False).name == "cube_month_hour_people"
    assert marts.covering(["stop_hour", "date_of_stop"], day=True) is None  # no day x hour cube
    assert marts.covering(["top_description", "zip5"], day=False).name == "cube_all_description"
    assert marts.covering(["top_description", "date_of_stop"], day=False).name == "cube_day_description"
    assert marts.covering(["top_description", "date_of_stop", "race"], day=False) is None
    assert marts.covering(["cell_size", "cell_y", "cell_x", "race"], day=False).name == "cube_all_grid"
    # An all-time cube keeps only what it exists for: never the answer to a question without it.
    assert marts.covering(["race", "outcome", "zip5"], day=False).name == "cube_month_all"


def test_coarse_cubes_are_rolled_up_from_finer_ones_refreshed_before_them() -> None:
    order = [(cube.name, source.name if source else None) for cube, source in marts.refresh_order()]
    assert order == [
        ("cube_month_hour_people", None), ("cube_day_place", None), ("cube_month_all", None), ("cube_all_hour", None),
        ("cube_day_description", None), ("cube_day_people", None), ("cube_all_description", None),
        ("cube_all_grid", None), ("cube_month_place", "cube_month_all"), ("cube_month_hour", "cube_month_hour_people"),
        ("cube_month_people", "cube_day_people"), ("cube_day", "cube_day_people"), ("cube_month", "cube_day"),
    ]


@pytest.mark.parametrize(("date_from", "date_to", "whole"), [
    (None, None, True), (date(2016, 1, 1), None, True), (None, date(2016, 2, 29), True),
    (date(2016, 1, 1), date(2016, 12, 31), True), (date(2016, 1, 2), None, False),
    (None, date(2016, 2, 28), False), (date(2016, 3, 1), date(2016, 3, 30), False),
])
def test_only_whole_months_can_be_read_from_a_month_cube(date_from, date_to, whole) -> None:  # noqa: ANN001
    from dashboard import queries as q

    assert q.month_aligned(date_from, date_to) is whole


# ------------------------------------------------------------------ cube answers = stops answers


@pytest.mark.parametrize("backend_warehouse", BACKENDS, indirect=True)
@pytest.mark.parametrize("filters", list(FILTERS), ids=list(FILTERS))
def test_every_dashboard_query_answers_the_same_from_the_cubes_as_from_the_stops(
    backend_warehouse: Settings, filters: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import queries as q
    from dashboard.filters import FilterState

    monkeypatch.setenv("PIPELINE_WAREHOUSE", backend_warehouse.warehouse_url)
    f = FilterState(**FILTERS[filters])
    sources: list[str] = []
    plain_facts = q.facts

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        sources.append(plain_facts(*args, **kwargs))
        return sources[-1]

    monkeypatch.setattr(q, "facts", spy)
    with q.bypass_cache():
        assert q.marts_ready()
        for name, (call, filtered) in DASHBOARD_CALLS.items():
            if not filtered and filters != "none":
                continue
            from_cubes = call(q, f)
            with q.stops_only():
                from_stops = call(q, f)
            if isinstance(from_cubes, pd.DataFrame):
                pd.testing.assert_frame_equal(from_cubes, from_stops, obj=name)
            else:
                assert from_cubes == from_stops, name
        for dim in q.DIMENSIONS:  # every grouping, suppressed as the Data page does
            from_cubes = q.stops_by(f, dim, "outcome", suppress=True)
            with q.stops_only():
                pd.testing.assert_frame_equal(from_cubes, q.stops_by(f, dim, "outcome", suppress=True), obj=dim)
    # The check compared cubes with the stops, not the stops with themselves.
    assert any(s in marts.CUBE_NAMES for s in sources), sources


def test_a_warehouse_without_this_codes_cubes_is_read_from_the_stops(
    sample_warehouse_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import db
    from dashboard import queries as q
    from dashboard.filters import FilterState

    db.reset()
    with duckdb.connect(str(sample_warehouse_copy.duckdb_path)) as con:
        con.execute("update pipeline_state set state_value = 'cubes-0' where state_key = 'marts_version'")
        con.execute("delete from cube_month_people")  # stale cubes must not be read
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse_copy.warehouse_url)
    with q.bypass_cache():
        assert not q.marts_ready()
        assert q.facts(FilterState(races=("WHITE",))).lstrip().startswith("(")
        assert int(q.totals(FilterState(races=("WHITE",)))["stops"].iloc[0]) > 0
    db.reset()


# ---------------------------------------------------------------- refresh = full build


CELL_SIZES = "(select cast(0.01 as double precision) as cell_size union all select cast(0.005 as double precision))"


def _keys(cube: marts.Cube, computed: bool) -> list[tuple[str, str]]:
    """(expression over stops, the cube's column) for each key of ``cube``."""
    if cube.grain == "all":
        cells = {"cell_size": "g.cell_size", "cell_y": "cast(floor(latitude / g.cell_size) as integer)",
                 "cell_x": "cast(floor(longitude / g.cell_size) as integer)"}
        return [(cells.get(d, d) if computed else d, d) for d in sorted(cube.dims)]
    time_key = "date_of_stop" if cube.grain == "day" else "stop_year * 100 + stop_month"
    return [(time_key, time_key)] + [(d, d) for d in sorted(cube.dims)]


def expected_cube(con_query, cube: marts.Cube) -> pd.DataFrame:  # noqa: ANN001
    """The cube as the test computes it straight from ``stops`` (its own SQL, not the pipeline's)."""
    keys = [expr for expr, _ in _keys(cube, computed=True)]
    searched = "" if cube.grain == "all" else ", sum(case when search_recorded = 1 then searched else 0 end) as searched"
    source = "stops"
    if "cell_size" in cube.dims:  # located stops, once per cell size
        source = (f"stops cross join {CELL_SIZES} as g where zip_status in ('matched', 'nearest') "
                  "and latitude is not null and longitude is not null")
    sql = (f"select {', '.join(f'{k} as k{i}' for i, k in enumerate(keys))}, count(*) as stops, "
           f"sum(n_charges) as charges{searched} from {source} group by {', '.join(keys)}")
    return _sorted(con_query(sql))


def actual_cube(con_query, cube: marts.Cube) -> pd.DataFrame:  # noqa: ANN001
    keys = [col for _, col in _keys(cube, computed=False)]
    searched = "" if cube.grain == "all" else ", searched"
    sql = f"select {', '.join(f'{k} as k{i}' for i, k in enumerate(keys))}, stops, charges{searched} from {cube.name}"
    return _sorted(con_query(sql))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({c: "int64" for c in ("stops", "charges", "searched") if c in df.columns})
    df = df.astype({c: str for c in df.columns if c.startswith("k")})
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def assert_cubes_equal_the_stops(settings: Settings) -> None:
    wh = open_warehouse(settings)
    for cube in marts.CUBES:
        pd.testing.assert_frame_equal(actual_cube(wh.query, cube), expected_cube(wh.query, cube), obj=cube.name)


@pytest.fixture
def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "duckdb":
        return Settings(warehouse_url=f"duckdb:///{tmp_path / 'wh.duckdb'}", lake_url=str(tmp_path / "lake"))
    return request.getfixturevalue("pg_settings")


@pytest.mark.parametrize("backend_settings", BACKENDS, indirect=True)
def test_loads_refresh_the_months_they_touch_and_equal_a_full_build(backend_settings: Settings, tmp_path: Path) -> None:
    settings = backend_settings
    run_load(settings, SampleSource(), "backfill")
    assert_cubes_equal_the_stops(settings)
    # New stops in a month the sample has and in one it lacks; one charge added to an existing stop's day.
    extra = write_csv(tmp_path / "extra.csv", [
        charge(**{"Date Of Stop": "03/01/2016", "Time Of Stop": "10:00:00"}),
        charge(**{"Date Of Stop": "03/01/2016", "Time Of Stop": "10:00:00", "Charge": "21-201(a1)",
                  "Violation Type": "Warning"}),
        charge(**{"Date Of Stop": "07/04/2018", "Race": "ASIAN", "Latitude": "39.0400", "Longitude": "-77.0500"}),
    ])
    result = run_load(settings, FileSource([extra]), "run")
    assert result.status == "success" and result.changes["stops_added"] == 2
    assert_cubes_equal_the_stops(settings)
    month_2018 = open_warehouse(settings).query(
        "select sum(stops) as n from cube_month_people where stop_year = 2018 and race = 'ASIAN'")
    assert int(month_2018["n"].iloc[0]) == 1


def test_a_stop_moved_to_another_month_leaves_both_months_right(tmp_path: Path) -> None:
    """An API edit can move a charge's date: its old month loses it, its new month gains it."""
    settings = Settings(warehouse_url=f"duckdb:///{tmp_path / 'wh.duckdb'}", lake_url=str(tmp_path / "lake"))
    first = write_csv(tmp_path / "a.csv", [charge(), charge(**{"Date Of Stop": "05/02/2016"})])
    run_load(settings, FileSource([first]), "backfill")
    wh = open_warehouse(settings)
    # Rewrite one stop's charges in place, as a re-stamped API row would: same row ids, new date.
    with wh.session() as s:
        s.execute("create temp table affected_stops as select stop_id from stops where date_of_stop = date '2016-03-01'")
        s.execute("update moco_traffic_violations set date_of_stop = date '2016-08-15', stop_month = 8 "
                  "where date_of_stop = date '2016-03-01'")
        from pipeline.warehouse.base import rebuild_stops

        rebuild_stops(s)
        s.execute("drop table affected_stops")
        marts.refresh(s)
    assert_cubes_equal_the_stops(settings)
    months = wh.query("select stop_month, stops from cube_month order by stop_month")
    assert months.to_dict("list") == {"stop_month": [5, 8], "stops": [1, 1]}  # March is gone, not left at 1


def test_a_changed_cube_definition_rebuilds_every_cube_on_the_next_run(sample_warehouse_copy: Settings) -> None:
    settings = sample_warehouse_copy
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("update pipeline_state set state_value = 'cubes-0' where state_key = 'marts_version'")
        con.execute("delete from cube_day_place")
        con.execute("insert into cube_month select * from cube_month")  # stale rows a refresh must not keep
    # What a quiet run (nothing new) does first: bring the marts to this code's definition.
    wh = open_warehouse(settings)
    with wh.session() as s:
        marts.ensure(s)
    assert_cubes_equal_the_stops(settings)
    assert wh.query("select state_value from pipeline_state where state_key = 'marts_version'").iloc[0, 0] == marts.MARTS_VERSION



# ------------------------------------------- small marts kept month by month = full recount

SMALL_MARTS = {"mart_data_quality": "measure", "mart_provenance": "charges", "mart_data_sources": "source, file_name"}


def small_marts(wh) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    return {t: wh.query(f"select * from {t} order by {order}") for t, order in SMALL_MARTS.items()}


def recounted(wh) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    """The three small marts counted by the test's own SQL from every charge and stop."""
    c = wh.query(
        "select count(*) as n, sum(case when latitude is null then 1 else 0 end) as no_loc, "
        "sum(case when zip5 is null then 1 else 0 end) as no_zip, "
        "sum(case when zip_status = 'outside_county' then 1 else 0 end) as outside, "
        "sum(case when race is null or race = 'OTHER' then 1 else 0 end) as race, "
        "sum(case when gender is null or gender = 'U' then 1 else 0 end) as gender, "
        "sum(case when source = 'sample' then 1 else 0 end) as sample, "
        "min(date_of_stop) as first_stop, max(date_of_stop) as last_stop from moco_traffic_violations").iloc[0]
    s = wh.query("select count(*) as n, sum(search_recorded) as searched from stops").iloc[0]
    q = int(wh.query("select count(*) as n from quarantine_rows").iloc[0, 0])
    quality = pd.DataFrame({"measure": ["charges (rows)", "charges located outside the county", "charges with gender unknown",
                                        "charges with race OTHER or missing", "charges without location",
                                        "charges without ZIP5", "quarantined rows (all loads)", "stops",
                                        "stops with search fields recorded"],
                            "value": [c.n, c.outside, c.gender, c.race, c.no_loc, c.no_zip, q, s.n, s.searched],
                            "denominator": [c.n] * 6 + [None, s.n, s.n]})
    provenance = pd.DataFrame({"charges": [c.n], "sample_charges": [c["sample"]], "stops": [s.n],
                               "first_stop": [c.first_stop], "last_stop": [c.last_stop]})
    sources = wh.query(
        "select source, case when source = 'file' then source_file end as file_name, count(*) as charges, "
        "sum(case when seq_id like '00000000-%' then 1 else 0 end) as synthetic_charges from moco_traffic_violations "
        "group by source, case when source = 'file' then source_file end order by source, file_name")
    return {"mart_data_quality": quality, "mart_provenance": provenance, "mart_data_sources": sources}


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        if col in ("first_stop", "last_stop"):
            df[col] = pd.to_datetime(df[col]).dt.date.astype(str)
        elif col not in ("measure", "source", "file_name"):
            df[col] = df[col].astype("Int64")
        else:
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.sort_values(list(df.columns[:2])).reset_index(drop=True)


def assert_small_marts_equal(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    for name in SMALL_MARTS:
        pd.testing.assert_frame_equal(_comparable(left[name]), _comparable(right[name]), obj=name, check_dtype=False)


@pytest.mark.parametrize("backend_settings", BACKENDS, indirect=True)
def test_small_marts_kept_month_by_month_equal_a_full_rebuild_and_a_recount(backend_settings: Settings,
                                                                          tmp_path: Path) -> None:
    """What the Data page and every header show (data quality, provenance, data sources) is summed from
    month aggregates a load refreshes only for the months it touched: after loads that add charges
    to old and new months and an edit that moves a stop to another month, it equals both the same
    marts rebuilt in full and the test's own count over every charge."""
    settings = backend_settings
    run_load(settings, SampleSource(), "backfill")
    wh = open_warehouse(settings)
    assert_small_marts_equal(small_marts(wh), recounted(wh))
    extra = write_csv(tmp_path / "extra.csv", [
        charge(**{"Date Of Stop": "03/01/2016", "Time Of Stop": "10:00:00", "Race": "OTHER"}),
        charge(**{"Date Of Stop": "03/01/2016", "Time Of Stop": "10:00:00", "Charge": "21-201(a1)",
                  "Violation Type": "Warning", "Latitude": "", "Longitude": "", "Gender": "U"}),
        charge(**{"Date Of Stop": "07/04/2017", "Race": "ASIAN", "Latitude": "39.0400", "Longitude": "-77.0500"}),
        charge(**{"Date Of Stop": "07/04/2018", "Latitude": "38.5000", "Longitude": "-76.5000"}),
    ])
    assert run_load(settings, FileSource([extra]), "run").status == "success"
    # An edit that moves one stop of the file to another month (as a re-stamped API row would).
    with wh.session() as s:
        s.execute("create temp table affected_stops as select stop_id from stops where date_of_stop = date '2018-07-04'")
        s.execute("update moco_traffic_violations set date_of_stop = date '2019-02-11', stop_year = 2019, stop_month = 2 "
                  "where date_of_stop = date '2018-07-04' and source = 'file'")
        from pipeline.warehouse.base import rebuild_stops

        rebuild_stops(s)
        s.execute("drop table affected_stops")
        assert marts.refresh(s) == "incremental"
    incremental = small_marts(wh)
    assert int(incremental["mart_provenance"]["charges"].iloc[0]) == int(recounted(wh)["mart_provenance"]["charges"].iloc[0])
    assert_small_marts_equal(incremental, recounted(wh))
    with wh.session() as s:  # the same marts built in full, from every month
        s.execute("update pipeline_state set state_value = 'cubes-0' where state_key = 'marts_version'")
        assert marts.refresh(s) == "full"
    assert_small_marts_equal(incremental, small_marts(wh))


@pytest.mark.parametrize("backend_settings", BACKENDS, indirect=True)
def test_a_warehouse_that_lost_a_charge_the_lake_holds_fails_the_next_load(backend_settings: Settings,
                                                                          tmp_path: Path) -> None:
    """The load's "curated zone = warehouse" check reads month totals the loads keep, not a count of
    every charge: a warehouse edited outside the pipeline (a charge and its stop deleted, its marts
    refreshed) must still fail the next load, naming the month, and publish nothing."""
    settings = backend_settings
    run_load(settings, SampleSource(), "backfill")
    wh = open_warehouse(settings)
    lost = wh.query("select row_id, stop_year, stop_month from moco_traffic_violations order by row_id limit 1").iloc[0]
    with wh.session() as s:
        s.execute("create temp table affected_stops as select stop_id from moco_traffic_violations where row_id = :r",
                  {"r": lost.row_id})
        s.execute("delete from moco_traffic_violations where row_id = :r", {"r": lost.row_id})
        from pipeline.warehouse.base import rebuild_stops

        rebuild_stops(s)
        s.execute("drop table affected_stops")
        marts.refresh(s)
    before = wh.query("select count(*) as n from moco_traffic_violations").iloc[0, 0]
    other = "01/15/2013" if (lost.stop_year, lost.stop_month) != (2013, 1) else "02/15/2013"
    extra = write_csv(tmp_path / "extra.csv", [charge(**{"Date Of Stop": other})])  # another month
    month = f"{int(lost.stop_year)}-{int(lost.stop_month):02d}"
    with pytest.raises(Exception, match=rf"curated zone = warehouse.*months that differ: {month}"):
        run_load(settings, FileSource([extra]), "run")
    assert wh.query("select count(*) as n from moco_traffic_violations").iloc[0, 0] == before
