"""A load killed with SIGKILL at every stage boundary, on DuckDB and PostgreSQL, heals on the next run.

Each scenario, on a fresh warehouse and lake:

1. yesterday: file C loads (the data that must keep serving);
2. a real ``python -m pipeline backfill --file A`` subprocess stops at a stage boundary (a test-only
   pause point, ``PIPELINE_TEST_PAUSE_AT``) and is killed with SIGKILL; while it is paused the
   warehouse still serves exactly yesterday's data;
3. a *different* input B loads (exit 0): it must repair what the dead run left;
4. the killed input A loads again (exit 0).

The warehouse (every table but the run log) and the curated lake then equal, row for row, those of a
clean run of C, B, A. The run log says ``abandoned`` for the dead run, and nothing it left remains.
B shares 100 rows with A, so a half-applied A would show up as a duplicate or a lost row.
"""

from __future__ import annotations

import csv
import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import duckdb
import pandas as pd
import pytest

from pipeline import cli
from pipeline.config import PROJECT_ROOT, SAMPLE_DIR, Settings, load_settings
from pipeline.curated import CuratedTable
from pipeline.lake import LocalLake
from pipeline.warehouse import open_warehouse
from pipeline.marts import CUBE_NAMES
from tests.pg_fixtures import PG_URL, clone_schema, drop_schema, new_schema, pg_schema_url, schema_of, table_frame

pytest_plugins = ["tests.pg_fixtures"]

