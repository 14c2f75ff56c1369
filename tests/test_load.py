"""The whole load on the bundled real sample: reconciliation, idempotency, crash safety, seed queries."""

from __future__ import annotations

import csv
import gzip
import threading
from pathlib import Path

import duckdb

from pipeline.curated import CuratedTable
import pytest

from pipeline.config import SAMPLE_DIR, Settings
from pipeline.extract.files import FileSource, SampleSource
from pipeline.lake import LocalLake
from pipeline.load import run_load
from pipeline.quality import QualityError
from pipeline.warehouse import open_warehouse

SEED_QUERY_ZIP = (
    "select a.ZIP5, count(*), sum(c.TotalPop), avg(c.Income), avg(c.Poverty), avg(c.Unemployment) "
    "from moco_traffic_violations a left join zip_tract b on a.ZIP5 = b.ZIP left join census_tract c "
    "on b.Tract = c.TractId group by a.ZIP5 order by 1"
)
SEED_QUERY_DATE = "select date_of_stop, count(*) from moco_traffic_violations group by date_of_stop order by 1"


def counts(settings: Settings) -> dict[str, int]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {
            t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
            for t in ("moco_traffic_violations", "stops", "quarantine_rows", "pipeline_runs")
        }


def test_sample_backfill_reconciles_raw_landing_quarantine_and_warehouse(sample_warehouse: Settings) -> None:
    with duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True) as con:
        run = con.execute(
            "select rows_raw, rows_landed, rows_quarantined, rows_curated, warehouse_rows, warehouse_stops, "
            "rows_with_zip, status from pipeline_runs where command = 'backfill' order by started_at desc limit 1"
        ).fetchall()[0]
        raw, landed, quarantined, curated, wh_rows, wh_stops, with_zip, status = run
        assert status == "success"
        assert raw == 11_983 + 4_991 + 999 + 439  # the four bundled files (SOURCES.md row counts)
        assert raw == landed + quarantined
        assert landed == curated == wh_rows
        assert con.execute("select count(*) from moco_traffic_violations").fetchall()[0][0] == wh_rows
        assert con.execute("select sum(n_charges) from stops").fetchall()[0][0] == wh_rows
        assert wh_stops < wh_rows  # several charges per stop
        assert con.execute("select count(*) from quarantine_rows").fetchall()[0][0] == quarantined
        assert 0 < with_zip < wh_rows  # 2012-2016 rows often lack coordinates
        null_rates = con.execute("select null_rates from pipeline_runs where status = 'success'").fetchall()[0][0]
        assert '"date_of_stop": 0.0' in null_rates


def test_lake_zones_hold_raw_landing_quarantine_and_curated(sample_warehouse: Settings) -> None:
    lake = LocalLake(sample_warehouse.lake_path)
    raw = lake.list("raw/source=sample")
    assert len(raw) == 4
    with gzip.open(lake.uri(next(k for k in raw if "nerox" in k)), "rb") as fh, gzip.open(
        SAMPLE_DIR / "mcpd_tv_sample_nerox_2019.csv.gz", "rb"
    ) as orig:
        assert fh.read() == orig.read()  # raw is exactly what was received
    assert lake.list("landing/") and lake.list("quarantine/")
    # curated: a Delta table partitioned by year/month; its rows (read through delta-rs) = the warehouse's
    table = CuratedTable(lake)
    assert table.exists() and any(f.year == 2016 for f in table.files())
    dataset = table._table().to_pyarrow_dataset()
    total = duckdb.sql("select count(*) from dataset").fetchall()[0][0]
    assert total == table.row_count() == counts(sample_warehouse)["moco_traffic_violations"]
    assert {f.key for f in table.files()} <= set(lake.list("curated/charges"))


