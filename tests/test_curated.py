"""The curated Delta table's own rules (pipeline/curated.py), on small hand-made tables in a local lake:
converge undoes exactly what the warehouse never committed, and vacuum deletes only files no version
within the retention needs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.curated import CuratedError, CuratedTable, converge, stage_partitioned
from pipeline.lake import LocalLake

SELECT = ("select unnest(?) as row_id, date '2016-03-01' as date_of_stop, 'x' as time_of_stop, "
          "2016 as year, 3 as month")


class Table:
    """A CuratedTable and a helper to commit one month of rows replacing the month's files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lake = LocalLake(root / "lake")
        self.table = CuratedTable(self.lake)
        self.con = duckdb.connect()
        self.n = 0

    def commit(self, ids: list[str], replace: bool = True) -> int:
        self.n += 1
        tag = f"run{self.n}"
        staged = stage_partitioned(self.con, SELECT, [ids], self.root / "stage" / tag, tag)
        schema = self.con.sql(SELECT + " limit 0", params=[ids]).to_arrow_table().schema
        removed = self.table.files() if replace else []
        return self.table.commit_files(staged, removed, schema, tag)

    def rows(self) -> list[str]:
        dataset = self.table._table().to_pyarrow_dataset()  # noqa: F841 - read by DuckDB
        return sorted(r[0] for r in duckdb.sql("select row_id from dataset").fetchall())

    def data_files(self) -> set[str]:
        folder = self.root / "lake" / "curated" / "charges"
        return {p.name for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts}


@pytest.fixture
def t(tmp_path: Path) -> Table:
    return Table(tmp_path)


def test_converge_restores_exactly_the_recorded_version_when_the_lake_is_two_ahead(t: Table, tmp_path: Path) -> None:
    assert [t.commit(["a"]), t.commit(["a", "b"]), t.commit(["a", "b", "c"]), t.commit(["d"])] == [0, 1, 2, 3]
    # The warehouse committed version 1; versions 2 and 3 belong to runs that died after their lake commit.
    message = converge(t.table, 1, 2, "converge", tmp_path / "work")

    assert t.rows() == ["a", "b"]
    assert t.table.version() == 4  # a restore is a new commit holding version 1's files
    assert {f.key for f in t.table.files()} == {f.key for f in t.table.files(1)}
    assert "restored to version 1" in message


def test_converge_leaves_a_lake_that_equals_the_warehouse_alone(t: Table, tmp_path: Path) -> None:
    t.commit(["a"])
    t.commit(["a", "b"])
    assert converge(t.table, 1, 2, "converge", tmp_path / "work") == "curated zone: version 1 = warehouse"
    assert t.table.version() == 1 and t.rows() == ["a", "b"]


def test_converge_refuses_a_lake_behind_the_warehouse(t: Table, tmp_path: Path) -> None:
    t.commit(["a"])
    with pytest.raises(CuratedError, match="behind the warehouse"):
        converge(t.table, 3, 1, "converge", tmp_path / "work")
    assert t.table.version() == 0


def test_vacuum_removes_unreferenced_files_older_than_the_retention_and_keeps_the_rest(t: Table) -> None:
    t.commit(["a", "b"])  # version 0: part-run1-0
    t.commit(["c"])  # version 1 replaces it: part-run1-0 is removed from the table, still on disk
    folder = t.root / "lake" / "curated" / "charges" / "year=2016" / "month=3"
    payload = (folder / "part-run2-0.parquet").read_bytes()
    # Files a killed writer placed but never committed: one ten days old, one just written.
    (folder / "part-dead-old.parquet").write_bytes(payload)
    (folder / "part-dead-new.parquet").write_bytes(payload)
    ten_days_ago = time.time() - 10 * 24 * 3600
    os.utime(folder / "part-dead-old.parquet", (ten_days_ago, ten_days_ago))

    assert t.table.vacuum(retention_hours=168) == 1  # the week-old orphan only
    assert t.data_files() == {"part-run1-0.parquet", "part-run2-0.parquet", "part-dead-new.parquet"}
    assert t.rows() == ["c"]

    assert t.table.vacuum(retention_hours=0) == 2  # now the replaced file and the new orphan too
    assert t.data_files() == {"part-run2-0.parquet"}
    assert t.rows() == ["c"]
