"""Gates that stop a load before anything is published (exit 3), and the value rules every backend shares.

No source quirk may lose rows silently: a load that lands nothing, one that quarantines more than
PIPELINE_MAX_QUARANTINE_SHARE, a file that is not a CSV export, or a field that disappeared at the
source (its null rate jumps against the run log's history) stops with exit 3 naming the cause; the
previous data keeps serving and freshness is not reset. Over-long text is clipped to the warehouse
widths in the transform, so DuckDB and PostgreSQL accept and hold the same rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import shutil
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from pipeline import cli
from pipeline.config import SAMPLE_DIR, SQL_DIR, load_settings
from pipeline.reference import ensure_reference
from pipeline.warehouse import open_warehouse
from tests.pg_fixtures import PG_URL, backend_env, clone_schema, drop_schema, new_schema, pg_schema_url, schema_of

pytest_plugins = ["tests.pg_fixtures"]

BASE = SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz"
FIXTURE_2025 = Path(__file__).parent / "fixtures" / "mcpd_tv_sample_nischal_2025_augmented.csv.gz"  # has SeqID


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


@pytest.fixture(params=["duckdb", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {"PIPELINE_LAKE": str(tmp_path / "lake")}
    with backend_env(request.param, tmp_path, monkeypatch, values, "gate") as env_values:
        yield env_values


def load(path: Path, *extra: str) -> int:
    return cli.main(["backfill", "--source", "file", "--file", str(path), "--skip-analyze", *extra])


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """The two starting states the tests share, built once per module and backend on first use:
    "reference" (the shipped reference tables, no charges: what a first load builds before its rows)
    and "base" (BASE loaded through the CLI). A test copies one (a DuckDB file, or a PostgreSQL
    schema, and the lake folder) instead of building it again."""
    made: dict[tuple[str, str], tuple[Path, str]] = {}

    def get(backend: str, name: str) -> tuple[Path, str]:
        """(root holding ``lake`` and, for DuckDB, ``warehouse.duckdb``; the PIPELINE_WAREHOUSE URL)"""
        if (backend, name) not in made:
            root = tmp_path_factory.mktemp(f"gate_{backend}_{name}")
            url = (f"duckdb:///{root / 'warehouse.duckdb'}" if backend == "duckdb"
                   else pg_schema_url(new_schema(f"gate_{name}")))
            made[(backend, name)] = (root, url)  # before building: a half-built schema is dropped too
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("PIPELINE_WAREHOUSE", url)
                mp.setenv("PIPELINE_LAKE", str(root / "lake"))
                if name == "base":
                    assert load(BASE) == 0
                else:
                    settings = load_settings()
                    warehouse = open_warehouse(settings)
                    ensure_reference(settings, warehouse)
                    getattr(warehouse, "close", lambda: None)()
        return made[(backend, name)]

    try:
        yield get
    finally:
        schemas = [schema_of(url) for (backend, _), (_, url) in made.items() if backend != "duckdb"]
        if schemas:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                for schema in schemas:
                    drop_schema(conn, schema)


@pytest.fixture
def start_from(env: dict[str, str], templates):  # noqa: ANN001, ANN201
    """``start_from("base")``: the warehouse and lake as after ``assert load(BASE) == 0``;
    ``start_from("reference")``: reference tables only, as a first load finds them. Copied."""

    def start(name: str) -> None:
        settings = load_settings(env)
        root, url = templates(settings.warehouse_kind, name)
        if settings.warehouse_kind == "duckdb":
            shutil.copyfile(root / "warehouse.duckdb", settings.duckdb_path)
        else:
            clone_schema(schema_of(url), schema_of(env["PIPELINE_WAREHOUSE"]))
        if (root / "lake").exists():
            shutil.copytree(root / "lake", settings.lake_path)

    return start


def state(env: dict[str, str]) -> tuple[int, object, list[str]]:
    """(charges served, last successful load, run statuses) as the dashboard and `status` see them."""
    warehouse = open_warehouse(load_settings(env))
    charges = int(warehouse.query("select count(*) as n from moco_traffic_violations").iloc[0, 0])
    last = warehouse.query("select max(finished_at) as t from pipeline_runs where status = 'success'").iloc[0, 0]
    statuses = warehouse.query("select status from pipeline_runs order by started_at")["status"].tolist()
    return charges, last, statuses


def test_a_file_whose_every_row_is_quarantined_stops_and_keeps_serving(env, start_from, tmp_path, caplog) -> None:
    start_from("base")  # the state after `assert load(BASE) == 0`
    before = state(env)
    header, rows = read(BASE)
    col = header.index("Violation Type")
    bad = write(tmp_path / "all_bad.csv", header, [[*r[:col], "NOT A TYPE", *r[col + 1:]] for r in rows[:50]])
    assert load(bad) == 3
    assert "nothing landed: all 50 row(s) were quarantined" in caplog.text
    charges, last, statuses = state(env)
    assert (charges, last) == before[:2]  # still serving, freshness not reset
    assert statuses == ["success", "failed"]


def test_a_load_quarantining_more_than_the_allowed_share_stops(env, start_from, tmp_path, caplog, monkeypatch) -> None:
    start_from("base")  # the state after `assert load(BASE) == 0`
    header, rows = read(BASE)
    col = header.index("Race")
    mixed = [[*r[:col], "PURPLE", *r[col + 1:]] if i % 5 == 0 else r for i, r in enumerate(rows[:200])]
    path = write(tmp_path / "mixed.csv", header, mixed)
    assert load(path) == 3  # 40 of 200 = 20% > 10%
    assert "40 of 200 rows (20.0%) quarantined, above PIPELINE_MAX_QUARANTINE_SHARE=10%" in caplog.text
    monkeypatch.setenv("PIPELINE_MAX_QUARANTINE_SHARE", "0.25")
    assert load(path) == 0  # a maintainer who raised the limit loads it, quarantine kept with reasons
    warehouse = open_warehouse(load_settings(env))
    assert int(warehouse.query("select count(*) as n from quarantine_rows where reason like 'race not an allowed%'")
               .iloc[0, 0]) == 40


def test_a_file_that_is_not_a_csv_export_is_named_in_the_error(env, start_from, tmp_path, caplog) -> None:
    start_from("base")  # the state after `assert load(BASE) == 0`
    binary = tmp_path / "export.csv.gz"
    binary.write_bytes(bytes(range(256)) * 64)
    assert load(binary) == 3
    err = caplog.text
    assert str(binary) in err and "not a CSV export" in err
    assert state(env)[2] == ["success", "failed"]


def test_an_emptied_field_in_a_files_header_stops_the_load_until_accepted(env, start_from, tmp_path, caplog) -> None:
    start_from("reference")
    header, rows = read(BASE)
    assert load(write(tmp_path / "day1.csv", header, rows[:500])) == 0
    before = state(env)
    col = header.index("Description")
    day2 = write(tmp_path / "day2.csv", header, [[*r[:col], "", *r[col + 1:]] for r in rows[500:]])
    assert load(day2) == 3
    err = caplog.text
    assert "description (null in 0% of rows usually, 100% now)" in err and "--accept-schema-change" in err
    assert state(env)[:2] == before[:2]
    assert load(day2, "--accept-schema-change") == 0  # the maintainer says the change is real
    warehouse = open_warehouse(load_settings(env))
    message = warehouse.query("select message from pipeline_runs where status = 'success' order by started_at desc")
    assert "schema change accepted" in message.iloc[0, 0]


def test_a_column_absent_from_a_files_header_is_that_files_layout_said_and_loaded(env, start_from, tmp_path, caplog) -> None:
    """Mixed export vintages: an older export (no SeqID, no search fields) after a newer one loads;
    the run log says which file lacks which columns. (It was stopped as 'seq_id null 100%'.)"""
    start_from("reference")
    newer = FIXTURE_2025
    assert load(newer) == 0
    older = write(tmp_path / "older_2017.csv", *read(BASE))
    assert load(older) == 0
    warehouse = open_warehouse(load_settings(env))
    runs = warehouse.query("select status, rows_landed, message from pipeline_runs order by started_at")
    assert runs["status"].tolist() == ["success", "success"]
    assert ("file older_2017.csv has no column(s) seq_id, search_conducted, search_disposition, search_outcome, "
            "search_reason, search_reason_for_stop, search_type, search_arrest_reason (its export's layout, not a "
            "change at the source)") in runs["message"].iloc[1]
    assert "older_2017.csv has no column(s) seq_id" in caplog.text
    counts = warehouse.query("select source_file, count(*) as n, count(seq_id) as with_seq from moco_traffic_violations "
                             "group by source_file order by source_file")
    assert counts.to_dict("records") == [
        {"source_file": "mcpd_tv_sample_nischal_2025_augmented.csv.gz", "n": 567, "with_seq": 567},
        {"source_file": "older_2017.csv", "n": int(runs["rows_landed"].iloc[1]), "with_seq": 0},
    ]


def test_over_long_text_is_clipped_the_same_on_every_backend(env, start_from, tmp_path) -> None:
    start_from("reference")
    header, rows = read(BASE)
    col = header.index("Location")
    long = ("É" + "X" * 299) * 2  # 600 characters, 602 bytes
    path = write(tmp_path / "long.csv", header, [[*r[:col], long, *r[col + 1:]] for r in rows[:100]])
    assert load(path) == 0
    warehouse = open_warehouse(load_settings(env))
    got = warehouse.query("select location, count(*) as n from moco_traffic_violations group by location")
    assert len(got) == 1 and int(got["n"].iloc[0]) == 100
    value = got["location"].iloc[0]
    assert len(value.encode()) == 512 and long.startswith(value) and len(value) == 510  # two 2-byte É: 510 characters
    message = warehouse.query("select message from pipeline_runs").iloc[0, 0]
    assert "100 over-long text value(s) clipped" in message


def test_long_non_ascii_text_keeps_every_whole_character_that_fits_on_every_backend(env, start_from, tmp_path) -> None:
    """The issue's case: a long value of 2-, 3- or 4-byte characters was stored as ''."""
    start_from("reference")
    header, rows = read(BASE)
    col = header.index("Location")
    values = ["é" * 600, "ש" * 300, "😀" * 200, "a" + "中" * 200]  # each over location's 512 bytes
    path = write(tmp_path / "multibyte.csv", header, [[*r[:col], values[i % 4], *r[col + 1:]] for i, r in enumerate(rows[:40])])
    assert load(path) == 0
    warehouse = open_warehouse(load_settings(env))
    got = set(warehouse.query("select distinct location from moco_traffic_violations")["location"])
    assert got == {"é" * 256, "ש" * 256, "😀" * 128, "a" + "中" * 170}  # 512, 512, 512 and 511 bytes
    assert "40 over-long text value(s) clipped" in warehouse.query("select message from pipeline_runs").iloc[0, 0]