def test_rerunning_the_same_backfill_changes_no_counts(sample_warehouse_copy: Settings) -> None:
    before = counts(sample_warehouse_copy)
    result = run_load(sample_warehouse_copy, SampleSource(), "backfill")
    after = counts(sample_warehouse_copy)
    assert result.rows_replaced == result.rows_inserted == before["moco_traffic_violations"]
    assert {k: after[k] for k in ("moco_traffic_violations", "stops", "quarantine_rows")} == {
        k: before[k] for k in ("moco_traffic_violations", "stops", "quarantine_rows")
    }
    assert after["pipeline_runs"] == before["pipeline_runs"] + 1


def test_seed_design_queries_run_unchanged(sample_warehouse: Settings) -> None:
    with duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True) as con:
        by_zip = con.execute(SEED_QUERY_ZIP).fetchall()
        by_date = con.execute(SEED_QUERY_DATE).fetchall()
        # The naive join repeats each charge once per tract of its ZIP (why the dashboard uses zip_demographics).
        naive = sum(r[1] for r in by_zip)
        total = con.execute("select count(*) from moco_traffic_violations").fetchall()[0][0]
        assert naive > total
    assert sum(r[1] for r in by_date) == total
    assert str(by_date[0][0]) >= "2012-01-01"


def test_a_crash_mid_load_keeps_serving_the_previous_data(sample_warehouse_copy: Settings, tmp_path: Path) -> None:
    before = counts(sample_warehouse_copy)
    bad = tmp_path / "export.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt") as src:
        bad.write_text(src.read())
    class CrashAfterExtract(FileSource):
        def extract(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            super().extract(*args, **kwargs)
            raise RuntimeError("simulated crash after extract")

    with pytest.raises(RuntimeError, match="simulated crash"):
        run_load(sample_warehouse_copy, CrashAfterExtract([bad]), "backfill")
    assert counts(sample_warehouse_copy)["moco_traffic_violations"] == before["moco_traffic_violations"]
    assert not sample_warehouse_copy.duckdb_path.with_name("warehouse.duckdb.next").exists()
    # The failure is in the run log; the next run converges.
    result = run_load(sample_warehouse_copy, FileSource([bad]), "backfill")
    assert result.status == "success"
    assert counts(sample_warehouse_copy)["moco_traffic_violations"] == before["moco_traffic_violations"]
    with duckdb.connect(str(sample_warehouse_copy.duckdb_path), read_only=True) as con:
        statuses = [r[0] for r in con.execute("select status from pipeline_runs order by started_at").fetchall()]
    assert statuses[-2:] == ["failed", "success"]


def test_a_failed_quality_check_rolls_back(sample_warehouse_copy: Settings, tmp_path: Path) -> None:
    before = counts(sample_warehouse_copy)
    empty = tmp_path / "empty.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt") as src:
        empty.write_text(src.readline())  # header only
    with pytest.raises(QualityError, match="extract not empty"):
        run_load(sample_warehouse_copy, FileSource([empty]), "backfill")
    assert counts(sample_warehouse_copy)["moco_traffic_violations"] == before["moco_traffic_violations"]


def test_the_dashboard_can_read_while_a_load_runs(sample_warehouse_copy: Settings, tmp_path: Path) -> None:
    wh = open_warehouse(sample_warehouse_copy)
    before = counts(sample_warehouse_copy)["moco_traffic_violations"]
    started, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def hold_session() -> None:
        with wh.session() as s:
            s.execute("delete from moco_traffic_violations")
            started.set()
            release.wait(10)
            raise RuntimeError("abandon this load")

    t = threading.Thread(target=lambda: pytest.raises(RuntimeError, hold_session))
    t.start()
    assert started.wait(10)
    seen.append(int(wh.query("select count(*) as n from moco_traffic_violations").iloc[0, 0]))
    release.set()
    t.join()
    assert seen == [before]  # a reader opened mid-load saw the previous data, not a half-load
    assert counts(sample_warehouse_copy)["moco_traffic_violations"] == before


def test_new_data_is_visible_to_readers_after_commit(sample_warehouse_copy: Settings, tmp_path: Path) -> None:
    wh = open_warehouse(sample_warehouse_copy)
    version = wh.version()
    with wh.session() as s:
        s.execute("delete from stops where stop_year = 2012")
    assert wh.version() != version
    assert int(wh.query("select count(*) as n from stops where stop_year = 2012").iloc[0, 0]) == 0


