"""Faults in the data itself, end to end: the CLI against the local fake Socrata server, on DuckDB and PostgreSQL.

Each case asserts the exit code, the warehouse rows against a clean run's, and the run-log row:
the deployment path (CSV backfill, then the API with ``description`` renamed), the schema contract
across sources and on a quiet day, a first run judged against the warehouse's own rows, rows
without ``:id`` or sharing one, a row re-stamped to an older ``:updated_at``, and invalid Unicode
in a page. Rows come from the tests' real 2025 export (tests/fixtures), in CSV and API shape.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest

from pipeline import cli, runlog
from pipeline.config import load_settings
from pipeline.warehouse import open_warehouse
from tests.fake_socrata import FAKE_APP_TOKEN, FakeSocrata, copy_rows, export_rows_to_api_rows, parse_stamp, socrata_stamp
from tests.pg_fixtures import backend_env

pytest_plugins = ["tests.pg_fixtures"]

EXPORT = Path(__file__).parent / "fixtures" / "mcpd_tv_sample_nischal_2025_augmented.csv.gz"  # 567 charges
ROWS = 567


@pytest.fixture(scope="module")
def api_rows() -> list[dict]:
    """The export's rows in API shape, one hour of :updated_at apart (a quiet day reads a few)."""
    return export_rows_to_api_rows(EXPORT, rows_per_hour=1)


