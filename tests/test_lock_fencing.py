"""The load lock is a fence, not just a lock; waiting for it is the same on every path; the run log
and ``status`` tell the truth about runs that died, lost their lock or were refused it.

Real processes (``python -m pipeline`` subprocesses paused at a stage and then resumed, or killed),
real DuckDB and a real PostgreSQL. Each case asserts the exit codes, the warehouse's rows against a
clean run of the same inputs, and the run-log rows. The fault matrix these cases fill is in
docs/ARCHITECTURE.md ("The load lock and the fence").
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pandas as pd
import pytest

from pipeline import cli
from pipeline.config import PROJECT_ROOT, SAMPLE_DIR, load_settings
from pipeline.warehouse import open_warehouse
from pipeline.warehouse.base import LockRefused
from pipeline.warehouse.duckdb_wh import DuckDBWarehouse
from tests.pg_fixtures import PG_URL, drop_schema, new_schema, pg_schema_url, table_frame

pytest_plugins = ["tests.pg_fixtures"]

COMPARED = ["moco_traffic_violations", "stops", "pipeline_state", "mart_provenance"]
DEAD = "dead (will be marked abandoned)"


# --------------------------------------------------------------------------------------------------
# Inputs, processes, comparisons
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three small exports: C (the data already served), A and B (two loads that meet at the lock)."""
    root = tmp_path_factory.mktemp("lock_inputs")
    files = {}
    for name, sample in (("C", "tolu238_2017"), ("A", "nikolausn_2016"), ("B", "nerox_2019")):
        with gzip.open(SAMPLE_DIR / f"mcpd_tv_sample_{sample}.csv.gz", "rt", encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))[:301]  # header + 300 rows
        files[name] = root / f"{name}.csv"
        with open(files[name], "w", newline="") as fh:
            csv.writer(fh).writerows(rows)
    return files


STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    """A failed test must not leave a paused load behind (it would wait for its resume file forever)."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def child_env(env: dict[str, str], **extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "SOCRATA_"))}
    out.update(env, PYTHONPATH=str(PROJECT_ROOT), **extra)
    return out


def start(env: dict[str, str], *args: str, pause: str | None = None, tmp: Path | None = None) -> subprocess.Popen:
    """``python -m pipeline <args>`` in a subprocess; with ``pause``, it stops at that stage until
    ``tmp/resume`` exists (writing ``tmp/paused`` when it gets there)."""
    extra = {}
    if pause:
        extra = {"PIPELINE_TEST_PAUSE_AT": pause, "PIPELINE_TEST_PAUSE_FILE": str(tmp / "paused"),
                 "PIPELINE_TEST_RESUME_FILE": str(tmp / "resume")}
    STARTED.append(subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT,
                                    env=child_env(env, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True))
    return STARTED[-1]


def start_logged(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """``python -m pipeline <args>`` with its log (stderr) in a file the test can watch."""
    STARTED.append(subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, env=child_env(env),
                                    stdout=subprocess.DEVNULL, stderr=open(log, "w"), text=True))
    return STARTED[-1]


def wait_until_waiting(proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Until the process says it is waiting for the lock (fails if it ends first)."""
    deadline = time.monotonic() + timeout
    while "waiting up to" not in log.read_text():
        assert proc.poll() is None, f"ended (exit {proc.returncode}) without waiting: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "never waited for the lock"
        time.sleep(0.1)


def load_args(path: Path) -> list[str]:
    return ["backfill", "--source", "file", "--file", str(path), "--skip-analyze"]


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"ended (exit {proc.returncode}) before its pause: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("never reached its pause point")
        time.sleep(0.05)


