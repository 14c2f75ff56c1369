"""bench.common.ensure_replicated_real puts each export's values under the column of the same canonical
name: the exports spell the vehicle year "Year" or "Manufacture Year", and only some have "Article".

Copied by literal header name, every row of a "Year" export lost its vehicle year in a file headed
"Manufacture Year"; a daily file made that way against a warehouse loaded from a file made the other
way was (rightly) stopped by the schema contract: "vehicle_year (null in 0% of rows usually, 100% now)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench import common


def _export(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def two_layouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    old = _export(tmp_path / "a_2016.csv", ["Date Of Stop", "Year", "Article", "Race"],
                  [["03/01/2016", "2011", "Transportation Article", "WHITE"]])
    new = _export(tmp_path / "b_2025.csv", ["SeqID", "Date Of Stop", "Manufacture Year", "Race", "Fine"],
                  [["x-1", "01/02/2025", "2007", "BLACK", "70"]])
    monkeypatch.setattr(common, "OUT", tmp_path / "out")
    monkeypatch.setattr(common, "sample_sources", lambda: [old, new])
    return tmp_path


def test_values_go_to_the_column_of_the_same_canonical_name(two_layouts: Path) -> None:
    path = common.ensure_replicated_real(4, first="2012-01-01", last="2026-12-01")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["SeqID", "Date Of Stop", "Manufacture Year", "Race", "Fine", "Article"]
    assert [r["Manufacture Year"] for r in rows] == ["2011", "2007", "2011", "2007"]  # "Year" kept too
    assert [r["Article"] for r in rows] == ["Transportation Article", "", "Transportation Article", ""]
    assert [r["Race"] for r in rows] == ["WHITE", "BLACK", "WHITE", "BLACK"]
    assert common.REPLICATED_LAYOUT in Path(str(path) + ".REPLICATED-REAL.txt").read_text()


def test_a_file_written_before_is_kept_with_a_note(two_layouts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = two_layouts / "out"
    out.mkdir()
    (out / "replicated_real_4.csv").write_text("old\n")
    (out / "replicated_real_4.csv.REPLICATED-REAL.txt").write_text("REAL sample rows ...\n")
    path = common.ensure_replicated_real(4)
    assert path.read_text() == "old\n"  # a benchmark's inputs never change under it
    assert "delete it and its marker to write it again" in capsys.readouterr().err
