"""`deploy/install.sh` writes the packages' and the project's bytecode at install time, with uv and with the pip fallback.

Without it every `python -m pipeline` compiles the ~600 modules it imports from source again (a
service user cannot write into the venv, and PYTHONDONTWRITEBYTECODE may be set): ~1.8 s of CPU of
a 2,000-row daily run (BENCHMARKS.md, "h22-daily"). The real script is run from a scratch copy of
the repository whose `.venv/bin/python` and `.venv/bin/uv` are stubs that record their arguments,
so nothing is downloaded or installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pipeline.config import PROJECT_ROOT

STUB = '#!/bin/sh\necho "{name} $*" >> "$(dirname "$0")/../calls.log"\nexit 0\n'


def scratch_repo(tmp_path: Path) -> Path:
    """deploy/install.sh beside a lock file, in a repository whose venv holds only recording stubs."""
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    shutil.copyfile(PROJECT_ROOT / "deploy" / "install.sh", repo / "deploy" / "install.sh")
    (repo / "requirements.lock").write_text("")
    (repo / "deploy" / "uv.lock").write_text("")
    (repo / ".venv" / "bin").mkdir(parents=True)
    for name in ("python", "uv"):
        stub = repo / ".venv" / "bin" / name
        stub.write_text(STUB.format(name=name))
        stub.chmod(0o755)
    return repo


def install(repo: Path, **env: str) -> list[str]:
    """Run the script; the stubs' calls, one line each ("<stub> <arguments>")."""
    run = subprocess.run(["bash", str(repo / "deploy" / "install.sh"), "requirements.lock"],
                         env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return (repo / ".venv" / "calls.log").read_text().splitlines()


def test_uv_compiles_the_bytecode_at_install(tmp_path: Path) -> None:
    calls = install(scratch_repo(tmp_path))
    uv = [c for c in calls if c.startswith("uv pip install")]
    assert len(uv) == 1, calls
    assert "--compile-bytecode" in uv[0].split()
    assert "-r requirements.lock" in uv[0]
    assert "python -m compileall -q dashboard pipeline" in calls  # the project's own code too


def test_the_pip_fallback_compiles_too(tmp_path: Path) -> None:
    calls = install(scratch_repo(tmp_path), INSTALL_WITH="pip")
    pip = [c for c in calls if c.startswith("python -m pip install")]
    assert len(pip) == 1 and "-r requirements.lock" in pip[0], calls
    assert "--no-compile" not in pip[0].split()  # pip writes bytecode unless told not to
    assert not any(c.startswith("uv") for c in calls)
    assert "python -m compileall -q dashboard pipeline" in calls


def test_a_venv_made_before_is_compiled_whole_once_per_lock(tmp_path: Path) -> None:
    """uv and pip compile only what they install: an existing venv is compiled by the script itself,
    once for each lock (a stamp), and again when the lock changes."""
    repo = scratch_repo(tmp_path)
    whole = "python -m compileall -qq -j 0 .venv/lib"
    assert install(repo).count(whole) == 1
    assert install(repo).count(whole) == 1  # the calls log grows: still the first run's one call
    (repo / "requirements.lock").write_text("pandas==3.0.0 --hash=sha256:00\n")
    assert install(repo).count(whole) == 2
