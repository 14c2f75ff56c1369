"""The Socrata load end to end against the local fake SODA server: nothing lost, nothing duplicated.

Every case ends by comparing the warehouse with the fake server's rows. Each row id the server
holds is in the warehouse exactly once, or in quarantine_rows. The warehouse holds no other row,
and each row's values equal the server's current values (compared row by row, then as one
checksum). No internet. Sleeps are injected no-ops, so the backoff is recorded, not waited out.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pytest

from pipeline.config import PROJECT_ROOT, Settings
from pipeline.extract.files import FileSource
from pipeline.extract.socrata import SchemaError
from pipeline.extract.socrata_source import SocrataSource
from pipeline.contract import SchemaContractError
from pipeline.curated import CuratedTable
from pipeline.reconcile import ReconcileError, reconcile
from pipeline.lake import LocalLake
from pipeline.load import default_zip_assigner, run_load
from pipeline.runlog import read_watermark
from pipeline.quality import QualityError
from pipeline.warehouse import open_warehouse

try:  # one module object whether tests/ or the project root is on sys.path
    from tests.fake_socrata import (  # noqa: F401 - pytest fixtures
        FAKE_APP_TOKEN,
        FakeSocrata,
        copy_rows,
        fake_socrata,
        find_sample,
        parse_stamp,
        sample_api_rows,
        socrata_settings,
    )
except ImportError:  # pragma: no cover
    from fake_socrata import (  # type: ignore[no-redef]  # noqa: F401
        FAKE_APP_TOKEN,
        FakeSocrata,
        copy_rows,
        fake_socrata,
        find_sample,
        parse_stamp,
        sample_api_rows,
        socrata_settings,
    )

# API field -> warehouse column, compared row by row (the values a resident sees on the dashboard).
COMPARED = {
    "date_of_stop": "date_of_stop", "time_of_stop": "time_of_stop", "subagency": "subagency",
    "description": "description", "location": "location", "violation_type": "violation_type",
    "charge": "charge", "race": "race", "gender": "gender", "make": "make", "model": "model", "color": "color",
}
COMPARED_INDEX = {field: i for i, field in enumerate(COMPARED)}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def zip_assigner():
    return default_zip_assigner()  # ~3 s to build; shared by every load in this file


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def api_settings(socrata_settings: Settings, tmp_path: Path) -> Settings:
    """The fake server's settings (page size 500, 2 s timeout, 3 retries) + a fresh warehouse and lake.

    The lookback is 1 h: the fake's 3,000 rows span 25 h of ``:updated_at``, so the default 72 h
    would make every incremental run re-read all of them (correct, but slow for a test).
    """
    return socrata_settings.with_overrides(
        warehouse_url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}", lake_url=str(tmp_path / "lake"),
        socrata_lookback_hours=1.0,
    )


@pytest.fixture
def small_fake(sample_api_rows: list[dict]) -> Iterator[FakeSocrata]:
    """The first 1,000 real rows (one 2019 export, then part of a 2017 one): for cases that need no more."""
    with FakeSocrata(copy_rows(sample_api_rows[:1000])) as fake:
        yield fake


def _small_settings(fake: FakeSocrata, root: Path) -> Settings:
    from pipeline.config import load_settings

    return load_settings({
        "SOCRATA_DOMAIN": fake.url, "SOCRATA_DATASET": fake.dataset, "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN,
        "SOCRATA_PAGE_SIZE": "200", "SOCRATA_TIMEOUT": "2", "SOCRATA_MAX_RETRIES": "3", "SOCRATA_LOOKBACK_HOURS": "1",
        "PIPELINE_WAREHOUSE": f"duckdb:///{root / 'warehouse.duckdb'}", "PIPELINE_LAKE": str(root / "lake"),
    })


@pytest.fixture
def small_settings(small_fake: FakeSocrata, tmp_path: Path) -> Settings:
    """Settings for ``small_fake``: page size 200 (5 pages), 2 s timeout, 3 retries, 1 h lookback."""
    return _small_settings(small_fake, tmp_path)


@pytest.fixture(scope="module")
def small_backfilled(sample_api_rows: list[dict], zip_assigner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One backfill of ``small_fake``'s 1,000 rows, made once for the module (warehouse + lake).

    Ten cases start from exactly this state; each gets a private copy (:func:`backfilled`) instead
    of loading the same rows again. The server that served it is gone; ``small_fake`` holds the same
    rows with the same ids and stamps, so the copy is what a backfill from it would have made.
    """
    root = tmp_path_factory.mktemp("small_backfilled")
    with FakeSocrata(copy_rows(sample_api_rows[:1000])) as fake:
        result, _ = load(_small_settings(fake, root), zip_assigner, Sleeps(), full=True)
    assert result.status == "success"
    return root


