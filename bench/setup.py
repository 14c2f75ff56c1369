"""Benchmark 6: a fresh clone to a served dashboard (`bash run.sh`) and to the first test (`bash test.sh`).

    python -m bench.setup [--before REV] [--port 8599]

For the committed HEAD (and, with ``--before``, an older commit for comparison) each measurement
starts from a new ``git clone`` of this repository, so the venv is empty:

* ``run.sh``: from the start of ``bash run.sh`` until the dashboard answers on its health endpoint
  (install, the bundled sample loaded into DuckDB, Streamlit started); the install phase ends at the
  pipeline's first log line, the sample load at Streamlit's "You can now view" line.
* ``test.sh``: ``bash test.sh --co -q`` (install + pytest collecting every test): everything that
  happens before the first test runs.

Each is run twice per commit: with empty package caches (``PIP_CACHE_DIR`` and ``UV_CACHE_DIR``
pointed at new folders; every package is downloaded from the registry), then again on another fresh
clone with the caches the first run filled ("warm"). The machine's own pip configuration (its local
wheel folders) is left as it is and applies to pip only.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .common import ROOT, write_section

PIPELINE_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (INFO|WARNING|ERROR)")


@dataclass
class Timed:
    total: float
    cpu: float  # user + system seconds of the command and every process it waited for
    load: float  # 1-minute load average when it started (2 cores: above 2, others were competing)
    phases: dict[str, float] = field(default_factory=dict)
    note: str = ""


def _cpu(usage) -> float:  # noqa: ANN001 - resource.struct_rusage
    return usage.ru_utime + usage.ru_stime


def clone(rev: str, into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(into)], check=True)
    subprocess.run(["git", "-C", str(into), "checkout", "--quiet", rev], check=True)
    return into


def clean_env(caches: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIPELINE_", "SOCRATA_", "REDSHIFT_", "VIRTUAL_ENV", "UV_"))}
    env.update(PIP_CACHE_DIR=str(caches / "pip"), UV_CACHE_DIR=str(caches / "uv"))
    return env


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as resp:
            return resp.read().strip() == b"ok"
    except OSError:
        return False


def time_run_sh(checkout: Path, env: dict[str, str], port: int, timeout: float = 900) -> Timed:
    """Seconds from `bash run.sh` to a dashboard answering its health check; phases from the output."""
    marks: dict[str, float] = {}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(["bash", "run.sh", "--server.port", str(port)], cwd=checkout, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            now = time.perf_counter() - start
            if PIPELINE_LOG_LINE.match(line):
                marks.setdefault("install", now)
            if "You can now view" in line:
                marks.setdefault("sample loaded", now)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while not _healthy(port):
            if proc.poll() is not None:
                raise RuntimeError("run.sh exited before serving:\n" + "".join(lines[-40:]))
            if time.perf_counter() - start > timeout:
                raise RuntimeError("run.sh did not serve within the timeout:\n" + "".join(lines[-40:]))
            time.sleep(0.1)
        total = time.perf_counter() - start
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, _, usage = os.wait4(proc.pid, 0)  # run.sh execs Streamlit: same process, install steps waited for
    return Timed(total, _cpu(usage), load, marks)


def time_test_sh(checkout: Path, env: dict[str, str]) -> Timed:
    load = os.getloadavg()[0]
    out_path = checkout.parent / "test-sh.out"
    with open(out_path, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(["bash", "test.sh", "--co", "-q", "-p", "no:cacheprovider"], cwd=checkout, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        total = time.perf_counter() - start
    output = out_path.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"test.sh --co failed:\n{output[-3000:]}")
    collected = re.search(r"(\d+) tests? collected", output)
    return Timed(total, _cpu(usage), load, note=f"{collected.group(1)} tests collected" if collected else "")


def installer(checkout: Path) -> str:
    return "uv, hashed lock" if (checkout / "deploy" / "install.sh").exists() else "pip, version ranges"


def measure_commit(rev: str, port: int, work: Path, pip_fallback: bool = False) -> list[tuple[str, str, str, str, Timed]]:
    """Cold then warm, for run.sh then test.sh; with ``pip_fallback`` a third run with INSTALL_WITH=pip."""
    label = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], check=True,
                           capture_output=True, text=True).stdout.strip()
    rows = []
    for script in ("run.sh", "test.sh"):
        caches = Path(tempfile.mkdtemp(prefix=f"caches-{label}-", dir=work))
        for cache in ("cold", "warm", "cold for pip: fallback") if pip_fallback else ("cold", "warm"):
            checkout = clone(rev, Path(tempfile.mkdtemp(prefix=f"clone-{label}-", dir=work)) / "repo")
            env = clean_env(caches)
            how = installer(checkout)
            if "pip" in cache:
                env["INSTALL_WITH"] = how = "pip"
                how = "pip, hashed lock (INSTALL_WITH=pip)"
            timed = time_run_sh(checkout, env, port) if script == "run.sh" else time_test_sh(checkout, env)
            print(f"{label} {script} {cache}: {timed.total:.1f} s (cpu {timed.cpu:.1f} s, load {timed.load:.1f}) "
                  f"{timed.phases} {timed.note}", flush=True)
            rows.append((label, how, script, cache, timed))
            shutil.rmtree(checkout.parent, ignore_errors=True)
    return rows


def table(rows: list[tuple[str, str, str, str, Timed]]) -> str:
    out = ["| commit | install | command | package cache | to served / to first test | CPU (user+sys) | load avg at start "
           "| install done | sample loaded | note |",
           "|---|---|---|---|---:|---:|---:|---:|---:|---|"]
    for label, how, script, cache, t in rows:
        what = "`bash run.sh` (dashboard answers)" if script == "run.sh" else "`bash test.sh --co -q` (collected)"
        phases = [f"{t.phases[k]:.1f} s" if k in t.phases else "" for k in ("install", "sample loaded")]
        out.append(f"| {label} | {how} | {what} | {cache} | **{t.total:.1f} s** | {t.cpu:.1f} s | {t.load:.1f} "
                   f"| {phases[0]} | {phases[1]} | {t.note} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", metavar="REV", help="also measure this older commit, for comparison")
    parser.add_argument("--pip-fallback", action="store_true",
                        help="also time HEAD with INSTALL_WITH=pip (the installer's fallback)")
    parser.add_argument("--port", type=int, default=8599, help="port for the measured dashboard (default 8599)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-setup-"))
    try:
        rows = measure_commit(args.before, args.port, work) if args.before else []
        rows += measure_commit("HEAD", args.port, work, pip_fallback=args.pip_fallback)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python -m bench.setup" + (f" --before {args.before}" if args.before else "") + (
        " --pip-fallback" if args.pip_fallback else "")
    body = (table(rows) + "\n\nEach row starts from a new `git clone` (empty `.venv`). 'cold': empty pip and uv "
            "caches, every package downloaded from the registry; 'warm': a second fresh clone using the caches "
            "the cold run filled. 'install done' = the pipeline's first log line; 'sample loaded' = Streamlit's "
            "start-up line. 'CPU' is the user + system time of the command and all it waited for: on a "
            "machine shared with other work (load average above its 2 cores) wall time includes waiting for a core, "
            "and CPU time is the better guide to what a quiet machine needs. 'fallback': `INSTALL_WITH=pip`, the path taken when uv can't be had, after the uv runs (pip's cache then holds only uv's wheel, so pip downloads the rest). Targets (issue 15): run.sh <= 45 s, test.sh setup <= 20 s.")
    write_section("setup", "6. Fresh clone to a served dashboard and to the first test", command, body)


if __name__ == "__main__":
    main()
