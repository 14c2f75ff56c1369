"""The watermark a Socrata read may commit (pipeline/extract/socrata_source.py): never backwards,
never after a partial or empty read. One read of 60 real rows from the fake server per case; the
stored watermark is given, so no warehouse is needed (the load around it is in test_socrata_load.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

import pipeline.runlog
from pipeline.config import load_settings
from pipeline.extract.socrata_source import SocrataSource
from pipeline.lake import LocalLake

try:  # one module object whether tests/ or the project root is on sys.path
    from tests.fake_socrata import FAKE_APP_TOKEN, FakeSocrata, copy_rows, parse_stamp, sample_api_rows  # noqa: F401
except ImportError:  # pragma: no cover
    from fake_socrata import FAKE_APP_TOKEN, FakeSocrata, copy_rows, parse_stamp, sample_api_rows  # type: ignore[no-redef]  # noqa: F401


@pytest.fixture(scope="module")
def fake(sample_api_rows: list[dict]):
    rows = copy_rows(sample_api_rows[:60])
    with FakeSocrata(rows) as server:
        yield server


@pytest.fixture(scope="module")
def newest(fake: FakeSocrata) -> datetime:
    return max(parse_stamp(r[":updated_at"]) for r in fake.rows)


def read(fake: FakeSocrata, stored: datetime | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         **window: date) -> SocrataSource:
    """One whole read (pages typed and finished) with ``stored`` as the committed watermark."""
    settings = load_settings({
        "SOCRATA_DOMAIN": fake.url, "SOCRATA_DATASET": fake.dataset, "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN,
        "SOCRATA_PAGE_SIZE": "25", "SOCRATA_LOOKBACK_HOURS": "72",
    })
    monkeypatch.setattr(pipeline.runlog, "read_watermark", lambda warehouse: stored)
    source = SocrataSource(settings, warehouse=object(), sleep=lambda s: None, progress_bar=False, **window)
    con = duckdb.connect()
    result = source.extract(con, LocalLake(tmp_path / "lake"), "load-1", date(2026, 1, 1))
    received = sum(t.num_rows for t in result.batches)
    result.finish(con)
    source.received = received  # type: ignore[attr-defined]
    return source


def test_a_read_of_only_older_rows_keeps_the_watermark(fake, newest, tmp_path, monkeypatch) -> None:
    stored = newest + timedelta(hours=1)  # the lookback (72 h) re-reads rows all older than it
    source = read(fake, stored, tmp_path, monkeypatch)
    assert source.received > 0 and source.stats.watermark_seen == newest
    assert source.stats.watermark_after == stored and not source.stats.advanced


def test_a_read_of_newer_rows_moves_the_watermark_to_the_newest_row_received(fake, newest, tmp_path, monkeypatch) -> None:
    stored = newest - timedelta(minutes=1)
    source = read(fake, stored, tmp_path, monkeypatch)
    assert source.stats.watermark_after == newest and source.stats.advanced


def test_a_first_read_takes_the_newest_row_received(fake, newest, tmp_path, monkeypatch) -> None:
    source = read(fake, None, tmp_path, monkeypatch)
    assert source.received == 60 and source.stats.watermark_after == newest


def test_a_stop_date_filtered_read_keeps_the_watermark(fake, newest, tmp_path, monkeypatch) -> None:
    stored = newest - timedelta(minutes=1)
    source = read(fake, stored, tmp_path, monkeypatch, since=date(2000, 1, 1), until=date(2030, 12, 31))
    assert source.received == 60  # every row is inside the filter, yet the read is partial by kind
    assert source.stats.watermark_after == stored and source.stats.reason_kept.startswith("stop-date filter")


def test_a_read_with_no_rows_keeps_the_watermark(fake, newest, tmp_path, monkeypatch) -> None:
    stored = newest + timedelta(hours=100)  # beyond the lookback: nothing to read
    source = read(fake, stored, tmp_path, monkeypatch)
    assert source.received == 0 and source.stats.watermark_after == stored
    assert source.stats.reason_kept.startswith("no changes")