def test_the_transform_clips_every_text_column_at_its_warehouse_width() -> None:
    schema = (SQL_DIR / "warehouse" / "schema.sql").read_text()
    table = schema[schema.index("create table if not exists moco_traffic_violations"):]
    widths = dict(re.findall(r"^\s+(\w+) varchar\((\d+)\)", table[:table.index(");")], re.M))
    standardize = (SQL_DIR / "transform" / "standardize.sql").read_text()
    clips = dict(re.findall(r"clip\((\w+), (\d+)\) as \1", standardize))
    flags = dict(re.findall(r"too_long\((\w+), (\d+)\)", standardize))
    source_text = {c for c in clips}  # every clipped column is a warehouse column of the same width
    assert clips and all(widths[c] == w for c, w in clips.items()), {c: (w, widths.get(c)) for c, w in clips.items()}
    assert flags == clips  # each clip is counted
    derived = {"row_id", "stop_id", "content_key", "source", "load_id", "source_file", "district", "zip5", "zip_status"}
    assert set(widths) - derived == source_text  # no source text column left unclipped


def test_a_reader_that_loses_a_record_fails_the_load_naming_the_file(env, start_from, tmp_path, caplog, monkeypatch) -> None:
    """The raw count comes from the file's bytes, so a record the reader drops cannot balance out."""
    from pipeline.extract import files

    start_from("base")  # the state after `assert load(BASE) == 0`
    before = state(env)
    header, rows = read(BASE)
    path = write(tmp_path / "day2.csv", header, rows[:300])
    lost = rows[7][header.index("Location")]
    real_reader = files.read_csv_files

    def losing_reader(con, paths, source):  # noqa: ANN001, ANN202 - DuckDB silently skipping one record
        finish, unknown = real_reader(con, paths, source)
        con.execute("alter view src_rows rename to src_rows_all")
        con.execute("set variable lost_location = ?", [lost])
        con.execute("create temp view src_rows as select * from src_rows_all "
                    "where location is distinct from getvariable('lost_location')")
        return finish, unknown

    monkeypatch.setattr(files, "read_csv_files", losing_reader)
    dropped = sum(1 for r in rows[:300] if r[header.index("Location")] == lost)
    assert load(path) == 3
    assert (f"day2.csv: records in the file = parsed + rejected by the CSV reader: records counted from the "
            f"file's bytes vs read by the reader: 300 vs {300 - dropped}") in caplog.text
    charges, last, statuses = state(env)
    assert (charges, last) == before[:2]  # the previous data keeps serving
    assert statuses == ["success", "failed"]
    warehouse = open_warehouse(load_settings(env))
    failed = warehouse.query("select rows_raw, message from pipeline_runs where status = 'failed'")
    assert int(failed["rows_raw"].iloc[0]) == 300 and "day2.csv" in failed["message"].iloc[0]


