"""Dashboard cold start with the local copy of a server warehouse's marts (issue 22), and its RSS.

    python -m bench.cold_copy --warehouse postgresql://...?schema=... [--runs 2]

Each run is a fresh process (``bench/dashboard.py``'s cold start: AppTest renders the Overview,
then every other page once). Run 1 starts with no kept copy (``dashboard/replica.py`` copies the
marts; the first request waits for it); the next runs find the copy that run 1 kept for the same
committed warehouse version and open it. Reported per run: seconds to import the dashboard, seconds
until the copy serves (copied or opened), seconds to the Overview's first render (imports included),
all pages, the whole process, its peak RSS, and the copy's own figures; beside the imports, the first
render and the process, their CPU seconds (user + system, every thread). Target: cold start with the
copy <= 3 s, RSS <= 400 MB at 2M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil

from bench.common import PYTHON, bytecode_env, measure
from bench.dashboard import RENDER_EVERY_PAGE

CHILD = r"""
import json, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
from dashboard import queries as q
imported = time.perf_counter() - t0
imported_cpu = time.process_time()
t1 = time.perf_counter()
while q.local_copy() is None:  # the first request waits 30 s at most; a 2M copy on a busy machine takes longer
    assert time.perf_counter() - t1 < 900, "no copy after 15 min"
    time.sleep(0.1)
copy_ready = time.perf_counter() - t1
""" + RENDER_EVERY_PAGE.replace("TIMEOUT", "300") + r"""
print(json.dumps({"import_s": imported, "import_cpu_s": imported_cpu, "copy_ready_s": copy_ready,
                  "first_render_s": first, "first_render_cpu_s": first_cpu,
                  "all_pages_s": time.perf_counter() - t0, "replica": q.replica_status()}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True, help="a server warehouse's PIPELINE_WAREHOUSE URL")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cold-bytecode", action="store_true",
                        help="compile every imported module in every run (no bytecode cache)")
    args = parser.parse_args()
    from dashboard import queries as q
    from dashboard import replica
    from pipeline.config import load_settings

    folder = replica.kept_folder(q._warehouse_key(load_settings({"PIPELINE_WAREHOUSE": args.warehouse})))
    shutil.rmtree(folder, ignore_errors=True)  # run 1 starts without a kept copy
    for run in range(1, args.runs + 1):
        load = os.getloadavg()[0]
        m = measure([PYTHON, "-c", CHILD], env={"PIPELINE_WAREHOUSE": args.warehouse,
                                                **({} if args.cold_bytecode else bytecode_env())})
        out = json.loads(m.stdout.strip().splitlines()[-1])
        print(json.dumps({"run": run, "kept_copy_found": run > 1,
                          "bytecode": "compiled every run" if args.cold_bytecode else "cached", **{k: round(v, 2) if isinstance(v, float) else v
                                                                     for k, v in out.items()},
                          "process_s": round(m.seconds, 1), "process_cpu_s": round(m.cpu_seconds, 1), "peak_rss_mb": round(m.peak_rss_mb), "load_start": load,
                          "load_end": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