def backfilled(settings: Settings, template: Path) -> None:
    """Give ``settings``' (empty) warehouse and lake the module's backfill: a private copy."""
    import shutil

    shutil.copyfile(template / "warehouse.duckdb", settings.duckdb_path)
    shutil.copytree(template / "lake", settings.lake_path)


class CrashAfterExtract(SocrataSource):
    """The API source, dying right after its last page is read and written to raw (before the load)."""

    def extract(self, *args: Any, **kwargs: Any):  # noqa: ANN201
        result = super().extract(*args, **kwargs)
        finish = result.finish

        def crash(con):  # noqa: ANN001, ANN202
            finish(con)
            raise RuntimeError("simulated crash after extract")

        result.finish = crash
        return result


def load(settings: Settings, zip_assigner, sleeps, *, full: bool = False, crash_after_extract: bool = False,
         **kwargs: Any):
    """One load through SocrataSource: ``backfill`` when full, else the daily ``run``."""
    source_kw = {k: kwargs.pop(k) for k in ("since", "until") if k in kwargs}
    source = (CrashAfterExtract if crash_after_extract else SocrataSource)(settings, full=full, sleep=sleeps, **source_kw)
    command = "backfill" if full else "run"
    result = run_load(settings, source, command, zip_assigner=zip_assigner, require_rows=full, **kwargs)
    return result, source


def _clean(value: Any, upper: bool = False) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text.upper() if upper else text


def server_fingerprints(fake: FakeSocrata) -> dict[str, tuple]:
    """row_id -> compared values, from the fake server's current rows (API shape)."""
    out = {}
    with fake.lock:
        for row in fake.rows:
            values = []
            for field in COMPARED:
                value = row.get(field)
                if field == "date_of_stop" and isinstance(value, str):
                    value = value[:10]
                values.append(_clean(value, upper=field in ("race", "gender")))
            out[row[":id"]] = tuple(values)
    return out


