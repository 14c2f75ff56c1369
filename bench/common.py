"""Shared helpers for the benchmarks: run a command and measure it, describe the machine, record results.

Every benchmark prints its figures and writes them to BENCHMARKS.md (its own section, replaced on
each run) with the command and the machine. Data made by bench/generate.py is SYNTHETIC and every
section says so.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline.schema import canonical_name

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
PYTHON = sys.executable


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system of the child and its threads (os.wait4's rusage)


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Measured:
    """Wall time and peak RSS of one child process (os.wait4 gives that child's own rusage)."""
    out_path = OUT / f".stdout-{os.getpid()}"
    err_path = OUT / f".stderr-{os.getpid()}"
    OUT.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = Measured(seconds, usage.ru_maxrss / 1024, proc.returncode, out_path.read_text(), err_path.read_text(),
                      usage.ru_utime + usage.ru_stime)
    out_path.unlink()
    err_path.unlink()
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb

    return (f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}; "
            f"load average at start {os.getloadavg()[0]:.1f}")


def ensure_synthetic(rows: int, seed: int = 42, fmt: str = "csv") -> Path:
    """A SYNTHETIC export of ``rows`` rows (bench/generate.py), generated once and reused.

    ``fmt``: ``csv`` (the portal export), ``json`` (one SODA API array) or ``jsonl`` (API rows, one a line).
    """
    path = OUT / f"synthetic_{rows}_s{seed}.{fmt}"
    if not path.exists() or not Path(str(path) + ".SYNTHETIC.txt").exists():
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"generating {rows:,} SYNTHETIC rows -> {path}", file=sys.stderr)
        options = ["--format", "json", "--jsonl"] if fmt == "jsonl" else ["--format", fmt]
        measure([PYTHON, "-m", "bench.generate", "--rows", str(rows), "--seed", str(seed), *options, "--out", str(path)])
    return path


# Bytecode for the measured processes: compiled once into bench/out (not the venv) and reused. A deployed
# daily job runs with its bytecode cached after its first run; this machine sets PYTHONDONTWRITEBYTECODE=1,
# which made every measured run compile its ~500 imported modules (~2 s CPU, BENCHMARKS.md "p22-backfill").
PYCACHE = OUT / ".pycache"


def bytecode_env(prefix: Path = PYCACHE) -> dict[str, str]:
    """Environment for a measured Python child that caches its bytecode under ``prefix``
    (an empty ``PYTHONDONTWRITEBYTECODE`` counts as unset)."""
    return {"PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": ""}


def pipeline_env(root: Path) -> dict[str, str]:
    return {"PIPELINE_WAREHOUSE": f"duckdb:///{root / 'warehouse.duckdb'}", "PIPELINE_LAKE": str(root / "lake"),
            "PIPELINE_LOG_LEVEL": "WARNING"}


def run_pipeline(args: list[str], root: Path, env: dict[str, str] | None = None) -> tuple[Measured, dict]:
    m = measure([PYTHON, "-m", "pipeline", "--json", *args], env={**pipeline_env(root), **(env or {})})
    return m, json.loads(m.stdout.strip().splitlines()[-1])


