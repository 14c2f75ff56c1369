"""A first load's warehouse checks on DuckDB: "received" and "no duplicate keys" answered in one pass
over the charges (warehouse/first_load_counts.sql; they hold exactly the batch), not by joining the
batch's keys twice (received.sql, duplicate_keys.sql: what a merge into a loaded warehouse still
runs). Both checks still stop a first load that goes wrong. PostgreSQL: tests/test_pg_first_load.py."""

from __future__ import annotations

from typing import Any, Mapping

import pytest

from pipeline.config import Settings
from pipeline.extract.files import SampleSource
from pipeline.load import run_load
from pipeline.quality import QualityError
from pipeline.reference import ensure_reference
from pipeline.sqlfiles import load_sql
from pipeline.warehouse import open_warehouse
from pipeline.warehouse.duckdb_wh import DuckDBSession

# A row of the batch inserted a second time, right after insert_charges.sql: as itself (the
# warehouse then holds one row more than it was sent) or under another load's id (as many rows of
# this run as were sent, one key twice).
EXTRA_ROW = ("insert into moco_traffic_violations select * replace ({load_id} as load_id) "
             "from moco_traffic_violations order by row_id limit 1")


def _spy(monkeypatch: pytest.MonkeyPatch, after_insert: str | None = None) -> list[str]:
    """The SQL of every query and scalar a load session runs; ``after_insert`` runs after the
    charges are inserted."""
    seen: list[str] = []
    query, scalar, script = DuckDBSession.query, DuckDBSession.scalar, DuckDBSession.script

    def _query(self, sql: str, params: Mapping[str, Any] | None = None):  # noqa: ANN001, ANN202
        seen.append(sql)
        return query(self, sql, params)

    def _scalar(self, sql: str, params: Mapping[str, Any] | None = None):  # noqa: ANN001, ANN202
        seen.append(sql)
        return scalar(self, sql, params)

    def _script(self, name: str, params: Mapping[str, Any] | None = None) -> None:  # noqa: ANN001
        script(self, name, params)
        if name == "warehouse/insert_charges" and after_insert:
            self.execute(after_insert)

    monkeypatch.setattr(DuckDBSession, "query", _query)
    monkeypatch.setattr(DuckDBSession, "scalar", _scalar)
    monkeypatch.setattr(DuckDBSession, "script", _script)
    return seen


def _backfill(settings: Settings) -> None:
    warehouse = open_warehouse(settings)
    ensure_reference(settings, warehouse)
    assert run_load(settings, SampleSource(), "backfill", warehouse=warehouse).status == "success"


def test_a_first_load_checks_its_counts_in_one_pass_and_a_merge_through_the_batch_keys(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _spy(monkeypatch)
    _backfill(settings)
    assert load_sql("warehouse/first_load_counts") in seen
    assert not [sql for sql in seen if "batch_keys" in sql]
    seen.clear()
    _backfill(settings)  # the same files again: a merge into a loaded warehouse
    assert load_sql("warehouse/received") in seen and load_sql("warehouse/duplicate_keys") in seen
    assert load_sql("warehouse/first_load_counts") not in seen


def test_a_first_load_that_holds_a_row_more_than_it_was_sent_fails_received(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _spy(monkeypatch, after_insert=EXTRA_ROW.format(load_id="load_id"))
    with pytest.raises(QualityError, match="staged = received by the warehouse"):
        _backfill(settings)
    assert not open_warehouse(settings).query("select count(*) as n from moco_traffic_violations")["n"].iloc[0]


def test_a_first_load_holding_a_key_twice_fails_no_duplicate_keys(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    _spy(monkeypatch, after_insert=EXTRA_ROW.format(load_id="'another-run'"))
    with pytest.raises(QualityError, match="no duplicate keys in warehouse: 1 duplicate"):
        _backfill(settings)


def assert_first_load_counts(warehouse) -> None:  # noqa: ANN001 - any backend's Warehouse
    """first_load_counts.sql in a transaction rolled back: a duplicate key and only the run's rows."""
    with pytest.raises(RuntimeError, match="rolled back on purpose"):
        with warehouse.session() as s:
            sql = load_sql("warehouse/first_load_counts", s.kind)  # PostgreSQL's override compares bytes
            assert int(s.scalar("select count(*) from moco_traffic_violations")) > 5
            assert s.query(sql, {"run_id": "run-x"}).iloc[0].tolist() == [0, 0]
            s.execute("insert into moco_traffic_violations select * from moco_traffic_violations "
                      "order by row_id limit 5")
            s.execute("update moco_traffic_violations set load_id = 'run-x' where row_id in "
                      "(select distinct row_id from moco_traffic_violations order by row_id limit 3)")
            counted = s.query(sql, {"run_id": "run-x"}).iloc[0]
            assert int(counted["duplicates"]) == 5
            assert int(counted["received"]) == 6  # 3 keys, each held twice now
            assert int(s.query(sql, {"run_id": "run-y"}).iloc[0]["received"]) == 0
            raise RuntimeError("rolled back on purpose")


def test_the_first_load_counts_see_a_duplicate_key_and_only_the_runs_rows(sample_warehouse: Settings) -> None:
    """PostgreSQL: tests/test_pg_first_load.py, with the same assertions."""
    assert_first_load_counts(open_warehouse(sample_warehouse))