def warehouse_fingerprints(settings: Settings) -> dict[str, tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        cols = ", ".join(COMPARED.values())
        rows = con.execute(f"select row_id, {cols} from moco_traffic_violations").fetchall()
    out: dict[str, tuple] = {}
    for row_id, *values in rows:
        assert row_id not in out, f"duplicate row_id {row_id} in the warehouse"
        out[row_id] = tuple(_clean(v.isoformat() if hasattr(v, "isoformat") else v) for v in values)
    return out


def quarantined_ids(settings: Settings) -> set[str]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return {r[0] for r in con.execute("select row_id from quarantine_rows where row_id is not null").fetchall()}


def checksum(fingerprints: dict[str, tuple]) -> str:
    digest = hashlib.sha256()
    for row_id in sorted(fingerprints):
        digest.update(json.dumps([row_id, *fingerprints[row_id]]).encode())
    return digest.hexdigest()


def assert_matches_server(settings: Settings, fake: FakeSocrata, *, also_here: set[str] = frozenset()) -> dict:
    """The warehouse holds exactly the server's rows (minus quarantined ones), once each, with current values.

    ``also_here``: ids deleted at the server that the warehouse still holds (until reconcile).
    """
    server = server_fingerprints(fake)
    here = warehouse_fingerprints(settings)
    quarantined = quarantined_ids(settings)
    assert not (set(here) & quarantined), "a row is both loaded and quarantined"
    also_here = set(also_here) - quarantined
    expected_ids = (set(server) - quarantined) | also_here
    assert set(here) == expected_ids, (
        f"lost {sorted(expected_ids - set(here))[:5]}, unexpected {sorted(set(here) - expected_ids)[:5]}"
    )
    assert quarantined <= set(server), "quarantine holds ids the server never had"
    expected = {k: server[k] for k in set(server) - quarantined}
    current = {k: v for k, v in here.items() if k not in also_here}
    assert current == expected  # every value, row by row
    assert checksum(current) == checksum(expected)
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        n, stops_cover = con.execute(
            "select (select count(*) from moco_traffic_violations), (select sum(n_charges) from stops)"
        ).fetchall()[0]
    assert n == stops_cover  # every charge is in exactly one stop
    return here


def watermark(settings: Settings) -> datetime | None:
    return read_watermark(open_warehouse(settings))


def fake_socrata_ids(fake: FakeSocrata) -> list[str]:
    with fake.lock:
        return [r[":id"] for r in fake.rows]


def server_max_updated_at(fake: FakeSocrata) -> datetime:
    return max(parse_stamp(r[":updated_at"]) for r in fake.rows)


def page_requests(fake: FakeSocrata) -> list:
    return [r for r in fake.data_requests() if r.params.get("$select") == ":*, *"]


def runs(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as con:
        return con.execute(
            "select command, status, rows_raw, watermark, message from pipeline_runs order by started_at"
        ).fetchall()


class _TrapSession:
    def __init__(self, inner: Any, trap: str, armed: list[bool]) -> None:
        self._inner, self._trap, self._armed = inner, trap, armed

    def script(self, name: str, params: Any = None) -> None:
        if name == self._trap and self._armed[0]:
            self._armed[0] = False
            raise RuntimeError(f"simulated failure at {name}, inside the warehouse transaction")
        self._inner.script(name, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FailOnceAt:
    """A warehouse whose next load session fails when it runs SQL script ``trap`` (then rolls back)."""

    def __init__(self, inner: Any, trap: str) -> None:
        self._inner, self._trap, self._armed = inner, trap, [True]

    @contextmanager
    def session(self, lock: bool = True) -> Iterator[Any]:
        with self._inner.session(lock=lock) as s:
            yield _TrapSession(s, self._trap, self._armed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


# --------------------------------------------------------------------------------------------
# Backfill and incremental runs
# --------------------------------------------------------------------------------------------


def test_a_full_backfill_reads_every_page_keeps_each_raw_and_loads_every_row_once(
    api_settings, fake_socrata, zip_assigner, sleeps
):
    result, source = load(api_settings, zip_assigner, sleeps, full=True)

    assert result.status == "success" and source.stats.pages == 6  # 3,000 rows, page size 500
    assert result.rows_raw == 3000 == result.rows_landed + result.rows_quarantined
    assert_matches_server(api_settings, fake_socrata)
    assert watermark(api_settings) == server_max_updated_at(fake_socrata)  # Socrata's clock, not ours
    # Raw zone: each page gzipped, byte-for-byte the response body, written under the run's load id.
    lake = LocalLake(api_settings.lake_path)
    keys = [k for k in lake.list("raw/source=socrata") if k.endswith(".json.gz")]
    assert [Path(k).name for k in keys] == [f"page-{n:05d}.json.gz" for n in range(1, 7)]
    assert all(f"/{result.run_id}/" in k for k in keys)
    bodies = [r.body for r in page_requests(fake_socrata) if r.body != b"[]\n"]  # the empty last page ends paging
    assert [gzip.decompress(lake.get_bytes(k)) for k in keys] == bodies
    manifest = json.loads(lake.get_bytes(str(Path(keys[0]).parent / "manifest.json")))
    assert manifest["rows_received"] == 3000 and len(manifest["pages"]) == 6
    # The warehouse rows point back at their raw page and line.
    with duckdb.connect(str(api_settings.duckdb_path), read_only=True) as con:
        assert {r[0] for r in con.execute("select distinct source_file from moco_traffic_violations").fetchall()} <= set(keys)

    again, _ = load(api_settings, zip_assigner, sleeps, full=True)  # idempotent
    assert again.rows_replaced == again.rows_inserted == result.warehouse_rows
    assert_matches_server(api_settings, fake_socrata)


def test_incremental_runs_catch_edits_and_late_rows_and_move_the_watermark_only_on_commit(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps
):
    settings = small_settings.with_overrides(socrata_lookback_hours=2.0)
    backfilled(settings, small_backfilled)  # the backfill (a full read ignores the lookback), copied
    first_mark = watermark(settings)
    ids = sorted(fake_socrata_ids(small_fake))
    quarantined = quarantined_ids(settings)
    edited = [i for i in ids if i not in quarantined][:3]

    # Between runs: three edits, a late stop from a week before the newest stop, and a new column.
    for n, row_id in enumerate(edited):
        small_fake.edit_row(row_id, {"description": f"EDITED DESCRIPTION {n}", "violation_type": "Warning"})
    newest = max(r["date_of_stop"] for r in small_fake.rows if isinstance(r.get("date_of_stop"), str))
    late_date = (datetime.fromisoformat(newest[:10]) - timedelta(days=7)).strftime("%Y-%m-%dT00:00:00.000")
    template = small_fake.row(edited[0])
    [late_id] = small_fake.insert_rows([{**template, ":id": None, "date_of_stop": late_date, "time_of_stop": "23:59:00",
                                           "description": "LATE ARRIVAL"}])
    small_fake.edit_row(ids[-1], {"officer_badge_new_field": "1234"})  # a column the schema does not know

    # A failure inside the warehouse transaction (after the watermark was written) rolls it all back.
    before = warehouse_fingerprints(settings)
    failing = FailOnceAt(open_warehouse(settings), "marts/refresh")
    with pytest.raises(RuntimeError, match="simulated failure"):
        load(settings, zip_assigner, sleeps, warehouse=failing)
    assert watermark(settings) == first_mark
    assert warehouse_fingerprints(settings) == before

    result, source = load(settings, zip_assigner, sleeps)
    assert result.status == "success"
    here = assert_matches_server(settings, small_fake)
    assert here[late_id][COMPARED_INDEX["description"]] == "LATE ARRIVAL"
    assert [here[i][COMPARED_INDEX["description"]] for i in edited] == [f"EDITED DESCRIPTION {n}" for n in range(3)]
    assert watermark(settings) == server_max_updated_at(small_fake) > first_mark
    # The window was watermark - 2 h lookback: the rows updated in the last 2 h before it were re-read.
    window_start = first_mark - timedelta(hours=2)
    assert page_requests(small_fake)[-1].params["$where"].startswith(f":updated_at >= '{window_start:%Y-%m-%dT%H:%M:%S}.000'")
    in_window = [r for r in small_fake.rows if parse_stamp(r[":updated_at"]) >= window_start]
    assert result.rows_raw == len(in_window) < len(small_fake.rows) // 2
    assert result.rows_inserted - result.rows_replaced == 1  # only the late row is new
    assert "officer_badge_new_field" in runs(settings)[-1][4]  # the new column is reported in the run log
    lake = LocalLake(settings.lake_path)
    raw = b"".join(gzip.decompress(lake.get_bytes(k)) for k in lake.list("raw/source=socrata")
                   if f"/{result.run_id}/" in k and k.endswith(".json.gz"))
    assert b'"officer_badge_new_field":"1234"' in raw  # kept in raw

    # Edited again: the newest values replace the old, once.
    small_fake.edit_row(edited[0], {"description": "EDITED TWICE"})
    third, _ = load(settings, zip_assigner, sleeps)
    here = assert_matches_server(settings, small_fake)
    assert here[edited[0]][COMPARED_INDEX["description"]] == "EDITED TWICE"
    assert third.rows_inserted == third.rows_replaced  # nothing new, nothing duplicated
    assert [r[1] for r in runs(settings)] == ["success", "failed", "success", "success"]


def test_a_stop_date_filter_loads_only_those_stops_and_keeps_the_watermark(
    small_settings, small_fake, zip_assigner, sleeps
):
    result, _ = load(small_settings, zip_assigner, sleeps, full=True, since=date(2017, 1, 1), until=date(2019, 12, 31))

    assert "date_of_stop >= '2017-01-01T00:00:00.000' AND date_of_stop < '2020-01-01T00:00:00.000'" in (
        page_requests(small_fake)[0].params["$where"]
    )
    with duckdb.connect(str(small_settings.duckdb_path), read_only=True) as con:
        lo, hi, n = con.execute("select min(date_of_stop), max(date_of_stop), count(*) from moco_traffic_violations").fetchall()[0]
    assert str(lo) >= "2017-01-01" and str(hi) < "2020-01-01" and 0 < n < 1000
    assert watermark(small_settings) is None  # a partial read never moves the watermark
    assert "stop-date filter" in runs(small_settings)[-1][4]


# --------------------------------------------------------------------------------------------
# Transient failures: retried, and the result is still exact
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault, offset, expect_sleeps",
    [
        ("429 Retry-After 7", 200, [7.0]),
        ("500 twice", 400, None),
        ("slow page (timeout)", 600, None),
        ("truncated JSON", 800, None),
        ("dropped connection", 0, None),
    ],
)
def test_a_transient_failure_is_retried_and_the_load_is_still_exact(
    small_settings, small_fake, zip_assigner, sleeps, fault, offset, expect_sleeps
):
    at = FakeSocrata.at_offset(offset)
    is_page = lambda r: at(r) and r.params.get("$select") == ":*, *"  # noqa: E731
    if fault.startswith("429"):
        small_fake.fail(429, retry_after=7, when=is_page)
    elif fault.startswith("500"):
        small_fake.fail(500, times=2, when=is_page)
    elif fault.startswith("slow"):
        small_fake.slow(small_settings.socrata_timeout_s + 1.5, when=is_page)
    elif fault.startswith("truncated"):
        small_fake.truncate(keep=0.6, when=is_page)
    else:
        small_fake.drop(when=is_page)

    result, _ = load(small_settings, zip_assigner, sleeps, full=True)

    assert result.status == "success"
    assert_matches_server(small_settings, small_fake)
    log = [(r.offset, r.fault, r.status) for r in page_requests(small_fake) if r.offset == offset]
    retries = 2 if fault.startswith("500") else 1
    assert len(log) == retries + 1 and log[-1] == (offset, None, 200)
    assert all(entry[1] is not None for entry in log[:-1])  # each failed attempt was the scripted fault
    # One back-off per repeated request. Not an exact count: on a loaded machine another page may
    # also outlast the 2 s timeout, and its retry is just as correct.
    pages = page_requests(small_fake)
    assert len(sleeps) == len(pages) - len({r.offset for r in pages}) >= retries
    if expect_sleeps is not None:
        assert sleeps == expect_sleeps  # Retry-After honoured
    assert watermark(small_settings) == server_max_updated_at(small_fake)


def test_a_persistent_failure_fails_the_run_and_keeps_the_previous_data(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps
):
    from pipeline.extract.socrata import SocrataError

    backfilled(small_settings, small_backfilled)
    mark = watermark(small_settings)
    small_fake.edit_row(fake_socrata_ids(small_fake)[0], {"description": "NOT YET LOADED"})
    small_fake.fail(503, times=100, when=lambda r: r.params.get("$select") == ":*, *")
    with pytest.raises(SocrataError, match="after 4 attempt"):
        load(small_settings, zip_assigner, sleeps)
    assert watermark(small_settings) == mark
    assert runs(small_settings)[-1][1] == "failed"
    small_fake.faults.clear()
    load(small_settings, zip_assigner, sleeps)
    assert_matches_server(small_settings, small_fake)


# --------------------------------------------------------------------------------------------
# Empty results, schema changes, crashes
# --------------------------------------------------------------------------------------------


def test_an_empty_dataset_is_a_successful_run_with_no_changes(socrata_settings, tmp_path, zip_assigner, sleeps):
    with FakeSocrata([]) as empty:
        settings = socrata_settings.with_overrides(
            socrata_domain=empty.url, warehouse_url=f"duckdb:///{tmp_path / 'wh.duckdb'}", lake_url=str(tmp_path / "lake")
        )
        result, source = load(settings, zip_assigner, sleeps)
        assert result.status == "success" and result.rows_raw == 0 and result.warehouse_rows == 0
        assert watermark(settings) is None and source.stats.pages == 0
        assert "no changes" in runs(settings)[-1][4]
        with pytest.raises(QualityError, match="extract not empty"):  # a backfill must get rows
            load(settings, zip_assigner, sleeps, full=True)


def test_a_dropped_required_field_stops_the_run_naming_it_and_the_previous_data_keeps_serving(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps
):
    backfilled(small_settings, small_backfilled)
    mark = watermark(small_settings)
    before = warehouse_fingerprints(small_settings)

    small_fake.drop_field("race")
    small_fake.edit_row(fake_socrata_ids(small_fake)[0], {"description": "CHANGED AFTER THE DROP"})
    with pytest.raises(SchemaError, match="'race'"):
        load(small_settings, zip_assigner, sleeps)

    assert warehouse_fingerprints(small_settings) == before  # previous data still serving
    assert watermark(small_settings) == mark
    status, message = runs(small_settings)[-1][1], runs(small_settings)[-1][4]
    assert status == "failed" and "race" in message
    lake = LocalLake(small_settings.lake_path)
    failed_run = [k for k in lake.list("raw/source=socrata") if k.endswith("page-00001.json.gz")]
    assert len(failed_run) == 2  # the page that failed the schema check was kept in raw first


def test_a_crash_between_extract_and_load_then_a_rerun_converges(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps
):
    backfilled(small_settings, small_backfilled)
    mark = watermark(small_settings)
    row_id = sorted(set(fake_socrata_ids(small_fake)) - quarantined_ids(small_settings))[7]
    small_fake.edit_row(row_id, {"charge": "99-999"})
    [new_id] = small_fake.insert_rows([{**small_fake.row(row_id), ":id": None, "location": "NEW ROW AFTER CRASH"}])

    with pytest.raises(RuntimeError, match="simulated crash"):
        load(small_settings, zip_assigner, sleeps, crash_after_extract=True)
    crashed = runs(small_settings)[-1]
    assert crashed[1] == "failed"
    lake = LocalLake(small_settings.lake_path)
    assert [k for k in lake.list("raw/source=socrata") if k.endswith("manifest.json")][1:]  # the whole read reached raw
    assert watermark(small_settings) == mark
    assert new_id not in warehouse_fingerprints(small_settings)

    result, _ = load(small_settings, zip_assigner, sleeps)
    assert result.status == "success"
    here = assert_matches_server(small_settings, small_fake)
    assert here[row_id][COMPARED_INDEX["charge"]] == "99-999" and new_id in here
    assert watermark(small_settings) == server_max_updated_at(small_fake)


def test_rows_first_loaded_from_a_csv_export_are_replaced_by_the_same_rows_from_the_api(
    small_settings, small_fake, zip_assigner, sleeps
):
    # The fake dataset is the 439 rows of the 2019 export, then the first 561 of the 2017 one (no
    # SeqID column), converted to API shape: the backfill loads the same rows from both exports, so
    # the schema contract (history across sources) sees the API's seq_id nulls as usual.
    export = find_sample("mcpd_tv_sample_nerox_2019")
    with gzip.open(find_sample("mcpd_tv_sample_tolu238_2017"), "rt", encoding="utf-8", newline="") as fh:
        older = list(csv.reader(fh))
    part = small_settings.lake_path.parent / "tolu238_2017_first_561.csv"
    with open(part, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(older[:562])
    run_load(small_settings, FileSource([export, part]), "backfill", zip_assigner=zip_assigner)
    with duckdb.connect(str(small_settings.duckdb_path), read_only=True) as con:
        file_stops = dict(con.execute("select stop_id, n_charges from stops").fetchall())
        file_rows = con.execute("select count(*) from moco_traffic_violations where row_id like 'h:%'").fetchall()[0][0]
    assert file_rows == sum(file_stops.values()) > 400

    result, _ = load(small_settings, zip_assigner, sleeps)

    assert_matches_server(small_settings, small_fake)  # every file row replaced: no h: rows left, no doubles
    with duckdb.connect(str(small_settings.duckdb_path), read_only=True) as con:
        assert con.execute("select count(*) from moco_traffic_violations where source <> 'socrata'").fetchall()[0][0] == 0
        after = dict(con.execute(
            "select stop_id, n_charges from stops where stop_id in (select unnest(?))", [list(file_stops)]).fetchall())
    assert result.rows_replaced == file_rows
    assert after == file_stops  # the same stops, the same charges: replaced, not doubled


# --------------------------------------------------------------------------------------------
# Paging drift: a row deleted or inserted while the run pages
# --------------------------------------------------------------------------------------------


def test_a_row_deleted_while_paging_skips_no_other_row(small_settings, small_fake, zip_assigner, sleeps):
    # Under offset paging, deleting a row already served shifted every later row down and one was
    # never seen. Paging by key has nothing to shift: every other row arrives in the same run.
    order = sorted(small_fake.rows, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))
    victim = order[10][":id"]  # on page 1
    done = {"deleted": False}

    def delete_when_page_2_is_asked(req) -> bool:
        if req.params.get("$select") == ":*, *" and req.offset == 200 and not done["deleted"]:
            done["deleted"] = True
            small_fake.delete_rows([victim])
        return False  # never a fault: only the side effect

    small_fake.slow(0, times=1, when=delete_when_page_2_is_asked)
    result, source = load(small_settings, zip_assigner, sleeps)

    assert done["deleted"] and result.rows_raw == 1000  # the victim was read before it was deleted
    assert_matches_server(small_settings, small_fake, also_here={victim})  # victim: until reconcile
    assert watermark(small_settings) == server_max_updated_at(small_fake)


def test_a_row_re_stamped_while_paging_arrives_twice_and_is_loaded_once_at_its_newest(
    small_settings, small_fake, zip_assigner, sleeps
):
    order = sorted(small_fake.rows, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))
    moved = order[5][":id"]  # on page 1; the edit stamps it after every row, so it comes again at the end
    done = {"edited": False}

    def edit_before_page_3(req) -> bool:
        if req.params.get("$select") == ":*, *" and req.offset == 400 and not done["edited"]:
            done["edited"] = True
            small_fake.edit_row(moved, {"description": "EDITED MID-RUN"})
        return False

    small_fake.slow(0, times=1, when=edit_before_page_3)
    result, source = load(small_settings, zip_assigner, sleeps, full=True)

    assert source.stats.duplicates_dropped == 1 and result.rows_raw == 1000
    here = assert_matches_server(small_settings, small_fake)
    assert here[moved][COMPARED_INDEX["description"]] == "EDITED MID-RUN"


@pytest.mark.parametrize("count_available", [True, False], ids=["with-count", "without-count"])
def test_an_empty_page_mid_read_never_moves_the_watermark_past_an_unread_row(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps, count_available
):
    """The portal answers [] for page 3 of 5 while a page-1 row is re-stamped: the read ends early.

    Offset paging lost rows here forever (the watermark came from the re-stamped row, later than
    rows never read). By key, the watermark is the last row received; everything unread sorts
    after it, so the next run reads it.
    """
    backfilled(small_settings, small_backfilled)
    loaded = watermark(small_settings)
    order = sorted(small_fake.rows, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))
    small_fake.advance(hours=1)
    for r in order[:1000]:  # the whole dataset re-stamped (a portal-side migration): one window of 5 pages
        small_fake.edit_row(r[":id"], {"description": f"V2 {r[':id']}"})
    if not count_available:
        small_fake.fail(500, times=100, when=lambda req: req.params.get("$select") == "count(*)")
    restamp = sorted(small_fake.rows, key=lambda r: (parse_stamp(r[":updated_at"]), r[":id"]))[3][":id"]
    state = {"pages": 0}

    def restamp_then_empty(req) -> bool:
        if req.params.get("$select") != ":*, *":
            return False
        state["pages"] += 1
        if state["pages"] == 2:  # while page 2 is asked for, a page-1 row is re-stamped
            small_fake.edit_row(restamp, {"description": "RE-STAMPED DURING THE READ"})
        return state["pages"] == 3  # page 3 comes back empty

    small_fake.empty(times=1, when=restamp_then_empty)
    result, source = load(small_settings, zip_assigner, sleeps)

    assert result.status == "success" and result.rows_raw == 400  # pages 1-2 only
    mark = watermark(small_settings)
    def utc(d: datetime) -> datetime:
        return d.astimezone(timezone.utc) if d.tzinfo else d.replace(tzinfo=timezone.utc)

    unread = [r for r in small_fake.rows if utc(parse_stamp(r[":updated_at"])) > utc(mark)]
    assert utc(mark) > utc(loaded) and len(unread) >= 600  # the watermark is the last row read, not the re-stamped one
    assert utc(parse_stamp(small_fake.row(restamp)[":updated_at"])) > utc(mark)
    if count_available:
        assert "read ended at 400 of the 1,000" in runs(small_settings)[-1][4]

    load(small_settings, zip_assigner, sleeps)  # the next run reads what the short read left
    here = assert_matches_server(small_settings, small_fake)
    assert here[restamp][COMPARED_INDEX["description"]] == "RE-STAMPED DURING THE READ"


# --------------------------------------------------------------------------------------------
# Reconcile: deletes at the source
# --------------------------------------------------------------------------------------------


def test_reconcile_reports_then_removes_rows_deleted_at_the_source_and_rebuilds_their_stops(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps
):
    backfilled(small_settings, small_backfilled)
    with duckdb.connect(str(small_settings.duckdb_path), read_only=True) as con:
        multi = con.execute(
            "select stop_id, n_charges from stops where n_charges >= 3 order by stop_id limit 1").fetchall()[0]
        single = con.execute("select stop_id from stops where n_charges = 1 order by stop_id limit 1").fetchall()[0][0]
        multi_rows = [r[0] for r in con.execute(
            "select row_id from moco_traffic_violations where stop_id = ? order by row_id", [multi[0]]).fetchall()]
        single_row = con.execute("select row_id from moco_traffic_violations where stop_id = ?", [single]).fetchall()[0][0]
    deleted = multi_rows[:2] + [single_row]
    small_fake.delete_rows(deleted)
    [not_loaded] = small_fake.insert_rows([{**small_fake.rows[5], ":id": None}])

    report = reconcile(small_settings, open_warehouse(small_settings), delete=False, sleep=sleeps)
    assert (report.missing_at_source, report.missing_here, report.deleted) == (3, 1, 0)
    assert report.portal_ids == 1000 - 3 + 1
    assert set(report.sample_missing_at_source) == set(deleted) and report.sample_missing_here == [not_loaded]
    assert set(deleted) <= set(warehouse_fingerprints(small_settings))  # report only: nothing removed

    done = reconcile(small_settings, open_warehouse(small_settings), delete=True, sleep=sleeps)
    assert done.deleted == 3 and done.stops_rebuilt == 2
    here = warehouse_fingerprints(small_settings)
    assert not set(deleted) & set(here)
    with duckdb.connect(str(small_settings.duckdb_path), read_only=True) as con:
        assert con.execute("select n_charges from stops where stop_id = ?", [multi[0]]).fetchall() == [(multi[1] - 2,)]
        assert con.execute("select count(*) from stops where stop_id = ?", [single]).fetchall()[0][0] == 0
        assert con.execute("select sum(n_charges) from stops").fetchall()[0][0] == len(here)
        recorded = con.execute(
            "select status, rows_replaced, message from pipeline_runs where command = 'reconcile' order by started_at"
        ).fetchall()
    assert [(r[0], r[1]) for r in recorded] == [("success", 0), ("success", 3)]
    assert "missing at source 3" in recorded[-1][2]
    # The curated zone lost the same rows and still equals the warehouse.
    lake = LocalLake(small_settings.lake_path)
    table = CuratedTable(lake)
    dataset = table._table().to_pyarrow_dataset()
    assert {r[0] for r in duckdb.sql("select row_id from dataset").fetchall()} == set(here)
    version = duckdb.connect(str(small_settings.duckdb_path), read_only=True).execute(
        "select state_value from pipeline_state where state_key = 'curated_lake_version'").fetchall()[0][0]
    assert int(version) == table.version()  # the warehouse recorded the version its delete committed

    load(small_settings, zip_assigner, sleeps)  # the daily run picks up the row missing here
    assert_matches_server(small_settings, small_fake)


def test_reconcile_refuses_a_mass_delete_and_an_unverifiable_listing(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps
):
    backfilled(small_settings, small_backfilled)
    wh = open_warehouse(small_settings)
    gone = sorted(set(fake_socrata_ids(small_fake)) - quarantined_ids(small_settings))[:100]  # 10%
    small_fake.delete_rows(gone)

    with pytest.raises(ReconcileError, match="refusing to delete 100"):
        reconcile(small_settings, wh, delete=True, sleep=sleeps)
    assert set(gone) <= set(warehouse_fingerprints(small_settings))

    small_fake.fail(500, times=3, when=lambda r: r.params.get("$select") == "count(*)")
    with pytest.raises(ReconcileError, match="not known to be complete"):
        reconcile(small_settings, wh, delete=True, allow_mass_delete=True, sleep=sleeps)
    assert set(gone) <= set(warehouse_fingerprints(small_settings))

    # Over verify_limit candidates, the complete listing alone decides (no per-id confirmation).
    done = reconcile(small_settings, wh, delete=True, allow_mass_delete=True, verify_limit=50, sleep=sleeps)
    assert done.deleted == 100 and done.confirmed_deleted == 100
    assert_matches_server(small_settings, small_fake)
    assert [r[1] for r in runs(small_settings) if r[0] == "reconcile"] == ["failed", "failed", "success"]


# --------------------------------------------------------------------------------------------
# The command line, as cron runs it
# --------------------------------------------------------------------------------------------


def test_python_m_pipeline_run_against_the_fake_server_exits_0(small_fake, tmp_path):
    env = {
        **os.environ,
        "PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "PIPELINE_LAKE": str(tmp_path / "lake"),
        "SOCRATA_DOMAIN": small_fake.url,
        "SOCRATA_DATASET": small_fake.dataset,
        "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN,
        "SOCRATA_PAGE_SIZE": "200",
        "SOCRATA_TIMEOUT": "5",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)

    first = cli("--json")  # no command: the daily run
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["command"] == "run" and report["source"] == "socrata" and report["rows_raw"] == 1000
    settings = Settings(warehouse_url=env["PIPELINE_WAREHOUSE"], lake_url=env["PIPELINE_LAKE"])
    assert_matches_server(settings, small_fake)

    victim = fake_socrata_ids(small_fake)[3]
    small_fake.delete_rows([victim])
    second = cli("run", "--reconcile", "--delete-missing")
    assert second.returncode == 0, second.stderr
    assert "missing at source 1 (deleted 1)" in second.stderr
    assert_matches_server(settings, small_fake)

    small_fake.drop_field("gender")
    third = cli("run")
    assert third.returncode == 3  # a required field renamed or gone at the source: a failed gate, nothing published
    assert "gender" in third.stderr and "Traceback" not in third.stderr
    assert FAKE_APP_TOKEN not in first.stderr + second.stderr + third.stderr


# --------------------------------------------------------------------------------------------
# Schema contract: a field renamed or emptied at the source
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["renamed", "all-null"])
def test_a_field_renamed_or_emptied_at_the_source_stops_the_daily_run(
    small_backfilled, small_settings, small_fake, zip_assigner, sleeps, change
):
    backfilled(small_settings, small_backfilled)
    before = warehouse_fingerprints(small_settings)
    mark = watermark(small_settings)
    for row_id in fake_socrata_ids(small_fake)[:300]:  # the portal re-publishes 300 rows that day
        row = small_fake.row(row_id)
        if change == "renamed":  # description -> violation_description (the real-world case)
            small_fake.edit_row(row_id, {"violation_description": row.get("description"), "description": None})
        else:
            small_fake.edit_row(row_id, {"location": None})
    field = "description" if change == "renamed" else "location"

    # The run re-reads the 300 rows and the lookback's older ones: the field is null in most, not all.
    with pytest.raises(SchemaContractError, match=rf"{field} \(null in 0% of rows usually, [5-9]\d% now\)"):
        load(small_settings, zip_assigner, sleeps)
    assert warehouse_fingerprints(small_settings) == before  # no row lost its value
    assert watermark(small_settings) == mark  # the rows are read again once the change is accepted
    assert runs(small_settings)[-1][1] == "failed"

    result, _ = load(small_settings, zip_assigner, sleeps, accept_schema_change=True)
    assert result.status == "success" and "schema change accepted" in result.message
    assert_matches_server(small_settings, small_fake)
