"""An incremental run touches only what changes: S3 traffic counted at the moto server, Delta statistics, folds.

The daily run must read and write in proportion to its batch, not to the table: it finds the
curated files holding the rows it replaces from the Delta log's per-file statistics (and the
warehouse, which holds exactly the zone's rows), reads only those, and stages the warehouse from
the local copies of the files it just wrote. The S3 cases count every request at the server
(tests/s3_traffic.py), so delta-rs's own requests are counted too.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Iterator

import duckdb
import pytest

from pipeline.config import SAMPLE_DIR, Settings
from pipeline.curated import CURATED_TABLE, CuratedError, CuratedFile, CuratedTable
from pipeline.extract.files import FileSource, SampleSource
from pipeline.extract.socrata_source import SocrataSource
from pipeline.lake import LocalLake, open_lake
from pipeline.load import default_zip_assigner, run_load
from pipeline.warehouse import open_warehouse
from pipeline.zones import FOLD_SHARE, files_holding, files_to_fold
from tests.s3_traffic import Traffic, fetch_traffic, object_gets

try:  # one module object whether tests/ or the project root is on sys.path
    from tests.fake_socrata import (  # noqa: F401 - sample_api_rows is a fixture
        BASE_UPDATED_AT, FAKE_APP_TOKEN, FakeSocrata, copy_rows, sample_api_rows, socrata_stamp)
except ImportError:  # pragma: no cover
    from fake_socrata import (  # type: ignore[no-redef]  # noqa: F401
        BASE_UPDATED_AT, FAKE_APP_TOKEN, FakeSocrata, copy_rows, sample_api_rows, socrata_stamp)

pytest_plugins = ["tests.s3_fixtures"]


# --------------------------------------------------------------------------------------------
# Which files a batch rewrites: pure functions over the Delta log's statistics
# --------------------------------------------------------------------------------------------


def cf(name: str, month: int, rows: int = 100, dates: tuple[int, int] | None = (1, 30),
       ids: tuple[str, str] | None = ("a", "m")) -> CuratedFile:
    lo, hi = (date(2025, month, dates[0]), date(2025, month, dates[1])) if dates else (None, None)
    return CuratedFile(f"{CURATED_TABLE}/year=2025/month={month}/{name}.parquet", 2025, month, rows, 0, lo, hi,
                       *(ids or (None, None)))


@pytest.mark.parametrize("row_id, day, holds", [
    ("c", date(2025, 9, 10), True),     # inside both ranges
    ("c", date(2025, 10, 10), False),   # another month
    ("c", date(2025, 9, 21), False),    # after the file's last stop date
    ("z", date(2025, 9, 10), False),    # after its largest row_id
    ("a", date(2025, 9, 5), True),      # the bounds are inclusive
])
def test_a_file_may_hold_a_row_only_inside_its_partition_and_its_statistics(row_id, day, holds) -> None:  # noqa: ANN001
    assert cf("f", 9, dates=(5, 20)).may_hold(row_id, day) is holds


def test_a_file_without_statistics_may_hold_any_row_of_its_partition() -> None:
    legacy = cf("legacy", 9, dates=None, ids=None)
    assert legacy.may_hold("zzz", date(2025, 9, 30)) and not legacy.may_hold("a", date(2025, 8, 1))


def test_only_the_files_that_may_hold_a_replaced_row_are_rewritten() -> None:
    early, late, other_keys, october = (cf("early", 9, dates=(1, 10)), cf("late", 9, dates=(11, 30)),
                                        cf("other_keys", 9, ids=("n", "z")), cf("october", 10))
    assert files_holding([early, late, other_keys, october], [("b", date(2025, 9, 12))]) == [late]
    assert files_holding([early, late, other_keys, october], []) == []


def test_small_files_of_a_month_are_folded_smallest_first_within_the_budget() -> None:
    files = [cf("backfill", 9, rows=4_000), cf("day1", 9, rows=300), cf("day2", 9, rows=200), cf("day3", 9, rows=250)]
    chosen = files_to_fold(files, batch_rows=250)  # budget FOLD_SHARE x 250 = 500 rows
    assert FOLD_SHARE == 2 and [f.key.rsplit("/", 1)[1] for f in chosen] == ["day2.parquet", "day3.parquet"]
    assert files_to_fold(files, batch_rows=10) == []  # nothing as small as the budget


# --------------------------------------------------------------------------------------------
# The Delta log carries each file's statistics
# --------------------------------------------------------------------------------------------


def test_every_committed_file_carries_its_row_id_and_stop_date_range(sample_warehouse: Settings) -> None:
    table = CuratedTable(LocalLake(sample_warehouse.lake_path))
    files = table.files()
    assert files and all(f.min_date and f.max_date and f.min_row_id and f.max_row_id for f in files)
    paths = [str(sample_warehouse.lake_path / f.key) for f in files]
    actual = {
        row[0]: row[1:] for row in duckdb.execute(
            "select filename, min(row_id), max(row_id), min(date_of_stop), max(date_of_stop), count(*) "
            "from read_parquet(?, filename = true, hive_partitioning = false) group by filename", [paths]).fetchall()
    }
    for f, path in zip(files, paths):
        assert actual[path] == (f.min_row_id, f.max_row_id, f.min_date, f.max_date, f.rows)


# --------------------------------------------------------------------------------------------
# On S3: what an incremental run reads, counted at the server
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zip_assigner():
    return default_zip_assigner()


@pytest.fixture
def fake(sample_api_rows: list[dict]) -> Iterator[FakeSocrata]:
    """The first 1,000 real rows (a 2019 export, then part of a 2017 one), each stamped a minute after
    the one before (the shared fixture stamps 100 rows an hour, which a lookback re-reads as a block)."""
    rows = copy_rows(sample_api_rows[:1000])
    for i, row in enumerate(rows):
        row[":created_at"] = row[":updated_at"] = socrata_stamp(BASE_UPDATED_AT + timedelta(minutes=i))
    with FakeSocrata(rows) as server:
        yield server


def api_settings(fake: FakeSocrata, lake_url: str, tmp_path: Path) -> Settings:
    """The fake's settings; a lookback of 36 s, so that a daily run re-reads a few rows, not an hour's."""
    from pipeline.config import load_settings

    return load_settings({
        "SOCRATA_DOMAIN": fake.url, "SOCRATA_DATASET": fake.dataset, "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN,
        "SOCRATA_PAGE_SIZE": "500", "SOCRATA_TIMEOUT": "2", "SOCRATA_MAX_RETRIES": "3",
        "SOCRATA_LOOKBACK_HOURS": "0.01", "PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "PIPELINE_LAKE": lake_url,
    })


def api_load(settings: Settings, zip_assigner, full: bool = False):  # noqa: ANN001, ANN201
    source = SocrataSource(settings, full=full, sleep=lambda s: None)
    return run_load(settings, source, "backfill" if full else "run", zip_assigner=zip_assigner, require_rows=full)


def lake_rows(table: CuratedTable) -> dict[str, date]:
    """row_id -> stop date of every row of the curated table's current version (each row_id once)."""
    dataset = table._table().to_pyarrow_dataset()  # noqa: F841 - read by DuckDB below
    rows = duckdb.sql("select row_id, date_of_stop from dataset").fetchall()
    assert len(rows) == len({r[0] for r in rows}), "a row_id is twice in the curated zone"
    return dict(rows)