def test_date_window_loads_only_the_chosen_dates(settings: Settings) -> None:
    from pipeline.extract.files import DateWindow

    src = DateWindow(FileSource([SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz"]), None, None)
    from datetime import date

    src.since, src.until = date(2013, 1, 1), date(2013, 12, 31)
    result = run_load(settings, src, "backfill")
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        lo, hi = con.execute("select min(date_of_stop), max(date_of_stop) from moco_traffic_violations").fetchall()[0]
    assert str(lo) >= "2013-01-01" and str(hi) <= "2013-12-31"
    assert result.rows_raw == result.rows_landed + result.rows_quarantined


def test_missing_required_column_stops_the_run_naming_it(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "no_race.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt", newline="") as src:
        rows = list(csv.reader(src))
    i = rows[0].index("Race")
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([r[:i] + r[i + 1:] for r in rows[:50]])
    with pytest.raises(Exception, match="race"):
        run_load(settings, FileSource([path]), "backfill")


def test_a_lake_of_the_pre_delta_layout_is_migrated_and_adopted(sample_warehouse_copy: Settings) -> None:
    """An existing deployment upgrades in place: its year/month Parquet files become the Delta table."""
    import shutil

    lake = LocalLake(sample_warehouse_copy.lake_path)
    table = CuratedTable(lake)
    dataset = table._table().to_pyarrow_dataset()  # noqa: F841 - read by DuckDB below
    root = sample_warehouse_copy.lake_path / "curated" / "charges"
    legacy = duckdb.sql("select * exclude (year, month) replace (cast(time_of_stop as time) as time_of_stop), "
                        "year, month from dataset").to_arrow_table()
    shutil.rmtree(root)
    for (year, month) in {(y, m) for y, m in zip(legacy["year"].to_pylist(), legacy["month"].to_pylist())}:
        part = root / f"year={year}" / f"month={month:02d}"
        part.mkdir(parents=True)
        duckdb.sql(f"copy (select * exclude (year, month) from legacy where year = {year} and month = {month}) "
                   f"to '{part / 'part.parquet'}' (format parquet)")
    with duckdb.connect(str(sample_warehouse_copy.duckdb_path)) as con:  # a warehouse from before the version was kept
        con.execute("delete from pipeline_state where state_key = 'curated_lake_version'")
    before = counts(sample_warehouse_copy)

    result = run_load(sample_warehouse_copy, SampleSource(), "backfill")

    after = counts(sample_warehouse_copy)
    assert result.status == "success" and after["moco_traffic_violations"] == before["moco_traffic_violations"]
    assert after["stops"] == before["stops"] and after["pipeline_runs"] == before["pipeline_runs"] + 1
    assert CuratedTable(lake).exists() and CuratedTable(lake).row_count() == before["moco_traffic_violations"]
    assert not [k for k in lake.list("curated/charges") if k.endswith("/part.parquet")]  # old files gone


def test_a_dead_runs_work_folders_are_removed_and_other_files_kept(tmp_path: Path) -> None:
    """The start of a run removes every ``batch-*`` work folder (this run holds the lock and has made
    none yet, so each belongs to a run that is over); the crash matrix shows it after real kills."""
    from pipeline.load import _clean_dead_runs

    spill = tmp_path / "lake" / "_tmp"
    for name in ("batch-run-1", "batch-run-2"):
        (spill / name / "landing").mkdir(parents=True)
        (spill / name / "landing" / "part-0.parquet").write_bytes(b"x")
    (spill / "notes.txt").write_text("not a work folder")
    lake = LocalLake(tmp_path / "lake")

    _clean_dead_runs([], lake, spill, Settings(lake_url=str(tmp_path / "lake")))

    assert sorted(p.name for p in spill.iterdir()) == ["notes.txt"]
