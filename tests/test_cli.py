"""`python -m pipeline` as a maintainer runs it: help, backfill from a CSV export twice, status, exit codes."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, SAMPLE_DIR

SHARED = PROJECT_ROOT.parent / "shared" / "data" / "traffic_violations"


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "PIPELINE_WAREHOUSE": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "PIPELINE_LAKE": str(tmp_path / "lake"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, env=full_env,
        capture_output=True, text=True, timeout=300,
    )


def export_file(tmp_path: Path) -> Path:
    """A real portal export: the shared copy when present, else a bundled one un-gzipped."""
    shared = SHARED / "mcpd_tv_sample_nikolausn_2016.csv"
    if shared.exists():
        return shared
    out = tmp_path / "export.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_nikolausn_2016.csv.gz", "rb") as src:
        out.write_bytes(src.read())
    return out


def test_help_explains_every_command_and_option(tmp_path: Path) -> None:
    top = cli(tmp_path, "--help")
    assert top.returncode == 0
    for word in ("run", "backfill", "reference", "status", "PIPELINE_WAREHOUSE", "PIPELINE_LAKE", "exit codes"):
        assert word in top.stdout
    sub = cli(tmp_path, "backfill", "--help")
    for option in ("--source", "--file", "--since", "--until", "--if-empty"):
        assert option in sub.stdout


def test_backfill_from_an_export_twice_changes_no_counts(tmp_path: Path) -> None:
    path = export_file(tmp_path)
    first = cli(tmp_path, "--json", "backfill", "--source", "file", "--file", str(path))
    assert first.returncode == 0, first.stderr
    one = json.loads(first.stdout)
    assert one["rows_raw"] == 4_991 and one["rows_raw"] == one["rows_landed"] + one["rows_quarantined"]
    second = cli(tmp_path, "--json", "backfill", "--source", "file", "--file", str(path))
    two = json.loads(second.stdout)
    assert second.returncode == 0
    assert two["warehouse_rows"] == one["warehouse_rows"] and two["warehouse_stops"] == one["warehouse_stops"]
    assert two["rows_replaced"] == two["rows_inserted"]
    status = cli(tmp_path, "--json", "status")
    report = json.loads(status.stdout)
    assert status.returncode == 0 and report["fresh"] is True
    assert int(report["counts"]["charges"]) == one["warehouse_rows"]
    assert [r["status"] for r in report["runs"]] == ["success", "success"]


def test_gzipped_export_and_if_empty(tmp_path: Path) -> None:
    gz = SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz"
    # --file alone is a file load (it once loaded the bundled sample instead, ignoring the file).
    loaded = cli(tmp_path, "--json", "backfill", "--file", str(gz))
    assert loaded.returncode == 0, loaded.stderr
    result = json.loads(loaded.stdout)
    assert result["source"] == "file" and result["rows_raw"] < 18_412
    again = cli(tmp_path, "backfill", "--source", "sample", "--if-empty")
    assert again.returncode == 0 and "nothing to do" in again.stderr


@pytest.mark.parametrize(
    "args, env, code, message",
    [
        (["status"], {"PIPELINE_WAREHOUSE": "mysql://x"}, 2, "PIPELINE_WAREHOUSE"),
        (["backfill", "--source", "file", "--file", "/nonexistent.csv"], None, 2, "not found"),
        (["backfill", "--source", "file"], None, 2, "--file"),
        (["backfill", "--source", "sample", "--file", "x.csv"], None, 2, "--file goes with --source file"),
        (["status"], None, 1, "no warehouse yet"),
    ],
)
def test_errors_are_clear_and_exit_codes_are_for_schedulers(
    tmp_path: Path, args: list[str], env: dict[str, str] | None, code: int, message: str
) -> None:
    proc = cli(tmp_path, *args, env=env)
    assert proc.returncode == code
    assert message in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failed_quality_check_exits_3(tmp_path: Path) -> None:
    header_only = tmp_path / "empty.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt") as src:
        header_only.write_text(src.readline())
    proc = cli(tmp_path, "backfill", "--source", "file", "--file", str(header_only))
    assert proc.returncode == 3
    assert "extract not empty" in proc.stderr


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["backfill", "--file", "{tmp}"], None, "is a folder, not a file"),
        (["backfill", "--source", "sample", "--since", "2016-05-01", "--until", "2016-04-30"], None,
         "--until 2016-04-30 is before --since 2016-05-01"),
        (["reference", "--hud-zip-tract", "{tmp}"], None, "is a folder, not a file"),
        (["status"], {"PIPELINE_WAREHOUSE": "garbage"}, "PIPELINE_WAREHOUSE='garbage'"),
        (["status"], {"PIPELINE_WAREHOUSE": "mysql://loader:Sekr3t@db/x"}, "PIPELINE_WAREHOUSE='mysql://loader:***@db/x'"),
        (["status"], {"PIPELINE_WAREHOUSE": "loader:Sekr3t@db/x"}, "PIPELINE_WAREHOUSE='***@db/x'"),
        (["backfill", "--source", "sample"], {"PIPELINE_LAKE": "{tmp}/a-file"}, "PIPELINE_LAKE="),
        (["backfill", "--source", "sample"], {"PIPELINE_LAKE": "{tmp}/a-file/lake"}, "PIPELINE_LAKE="),
        (["backfill", "--source", "sample"], {"PIPELINE_LAKE": "s3:///prefix"}, "PIPELINE_LAKE='s3:///prefix' names no bucket"),
        (["backfill", "--source", "sample"], {"PIPELINE_LAKE": "gs://bucket/x"}, "PIPELINE_LAKE='gs://bucket/x' is neither"),
        (["status"], {"SOCRATA_PAGE_SIZE": "lots"}, "SOCRATA_PAGE_SIZE must be an integer (got 'lots')"),
    ],
)
def test_usage_and_configuration_errors_name_their_cause_before_any_work(
    tmp_path: Path, args: list[str], env: dict[str, str] | None, message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    fill = lambda text: text.replace("{tmp}", str(tmp_path))  # noqa: E731
    proc = cli(tmp_path, *[fill(a) for a in args], env={k: fill(v) for k, v in (env or {}).items()})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "Sekr3t" not in proc.stderr
    # Up front: no warehouse file, no lake, no reference tables loaded.
    assert not (tmp_path / "wh.duckdb").exists() and not (tmp_path / "lake").exists()


def test_status_after_only_failed_runs_says_never_and_json_gives_null(tmp_path: Path) -> None:
    header_only = tmp_path / "empty.csv"
    with gzip.open(SAMPLE_DIR / "mcpd_tv_sample_tolu238_2017.csv.gz", "rt") as src:
        header_only.write_text(src.readline())
    assert cli(tmp_path, "backfill", "--file", str(header_only), "--skip-analyze").returncode == 3
    text = cli(tmp_path, "status")
    assert text.returncode == 1 and "NaT" not in text.stdout
    assert "stops from - to -" in text.stdout and "last successful load: never -> STALE" in text.stdout
    # --json after the command as well as before it, the same report
    after, before = cli(tmp_path, "status", "--json"), cli(tmp_path, "--json", "status")
    assert after.returncode == before.returncode == 1 and "NaT" not in after.stdout
    report = json.loads(after.stdout)
    assert report["counts"]["first_stop"] is None and report["counts"]["last_success_at"] is None
    assert report["age_days"] is None and int(report["counts"]["charges"]) == 0
    assert [r["status"] for r in report["runs"]] == ["failed"]
    assert report["runs"][0]["finished_at"] is not None
    assert json.loads(before.stdout)["counts"] == report["counts"]


def test_the_exit_code_table_in_deploy_md_matches_the_code() -> None:
    import re

    from pipeline import cli as cli_module

    text = (PROJECT_ROOT / "docs" / "DEPLOY.md").read_text()
    table = text.split("### Exit codes", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = {int(m[1]): m[2] for m in re.finditer(r"^\| `(\d)` \| (\w+) \|", table, re.M)}
    assert rows == {cli_module.EXIT_OK: "ok", cli_module.EXIT_FAILED: "failed", cli_module.EXIT_USAGE: "usage",
                    cli_module.EXIT_QUALITY: "quality"}


def test_the_readme_runs_every_pipeline_command_with_the_project_venv() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    for line in readme.splitlines():
        for start in [i for i in range(len(line)) if line.startswith("python -m pipeline", i)]:
            assert line[:start].endswith(".venv/bin/") or "activate" in line, line
