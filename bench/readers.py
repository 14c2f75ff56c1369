"""Benchmark 9 (issue 13): many dashboard sessions at once, time per filter change on the server.

    python -m bench.readers --warehouse <URL> [--warehouse <URL> ...] --sessions 1 10 50

Driver: simulated sessions are threads of one process, as Streamlit runs every session's script on
a thread of its one server process. So they share what real sessions share: the GIL, the
warehouse connection(s) (DuckDB's attached reader, the PostgreSQL read pool), and the
result cache of ``dashboard/queries.py`` (per process, keyed by the SQL and the filter
values), which is used as the pages use it (not bypassed). Each filter change runs what a rerun
of the app runs for data: the router's queries and the current page's query set
(``bench/dashboard.py`` ``pages()``, the same calls the pages make, grouped by ``queries.gather``
as they group them). Not included: building the charts and tables and Streamlit's protobuf
serialisation and websocket traffic (CPU on the same GIL; measure with a browser when needed).

Each session makes a random walk over filter combinations (one filter changed per step: a ZIP,
race, gender, outcome or district toggled, or the date range set or cleared; one step in five
also moves to another page), with a pause drawn from an exponential distribution of mean
``--think`` seconds between steps (a resident reading the charts) and a seed per run and session,
so sessions ask for different combinations and the cache can't make the figure meaningless: the
share of queries answered from the cache is reported next to it. Every level starts with an empty
cache. Each level runs ``--duration`` seconds (and at least ``--min-changes`` changes), then lets
the changes in flight finish. One process per warehouse, so connections and caches never mix.
Target (issue 13): p95 with 50 sessions <= 3x the single-session p95 (2M rows).

Issue 22: on PostgreSQL and Redshift the dashboard answers from its copy of the marts
(dashboard/replica.py); the sessions start once the copy is loaded, and each change reports how
many of its queries still reached the warehouse. ``--latency-ms`` / ``--cap`` put bench/latency.py
(a fixed overhead per statement, a cap on statements at once: a Redshift model) in front of PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import statistics
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Iterator

from .common import PYTHON, measure, write_section

ROUTER = "router (every page)"  # bench/dashboard.py pages(): what every rerun runs before the page
PAGE_MOVE = 0.2  # share of steps that also move to another page
MAX_VALUES = 3  # a walk holds at most this many values of one filter (a resident picks a few ZIPs)
YEARS = range(2012, 2026)


@dataclass
class Counts:
    """Query calls of one filter change (across the threads ``queries.gather`` starts for it)."""

    calls: int = 0
    executed: int = 0
    remote: int = 0  # executed on the warehouse (not on the dashboard's local copy of the marts)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self) -> None:
        with self.lock:
            self.calls += 1

    def miss(self, remote: bool) -> None:
        with self.lock:
            self.executed += 1
            self.remote += remote


_counts: ContextVar[Counts | None] = ContextVar("bench_readers_counts", default=None)


@contextmanager
def instrumented() -> Iterator[None]:
    """Inside this block, count each cached query call and each one that reached the warehouse (a cache miss).

    ``queries.run`` is every query a page asks for; ``queries._execute`` runs only on a miss
    (``_execute_cached`` looks it up as a module global). The calls themselves are unchanged, and
    the module is restored on leaving.
    """
    from dashboard import queries as q

    run, execute = q.run, q._execute

    def counted_run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        counts = _counts.get()
        if counts is not None:
            counts.call()
        return run(*args, **kwargs)

    def counted_execute(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        counts = _counts.get()
        if counts is not None:
            counts.miss(remote=(args[3] if len(args) > 3 else kwargs.get("local")) is None)
        return execute(*args, **kwargs)

    q.run, q._execute = counted_run, counted_execute
    try:
        yield
    finally:
        q.run, q._execute = run, execute


def choices() -> dict[str, list]:
    from dashboard import queries as q
    from dashboard.labels import DISTRICTS, GENDERS, OUTCOMES, RACES

    return {"zips": [z["zip5"] for z in q.county_zctas()], "races": list(RACES.values()),
            "genders": list(GENDERS.values()), "outcomes": list(OUTCOMES.values()),
            "districts": list(DISTRICTS.values()), "dates": []}


def toggle(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value) if value in values else (*values, value)


def step(rng: random.Random, f, options: dict[str, list]):  # noqa: ANN001, ANN201
    """``f`` with one filter changed: a value toggled (at most MAX_VALUES held), or a new date range."""
    name = rng.choice(list(options))
    if name == "dates":
        if f.date_from is not None and rng.random() < 0.4:
            return replace(f, date_from=None, date_to=None)
        first = rng.choice(YEARS)
        last = min(first + rng.choice((0, 0, 1, 2)), YEARS[-1])
        new = replace(f, date_from=date(first, 1, 1), date_to=date(last, 12, 31))
        return new if new != f else replace(f, date_from=None, date_to=None)
    held = getattr(f, name)
    pool = list(held) if len(held) >= MAX_VALUES else options[name]
    return replace(f, **{name: toggle(held, rng.choice(pool))})


@dataclass
class Change:
    ms: float
    page: str
    calls: int
    executed: int
    remote: int


def session(index: int, seed: int, deadline: float, think: float, enough: threading.Event,
            out: list[Change], errors: list[BaseException], options: dict[str, list], pages: dict) -> None:
    """One resident: land on the Overview, then change a filter after each pause until the deadline."""
    try:
        _walk(index, seed, deadline, think, enough, out, options, pages)
    except BaseException as exc:  # re-raised by run_level: a failing query is a failed benchmark
        errors.append(exc)


def _walk(index: int, seed: int, deadline: float, think: float, enough: threading.Event,
          out: list[Change], options: dict[str, list], pages: dict) -> None:
    from dashboard.filters import FilterState

    rng = random.Random(f"{seed}:{index}")
    names = [n for n in pages if n != ROUTER]
    router = pages[ROUTER]
    page, f = "Overview", FilterState()
    time.sleep(rng.uniform(0, think))  # sessions arrive over the first pause, not all at once
    _counts.set(Counts())
    router(f)
    pages[page](f)  # the landing: not a filter change, not timed
    while True:
        if think > 0:
            time.sleep(rng.expovariate(1 / think))
        if time.perf_counter() >= deadline and enough.is_set():
            break
        if rng.random() < PAGE_MOVE:
            page = rng.choice([n for n in names if n != page])
        f = step(rng, f, options)
        counts = Counts()
        _counts.set(counts)
        start = time.perf_counter()
        router(f)
        pages[page](f)
        out.append(Change(1000 * (time.perf_counter() - start), page, counts.calls, counts.executed, counts.remote))


def pages_walked() -> list[str]:
    from .dashboard import pages

    return [n for n in pages() if n != ROUTER]


def percentile(sorted_ms: list[float], share: float) -> float:
    return sorted_ms[int(share * (len(sorted_ms) - 1))]


def run_level(sessions: int, seed: int, duration: float, think: float, min_changes: int) -> dict:
    from dashboard import queries as q

    from .dashboard import pages

    q.clear_cache()
    options, page_set = choices(), pages()
    changes: list[Change] = []
    errors: list[BaseException] = []
    enough = threading.Event()
    load_start = os.getloadavg()[0]
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    deadline = start + duration
    threads = [threading.Thread(target=session, args=(i, seed, deadline, think, enough, changes, errors, options, page_set),
                                daemon=True) for i in range(sessions)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if len(changes) >= min_changes or errors:
            enough.set()
        time.sleep(0.2)
    if errors:
        raise errors[0]
    wall = time.perf_counter() - start
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)
    ms = sorted(c.ms for c in changes)
    calls, executed = sum(c.calls for c in changes), sum(c.executed for c in changes)
    remote = sum(c.remote for c in changes)
    by_page = {}
    for name in sorted({c.page for c in changes}):
        page_ms = sorted(c.ms for c in changes if c.page == name)
        by_page[name] = {"n": len(page_ms), "p50": statistics.median(page_ms), "p95": percentile(page_ms, 0.95)}
    return {"sessions": sessions, "n": len(ms), "p50": statistics.median(ms), "p95": percentile(ms, 0.95),
            "max": ms[-1], "wall_s": wall, "changes_per_s": len(ms) / wall, "cpu_pct": 100 * cpu / wall,
            "cpu_ms_per_change": 1000 * cpu / len(ms),
            "queries_per_change": calls / len(ms), "cache_hit_pct": 100 * (1 - executed / calls) if calls else 0.0,
            "remote_per_change": remote / len(ms),
            "load_start": load_start, "load_end": os.getloadavg()[0], "by_page": by_page}


def child(url: str, levels: list[int], seed: int, duration: float, think: float, min_changes: int,
          read_pool: int | None = None, latency_ms: float = 0.0, cap: int = 5) -> dict:
    os.environ["PIPELINE_WAREHOUSE"] = url
    logging.disable(logging.WARNING)  # Streamlit's "no runtime" notices: the cache works without one
    from dashboard import queries as q

    from .dashboard import combos, pages

    wh_key, wh = q.warehouse()
    if latency_ms > 0:  # the "Redshift" of bench/latency.py: fixed overhead per statement, `cap` at once
        from .latency import LatencyWarehouse

        wh.close()
        wh = q._WAREHOUSES[wh_key] = LatencyWarehouse(url, latency_ms=latency_ms, cap=cap)
    if read_pool is not None and hasattr(wh, "readers"):  # another pool size (1 = one shared connection)
        from pipeline.warehouse.pool import ConnectionPool

        wh.readers.close()
        wh.readers = ConnectionPool(wh._open_reader, read_pool)

    start = time.perf_counter()
    copy = None
    if q.replica_status() is not None:  # a server warehouse: the sessions start once the dashboard's copy is there
        while q.local_copy() is None:
            if time.perf_counter() - start > 900:
                raise RuntimeError(f"no local copy of the marts after 900 s: {q.replica_status()}")
            time.sleep(0.5)
        copy = dict(q.replica_status(), wait_s=round(time.perf_counter() - start, 2))
    with q.bypass_cache():  # warm-up: imports, connections, the OS file cache
        for fn in pages().values():
            fn(combos()[0])
    with instrumented():
        results = [run_level(n, seed, duration, think, min_changes) for n in levels]
    return {"levels": results, "replica": copy, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def label(url: str, latency_ms: float = 0.0, cap: int = 5) -> str:
    name = "PostgreSQL" if url.startswith("postgres") else "DuckDB" if url.startswith("duckdb") else url.split(":")[0]
    return f"\"Redshift\" (PostgreSQL + {latency_ms:g} ms per statement, {cap} at once)" if latency_ms > 0 else name


def report(name: str, rows_label: str, out: dict, seed: int, think: float, duration: float) -> str:
    results = out["levels"]
    base = results[0]["p95"] if results and results[0]["sessions"] == 1 else None
    lines = [f"**{name}** ({rows_label} warehouse), seed {seed}, pause between changes: exponential, mean "
             f"{think:g} s; {duration:g} s per level:\n",
             "| sessions | filter changes | p50 | p95 | max | p95 / 1 session | changes/s | cache hits | "
             "queries per change | on the warehouse per change | this process's CPU (per change) | load avg start / end |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        ratio = f"**{r['p95'] / base:.2f}x**" if base else "-"
        lines.append(f"| {r['sessions']} | {r['n']} | {r['p50']:.0f} ms | **{r['p95']:.0f} ms** | {r['max']:.0f} ms | "
                     f"{ratio} | {r['changes_per_s']:.1f} | {r['cache_hit_pct']:.0f}% | {r['queries_per_change']:.1f} | "
                     f"{r['remote_per_change']:.2f} | "
                     f"{r['cpu_pct']:.0f}% ({r['cpu_ms_per_change']:.0f} ms) | {r['load_start']:.1f} / {r['load_end']:.1f} |")
    top = results[-1]
    lines.append(f"\np95 by page at {top['sessions']} sessions: " + ", ".join(
        f"{page} {v['p95']:.0f} ms (n {v['n']})" for page, v in top["by_page"].items()) + ".")
    copy = out.get("replica")
    lines.append(f"\nThe process's peak RSS: {out['rss_mb']:.0f} MB. " + (
        f"Local copy of the marts (dashboard/replica.py): {copy['tables']} tables, {copy['rows']:,} rows, "
        f"{copy.get('file_mb', 0)} MB file, {copy['mb']} MB of DuckDB memory, copied in {copy['copy_s']} s (first request waited {copy['wait_s']} s)."
        if copy else "No local copy (a DuckDB warehouse is read in place; or PIPELINE_DASHBOARD_REPLICA_MB=0)."))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", required=True, help="a PIPELINE_WAREHOUSE URL (repeat)")
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per level (default 60)")
    parser.add_argument("--min-changes", type=int, default=30, help="timed changes per level at least (default 30)")
    parser.add_argument("--think", type=float, default=3.0, help="mean pause between a session's changes, s (default 3)")
    parser.add_argument("--seed", type=int, default=None, help="walk seed (default: a new one per run)")
    parser.add_argument("--rows", default="2M SYNTHETIC", help="what the warehouses hold (for the report)")
    parser.add_argument("--read-pool", type=int, default=None,
                        help="PostgreSQL read connections (default: the warehouse's own, READ_POOL_SIZE)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="PostgreSQL only: add this overhead to every statement (bench/latency.py, a Redshift model)")
    parser.add_argument("--cap", type=int, default=5, help="with --latency-ms: statements the warehouse runs at once")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    if args.child:
        print(json.dumps(child(args.warehouse[0], args.sessions, seed, args.duration, args.think, args.min_changes,
                               args.read_pool, args.latency_ms, args.cap)))
        return
    levels = " ".join(str(n) for n in args.sessions)
    for url in args.warehouse:
        name = label(url, args.latency_ms, args.cap)
        m = measure([PYTHON, "-m", "bench.readers", "--child", "--warehouse", url, "--sessions", *map(str, args.sessions),
                     "--duration", str(args.duration), "--min-changes", str(args.min_changes),
                     "--think", str(args.think), "--seed", str(seed),
                     *(["--read-pool", str(args.read_pool)] if args.read_pool is not None else []),
                     *(["--latency-ms", str(args.latency_ms), "--cap", str(args.cap)] if args.latency_ms > 0 else [])])
        results = json.loads(m.stdout.strip().splitlines()[-1])
        body = report(name, args.rows, results, seed, args.think, args.duration)
        print(body)
        if not args.no_write:
            write_section(f"readers-{name.lower()}", f"9. Many readers on {name}: time per filter change by concurrent sessions",
                          f"python -m bench.readers --warehouse <{name} URL> --sessions {levels} --duration {args.duration:g} "
                          f"--think {args.think:g}", body)


if __name__ == "__main__":
    main()