def write_section(name: str, title: str, command: str, body: str) -> None:
    """Replace this benchmark's section of BENCHMARKS.md (between its markers)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"<!-- bench:{name} -->\n## {title}\n\nCommand: `{command}`  \nRun: {stamp}  \n"
               f"Machine: {machine()}\n\n{body.strip()}\n<!-- /bench:{name} -->")
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else (
        "# Benchmarks\n\nFigures below come from the commands shown, run on the machine shown. Rows made by "
        "`bench/generate.py` are **SYNTHETIC** (resampled from real sample rows, reweighted to published "
        "full-file distributions); they measure speed, not anything about real stops.\n")
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    BENCHMARKS_MD.write_text(text)


def sample_sources() -> list[Path]:
    """Real sample exports: the shared folder beside the repository when present, else the bundled ones."""
    shared = ROOT.parent / "shared" / "data" / "traffic_violations"
    files = sorted(shared.glob("*.csv")) if shared.is_dir() else []
    return files or sorted((ROOT / "data" / "sample").glob("*.csv.gz"))


# Said in a replicated file's marker: its columns were matched by canonical name (replicated_header).
REPLICATED_LAYOUT = "columns matched by canonical name"


def replicated_header(headers: list[list[str]]) -> list[str]:
    """The widest export's header, then each column of the others whose canonical name it lacks (e.g.
    the older exports' "Article"), so that no export's values are dropped."""
    out = list(max(headers, key=len))
    have = {canonical_name(h) for h in out}
    for header in headers:
        for h in header:
            if canonical_name(h) not in have:
                out.append(h)
                have.add(canonical_name(h))
    return out


def ensure_replicated_real(rows: int, first: str = "2012-01-01", last: str | None = None, salt: int = 0) -> Path:
    """REAL sample rows replicated to ``rows`` rows, each copy's dates shifted inside ``first``..``last``.

    A generator can hide what real rows cost (their text lengths, their quirks, the rows the rules
    quarantine), so the benchmarks also run on the real sample itself. Copy k moves every date by
    k x 97 days, wrapped inside the dataset's span, so no date falls outside it (dates outside
    would be quarantined and flatter the ratio). Rows keep every other value as published, so
    they are real text, not real stops: the file's marker says so.

    The exports spell some columns differently ("Year" / "Manufacture Year"); each value goes to the
    output column with the same canonical name (:func:`replicated_header`). Copied by literal name, every
    row of a "Year" export lost its vehicle year in a "Manufacture Year" file, and a daily file made so
    against a warehouse made the other way stopped at the schema contract ("vehicle_year: null in 0%
    of rows usually, 100% now"). A file written before (its marker lacks :data:`REPLICATED_LAYOUT`) is
    kept, with a note: delete it to write it again.
    """
    import csv
    import gzip
    from datetime import date, timedelta

    path = OUT / f"replicated_real_{rows}{f'_salt{salt}' if salt else ''}.csv"
    marker = Path(str(path) + ".REPLICATED-REAL.txt")
    if path.exists() and marker.exists():
        if REPLICATED_LAYOUT not in marker.read_text():  # kept: a benchmark's inputs never change under it
            print(f"note: {path.name} was written before columns were matched by canonical name (its rows from "
                  "the 'Year' exports have no vehicle year, no article): delete it and its marker to write it again",
                  file=sys.stderr)
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    start = date.fromisoformat(first)
    end = date.fromisoformat(last) if last else date.today()
    span = (end - start).days
    sources = []
    header_out: list[str] | None = None
    for src in sample_sources():
        opener = gzip.open if src.suffix == ".gz" else open
        with opener(src, "rt", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            sources.append((header, list(reader)))
    header_out = replicated_header([header for header, _ in sources])
    col_out = {canonical_name(h): i for i, h in enumerate(header_out)}
    written = 0
    copy = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header_out)
        while written < rows:
            for header, body in sources:
                date_col = header.index("Date Of Stop")
                # each source column's place in the output, found once per export, not once per value
                places = [(i, col_out[canonical_name(h)]) for i, h in enumerate(header) if canonical_name(h) in col_out]
                for row in body:
                    if written >= rows:
                        break
                    values = [""] * len(header_out)
                    for i, j in places:
                        if i < len(row):
                            values[j] = row[i]
                    try:
                        m, d, y = (int(x) for x in row[date_col].split("/"))
                        shifted = start + timedelta(days=((date(y, m, d) - start).days + copy * 97 + salt) % span)
                        values[col_out["date_of_stop"]] = shifted.strftime("%m/%d/%Y")
                    except ValueError:
                        pass  # an unparseable date stays as published: the rules quarantine it
                    writer.writerow(values)
                    written += 1
            copy += 1
    marker.write_text(f"REAL sample rows from {len(sources)} export(s), replicated {copy} time(s) with dates "
                      f"shifted inside {start}..{end}; real text, not real stops. {REPLICATED_LAYOUT}.\n")
    return path
