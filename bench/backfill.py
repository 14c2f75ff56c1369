"""Benchmark 1 (and 2 with --rows 20000000): full backfill from a CSV export into DuckDB vs the DuckDB floor.

    python -m bench.backfill --rows 2000000 --real-rows 1000000

The floor, measured in the same run on the same file: DuckDB alone reading the CSV
(the same reader options the pipeline uses) and writing one Parquet file. Our backfill does that
and more (raw copy, typing + quarantine, keys, ZIP5 point-in-polygon, curated partitions,
warehouse merge, stops mart, checks), so the ratio is the price of everything beyond the floor.
Targets: ratio <= 3 and peak RSS <= 2 GiB at 2M rows. ``--real-rows`` runs the same on the REAL
sample replicated with shifted dates (bench/common.py ``ensure_replicated_real``): real text
lengths and quirks cost what a generator hides.

Both processes run with their Python bytecode cached (bench/common.py ``bytecode_env``), as a
scheduled job runs after its first day: before timing, the floor and our backfill each run once
untimed on the file's first rows, which compiles what they import. ``--cold-bytecode`` times them
compiling every imported module instead (what this machine's ``PYTHONDONTWRITEBYTECODE=1`` does).
"""

from __future__ import annotations

import argparse
import csv as _csv
import shutil
import tempfile
from pathlib import Path

from .common import (OUT, PYTHON, Measured, bytecode_env, ensure_replicated_real, ensure_synthetic, measure, pipeline_env,
                     run_pipeline, write_section)

FLOOR = """
import sys, duckdb
con = duckdb.connect()
con.execute("set memory_limit = '1GB'")
src, dst = sys.argv[1], sys.argv[2]
con.execute(f"copy (select * from read_csv('{src}', all_varchar = true, header = true, delim = ',', quote = '\\"', "
            f"escape = '\\"', store_rejects = true)) to '{dst}' (format parquet, compression zstd)")
"""


WARM_ROWS = 2_000  # rows of the file the untimed warm-up runs load


def floor(csv: Path, work: Path, env: dict[str, str]) -> Measured:
    return measure([PYTHON, "-c", FLOOR, str(csv), str(work / "floor.parquet")], env=env)


def csv_head(src: Path, dst: Path, rows: int) -> None:
    """Write the header and the first ``rows`` records of the CSV ``src`` to ``dst``: records, not
    lines (a quoted field may hold a newline), so the head is a whole, valid export."""
    with open(src, newline="", encoding="utf-8") as inp, open(dst, "w", newline="", encoding="utf-8") as out:
        writer = _csv.writer(out)
        for _, record in zip(range(rows + 1), _csv.reader(inp)):
            writer.writerow(record)


def warm_bytecode(csv: Path, work: Path, env: dict[str, str]) -> None:
    """Run the floor and our backfill once, untimed, on the file's first WARM_ROWS rows (the same code
    path), so the timed runs find the bytecode of everything they import already compiled."""
    head = work / "warm" / csv.name
    head.parent.mkdir(parents=True)
    csv_head(csv, head, WARM_ROWS)
    floor(head, head.parent, env)
    run_pipeline(["backfill", "--source", "file", "--file", str(head), "--skip-analyze"], head.parent, env)
    shutil.rmtree(head.parent)