def test_records_a_stray_quote_swallowed_are_quarantined_one_by_one(env, start_from, tmp_path) -> None:
    """A Location that opens a quote and never closes it (the benchmark generator's fault): DuckDB
    reads on into the next record and rejects both as one line; the load quarantines each."""
    start_from("reference")
    header, rows = read(BASE)
    col = header.index("Location")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([header, *rows[:10]])
    stray = [f.replace(",", " ") for f in rows[10]]
    stray[header.index("Geolocation")] = ""
    out.write(",".join(writer_quoted(stray[:col])) + ',"' + stray[col].replace('"', "") + "," + ",".join(stray[col + 1:]) + "\n")
    writer.writerows(rows[11:100])
    path = tmp_path / "stray.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    assert load(path) == 0
    warehouse = open_warehouse(load_settings(env))
    run = warehouse.query("select rows_raw, rows_landed, rows_quarantined from pipeline_runs").iloc[0]
    reasons = warehouse.query("select reason from quarantine_rows")["reason"].tolist()
    assert int(run["rows_raw"]) == 100 == int(run["rows_landed"]) + int(run["rows_quarantined"])
    assert any(r.startswith("SWALLOWED BY A STRAY QUOTE") for r in reasons), reasons


def writer_quoted(fields: list[str]) -> list[str]:
    return ['"' + f.replace('"', '""') + '"' if ("," in f or '"' in f) else f for f in fields]