def test_an_incremental_run_on_s3_reads_only_the_curated_files_it_replaces(
    fake: FakeSocrata, s3_env: str, s3_bucket: str, s3_lake_url: str, tmp_path: Path, zip_assigner,  # noqa: ANN001
) -> None:
    settings = api_settings(fake, s3_lake_url, tmp_path)
    api_load(settings, zip_assigner, full=True)
    table = CuratedTable(open_lake(settings))
    before_version, before = table.version(), {f.key: f for f in table.files()}
    before_rows = lake_rows(table)

    # Between runs: one stop's date edited into another month (its charge moves partition), one
    # description edited, one late row. The run also re-reads the rows of its lookback.
    ids = sorted(r[":id"] for r in fake.rows if r[":id"] in before_rows)
    moved, edited = ids[0], ids[1]
    old_day = before_rows[moved]
    new_day = date(old_day.year - 1 if old_day.month == 1 else old_day.year, 12 if old_day.month == 1 else old_day.month - 1, 15)
    fake.edit_row(moved, {"date_of_stop": f"{new_day.isoformat()}T00:00:00.000"})
    fake.edit_row(edited, {"description": "EDITED ON S3"})
    [late] = fake.insert_rows([{**fake.row(edited), ":id": None, "description": "LATE ON S3"}])

    fetch_traffic(s3_env, reset=True)
    result = api_load(settings, zip_assigner)
    requests = fetch_traffic(s3_env)

    assert result.status == "success" and result.lake_version == before_version + 1
    after = {f.key: f for f in table.files()}
    removed, added = set(before) - set(after), set(after) - set(before)
    read = [k.split("/", 1)[1] for k in object_gets(requests, s3_bucket)
            if f"/{CURATED_TABLE}/" in f"/{k}" and "/_delta_log/" not in k]
    # Every curated data file read is one the commit replaced, read once; none it wrote is read back.
    assert read and set(read) <= removed and len(read) == len(set(read))
    assert not set(read) & added
    assert len(removed) < len(before) // 2  # the table is not rewritten
    # The file that held the moved charge (found from its statistics and the warehouse's old date)
    # was replaced, and the zone holds every row once, where it now belongs.
    assert any(before[k].may_hold(moved, old_day) for k in removed)
    rows = lake_rows(table)
    assert rows[moved] == new_day and late in rows and len(rows) == len(before_rows) + 1 == result.warehouse_rows
    # Bytes too: the data read is the replaced files, a fraction of the table.
    data_bytes = sum(r["received"] for r in requests if r["bucket"] == s3_bucket and r["method"] == "GET"
                     and r["key"].split("/", 1)[-1] in removed)
    log = Traffic.of(requests, s3_bucket, f"lake/{CURATED_TABLE}/_delta_log/")
    assert data_bytes == sum(before[k].size for k in removed) < sum(f.size for f in before.values()) / 2
    assert Traffic.of(requests, s3_bucket, f"lake/{CURATED_TABLE}/").get_bytes == data_bytes + log.get_bytes