def backfill(rows: int, seed: int = 42, keep: Path | None = None, real: bool = False, cold: bool = False) -> dict:
    csv = ensure_replicated_real(rows) if real else ensure_synthetic(rows, seed)
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-", dir=OUT))
    env = {} if cold else bytecode_env()
    try:
        if not cold:
            warm_bytecode(csv, work, env)
        fl = floor(csv, work, env)
        m, result = run_pipeline(["backfill", "--source", "file", "--file", str(csv), "--skip-analyze"], work, env)
        analyze = measure([PYTHON, "-m", "pipeline", "analyze"], env={**pipeline_env(work), **env})
        out = {
            "kind": "REPLICATED REAL" if real else "SYNTHETIC", "rows": rows, "file_mb": csv.stat().st_size / 2**20, "floor_s": fl.seconds, "floor_rss_mb": fl.peak_rss_mb,
            "floor_cpu_s": fl.cpu_seconds, "ours_cpu_s": m.cpu_seconds,
            "ours_s": m.seconds, "ours_rss_mb": m.peak_rss_mb, "ratio": m.seconds / fl.seconds,
            "charges": result["warehouse_rows"], "stops": result["warehouse_stops"],
            "quarantined": result["rows_quarantined"], "with_zip": result["rows_with_zip"],
            "analyze_s": analyze.seconds, "analyze_rss_mb": analyze.peak_rss_mb,
        }
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("warehouse.duckdb", "lake"):
                dst = keep / name
                if dst.exists():
                    shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
                shutil.move(str(work / name), str(dst))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def table(results: list[dict], cold: bool = False) -> str:
    lines = ["| rows | file | DuckDB floor | our backfill | ratio | CPU s (floor / ours) | peak RSS (ours) | peak RSS (floor) | charges / stops loaded | quarantined | with ZIP5 | then `analyze` |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r['rows']:,} {r['kind']} | {r['file_mb']:,.0f} MB | {r['floor_s']:.1f} s | {r['ours_s']:.1f} s | "
            f"**{r['ratio']:.2f}x** | {r['floor_cpu_s']:.1f} / {r['ours_cpu_s']:.1f} | {r['ours_rss_mb']:,.0f} MB | {r['floor_rss_mb']:,.0f} MB | "
            f"{r['charges']:,} / {r['stops']:,} | {r['quarantined']:,} | {r['with_zip'] / max(r['charges'], 1):.1%} | "
            f"{r['analyze_s']:.1f} s, {r['analyze_rss_mb']:,.0f} MB |")
    return "\n".join(lines) + (
        "\n\n'our backfill' = `python -m pipeline backfill --source file --skip-analyze` as a whole process "
        "(interpreter start, reference tables, raw copy, typing + quarantine, keys, ZIP5, landing + curated "
        "Parquet, warehouse merge, stops, marts, checks). The disparity analyses are timed separately "
        "(`python -m pipeline analyze`), as a scheduler would run them after the load. "
        + ("Both processes compile every module they import (`--cold-bytecode`)." if cold else
           "Both processes run with their bytecode cached (one untimed run of each on the file's first "
           f"{WARM_ROWS:,} rows first), as a scheduled job does after its first day."))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="*", default=[2_000_000], help="SYNTHETIC file sizes")
    parser.add_argument("--real-rows", type=int, nargs="*", default=[], help="REPLICATED REAL file sizes")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="keep the last warehouse + lake here (for the incremental bench)")
    parser.add_argument("--cold-bytecode", action="store_true",
                        help="time both processes compiling every imported module (no bytecode cache)")
    args = parser.parse_args()
    results = []
    runs = [(rows, False) for rows in args.rows] + [(rows, True) for rows in args.real_rows]
    for rows, real in runs:
        r = backfill(rows, args.seed, args.keep if (rows, real) == runs[-1] else None, real=real, cold=args.cold_bytecode)
        print(f"{r['kind']} {rows:,} rows: floor {r['floor_s']:.1f} s, ours {r['ours_s']:.1f} s "
              f"(ratio {r['ratio']:.2f}), CPU floor {r['floor_cpu_s']:.1f} s, ours {r['ours_cpu_s']:.1f} s, "
              f"peak RSS {r['ours_rss_mb']:.0f} MB")
        results.append(r)
    body = table(results, args.cold_bytecode)
    synthetic = [r for r in results if r["kind"] == "SYNTHETIC"]
    if len(synthetic) > 1:
        base = synthetic[0]
        growth = [f"{r['rows'] / base['rows']:.0f}x rows -> {r['ours_s'] / base['ours_s']:.1f}x time, "
                  f"{r['ours_rss_mb'] / base['ours_rss_mb']:.2f}x peak RSS" for r in synthetic[1:]]
        body += "\n\nGrowth: " + "; ".join(growth) + " (linear would be time growing with rows; RSS flat)."
    name = "backfill" if len(synthetic) <= 1 and all(r["rows"] <= 2_000_000 for r in results) else "scale"
    title = "1. Full backfill vs the DuckDB floor" if name == "backfill" else "2. Scaling: time and memory by file size"
    command = f"python -m bench.backfill --rows {' '.join(map(str, args.rows))}" + (
        f" --real-rows {' '.join(map(str, args.real_rows))}" if args.real_rows else "") + (
        " --cold-bytecode" if args.cold_bytecode else "")
    write_section(name, title, command, body)


if __name__ == "__main__":
    main()