STAGES = ["begin", "extracted", "transforming", "landed", "curated", "warehouse", "committed"]
DATA_TABLES = ["moco_traffic_violations", "stops", "quarantine_rows", "mart_data_quality", "mart_provenance",
               "pipeline_state", "zip_demographics", *CUBE_NAMES]


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        return header, list(reader)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """C (yesterday), A (the input that gets killed), B (different from A but sharing 100 rows with it)."""
    root = tmp_path_factory.mktemp("crash_inputs")
    c_header, c_rows = _rows(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz")
    a_header, a_rows = _rows(SAMPLE_DIR / "mcpd_tv_sample_nikolausn_2016.csv.gz")
    b_header, b_rows = _rows(SAMPLE_DIR / "mcpd_tv_sample_nerox_2019.csv.gz")
    files = {}
    for name, header, rows in (("C", c_header, c_rows), ("A", a_header, a_rows[:2000])):
        files[name] = root / f"{name}.csv"
        with open(files[name], "w", newline="") as fh:
            csv.writer(fh).writerows([header, *rows])
    # B: the 2019 rows plus 100 of A's rows, in B's own column order (the reader maps names).
    shared = [dict(zip(a_header, r)) for r in a_rows[:100]]
    files["B"] = root / "B.csv"
    with open(files["B"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(b_header)
        writer.writerows(b_rows)
        writer.writerows([[row.get(h, "") for h in b_header] for row in shared])
    return files


@pytest.fixture(params=["duckdb", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of a fresh warehouse (DuckDB file or PostgreSQL schema) and local lake."""
    env = {"PIPELINE_LAKE": str(tmp_path / "lake"), "PIPELINE_LOCK_WAIT_SECONDS": "60"}
    if request.param == "duckdb":
        env["PIPELINE_WAREHOUSE"] = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        yield env
        return
    psycopg = pytest.importorskip("psycopg")
    schema = new_schema("crash")
    env["PIPELINE_WAREHOUSE"] = pg_schema_url(schema)
    try:
        yield env
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            drop_schema(conn, schema)


def run_cli(env: dict[str, str], path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """One load through the CLI's own entry point (its exit code), in this process."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cli.main(["backfill", "--source", "file", "--file", str(path), "--skip-analyze"])


def settings_of(env: dict[str, str]) -> Settings:
    return load_settings(env)


def snapshot(env: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Every data table (not the run log) and the curated lake's rows, without per-run columns."""
    settings = settings_of(env)
    warehouse = open_warehouse(settings)
    frames = {t: table_frame(warehouse, t) for t in DATA_TABLES}
    close = getattr(warehouse, "close", None)
    if close:
        close()
    dataset = CuratedTable(LocalLake(settings.lake_path))._table().to_pyarrow_dataset()  # noqa: F841 - read by DuckDB
    lake = duckdb.sql("select * exclude (load_id) from dataset").df()
    frames["curated lake"] = lake.sort_values(["row_id"], kind="stable").reset_index(drop=True)
    return frames


@pytest.fixture(scope="module")
def clean_runs(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    """The reference: C, B, A loaded without a crash, per backend; ``yesterday_<backend>`` keeps the
    warehouse (a DuckDB file, or a PostgreSQL schema ``yesterday_postgresql["schema"]`` dropped at the
    end of the module) and lake as they were after C, which every scenario of that backend starts from."""
    out: dict[str, dict] = {}
    yesterday_duckdb = tmp_path_factory.mktemp("yesterday_duckdb")
    out["yesterday_duckdb"] = {"root": yesterday_duckdb}
    yesterday_pg = tmp_path_factory.mktemp("yesterday_postgresql")
    out["yesterday_postgresql"] = {"root": yesterday_pg, "schema": new_schema("yesterday")}
    try:
        yield _clean_runs(inputs, tmp_path_factory, out)
    finally:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            drop_schema(conn, out["yesterday_postgresql"]["schema"])


def _clean_runs(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, out: dict[str, dict]) -> dict[str, dict]:
    with pytest.MonkeyPatch.context() as mp:
        for kind in ("duckdb", "postgresql"):
            root = tmp_path_factory.mktemp(f"clean_{kind}")
            env, schema = clean_env(kind, root, "clean")
            try:
                for name in ("C", "B", "A"):
                    assert run_cli(env, inputs[name], mp) == 0
                    if name == "C":  # "yesterday" for every scenario of this backend: a copy
                        yesterday = out[f"yesterday_{kind}"]
                        if kind == "duckdb":
                            shutil.copyfile(root / "warehouse.duckdb", yesterday["root"] / "warehouse.duckdb")
                        else:
                            clone_schema(schema, yesterday["schema"])
                        shutil.copytree(root / "lake", yesterday["root"] / "lake")
                out[kind] = snapshot(env)
            finally:
                drop_clean(schema)
    return out


def clean_env(kind: str, root: Path, label: str) -> tuple[dict[str, str], str | None]:
    """A new, empty warehouse of ``kind`` with its lake under ``root``: its env and PostgreSQL schema."""
    root.mkdir(parents=True, exist_ok=True)
    env = {"PIPELINE_LAKE": str(root / "lake")}
    if kind == "duckdb":
        return {**env, "PIPELINE_WAREHOUSE": f"duckdb:///{root / 'warehouse.duckdb'}"}, None
    schema = new_schema(label)
    return {**env, "PIPELINE_WAREHOUSE": pg_schema_url(schema)}, schema


def drop_clean(schema: str | None) -> None:
    if schema:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            drop_schema(conn, schema)


def start_paused(env: dict[str, str], path: Path, stage: str, marker: Path) -> subprocess.Popen:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_"))}
    child_env.update(env, PIPELINE_TEST_PAUSE_AT=stage, PIPELINE_TEST_PAUSE_FILE=str(marker),
                     PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "backfill", "--source", "file", "--file", str(path), "--skip-analyze"],
        cwd=PROJECT_ROOT, env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the load ended (exit {proc.returncode}) before its pause point: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the load never reached its pause point")
        time.sleep(0.05)


def charges(env: dict[str, str]) -> int:
    warehouse = open_warehouse(settings_of(env))
    try:
        return int(warehouse.query("select count(*) as n from moco_traffic_violations").iloc[0, 0])
    finally:
        close = getattr(warehouse, "close", None)
        if close:
            close()


def assert_same(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame], label: str) -> tuple[int, int]:
    """Assert row-for-row equality; return (rows lost, rows duplicated) of the charges for the report."""
    got = set(actual["moco_traffic_violations"]["row_id"])
    want = set(expected["moco_traffic_violations"]["row_id"])
    lost = len(want - got)
    duplicated = len(actual["moco_traffic_violations"]) - len(got) + len(got - want)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(actual[name], frame, obj=f"{label}: {name}")
    return lost, duplicated


@pytest.mark.parametrize("stage", STAGES)
def test_a_load_killed_at_any_stage_heals_on_the_next_runs(
    stage: str, backend: dict[str, str], inputs: dict[str, Path], clean_runs: dict[str, dict],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    kind = settings_of(backend).warehouse_kind
    # the same state as loading C here (the clean run loaded it), copied
    template = clean_runs[f"yesterday_{kind}"]
    if kind == "duckdb":
        shutil.copyfile(template["root"] / "warehouse.duckdb", settings_of(backend).duckdb_path)
    else:
        clone_schema(template["schema"], schema_of(backend["PIPELINE_WAREHOUSE"]))
    shutil.copytree(template["root"] / "lake", settings_of(backend).lake_path)
    yesterday = charges(backend)

    marker = tmp_path / "paused"
    proc = start_paused(backend, inputs["A"], stage, marker)
    wait_for(marker, proc)
    if stage != "committed":
        assert charges(backend) == yesterday  # the paused load publishes nothing
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL

    t0 = time.monotonic()
    assert run_cli(backend, inputs["B"], monkeypatch) == 0  # a different input, after the crash
    repair_seconds = time.monotonic() - t0
    assert run_cli(backend, inputs["A"], monkeypatch) == 0  # then the killed input again

    lost, duplicated = assert_same(snapshot(backend), clean_runs[kind], f"{kind} killed at {stage}")
    settings = settings_of(backend)
    warehouse = open_warehouse(settings)
    runs = warehouse.query("select status from pipeline_runs order by started_at")["status"].tolist()
    assert runs == ["success", "success" if stage == "committed" else "abandoned", "success", "success"]
    lake = settings.lake_path
    assert not list((lake / "_tmp").glob("batch-*")), "a dead run's work folder was left behind"
    landing_runs = {p.name for p in (lake / "landing").iterdir()} if (lake / "landing").exists() else set()
    assert len(landing_runs) == (4 if stage in ("committed",) else 3), landing_runs  # the dead run's landing removed
    if kind == "duckdb":
        assert not settings.duckdb_path.with_name(settings.duckdb_path.name + ".next").exists()
    print(f"\nMATRIX {stage:<12} {kind:<10} killed exit {proc.returncode} | next run exit 0 in {repair_seconds:.1f} s "
          f"| lost {lost} | duplicated {duplicated} | converged")


def test_a_killed_postgresql_client_does_not_keep_the_lock(
    pg_fresh_url: str, inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed inside a long server-side statement: the server cancels it and frees the lock in seconds."""
    import psycopg

    env = {"PIPELINE_LAKE": str(tmp_path / "lake"), "PIPELINE_WAREHOUSE": pg_fresh_url,
           "PIPELINE_LOCK_WAIT_SECONDS": "1"}
    assert run_cli(env, inputs["C"], monkeypatch) == 0
    marker = tmp_path / "paused"
    proc = start_paused(env, inputs["A"], "warehouse", marker)  # there it runs pg_sleep(3600) on the server
    wait_for(marker, proc)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        busy = conn.execute("select count(*) from pg_stat_activity where application_name = 'moco-pipeline' "
                            "and query like 'select pg_sleep%%' and state = 'active'").fetchone()[0]
    assert busy == 1  # the server really is running the dead client's statement
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    t0 = time.monotonic()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        while conn.execute("select count(*) from pg_stat_activity where application_name = 'moco-pipeline' "
                           "and query like 'select pg_sleep%%'").fetchone()[0]:
            assert time.monotonic() - t0 < 15, "the dead client's statement is still running"
            time.sleep(0.2)
    freed = time.monotonic() - t0
    assert run_cli(env, inputs["B"], monkeypatch) == 0  # gets the lock with a 1 s wait
    print(f"\nPostgreSQL: dead client's statement cancelled and lock freed {freed:.1f} s after SIGKILL")


def test_a_first_load_killed_in_its_warehouse_transaction_serves_nothing_and_the_rerun_converges(
    backend: dict[str, str], inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An empty warehouse's first load killed inside its publishing transaction, with its charges
    (PostgreSQL: copied straight into the charges table), stops and marts written: nothing of it is
    served, and the next run of the same input ends exactly as a clean first load."""
    kind = settings_of(backend).warehouse_kind
    marker = tmp_path / "paused"
    proc = start_paused(backend, inputs["A"], "warehouse", marker)
    try:
        wait_for(marker, proc)
        assert charges(backend) == 0  # the paused first load serves nothing
    finally:
        proc.send_signal(signal.SIGKILL)  # also when the check failed: no paused load left behind
    assert proc.wait(30) == -signal.SIGKILL
    assert run_cli(backend, inputs["A"], monkeypatch) == 0

    clean, schema = clean_env(kind, tmp_path / "clean", "clean_first")
    try:
        assert run_cli(clean, inputs["A"], monkeypatch) == 0
        assert_same(snapshot(backend), snapshot(clean), f"{kind} first load killed in its warehouse transaction")
    finally:
        drop_clean(schema)
    statuses = open_warehouse(settings_of(backend)).query("select status from pipeline_runs order by started_at")
    assert statuses["status"].tolist() == ["abandoned", "success"]