# --------------------------------------------------------------------------------------------
# The gates' thresholds, at their boundaries (pure functions; the loads above show them in use)
# --------------------------------------------------------------------------------------------


def test_a_null_rate_half_a_row_share_above_its_median_is_a_schema_change() -> None:
    from pipeline.contract import null_rate_jumps

    history = [{"location": 0.0, "model": 0.10}, {"location": 0.02, "model": 0.10}, {"location": 0.0, "model": 0.30}]
    # location: median 0.0, now 0.5 -> a jump of exactly JUMP (0.5) counts; model: median 0.10, now 0.59 does not.
    assert null_rate_jumps({"location": 0.5, "model": 0.59}, history, rows=100) == {"location": (0.0, 0.5)}
    assert null_rate_jumps({"location": 0.49}, history, rows=100) == {}
    assert null_rate_jumps({"location": 1.0}, history, rows=19) == {}  # under MIN_ROWS (20): too few to judge
    assert null_rate_jumps({"location": 1.0}, history, rows=20) == {"location": (0.0, 1.0)}
    assert null_rate_jumps({"location": 1.0}, [], rows=100) == {}  # no history yet


def test_the_quarantine_share_may_reach_the_limit_but_not_pass_it() -> None:
    from pipeline.contract import check_batch
    from pipeline.quality import QualityError

    check_batch(raw=200, landed=190, quarantined=10, max_share=0.05, require_rows=True)  # 5.0%: allowed
    with pytest.raises(QualityError, match="quarantine share: 11 of 200"):
        check_batch(raw=200, landed=189, quarantined=11, max_share=0.05, require_rows=True)  # 5.5%
    with pytest.raises(QualityError, match="nothing landed"):
        check_batch(raw=3, landed=0, quarantined=3, max_share=1.0, require_rows=False)
    with pytest.raises(QualityError, match="extract not empty"):
        check_batch(raw=0, landed=0, quarantined=0, max_share=0.05, require_rows=True)
    check_batch(raw=0, landed=0, quarantined=0, max_share=0.05, require_rows=False)  # a quiet day's run
