"""``--since`` / ``--until``: stop dates, both ends inclusive, the same for files and the API."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.config import Settings
from pipeline.extract.files import DateWindow, FileSource
from pipeline.extract.socrata_source import SocrataSource, stop_date_where
from pipeline.load import run_load
from pipeline.warehouse import open_warehouse
from tests.handmade import charge, write_csv

DAYS = ["03/01/2016", "03/02/2016", "03/03/2016", "03/04/2016", "03/05/2016"]


def load_window(settings: Settings, tmp_path: Path, since: date | None, until: date | None) -> list[str]:
    path = write_csv(tmp_path / "days.csv", [charge(**{"Date Of Stop": d}) for d in DAYS])
    result = run_load(settings, DateWindow(FileSource([path]), since, until), "backfill")
    assert result.status == "success"
    dates = open_warehouse(settings).query("select date_of_stop from moco_traffic_violations order by 1")
    return [str(d)[:10] for d in dates["date_of_stop"]]


def test_a_file_window_keeps_both_end_dates(settings: Settings, tmp_path: Path) -> None:
    assert load_window(settings, tmp_path, date(2016, 3, 2), date(2016, 3, 4)) == [
        "2016-03-02", "2016-03-03", "2016-03-04"]


def test_a_one_day_window_keeps_that_day(settings: Settings, tmp_path: Path) -> None:
    assert load_window(settings, tmp_path, date(2016, 3, 3), date(2016, 3, 3)) == ["2016-03-03"]


@pytest.mark.parametrize("since, until, expected", [
    (date(2016, 3, 4), None, ["2016-03-04", "2016-03-05"]),
    (None, date(2016, 3, 2), ["2016-03-01", "2016-03-02"]),
])
def test_an_open_ended_window_keeps_its_one_end(settings: Settings, tmp_path: Path, since, until, expected) -> None:  # noqa: ANN001
    assert load_window(settings, tmp_path, since, until) == expected


def test_the_api_filter_is_inclusive_at_both_ends() -> None:
    # date_of_stop is a floating timestamp at midnight on the portal: "< the next day" keeps the last day.
    assert stop_date_where(date(2016, 3, 2), date(2016, 3, 4)) == (
        "date_of_stop >= '2016-03-02T00:00:00.000' AND date_of_stop < '2016-03-05T00:00:00.000'")
    assert stop_date_where(None, date(2016, 12, 31)) == "date_of_stop < '2017-01-01T00:00:00.000'"
    assert stop_date_where(None, None) is None


def test_the_api_source_accepts_a_one_day_window_and_refuses_a_reversed_one() -> None:
    settings = Settings()
    SocrataSource(settings, since=date(2016, 3, 3), until=date(2016, 3, 3))
    with pytest.raises(ValueError, match="must not be after"):
        SocrataSource(settings, since=date(2016, 3, 4), until=date(2016, 3, 3))


def test_the_help_says_what_the_code_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["backfill", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "only stops on or after this date (inclusive" in text
    assert "only stops on or before this date (inclusive)" in text
