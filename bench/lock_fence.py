"""What the load lock and its fence cost per run on PostgreSQL: ``run_lock`` (lock session, its
settings, the lock, the fencing token) plus one load session (with its fencing check at commit).

    .venv/bin/python -m bench.lock_fence [--runs 20]

Runs against TEST_PG_URL (default the local test server) in a schema of its own, dropped at the end.
Run it on two code versions (e.g. a ``git archive`` of main on PYTHONPATH) to compare.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import time
import uuid

import psycopg

from pipeline.warehouse.postgres_wh import PostgresWarehouse

BASE = os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    schema = "bench_fence_" + uuid.uuid4().hex[:8]
    warehouse = PostgresWarehouse(f"{BASE}?schema={schema}")
    fenced = "owner" in inspect.signature(warehouse.run_lock).parameters  # this branch's signature
    times = []
    try:
        for _ in range(args.runs + 1):  # the first creates the tables: not counted
            t0 = time.perf_counter()
            with warehouse.run_lock("bench") if fenced else warehouse.run_lock():
                with warehouse.session() as s:
                    s.scalar("select 1")
            times.append(time.perf_counter() - t0)
    finally:
        warehouse.close()
        with psycopg.connect(BASE, autocommit=True) as conn:
            conn.execute(f"drop schema if exists {schema} cascade")
    kept = times[1:]
    print(f"{'fenced' if fenced else 'unfenced'}: run_lock + one session, {len(kept)} runs: "
          f"median {statistics.median(kept) * 1000:.1f} ms, min {min(kept) * 1000:.1f} ms, "
          f"max {max(kept) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