def finish(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def run_in_process(env: dict[str, str], argv: list[str], monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture | None = None) -> int:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cli.main(argv)


def state(env: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The served tables (run log aside), without per-run columns."""
    warehouse = open_warehouse(load_settings(env))
    try:
        return {t: table_frame(warehouse, t) for t in COMPARED}
    finally:
        getattr(warehouse, "close", lambda: None)()


def run_log(env: dict[str, str]) -> pd.DataFrame:
    warehouse = open_warehouse(load_settings(env))
    try:
        return warehouse.query("select run_id, command, status, rows_raw, rows_curated, warehouse_rows, "
                               "rows_inserted, lake_version, message from pipeline_runs order by started_at")
    finally:
        getattr(warehouse, "close", lambda: None)()


def assert_same(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(actual[name], frame, obj=name)


def status(env: dict[str, str]) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "--json", "status"], cwd=PROJECT_ROOT,
                          env=child_env(env), capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout)


def line_of(report: dict, run_id: str) -> str:
    started = [r["started_at"] for r in report["runs"] if r["run_id"] == run_id]
    return next(line for line in report["text"].splitlines() if started and started[0] in line)


# --------------------------------------------------------------------------------------------------
# Backends and their clean runs
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def duck(tmp_path: Path) -> dict[str, str]:
    return {"PIPELINE_LAKE": str(tmp_path / "lake"), "PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'w.duckdb'}",
            "PIPELINE_LOCK_WAIT_SECONDS": "120"}


@pytest.fixture
def pg(tmp_path: Path, pg_admin) -> Iterator[dict[str, str]]:  # noqa: ANN001
    schema = new_schema("fence")
    try:
        yield {"PIPELINE_LAKE": str(tmp_path / "lake"), "PIPELINE_WAREHOUSE": pg_schema_url(schema),
               "PIPELINE_LOCK_WAIT_SECONDS": "120"}
    finally:
        drop_schema(pg_admin, schema)


@pytest.fixture(scope="module")
def clean(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """What a clean, sequential run of the same inputs serves: (backend, input order) -> tables."""
    import psycopg

    cache: dict = {}
    schemas: list[str] = []

    def get(kind: str, order: str) -> dict[str, pd.DataFrame]:
        if (kind, order) not in cache:
            root = tmp_path_factory.mktemp(f"clean_{kind}_{order}")
            env = {"PIPELINE_LAKE": str(root / "lake")}
            if kind == "duckdb":
                env["PIPELINE_WAREHOUSE"] = f"duckdb:///{root / 'w.duckdb'}"
            else:
                schemas.append(new_schema("fclean"))
                env["PIPELINE_WAREHOUSE"] = pg_schema_url(schemas[-1])
            with pytest.MonkeyPatch.context() as mp:
                for name in order:
                    assert run_in_process(env, load_args(inputs[name]), mp) == 0
            cache[(kind, order)] = state(env)
        return cache[(kind, order)]

    yield get
    if schemas:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for schema in schemas:
                drop_schema(conn, schema)


# --------------------------------------------------------------------------------------------------
# PostgreSQL: the lock cannot time out, and a lost lock cannot publish
# --------------------------------------------------------------------------------------------------


def lock_sessions(schema_run_id: str) -> list[int]:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "select pid from pg_stat_activity where application_name = %s and datname = current_database()",
            [f"moco-pipeline lock {schema_run_id}"]).fetchall()]


def running_run(env: dict[str, str]) -> str:
    log = run_log(env)
    (run_id,) = log.loc[log["status"] == "running", "run_id"]
    return str(run_id)


def test_postgres_lock_outlives_idle_session_timeout_and_the_refusal_names_only_its_holder(
    pg: dict[str, str], inputs: dict[str, Path], clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every session the pipeline opens gets ``idle_session_timeout = 1 s`` (a hardening setting). A
    run paused for 4 s with its lock session idle keeps the lock: a second load is refused after its
    wait, naming the one session that holds the lock (not a pipeline session of another database);
    the first then finishes, and the warehouse is a clean run's."""
    import psycopg

    env = {**pg, "PIPELINE_WAREHOUSE": pg["PIPELINE_WAREHOUSE"] + "&options=" + quote("-c idle_session_timeout=1000")}
    assert run_in_process(env, load_args(inputs["C"]), monkeypatch) == 0
    first = start(env, *load_args(inputs["A"]), pause="curated", tmp=tmp_path)
    wait_for(tmp_path / "paused", first)
    a_id = running_run(env)
    time.sleep(4)  # four idle timeouts' worth
    assert len(lock_sessions(a_id)) == 1, "the lock session was ended by idle_session_timeout"

    # A pipeline session in another database holding the same lock key there: the refusal must not list it.
    schema = load_settings(env).warehouse_url.split("schema=")[1].split("&")[0]
    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", application_name="moco-pipeline",
                         autocommit=True) as other:
        other_pid = other.info.backend_pid
        other.execute("select pg_advisory_lock(hashtext('moco_traffic_stops.load'), hashtext(%s))", [schema])
        second = start({**env, "PIPELINE_LOCK_WAIT_SECONDS": "1"}, *load_args(inputs["B"]))
        b_exit, b_err = finish(second)
    assert b_exit == 1
    assert "another load holds the warehouse lock (waited 1 s): pid" in b_err
    assert a_id in b_err and f"pid {other_pid} " not in b_err and b_err.count("pid ") == 1, b_err[-1500:]

    (tmp_path / "resume").touch()
    a_exit, a_err = finish(first)
    assert a_exit == 0, a_err[-3000:]
    assert_same(state(env), clean("postgresql", "CA"))
    log = run_log(env)
    assert log["status"].tolist() == ["success", "success", "failed"]  # C, A (started first), B refused
    refused = log.iloc[2]
    assert "another load holds the warehouse lock" in refused["message"]
    assert pd.isna(refused["warehouse_rows"]) and pd.isna(refused["lake_version"])


def test_postgres_lock_session_terminated_mid_load_the_first_load_aborts_at_its_commit(
    pg: dict[str, str], inputs: dict[str, Path], clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A is paused inside its publishing transaction when its lock session is terminated. ``status``
    then calls A dead and exits 1; B takes the lock, marks A abandoned and loads. A, resumed, finds
    at its commit that the fence is no longer its own: it rolls back (exit 1, a clear message), and
    its row stays ``abandoned`` with its own account appended. The warehouse is a clean run of C, B."""
    import psycopg

    assert run_in_process(pg, load_args(inputs["C"]), monkeypatch) == 0
    first = start(pg, *load_args(inputs["A"]), pause="warehouse", tmp=tmp_path)
    wait_for(tmp_path / "paused", first)
    a_id = running_run(pg)
    code, report = status(pg)
    assert code == 0 and report["dead_runs"] == [] and " running " in line_of(report, a_id)

    (pid,) = lock_sessions(a_id)
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        assert conn.execute("select pg_terminate_backend(%s)", [pid]).fetchone()[0]
    deadline = time.monotonic() + 10
    while lock_sessions(a_id):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    code, report = status(pg)
    assert code == 1 and report["dead_runs"] == [a_id] and DEAD in line_of(report, a_id)

    second = start(pg, *load_args(inputs["B"]))
    deadline = time.monotonic() + 120
    while run_log(pg).set_index("run_id").loc[a_id, "status"] != "abandoned":  # B holds the lock and began
        assert second.poll() is None, second.stderr.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    (tmp_path / "resume").touch()
    a_exit, a_err = finish(first)
    b_exit, b_err = finish(second)
    assert (a_exit, b_exit) == (1, 0), (a_err[-3000:], b_err[-3000:])
    assert "LockLost: this run lost the load lock before its commit" in a_err

    assert_same(state(pg), clean("postgresql", "CB"))
    log = run_log(pg).set_index("run_id")
    assert log["status"].tolist() == ["success", "abandoned", "success"]
    a_row = log.loc[a_id]
    b_id = log.index[2]
    assert a_row["message"].startswith(f"abandoned: its load lock was free when run {b_id} took it")
    assert "then the run itself stopped: LockLost: this run lost the load lock before its commit" in a_row["message"]
    assert pd.isna(a_row["warehouse_rows"]) and pd.isna(a_row["rows_curated"])  # it published nothing
    code, report = status(pg)
    assert code == 0 and report["dead_runs"] == []


# --------------------------------------------------------------------------------------------------
# DuckDB: every write waits for the lock; a refusal is on record
# --------------------------------------------------------------------------------------------------


def test_duckdb_lock_is_exclusive_and_a_refusal_is_recorded(tmp_path: Path) -> None:
    """Held by one run, the lock refuses a second after its wait (not before), names the holder,
    and the refusal goes to the side file. (A shared lock would let both in.)"""
    first = DuckDBWarehouse(tmp_path / "w.duckdb", lock_wait_s=60)
    second = DuckDBWarehouse(tmp_path / "w.duckdb", lock_wait_s=0.6)
    with first.run_lock("run-one", "backfill from file"):
        assert second.lock_holder() == (True, "run-one")
        t0 = time.monotonic()
        with pytest.raises(LockRefused, match=r"held by run-one\) \(waited 0.6 s\)"):
            with second.run_lock("run-two", "run from socrata"):
                pass
        assert time.monotonic() - t0 >= 0.6
    assert second.lock_holder() == (False, None)
    (entry,) = [json.loads(line) for line in second.refusal_log.read_text().splitlines()]
    assert (entry["owner"], entry["about"]) == ("run-two", "run from socrata")
    with second.run_lock("run-two"):  # free again
        pass


def test_duckdb_two_loads_on_an_empty_warehouse_the_second_waits_then_loads(
    duck: dict[str, str], inputs: dict[str, Path], clean, tmp_path: Path,
) -> None:
    """Two loads started together on an empty warehouse: the second waits for the first (it does
    not fail at once), ``status`` meanwhile says the first is running, and both load."""
    first = start(duck, *load_args(inputs["A"]), pause="curated", tmp=tmp_path)
    wait_for(tmp_path / "paused", first)
    second = start_logged(duck, tmp_path / "second.log", *load_args(inputs["B"]))
    wait_until_waiting(second, tmp_path / "second.log")
    a_id = running_run(duck)
    code, report = status(duck)
    # Nothing loaded yet: stale (exit 1), but the paused run is alive, not dead.
    assert (code, report["fresh"], report["dead_runs"]) == (1, False, []) and " running " in line_of(report, a_id)
    (tmp_path / "resume").touch()
    a_exit, a_err = finish(first)
    b_exit = second.wait(180)
    assert (a_exit, b_exit) == (0, 0), (a_err[-2000:], (tmp_path / "second.log").read_text()[-2000:])
    assert_same(state(duck), clean("duckdb", "AB"))
    assert run_log(duck)["status"].tolist() == ["success", "success"]


def test_duckdb_two_loads_started_together_the_second_waits_in_the_reference_step(
    duck: dict[str, str], inputs: dict[str, Path], clean, tmp_path: Path,
) -> None:
    """The issue's case exactly: on an empty warehouse both loads first load the reference tables.
    The first is paused inside that write (holding the lock); the second must wait there too, not
    fail at once ("waited 0 s"), and then both load."""
    first = start(duck, *load_args(inputs["A"]), pause="reference", tmp=tmp_path)
    wait_for(tmp_path / "paused", first)
    second = start_logged(duck, tmp_path / "second.log", *load_args(inputs["B"]))
    wait_until_waiting(second, tmp_path / "second.log")
    (tmp_path / "resume").touch()
    a_exit, a_err = finish(first)
    b_exit = second.wait(180)
    assert (a_exit, b_exit) == (0, 0), (a_err[-2000:], (tmp_path / "second.log").read_text()[-2000:])
    assert_same(state(duck), clean("duckdb", "AB"))
    assert run_log(duck)["status"].tolist() == ["success", "success"]


def test_duckdb_reference_and_analyze_wait_for_a_load_and_a_refusal_reaches_status(
    duck: dict[str, str], inputs: dict[str, Path], clean, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """During a load, ``reference`` and ``analyze`` wait and then succeed; a load refused after its
    wait exits 1, is in the refusal side file, and ``status`` shows it."""
    assert run_in_process(duck, load_args(inputs["C"]), monkeypatch) == 0
    first = start(duck, *load_args(inputs["A"]), pause="curated", tmp=tmp_path)
    wait_for(tmp_path / "paused", first)
    reference = start_logged(duck, tmp_path / "reference.log", "reference")
    analyze = start_logged(duck, tmp_path / "analyze.log", "analyze")
    refused = start({**duck, "PIPELINE_LOCK_WAIT_SECONDS": "1"}, *load_args(inputs["B"]))
    r_exit, r_err = finish(refused)
    assert r_exit == 1 and "(waited 1 s)" in r_err
    wait_until_waiting(reference, tmp_path / "reference.log")
    wait_until_waiting(analyze, tmp_path / "analyze.log")
    (tmp_path / "resume").touch()
    assert finish(first)[0] == 0
    assert reference.wait(180) == 0 and analyze.wait(180) == 0

    assert_same(state(duck), clean("duckdb", "CA"))
    assert run_log(duck)["status"].tolist() == ["success", "success"]  # the refused load: not in the run log...
    code, report = status(duck)
    (entry,) = report["refused"]  # ...but in the side file, which status reads
    assert code == 0 and "(waited 1 s)" in entry["message"] and entry["about"] == "backfill from file"
    assert "refused the load lock" in report["text"] and entry["owner"] in report["text"]


def test_duckdb_status_calls_a_killed_run_dead_until_the_next_load(
    duck: dict[str, str], inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_in_process(duck, load_args(inputs["C"]), monkeypatch) == 0
    proc = start(duck, *load_args(inputs["A"]), pause="curated", tmp=tmp_path)
    wait_for(tmp_path / "paused", proc)
    a_id = running_run(duck)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    code, report = status(duck)
    assert code == 1 and report["dead_runs"] == [a_id] and DEAD in line_of(report, a_id)
    assert run_in_process(duck, load_args(inputs["A"]), monkeypatch) == 0
    code, report = status(duck)
    assert code == 0 and report["dead_runs"] == []
    assert run_log(duck)["status"].tolist() == ["success", "abandoned", "success"]


# --------------------------------------------------------------------------------------------------
# The run log: a failed row's counts are what was published
# --------------------------------------------------------------------------------------------------


def test_a_failed_row_keeps_what_was_read_and_nulls_what_was_never_published(
    duck: dict[str, str], inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The load fails after its counts were computed (the marts refresh, inside the transaction):
    its row says how many rows it read, and null for every count of what it would have published."""
    from pipeline import marts

    assert run_in_process(duck, load_args(inputs["C"]), monkeypatch) == 0

    def broken(session) -> None:  # noqa: ANN001
        raise RuntimeError("marts refresh broke")

    monkeypatch.setattr(marts, "refresh", broken)
    assert run_in_process(duck, load_args(inputs["A"]), monkeypatch) == 1
    failed = run_log(duck).iloc[1]
    assert failed["status"] == "failed" and failed["rows_raw"] == 300
    assert failed[["rows_curated", "warehouse_rows", "rows_inserted", "lake_version"]].isna().all(), failed


# --------------------------------------------------------------------------------------------------
# Redshift (its code path on PostgreSQL): no lock, but the fence
# --------------------------------------------------------------------------------------------------


def test_redshift_of_two_overlapping_runs_the_first_cannot_commit(pg_admin, tmp_path: Path) -> None:  # noqa: ANN001
    """Redshift has no advisory lock, so two runs can overlap; the later one takes the fence, and
    the earlier one's commit rolls back instead of publishing over it."""
    from datetime import datetime

    from pipeline.config import Settings
    from pipeline.warehouse.base import LockLost
    from pipeline.warehouse.redshift_wh import RedshiftWarehouse
    from tests.test_redshift import PASSWORD, ROLE, PostgresAsRedshift

    schema = new_schema("rsfence")
    settings = Settings(warehouse_url=f"redshift://loader:{PASSWORD}@example-cluster:5439/dev?schema={schema}",
                        lake_url=str(tmp_path / "lake"), redshift_iam_role=ROLE,
                        redshift_s3_staging="s3://staging-bucket/redshift-staging")
    first, second = (RedshiftWarehouse(settings, connect=lambda **_: PostgresAsRedshift(None, ROLE)) for _ in "ab")
    probe = {"key": "probe", "now": datetime(2026, 12, 7)}
    try:
        with first.run_lock("run-a"), second.run_lock("run-b"):  # nothing refuses the second
            with pytest.raises(LockLost, match="lost the load lock before its commit"):
                with first.session() as s:
                    s.script("runlog/state_set", {**probe, "value": "written by run-a"})
            with second.session() as s:
                s.script("runlog/state_set", {**probe, "value": "written by run-b"})
        probe_rows = first.query("select state_value from pipeline_state where state_key = 'probe'")
        assert probe_rows["state_value"].tolist() == ["written by run-b"]
        assert first.lock_holder() == (None, None)  # status cannot tell on Redshift, and says so
    finally:
        first.close()
        second.close()
        drop_schema(pg_admin, schema)
