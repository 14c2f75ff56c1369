"""What the raw record count costs: counting a CSV export from its bytes against one parse and the load.

The load checks each file's records, counted by pipeline/extract/csv_records.py, against the rows
DuckDB's reader parsed plus the lines it rejected. This times, back to back on the same SYNTHETIC
export: the count (best of three), the load's own DuckDB reader over the
file (one parse, the floor) and the whole backfill (``python -m pipeline backfill --skip-analyze``).

    python -m bench.raw_count --rows 2000000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb

from bench.common import ensure_synthetic, run_pipeline, write_section
from pipeline.extract.csv_records import count_records
from pipeline.extract.files import read_csv_files


def reader_seconds(path: Path) -> tuple[float, int]:
    """The load's own CSV reader (pipeline/extract/files.py) over the file once: rows parsed + rejected."""
    con = duckdb.connect()
    start = time.perf_counter()
    finish, _ = read_csv_files(con, [path], "file")
    parsed = con.execute("select count(*) from src_rows").fetchall()[0][0]
    rejected = finish(con)
    return time.perf_counter() - start, int(parsed + rejected)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    args = ap.parse_args()
    path = ensure_synthetic(args.rows)
    loads = [os.getloadavg()[0]]
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        records = count_records(path)
        timings.append(time.perf_counter() - start)
    parse, parsed = reader_seconds(path)
    loads.append(os.getloadavg()[0])
    with tempfile.TemporaryDirectory(prefix="bench-raw-count-") as root:
        measured, result = run_pipeline(["backfill", "--source", "file", "--file", str(path), "--skip-analyze"],
                                        Path(root))
    loads.append(os.getloadavg()[0])
    count = min(timings)
    body = f"""
SYNTHETIC export of {args.rows:,} rows ({path.stat().st_size / 2**20:,.0f} MiB), load average
{' / '.join(f'{x:.1f}' for x in loads)} (start / after the count and parse / after the backfill).

| step | seconds | records |
|---|---:|---:|
| raw count from the bytes (`count_records`, best of 3: {', '.join(f'{t:.2f}' for t in timings)}) | **{count:.2f}** | {records:,} |
| the load's DuckDB reader over the same file (`count(*)` of `src_rows` + rejects) | {parse:.2f} | {parsed:,} |
| whole backfill (`python -m pipeline backfill --skip-analyze`, includes the count) | {measured.seconds:.1f} | raw {result.get('rows_raw', 0):,} = landed {result.get('rows_landed', 0):,} + quarantined {result.get('rows_quarantined', 0):,} |

The count is {count / measured.seconds:.1%} of the backfill and {count / parse:.2f}x one DuckDB parse.
"""
    print(body)
    write_section("raw-count", "Raw record count (issue 16): its cost against the load",
                  f"python -m bench.raw_count --rows {args.rows}", body)


if __name__ == "__main__":
    main()
