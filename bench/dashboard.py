"""Benchmark 4: server-side time of every page's queries per filter change, and dashboard cold start + RSS.

    python -m bench.dashboard --warehouse duckdb:////path/warehouse.duckdb [--warehouse postgresql://...]

For each warehouse: every page's query functions (dashboard/queries.py, uncached) over a fixed list
of filter combinations, REPEAT times; p50/p95 per page. Then, in a fresh process, the cold start
(import + first render of the Overview page through Streamlit's AppTest, which runs the page
script in-process) and that process's peak RSS after rendering every page once.
Targets (2M-row SYNTHETIC warehouse, DuckDB): filter change p95 <= 150 ms; dashboard RSS <= 400 MB.

    python -m bench.dashboard --warehouse <URL> --random 40 [--seed 22] [--latency-ms 250 --cap 5]

prints (writes nothing) the same over 40 random sidebar states (:func:`random_combos`), per page and
per query (named with its dimension, ``stops_by[reason]``), with how many calls reached the warehouse
rather than the dashboard's local copy (PostgreSQL; ``--latency-ms``: through bench/latency.py, the
"Redshift" model). A server warehouse's queries are timed once the copy serves.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from datetime import date, timedelta
from functools import partial

from .common import PYTHON, measure, write_section

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))


def combos():  # noqa: ANN201
    from dashboard.filters import FilterState
    from dashboard.labels import DISTRICTS

    return [
        FilterState(),
        FilterState(zips=("20902",)),
        FilterState(zips=("20902", "20910", "20906")),
        FilterState(races=("BLACK",)),
        FilterState(races=("BLACK", "HISPANIC"), genders=("M",)),
        FilterState(genders=("F",)),
        FilterState(outcomes=("Citation",)),
        FilterState(districts=(DISTRICTS["3"], DISTRICTS["4"])),
        FilterState(date_from=date(2016, 1, 1), date_to=date(2016, 12, 31)),
        FilterState(zips=("20902",), date_from=date(2016, 1, 1), date_to=date(2016, 12, 31)),
        FilterState(races=("WHITE",), outcomes=("Warning",), districts=(DISTRICTS["2"],)),
        FilterState(zips=("20838",)),
    ]


def random_combos(n: int, seed: int):  # noqa: ANN201
    """``n`` random sidebar states (bench/readers.py's choices): each filter held with some chance,
    1-3 values; dates none, whole years, or any day range (the sidebar's date picker), so the
    combinations no cube keeps are drawn as often as a resident would make them."""
    import random

    from dashboard.filters import FilterState

    from .readers import YEARS, choices

    rng = random.Random(seed)
    options = {k: v for k, v in choices().items() if k != "dates"}
    out = []
    for _ in range(n):
        held = {name: tuple(rng.sample(values, rng.choice((1, 1, 2, 3))))
                for name, values in options.items() if rng.random() < 0.3}
        roll = rng.random()
        if roll < 0.4:
            pass
        elif roll < 0.7:
            first = rng.choice(YEARS)
            held.update(date_from=date(first, 1, 1), date_to=date(min(first + rng.choice((0, 1, 2)), YEARS[-1]), 12, 31))
        else:
            start = date(YEARS[0], 1, 1) + timedelta(days=rng.randrange((date(YEARS[-1], 12, 31) - date(YEARS[0], 1, 1)).days))
            held.update(date_from=start, date_to=start + timedelta(days=rng.choice((6, 30, 90, 200, 400))))
        out.append(FilterState(**held))
    return out


def pages():  # noqa: ANN201
    from dashboard import queries as q
    from dashboard import tables

    def router(f):  # noqa: ANN001, ANN202
        q.state(); q.provenance(); q.data_sources(); q.zip_options()  # noqa: E702

    # The same calls as the pages make, grouped as they group them (queries.gather runs a group at once).
    def overview(f):  # noqa: ANN001, ANN202
        fr = q.provenance()
        d_from, d_to = f.date_from or fr.first_stop, f.date_to or fr.last_stop
        a, b = tables.same_period_last_year(d_from, d_to)
        compare = (d_to - d_from).days <= 366
        _t, _z, covered, any_dates, _d, _m = q.gather(
            partial(q.totals, f), partial(q.zip_map, f.without("zips")), q.covered_days,
            partial(q.daily, f, ignore=("dates",)) if compare else lambda: None, partial(q.daily, f), partial(q.monthly, f))
        if compare:
            tables.compare_periods(covered, any_dates, (a, b), (d_from, d_to))

    def map_(f):  # noqa: ANN001, ANN202
        q.county_zctas(); q.covered_days(); q.zip_map(f); q.totals(f.without("zips"))  # noqa: E702

    def map_grid(f):  # noqa: ANN001, ANN202
        map_(f); q.location_grid(f, 0.01)  # noqa: E702

    def trends(f):  # noqa: ANN001, ANN202
        _m, cov, covered, any_dates = q.gather(partial(q.monthly, f, ignore=("dates",)), q.year_coverage,
                                               q.covered_days, partial(q.daily, f, ignore=("dates",)))
        latest = int(cov["stop_year"].max())  # the page's default: the latest year against the one before
        a, b = (date(latest - 1, 1, 1), date(latest - 1, 12, 31)), (date(latest, 1, 1), date(latest, 12, 31))
        p = tables.compare_periods(covered, any_dates, a, b)
        q.gather(*[partial(q.year_compare, f, dim, p["days_a"], p["days_b"], n)
                   for dim, n in (("reason", 20), ("description", 10), ("district", 20))], partial(q.weekday_hour, f))

    def people(f):  # noqa: ANN001, ANN202
        q.stops_by(f, "race", ignore=("races",)); q.stops_by(f, "gender", ignore=("genders",))  # noqa: E702
        q.stops_by(f, "reason"); q.stops_by(f, "description", suppress=True); q.outcomes_by_race(f)  # noqa: E702

    def data(f):  # noqa: ANN001, ANN202
        q.stops_by(f, "zip", "none", suppress=True); q.data_quality(); q.provenance(); q.recent_runs(5)  # noqa: E702

    def my_zip(f):  # noqa: ANN001, ANN202
        z = replace(f, zips=("20902",))
        q.gather(partial(q.zip_map, f.without("zips")), partial(q.stops_by, z, "race", ignore=("races",)),
                 partial(q.residents, ["20902"]), partial(q.outcomes_by_race, z),
                 partial(q.stops_by, z, "year", ignore=("dates",)), partial(q.stops_by, z, "reason", suppress=True),
                 partial(q.stops_by, z, "description", suppress=True),
                 partial(q.location_grid, z, 0.005), q.year_coverage, q.covered_days)

    def changes(f):  # noqa: ANN001, ANN202
        q.change_log(30)

    return {"router (every page)": router, "Overview": overview, "My ZIP code": my_zip, "Map": map_,
            "Map + location grid": map_grid, "Trends": trends, "People": people, "What changed": changes, "Data": data}


def _p(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {"n": len(samples), "p50": statistics.median(samples), "p95": samples[int(0.95 * (len(samples) - 1))],
            "max": samples[-1]}


def _query_key(q, name: str, slots) -> str:  # noqa: ANN001
    """The SQL file's name, with the dimension(s) for the grouped queries (``stops_by[reason]``): a
    dimension changes the query's cost (the reason ``case``), so each is reported on its own."""
    dims = {expr: key for key, (expr, _label) in q.DIMENSIONS.items()}
    named = [dims[slots[k]] for k in ("dim", "dim2") if slots and slots.get(k) in dims and slots[k] != q.DIMENSIONS["none"][0]]
    return f"{name}[{','.join(named)}]" if named else name


def time_pages(url: str, stops_only: bool = False, repeat: int = REPEAT, filters: list | None = None,
               latency_ms: float = 0.0, cap: int = 5) -> dict:
    """p50/p95 per page and per query (each ``queries.run`` call timed by its SQL file's name), and
    per query how many calls reached the warehouse (the rest ran on the dashboard's local copy).

    ``stops_only``: every query reads ``stops`` as before the cubes (the baseline beside the figures).
    ``filters``: the sidebar states (default :func:`combos`). ``latency_ms``: PostgreSQL through
    bench/latency.py (the "Redshift" model). A server warehouse's queries start once the copy serves.
    """
    os.environ["PIPELINE_WAREHOUSE"] = url
    import contextlib
    import logging

    logging.disable(logging.WARNING)
    from dashboard import db
    from dashboard import queries as q

    db.reset()
    filters = filters or combos()
    wh_key, wh = q.warehouse()
    if latency_ms > 0:
        from .latency import LatencyWarehouse

        wh.close()
        q._WAREHOUSES[wh_key] = LatencyWarehouse(url, latency_ms=latency_ms, cap=cap)
    copy_s = None
    if not stops_only and q.replica_status() is not None:
        start = time.perf_counter()
        while q.local_copy() is None:
            if time.perf_counter() - start > 900:
                raise RuntimeError(f"no local copy of the marts after 900 s: {q.replica_status()}")
            time.sleep(0.5)
        copy_s = round(time.perf_counter() - start, 1)
    per_query: dict[str, list[float]] = {}
    remote: dict[str, int] = {}
    plain_run, plain_execute = q.run, q._execute
    last_remote = [False]

    def flagged_execute(wh_key, sql, params, local=None):  # noqa: ANN001, ANN202
        last_remote[0] = local is None
        return plain_execute(wh_key, sql, params, local)

    def timed_run(name, params=None, slots=None, allowed=None):  # noqa: ANN001, ANN202
        last_remote[0] = False
        t = time.perf_counter()
        try:
            return plain_run(name, params, slots, allowed)
        finally:
            key = _query_key(q, name, slots)
            per_query.setdefault(key, []).append(1000 * (time.perf_counter() - t))
            remote[key] = remote.get(key, 0) + last_remote[0]

    rows = []
    with q.bypass_cache(), (q.stops_only() if stops_only else contextlib.nullcontext()):
        for fn in pages().values():  # warm-up: imports, file cache, connection
            fn(filters[0])
        for name, fn in pages().items():
            samples = []
            for _ in range(repeat):
                for f in filters:
                    t = time.perf_counter()
                    fn(f)
                    samples.append(1000 * (time.perf_counter() - t))
            rows.append({"page": name, **_p(samples)})
        # Each query alone: the pages again with gather made sequential, so a query's time is its own
        # (inside gather it would include waiting for the page's other queries).
        plain_gather, q.run, q._execute = q.gather, timed_run, flagged_execute
        q.gather = lambda *calls: [c() for c in calls]
        try:
            for fn in pages().values():
                for _ in range(repeat):
                    for f in filters:
                        fn(f)
        finally:
            q.run, q.gather, q._execute = plain_run, plain_gather, plain_execute
    return {"pages": rows, "queries": [{"query": k, "remote": remote[k], **_p(v)} for k, v in sorted(per_query.items())],
            "copy_s": copy_s, "load": os.getloadavg()}


# A cold process's first render (the Overview, imports included), then every other page once: the
# tail of the child scripts here and in bench/cold_copy.py.
RENDER_EVERY_PAGE = r"""
at = AppTest.from_file("streamlit_app.py", default_timeout=TIMEOUT)
at.run()
first = time.perf_counter() - t0
first_cpu = time.process_time()  # the process's CPU (every thread) up to the first render
assert not at.exception, at.exception
from dashboard.routing import PAGES  # the app imported it already: costs nothing to the figure above
for page in PAGES[1:]:
    at.switch_page(page.file).run()
    assert not at.exception, (page.file, at.exception)
"""

COLD = r"""
import json, sys, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
""" + RENDER_EVERY_PAGE.replace("TIMEOUT", "120") + r"""
print(json.dumps({"first_render_s": first, "all_pages_s": time.perf_counter() - t0}))
"""


def cold_start(url: str) -> dict:
    m = measure([PYTHON, "-c", COLD], env={"PIPELINE_WAREHOUSE": url})
    out = json.loads(m.stdout.strip().splitlines()[-1])
    out.update(process_s=m.seconds, peak_rss_mb=m.peak_rss_mb)
    return out


def label(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgres") else "DuckDB" if url.startswith("duckdb") else url.split(":")[0]


def random_report(url: str, args: argparse.Namespace) -> str:
    """Markdown tables of one backend over random sidebar states: per page, per query (with the calls
    that reached the warehouse, i.e. were not answered by the dashboard's local copy)."""
    start = os.getloadavg()
    m = measure([PYTHON, "-m", "bench.dashboard", "--child", "--warehouse", url, "--random", str(args.random),
                 "--seed", str(args.seed), *(["--latency-ms", str(args.latency_ms), "--cap", str(args.cap)]
                                             if args.latency_ms > 0 else [])])
    result = json.loads(m.stdout.strip().splitlines()[-1])
    name = label(url) + (f" + {args.latency_ms:g} ms/statement, cap {args.cap}" if args.latency_ms > 0 else "")
    lines = [f"**{name}** ({args.rows}), uncached, {args.random} random sidebar states (seed {args.seed}) x {REPEAT}; "
             f"load average {start[0]:.2f} / {result['load'][0]:.2f} (start / end)"
             + (f"; local copy ready after {result['copy_s']} s" if result["copy_s"] is not None else "") + "\n",
             "| page | n | p50 | p95 | max |\n|---|---:|---:|---:|---:|"]
    lines += [f"| {r['page']} | {r['n']} | {r['p50']:.0f} ms | **{r['p95']:.0f} ms** | {r['max']:.0f} ms |" for r in result["pages"]]
    lines.append("\n| query | n | p50 | p95 | max | reached the warehouse |\n|---|---:|---:|---:|---:|---:|")
    lines += [f"| {r['query']} | {r['n']} | {r['p50']:.0f} ms | **{r['p95']:.0f} ms** | {r['max']:.0f} ms | {r['remote']} |"
              for r in result["queries"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", required=True, help="a PIPELINE_WAREHOUSE URL (repeat)")
    parser.add_argument("--rows", default="2M SYNTHETIC", help="what the warehouses hold (for the report)")
    parser.add_argument("--baseline-repeat", type=int, default=1,
                        help="repeats of the baseline (every query reading stops, as before the cubes); 0 skips it")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="N random sidebar states (random_combos) instead of the fixed list; prints, writes nothing")
    parser.add_argument("--seed", type=int, default=22, help="with --random")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="PostgreSQL only: add this overhead to every statement (bench/latency.py, a Redshift model)")
    parser.add_argument("--cap", type=int, default=5, help="with --latency-ms: statements the warehouse runs at once")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stops-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one backend per process: connections and caches never mix
        repeat = args.baseline_repeat if args.stops_only else REPEAT
        filters = random_combos(args.random, args.seed) if args.random else None
        print(json.dumps(time_pages(args.warehouse[0], stops_only=args.stops_only, repeat=repeat, filters=filters,
                                    latency_ms=args.latency_ms, cap=args.cap)))
        return
    if args.random:
        for url in args.warehouse:
            print(random_report(url, args))
        return
    for url in args.warehouse:
        body = []
        m = measure([PYTHON, "-m", "bench.dashboard", "--child", "--warehouse", url])
        result = json.loads(m.stdout.strip().splitlines()[-1])
        base = {"pages": [], "queries": []}
        if args.baseline_repeat:
            m = measure([PYTHON, "-m", "bench.dashboard", "--child", "--stops-only", "--baseline-repeat",
                         str(args.baseline_repeat), "--warehouse", url])
            base = json.loads(m.stdout.strip().splitlines()[-1])
        cold = cold_start(url)
        name = label(url)
        print(f"{name}: " + "; ".join(f"{r['page']} p95 {r['p95']:.0f} ms" for r in result["pages"]))
        print(f"{name}: " + "; ".join(f"{r['query']} p95 {r['p95']:.0f} ms" for r in result["queries"]))
        print(f"{name}: cold start {cold['first_render_s']:.1f} s, all pages {cold['all_pages_s']:.1f} s, "
              f"peak RSS {cold['peak_rss_mb']:.0f} MB")
        before = {r.get("page") or r.get("query"): r for r in base["pages"] + base["queries"]}

        def was(key: str) -> str:
            return f"{before[key]['p95']:.0f} ms" if key in before else "-"

        body.append(f"**{name}** ({args.rows} warehouse), uncached, {len(combos())} filter combinations x {REPEAT}; "
                    f"\"stops\" = the same calls with every query reading `stops` (as before the cubes), "
                    f"x {args.baseline_repeat}, measured in the same run:\n")
        body.append("| page (its queries per filter change) | n | p50 | p95 | max | p95 reading stops |\n|---|---:|---:|---:|---:|---:|")
        body += [f"| {r['page']} | {r['n']} | {r['p50']:.0f} ms | **{r['p95']:.0f} ms** | {r['max']:.0f} ms | {was(r['page'])} |"
                 for r in result["pages"]]
        body.append("\n| query (sql/dashboard/) | n | p50 | p95 | max | p95 reading stops |\n|---|---:|---:|---:|---:|---:|")
        body += [f"| {r['query']} | {r['n']} | {r['p50']:.0f} ms | **{r['p95']:.0f} ms** | {r['max']:.0f} ms | {was(r['query'])} |"
                 for r in result["queries"]]
        body.append(f"\nCold start (fresh process, import + first Overview render via AppTest): "
                    f"**{cold['first_render_s']:.1f} s**; all eight pages rendered once: {cold['all_pages_s']:.1f} s; "
                    f"that process's peak RSS: **{cold['peak_rss_mb']:.0f} MB**.\n")
        write_section(f"dashboard-{name.lower()}", f"4. Dashboard on {name}: time per filter change, cold start, memory",
                      f"BENCH_REPEAT={REPEAT} python -m bench.dashboard --warehouse <{name} URL>", "\n".join(body))


if __name__ == "__main__":
    main()
