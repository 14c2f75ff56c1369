"""bench/backfill.py's set-up: the bytecode cache its timed processes use, and the warm-up file."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from bench.backfill import csv_head
from bench.common import bytecode_env


def test_a_child_with_the_bytecode_env_caches_its_bytecode_under_the_prefix_despite_dontwritebytecode(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "warm_me.py").write_text("X = 1\n")
    prefix = tmp_path / "pycache"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **bytecode_env(prefix)}  # as on this machine
    subprocess.run([sys.executable, "-c", "import warm_me"], cwd=tmp_path / "src", env=env, check=True)
    cached = list(prefix.rglob(f"warm_me.{sys.implementation.cache_tag}.pyc"))
    assert len(cached) == 1 and cached[0].parent.name == "src"  # <prefix>/<the source's own path>/
    assert not (tmp_path / "src" / "__pycache__").exists()  # nothing written beside the sources


def test_the_warm_up_file_is_the_header_and_the_first_records_not_lines(tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    rows = [["SeqID", "Description"], ["a", "two\nlines"], ["b", 'a "quoted" word'], ["c", "x"]]
    with open(src, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    dst = tmp_path / "head.csv"
    csv_head(src, dst, 2)
    with open(dst, newline="", encoding="utf-8") as f:
        assert list(csv.reader(f)) == rows[:3]
