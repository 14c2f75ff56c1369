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
