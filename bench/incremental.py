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
import shutil
import tempfile
from pathlib import Path

from .backfill import backfill
from .common import OUT, ensure_synthetic, run_pipeline, write_section


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
    daily = ensure_synthetic(args.rows, seed=20251102)
    times, rss = [], []
    for i in range(args.repeat):
        work = Path(tempfile.mkdtemp(prefix="bench-incr-", dir=OUT))
        try:
            shutil.copyfile(base / "warehouse.duckdb", work / "warehouse.duckdb")
            shutil.copytree(base / "lake", work / "lake", ignore=shutil.ignore_patterns("raw", "landing"))
            m, result = run_pipeline(["run", "--source", "file", "--file", str(daily), "--skip-analyze"], work)
            times.append(m.seconds)
            rss.append(m.peak_rss_mb)
            print(f"run {i + 1}: {m.seconds:.2f} s, {result['rows_inserted']:,} rows merged into "
                  f"{result['warehouse_rows']:,}, peak RSS {m.peak_rss_mb:.0f} MB")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    times.sort()
    body = (
        f"| base warehouse (SYNTHETIC) | daily file (SYNTHETIC) | runs | median | min | max | peak RSS |\n"
        f"|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {args.base_rows:,} charges | {args.rows:,} rows | {len(times)} | **{times[len(times) // 2]:.2f} s** | "
        f"{times[0]:.2f} s | {times[-1]:.2f} s | {max(rss):,.0f} MB |\n\n"
        "Wall time of the whole `python -m pipeline run --source file` process (interpreter start included); "
        "no network involved."
    )
    write_section("incremental", "3. Daily incremental on a 2M-row warehouse", 
                  f"python -m bench.incremental --base-rows {args.base_rows} --rows {args.rows}", body)


if __name__ == "__main__":
    main()
