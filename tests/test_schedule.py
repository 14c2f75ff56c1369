"""The schedule examples in deploy/ are checked, not just shipped: the systemd units pass
`systemd-analyze verify`, the cron file parses and its 07:00 line runs as written (paths moved into a
temporary folder, the API replaced by the local fake), the Airflow DAG parses (with ``ast``, no
Airflow installed) and every pipeline command they run is accepted by the real CLI parser."""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from pipeline.cli import build_parser
from pipeline.config import PROJECT_ROOT

try:  # one module object whether tests/ or the project root is on sys.path
    from tests.fake_socrata import FakeSocrata, fake_socrata, sample_api_rows  # noqa: F401 - fixtures
except ImportError:  # pragma: no cover
    from fake_socrata import FakeSocrata, fake_socrata, sample_api_rows  # type: ignore[no-redef]  # noqa: F401

DEPLOY = PROJECT_ROOT / "deploy"
CRON = DEPLOY / "cron" / "moco-traffic-stops.cron"
DAG = DEPLOY / "airflow" / "moco_traffic_stops_dag.py"
SYSTEMD = DEPLOY / "systemd"
INSTALL_DIR = "/opt/moco-traffic-stops"  # where the examples expect the checkout
DATA_DIR = "/var/lib/moco-traffic-stops"
COUNTY_TZ = "America/New_York"


def pipeline_args(command: str) -> list[list[str]]:
    """The argument lists of every ``python -m pipeline ...`` in a shell command line."""
    found = []
    words = shlex.split(command, comments=True)
    for i, word in enumerate(words[:-1]):
        if word == "-m" and words[i + 1] == "pipeline":
            args = []
            for arg in words[i + 2:]:
                if arg in ("&&", "||", ";", "|", ">", ">>", "2>&1") or arg.startswith((">", "2>")):
                    break
                args.append(arg)
            found.append(args)
    return found


def assert_cli_accepts(args: list[str]) -> None:
    parsed = build_parser().parse_args(args)  # argparse exits (SystemExit) on anything it rejects
    assert parsed.command in ("run", "backfill", "reference", "status", "analyze"), args


# --- systemd ------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed on this machine (it comes with systemd); "
                    "only the unit-file verification is skipped, the commands are checked below")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # The units name the checkout as /opt/moco-traffic-stops; verify checks that ExecStart exists
    # and is executable, so point them at this checkout (its .venv is made by test.sh).
    for unit in SYSTEMD.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALL_DIR, str(PROJECT_ROOT)))
    units = sorted(p.name for p in tmp_path.iterdir())
    assert len(units) == 5
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stdout + run.stderr) == (0, "")


def unit_settings(name: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_systemd_services_run_commands_the_cli_accepts() -> None:
    load = unit_settings("moco-traffic-stops.service")
    assert pipeline_args(load["ExecStart"][0]) == [["run"]]
    freshness = unit_settings("moco-traffic-stops-freshness.service")["ExecStart"][0]
    script = PROJECT_ROOT / Path(freshness).relative_to(INSTALL_DIR)
    assert os.access(script, os.X_OK)
    assert_script_commands_parse(script)
    for timer, hour in (("moco-traffic-stops.timer", 7), ("moco-traffic-stops-freshness.timer", 9)):
        assert unit_settings(timer)["OnCalendar"] == [f"*-*-* {hour:02d}:00:00 {COUNTY_TZ}"]


def assert_script_commands_parse(script: Path) -> None:
    commands = [args for line in script.read_text().splitlines() for args in pipeline_args(line)]
    assert commands, f"{script.name} runs no pipeline command"
    for args in commands:
        assert_cli_accepts(args)


# --- cron ---------------------------------------------------------------------------------------

CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def valid_cron_field(field: str, low: int, high: int) -> bool:
    for item in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", item)
        if not match:
            return False
        numbers = [int(n) for n in match.group(2, 3) if n is not None]
        if any(not low <= n <= high for n in numbers) or (match.group(4) and int(match.group(4)) == 0):
            return False
    return True


def cron_file(path: Path = CRON) -> tuple[dict[str, str], list[tuple[list[str], str, str]]]:
    """(environment lines, jobs as (five time fields, user, command)) of an /etc/cron.d file."""
    env: dict[str, str] = {}
    jobs = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):
            key, value = line.split("=", 1)
            env[key] = value.strip('"')
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"not a cron.d job line (5 times, user, command): {line}"
        jobs.append((fields[:5], fields[5], fields[6]))
    return env, jobs


@pytest.mark.parametrize("field, low, high, ok", [
    ("0", 0, 59, True), ("*/15", 0, 59, True), ("1-5", 0, 7, True), ("60", 0, 59, False),
    ("*/0", 0, 59, False), ("7,9", 0, 23, True), ("mon", 0, 7, False), ("", 0, 59, False),
])
def test_the_cron_field_check_accepts_only_valid_fields(field: str, low: int, high: int, ok: bool) -> None:
    assert valid_cron_field(field, low, high) is ok


