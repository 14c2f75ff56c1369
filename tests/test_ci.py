"""`.ci/run` stops when PostgreSQL does not come up, and makes every service required for the tests.

The real `.ci/run` is run from a scratch copy of the repository whose `test.sh` only reports that it
ran and with which MOCO_REQUIRE_SERVICES; `apt-get`, `chromium` and `pg_ctlcluster` are stubs on PATH,
so nothing is installed or started and the shared PostgreSQL server is never touched. A held,
non-listening port stands in for "PostgreSQL is down".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT
from tests.ports import closed_port
from tests.services import service_missing

pytest_plugins = ["tests.pg_fixtures"]

FAKE_TEST_SH = 'echo "test.sh ran with MOCO_REQUIRE_SERVICES=${MOCO_REQUIRE_SERVICES:-unset}"\n'


@pytest.fixture
def pg_isready() -> str:
    path = shutil.which("pg_isready")
    if path is None:
        service_missing("pg_isready (PostgreSQL client) is not installed")
    return path


def scratch_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of .ci/ with a fake test.sh, and an environment whose PATH starts with no-op stubs."""
    repo = tmp_path / "repo"
    shutil.copytree(PROJECT_ROOT / ".ci", repo / ".ci")
    (repo / "test.sh").write_text(FAKE_TEST_SH)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in ("apt-get", "chromium", "pg_ctlcluster"):
        (stubs / name).write_text(f'#!/bin/sh\necho "stub {name} $*" >&2\nexit 0\n')
        (stubs / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "MOCO_REQUIRE_SERVICES"}
    env["PATH"] = f"{stubs}{os.pathsep}{env.get('PATH', '')}"
    return repo, env


def run_ci(repo: Path, env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(repo / ".ci" / "run")], env={**env, "CI_PG_PORT": str(port), "CI_PG_WAIT_S": "2"},
                          capture_output=True, text=True, timeout=120)


def test_the_wait_fails_with_a_message_when_nothing_answers(pg_isready: str) -> None:
    port = closed_port()
    run = subprocess.run(["bash", str(PROJECT_ROOT / ".ci" / "wait-for-postgres"), "127.0.0.1", str(port), "2"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f"PostgreSQL did not come up on 127.0.0.1:{port} within 2 s" in run.stderr


def test_ci_stops_before_the_tests_when_postgresql_does_not_come_up(pg_isready: str, tmp_path: Path) -> None:
    repo, env = scratch_repo(tmp_path)
    run = run_ci(repo, env, closed_port())
    assert run.returncode != 0
    assert "stub pg_ctlcluster" in run.stderr  # it tried to start the server ...
    assert "PostgreSQL did not come up" in run.stderr  # ... and stopped when it stayed down
    assert "test.sh ran" not in run.stdout


def test_ci_runs_the_tests_with_every_service_required_when_postgresql_is_up(pg_admin, pg_isready: str,  # noqa: ANN001
                                                                              tmp_path: Path) -> None:
    repo, env = scratch_repo(tmp_path)
    port = int(pg_admin.info.port)
    run = run_ci(repo, env, port)
    assert run.returncode == 0, run.stderr
    assert "test.sh ran with MOCO_REQUIRE_SERVICES=1" in run.stdout
    assert "stub pg_ctlcluster" not in run.stderr  # already up: nothing started