def test_a_curated_file_that_lost_rows_outside_the_pipeline_stops_the_merge_before_its_commit(
    sample_warehouse_copy: Settings,
) -> None:
    """A file rewritten outside the pipeline no longer has the size its Add action records: the merge
    names it before reading anything, and nothing is committed (tests/test_lake_integrity.py: the way back)."""
    lake = LocalLake(sample_warehouse_copy.lake_path)
    table = CuratedTable(lake)
    version = table.version()
    victim = max(table.files(), key=lambda f: f.rows)
    path = sample_warehouse_copy.lake_path / victim.key
    duckdb.execute("copy (select * from read_parquet(?, hive_partitioning = false) offset 1) to ? (format parquet)",
                   [str(path), f"{path}.short"])
    Path(f"{path}.short").replace(path)

    with pytest.raises(CuratedError, match=f"changed outside the pipeline: 1 file.*{victim.key}"):
        run_load(sample_warehouse_copy, SampleSource(), "backfill")
    assert CuratedTable(lake).version() == version


def test_a_warehouse_that_lost_a_row_outside_the_pipeline_stops_the_merge_before_its_commit(
    sample_warehouse_copy: Settings,
) -> None:
    """The merge trusts the warehouse to say which rows a batch replaces, and checks it: the files it
    rewrites must lose exactly those rows, or the lake and the warehouse disagree and nothing is committed."""
    lake = LocalLake(sample_warehouse_copy.lake_path)
    version = CuratedTable(lake).version()
    with duckdb.connect(str(sample_warehouse_copy.duckdb_path)) as con:
        con.execute("delete from moco_traffic_violations where row_id = (select min(row_id) from moco_traffic_violations)")

    with pytest.raises(CuratedError, match="disagree"):
        run_load(sample_warehouse_copy, SampleSource(), "backfill")
    assert CuratedTable(lake).version() == version


def test_a_big_batch_rewrites_its_months_and_ends_in_the_same_rows(sample_warehouse_copy: Settings,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Above LOOKUP_MAX_ROWS the merge replaces whole months (reading them) instead of asking the
    warehouse; a rerun either way leaves the same rows."""
    import pipeline.zones as zones

    lake = LocalLake(sample_warehouse_copy.lake_path)
    before = lake_rows(CuratedTable(lake))
    monkeypatch.setattr(zones, "LOOKUP_MAX_ROWS", 0)
    result = run_load(sample_warehouse_copy, FileSource([SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz"]), "run")
    assert result.status == "success" and lake_rows(CuratedTable(lake)) == before
    assert result.rows_inserted == result.rows_replaced > 0