def test_the_cron_file_parses_and_runs_commands_the_cli_accepts() -> None:
    env, jobs = cron_file()
    assert env["CRON_TZ"] == COUNTY_TZ and ZoneInfo(env["CRON_TZ"])
    assert env["SHELL"] == "/bin/bash"
    assert [(times, user) for times, user, _ in jobs] == [(["0", "7", "*", "*", "*"], "moco"),
                                                         (["0", "9", "*", "*", "*"], "moco")]
    for times, _, command in jobs:
        assert all(valid_cron_field(f, lo, hi) for f, (lo, hi) in zip(times, CRON_RANGES))
        assert subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0
    assert pipeline_args(jobs[0][2]) == [["run"]]
    script = PROJECT_ROOT / Path(re.search(rf"{INSTALL_DIR}/(\S+\.sh)", jobs[1][2]).group(1))
    assert os.access(script, os.X_OK)
    assert_script_commands_parse(script)


def test_the_cron_jobs_run_as_written(tmp_path: Path, fake_socrata: FakeSocrata) -> None:
    """Both lines, run by bash with cron's bare environment and the example env file, against the
    fake Socrata API: the 07:00 load fills the warehouse, the 09:00 check then finds it fresh."""
    data, logs, etc = tmp_path / "var", tmp_path / "log", tmp_path / "etc"
    for folder in (data, logs, etc):
        folder.mkdir()
    env_file = etc / "env"
    env_file.write_text((DEPLOY / "moco-traffic-stops.env.example").read_text().replace(DATA_DIR, str(data))
                        + f"SOCRATA_DOMAIN='{fake_socrata.url}'\nSOCRATA_PAGE_SIZE='500'\n")
    moves = {"/etc/moco-traffic-stops/env": str(env_file), DATA_DIR: str(data), INSTALL_DIR: str(PROJECT_ROOT),
             "/var/log/moco-traffic-stops": str(logs)}
    cron_env, jobs = cron_file()
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LOGNAME": "moco", **cron_env}
    for _, _, command in jobs:
        for old, new in moves.items():
            command = command.replace(old, new)
        run = subprocess.run([cron_env["SHELL"], "-c", command], env=bare, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, (command, run.stderr[-2000:], [p.read_text()[-2000:] for p in logs.iterdir()])
    load_log = (logs / "pipeline.log").read_text()
    assert "charges in" in load_log and "ERROR" not in load_log
    assert "FRESH" in (logs / "status.log").read_text()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        charges = con.execute("select count(*) from moco_traffic_violations").fetchone()[0]
    assert charges == len(fake_socrata.rows)


# --- Airflow ------------------------------------------------------------------------------------

def dag_tree() -> ast.Module:
    return ast.parse(DAG.read_text(), filename=str(DAG))


def call_keywords(tree: ast.Module, name: str) -> list[dict[str, ast.expr]]:
    return [{kw.arg: kw.value for kw in node.keywords if kw.arg}
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name]


def test_the_airflow_dag_parses_and_schedules_07_00_county_time() -> None:
    tree = dag_tree()
    (dag,) = call_keywords(tree, "DAG")
    assert ast.literal_eval(dag["schedule"]) == "0 7 * * *"
    assert ast.literal_eval(dag["catchup"]) is False and ast.literal_eval(dag["max_active_runs"]) == 1
    start = dag["start_date"]
    assert isinstance(start, ast.Call) and ast.literal_eval(start.keywords[0].value) == COUNTY_TZ
    default_args = dict(zip((ast.literal_eval(k) for k in dag["default_args"].keys), dag["default_args"].values))
    assert ast.literal_eval(default_args["retries"]) == 2


def test_the_airflow_tasks_run_commands_the_cli_accepts() -> None:
    tasks = {ast.literal_eval(kw["task_id"]): ast.literal_eval(kw["op_args"])
             for kw in call_keywords(dag_tree(), "PythonOperator")}
    assert tasks == {"load": ["run"], "freshness": ["status", "--alert"]}
    for args in tasks.values():
        assert_cli_accepts(args)


def test_the_airflow_exit_codes_match_the_cli() -> None:
    from pipeline import cli

    constants = {}
    for node in dag_tree().body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            names = [t.id for t in node.targets[0].elts]
            constants.update(zip(names, ast.literal_eval(node.value)))
    assert constants == {"EXIT_OK": cli.EXIT_OK, "EXIT_FAILED": cli.EXIT_FAILED, "EXIT_USAGE": cli.EXIT_USAGE,
                         "EXIT_QUALITY": cli.EXIT_QUALITY}


def test_the_three_schedules_agree() -> None:
    cron_env, jobs = cron_file()
    cron_load = (int(jobs[0][0][1]), int(jobs[0][0][0]), cron_env["CRON_TZ"])
    timer = unit_settings("moco-traffic-stops.timer")["OnCalendar"][0]  # "*-*-* 07:00:00 America/New_York"
    _, clock, zone = timer.split()
    timer_load = (int(clock[:2]), int(clock[3:5]), zone)
    (dag,) = call_keywords(dag_tree(), "DAG")
    minute, hour = ast.literal_eval(dag["schedule"]).split()[:2]
    dag_load = (int(hour), int(minute), ast.literal_eval(dag["start_date"].keywords[0].value))
    assert cron_load == timer_load == dag_load == (7, 0, COUNTY_TZ)
