"""Benchmark 3: a daily incremental of ~2,000 rows on top of a 2M-row warehouse (no network).

    python -m bench.incremental --base-rows 2000000 --rows 2000

Builds (or reuses, --warehouse DIR from `bench.backfill --keep DIR`) a warehouse loaded with the
SYNTHETIC 2M-row file, then times `python -m pipeline run --source file` on a separate SYNTHETIC
file of ~2,000 rows: the whole daily path (raw, typing, ZIP5, curated merge into the touched
month partitions, warehouse merge, stops for the touched stops, marts, checks); the analyses are
refreshed by a separate `analyze` step and not counted here.
Target: <= 3 s.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

from .backfill import backfill
from .common import OUT, ensure_synthetic, run_pipeline, write_section


def daily_file(src: Path, last_day: date = date(2025, 11, 1), seed: int = 7) -> Path:
    """Re-date a SYNTHETIC (or REPLICATED REAL) file like a real daily pull: 95% of stops in the last 7 days, 5% late (<= 60 days).

    Without this the generator spreads 2,000 rows over 14 years and every month partition is
    rewritten, which is not what a morning run sees.
    """
    out = src.with_name(src.stem + "_daily.csv")
    rng = random.Random(seed)
    with open(src, newline="") as fh, open(out, "w", newline="") as dst:
        reader, writer = csv.reader(fh), csv.writer(dst)
        header = next(reader)
        writer.writerow(header)
        col = header.index("Date Of Stop")
        for row in reader:
            if len(row) == len(header):
                back = rng.randint(0, 6) if rng.random() < 0.95 else rng.randint(7, 60)
                row[col] = (last_day - timedelta(days=back)).strftime("%m/%d/%Y")
            writer.writerow(row)
    for marker in (".SYNTHETIC.txt", ".REPLICATED-REAL.txt"):  # what the rows are travels with them
        if Path(str(src) + marker).exists():
            shutil.copyfile(str(src) + marker, str(out) + marker)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-rows", type=int, default=2_000_000)
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--warehouse", type=Path, help="a directory holding warehouse.duckdb + lake to reuse (copied)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = args.warehouse or OUT / f"wh_{args.base_rows}"
    if not (base / "warehouse.duckdb").exists():
        backfill(args.base_rows, keep=base)
    daily = daily_file(ensure_synthetic(args.rows, seed=20251102))
    times, rss, loads = [], [], []
    for i in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="bench-incr-", dir=OUT))
        try:
            shutil.copyfile(base / "warehouse.duckdb", work / "warehouse.duckdb")
            shutil.copytree(base / "lake", work / "lake", ignore=shutil.ignore_patterns("raw", "landing"))
            m, result = run_pipeline(["run", "--source", "file", "--file", str(daily), "--skip-analyze"], work)
            times.append(m.seconds)
            loads.append(result["seconds"])
            rss.append(m.peak_rss_mb)
            print(f"run {i + 1}: {m.seconds:.2f} s process, {result['seconds']:.2f} s load, {result['rows_inserted']:,} rows merged into "
                  f"{result['warehouse_rows']:,}, peak RSS {m.peak_rss_mb:.0f} MB")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    times.sort()
    loads.sort()
    body = (
        f"| base warehouse (SYNTHETIC) | daily file (SYNTHETIC) | runs | load (run_load), median | whole process, median | process min / max | peak RSS |\n"
        f"|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {args.base_rows:,} charges | {args.rows:,} rows | {len(times)} | **{loads[len(loads) // 2]:.2f} s** | "
        f"{times[len(times) // 2]:.2f} s | {times[0]:.2f} / {times[-1]:.2f} s | {max(rss):,.0f} MB |\n\n"
        "'load' is the pipeline's own timing of the run (extract to commit, as logged in the run summary); "
        "Wall time of the whole `python -m pipeline run --source file` process (interpreter start and imports "
        "included; no network). The daily file is re-dated like a real morning pull (95% of stops in the last "
        "7 days, 5% up to 60 days late), so the run rewrites the few month partitions a real run touches."
    )
    write_section("incremental", "3. Daily incremental on a 2M-row warehouse", 
                  f"python -m bench.incremental --base-rows {args.base_rows} --rows {args.rows}", body)


if __name__ == "__main__":
    main()