@pytest.fixture(params=["duckdb", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {"PIPELINE_LAKE": str(tmp_path / "lake"), "SOCRATA_APP_TOKEN": FAKE_APP_TOKEN, "SOCRATA_PAGE_SIZE": "200",
              "SOCRATA_TIMEOUT": "5", "SOCRATA_MAX_RETRIES": "1", "SOCRATA_LOOKBACK_HOURS": "0"}
    with backend_env(request.param, tmp_path, monkeypatch, values, "faults") as env_values:
        yield env_values


@pytest.fixture
def fake(api_rows: list[dict], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSocrata]:
    with FakeSocrata(copy_rows(api_rows)) as server:
        monkeypatch.setenv("SOCRATA_DOMAIN", server.url)
        monkeypatch.setenv("SOCRATA_DATASET", server.dataset)
        yield server


def backfill_csv() -> int:
    return cli.main(["backfill", "--source", "file", "--file", str(EXPORT), "--skip-analyze"])


def api_run(*extra: str) -> int:
    return cli.main(["run", "--skip-analyze", *extra])


def warehouse(env: dict[str, str]):  # noqa: ANN201
    return open_warehouse(load_settings(env))


def charges(env: dict[str, str]) -> dict[str, tuple]:
    """row_id -> (description, location, charge, source): the rows a resident is served."""
    df = warehouse(env).query("select row_id, description, location, charge, source from moco_traffic_violations")
    assert df["row_id"].is_unique
    return {r.row_id: (r.description, r.location, r.charge, r.source) for r in df.itertuples()}


def last_run(env: dict[str, str]) -> dict:
    df = warehouse(env).query("select status, rows_raw, rows_landed, rows_quarantined, rows_restamped_older, message "
                              "from pipeline_runs order by started_at desc")
    return df.iloc[0].to_dict()


def quarantine(env: dict[str, str]) -> list[tuple[str, str]]:
    df = warehouse(env).query("select row_id, reason from quarantine_rows order by row_id, reason")
    return [(None if pd.isna(r.row_id) else r.row_id, r.reason) for r in df.itertuples()]


def rename_description(server: FakeSocrata) -> None:
    """The portal renames description -> violation_description: every row, and the field list."""
    with server.lock:
        for row in server.rows:
            if "description" in row:
                row["violation_description"] = row.pop("description")
        server.fields = [f if f != "description" else "violation_description" for f in server.fields]


# --------------------------------------------------------------------------------------------
# The schema contract
# --------------------------------------------------------------------------------------------


def test_the_deployment_path_csv_backfill_then_an_api_run_with_description_renamed_stops(env, fake, caplog) -> None:
    assert backfill_csv() == 0
    before = charges(env)
    assert len(before) == ROWS and all(k.startswith("h:") for k in before)
    # The API has no history yet: the file backfill's is the contract's (history across sources).
    assert [h["description"] for h in runlog.null_history(warehouse(env), min_rows=20)] == [0.0]
    rename_description(fake)

    assert api_run() == 3  # the first API run after the backfill: no API history, judged against the file's
    assert "schema contract: field(s) absent from the source's field list: description (null in 0% of rows usually" \
        in caplog.text
    assert charges(env) == before  # nothing duplicated, nothing lost its description, still serving
    run = last_run(env)
    assert run["status"] == "failed" and "description" in run["message"] and "SchemaContractError" in run["message"]


def test_the_deployment_path_without_a_change_replaces_every_file_row_once(env, fake) -> None:
    """The clean run the faults are measured against: the API's rows replace the file's, none doubled."""
    assert backfill_csv() == 0
    assert api_run() == 0
    after = charges(env)
    assert len(after) == ROWS and not [k for k in after if k.startswith("h:")]
    assert {v[3] for v in after.values()} == {"socrata"}
    assert last_run(env)["status"] == "success"


def test_a_field_emptied_in_every_row_is_judged_against_the_file_backfill(env, fake, caplog) -> None:
    """The API still lists the field but sends no value: the null rate jumps against the CSV's history."""
    assert backfill_csv() == 0
    before = charges(env)
    with fake.lock:
        for row in fake.rows:
            row.pop("description", None)
    assert api_run() == 3
    assert "description (null in 0% of rows usually, 100% now)" in caplog.text
    assert charges(env) == before
    assert last_run(env)["status"] == "failed"


def test_a_field_missing_from_the_field_list_stops_even_a_quiet_day(env, fake, caplog) -> None:
    """Below MIN_ROWS null rates say nothing; a field gone from X-SODA2-Fields is gone all the same."""
    assert api_run() == 0
    before = charges(env)
    fake.drop_field("description")
    for row in fake.rows[:3]:  # the portal re-publishes three rows: a quiet day
        fake.edit_row(row[":id"], {"charge": "21-201"})
    assert api_run() == 3
    assert "absent from the source's field list: description" in caplog.text
    assert charges(env) == before
    assert last_run(env)["status"] == "failed"


def test_with_no_history_a_first_run_is_judged_against_the_warehouses_own_rows(env, fake, caplog) -> None:
    assert backfill_csv() == 0
    with warehouse(env).session() as s:  # a warehouse loaded before null rates were recorded
        s.execute("update pipeline_runs set null_rates = '{}'")
    before = charges(env)
    with fake.lock:
        for row in fake.rows:
            row.pop("location", None)
    assert api_run() == 3
    assert "location (null in 0% of rows usually, 100% now)" in caplog.text
    assert charges(env) == before


# --------------------------------------------------------------------------------------------
# Identity
# --------------------------------------------------------------------------------------------


def test_an_api_row_without_its_id_is_quarantined_not_keyed_by_its_content(env, fake) -> None:
    victim = fake.rows[100]
    del victim[":id"]
    assert api_run() == 0
    here = charges(env)
    assert len(here) == ROWS - 1 and not [k for k in here if k.startswith("h:")]
    assert quarantine(env) == [(None, "missing :id: an API row without its row id cannot be upserted")]
    run = last_run(env)
    assert (run["status"], run["rows_raw"], run["rows_landed"], run["rows_quarantined"]) == ("success", ROWS, ROWS - 1, 1)


def test_two_rows_sharing_one_id_are_both_quarantined_with_the_reason(env, fake) -> None:
    shared = fake.rows[10][":id"]
    [twin] = fake.insert_rows([{**fake.rows[20], ":id": shared}])  # another charge under the same :id
    assert twin == shared
    assert api_run() == 0
    here = charges(env)
    assert shared not in here and len(here) == ROWS - 1  # neither copy loaded; every other row once
    reason = f"duplicate :id: 2 rows share :id {shared} at the source; none loaded"
    assert quarantine(env) == [(shared, reason), (shared, reason)]
    run = last_run(env)
    assert (run["rows_raw"], run["rows_landed"], run["rows_quarantined"]) == (ROWS + 1, ROWS - 1, 2)
    assert "share an :id with another row at the source" in run["message"]


def test_a_row_re_stamped_to_an_older_updated_at_is_loaded_counted_and_reported(env, fake, monkeypatch) -> None:
    monkeypatch.setenv("SOCRATA_LOOKBACK_HOURS", "72")
    assert api_run() == 0
    newest = max(fake.rows, key=lambda r: parse_stamp(r[":updated_at"]))
    assert api_run() == 0  # a quiet day: the watermark stays on the newest row
    older = parse_stamp(newest[":updated_at"]) - timedelta(hours=5)
    fake.edit_row(newest[":id"], {"charge": "RESTAMPED-OLDER"}, at=older)
    assert api_run() == 0
    here = charges(env)
    assert len(here) == ROWS and here[newest[":id"]][2] == "RESTAMPED-OLDER"
    run = last_run(env)
    assert run["rows_restamped_older"] == 1
    assert (f"1 row(s) re-stamped by the portal to an older :updated_at than the one loaded (e.g. {newest[':id']}: "
            in run["message"]) and socrata_stamp(older)[:19] in run["message"]


# --------------------------------------------------------------------------------------------
# Bad bytes
# --------------------------------------------------------------------------------------------


def test_invalid_unicode_in_a_page_is_replaced_per_value_and_the_run_goes_on(env, fake, caplog) -> None:
    fake.rows[5]["description"] = "DRIVING \udcff WITHOUT"  # a lone surrogate: valid JSON, not text
    fake.rows[6]["location"] = "MAIN ST\x00"  # PostgreSQL text cannot hold U+0000
    marker = fake.rows[450]["charge"]
    fake.rows[450]["charge"] = "BYTE-MARKER"
    fake.mangle(lambda body: body.replace(b"BYTE-MARKER", b"BYTE-\xff-MARKER"),  # bytes that are not UTF-8
                when=lambda req: req.params.get("$select") == ":*, *" and req.offset == 400)  # page 3
    assert api_run() == 0
    here = charges(env)
    assert len(here) == ROWS
    assert here[fake.rows[5][":id"]][0] == "DRIVING \ufffd WITHOUT"
    assert here[fake.rows[6][":id"]][1] == "MAIN ST\ufffd"
    assert marker and here[fake.rows[450][":id"]][2] == "BYTE-\ufffd-MARKER"
    run = last_run(env)
    assert run["status"] == "success" and run["rows_quarantined"] == 0
    assert "invalid Unicode replaced by U+FFFD: page 1 (raw/source=socrata/" in run["message"]
    assert "2 value(s) with lone surrogates or U+0000 replaced by U+FFFD in row(s) 6, 7" in run["message"]
    assert "page 3 (raw/source=socrata/" in run["message"]
    assert "1 value(s) with bytes that are not UTF-8 replaced by U+FFFD in row(s) 51" in run["message"]
    assert "Socrata page 1 (" in caplog.text and "Socrata page 3 (" in caplog.text
