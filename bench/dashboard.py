"""Benchmark 4: server-side time of every page's queries per filter change, and dashboard cold start + RSS.

    python -m bench.dashboard --warehouse duckdb:////path/warehouse.duckdb [--warehouse postgresql://...]

For each warehouse: every page's query functions (dashboard/queries.py, uncached) over a fixed list
of filter combinations, REPEAT times; p50/p95 per page. Then, in a fresh process, the cold start
(import + first render of the Overview page through Streamlit's AppTest, which runs the page
script in-process) and that process's peak RSS after rendering every page once.
Targets (2M-row SYNTHETIC warehouse, DuckDB): filter change p95 <= 150 ms; dashboard RSS <= 400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from datetime import date
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


def pages():  # noqa: ANN201
    from dashboard import queries as q
    from dashboard import tables

    def router(f):  # noqa: ANN001, ANN202
        q.state(); q.provenance(); q.zip_options()  # noqa: E702

    # The same calls as the pages make, grouped as they group them (queries.gather runs a group at once).
    def overview(f):  # noqa: ANN001, ANN202
        fr = q.provenance()
        d_from, d_to = f.date_from or fr.first_stop, f.date_to or fr.last_stop
        a, b = tables.same_period_last_year(d_from, d_to)
        compare = (d_to - d_from).days <= 366
        _t, _r, covered, any_dates, _d, _m = q.gather(
            partial(q.totals, f), partial(q.residents, f.zips), q.covered_days,
            partial(q.daily, f, ignore=("dates",)) if compare else lambda: None, partial(q.daily, f), partial(q.monthly, f))
        if compare:
            tables.compare_periods(covered, any_dates, (a, b), (d_from, d_to))

    def map_(f):  # noqa: ANN001, ANN202
        q.zip_map(f); q.totals(f.without("zips")); q.county_zctas()  # noqa: E702

    def map_grid(f):  # noqa: ANN001, ANN202
        map_(f); q.location_grid(f, 0.01)  # noqa: E702

    def trends(f):  # noqa: ANN001, ANN202
        a, b = (date(2015, 1, 1), date(2015, 12, 31)), (date(2016, 1, 1), date(2016, 12, 31))
        _m, _c, covered, any_dates = q.gather(partial(q.monthly, f, ignore=("dates",)), q.year_coverage,
                                              q.covered_days, partial(q.daily, f, ignore=("dates",)))
        p = tables.compare_periods(covered, any_dates, a, b)
        q.gather(*[partial(q.year_compare, f, dim, p["days_a"], p["days_b"], n)
                   for dim, n in (("description", 10), ("district", 20))], partial(q.weekday_hour, f))

    def people(f):  # noqa: ANN001, ANN202
        q.stops_by(f, "race", ignore=("races",)); q.residents(f.zips)  # noqa: E702
        q.stops_by(f, "gender", ignore=("genders",)); q.outcomes_by_race(f)  # noqa: E702

    def data(f):  # noqa: ANN001, ANN202
        q.stops_by(f, "zip", "none", suppress=True); q.data_quality(); q.provenance(); q.recent_runs(5)  # noqa: E702

    def my_zip(f):  # noqa: ANN001, ANN202
        z = replace(f, zips=("20902",))
        q.gather(partial(q.zip_map, f.without("zips")), partial(q.stops_by, z, "race", ignore=("races",)),
                 partial(q.residents, ["20902"]), partial(q.outcomes_by_race, z),
                 partial(q.stops_by, z, "year", ignore=("dates",)), partial(q.stops_by, z, "description", suppress=True),
                 partial(q.location_grid, z, 0.005), q.year_coverage)

    def changes(f):  # noqa: ANN001, ANN202
        q.change_log(30)

    return {"router (every page)": router, "Overview": overview, "My ZIP code": my_zip, "Map": map_,
            "Map + location grid": map_grid, "Trends": trends, "People": people, "What changed": changes, "Data": data}


def _p(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {"n": len(samples), "p50": statistics.median(samples), "p95": samples[int(0.95 * (len(samples) - 1))],
            "max": samples[-1]}


def time_pages(url: str, stops_only: bool = False, repeat: int = REPEAT) -> dict:
    """p50/p95 per page and per query (each ``queries.run`` call timed by its SQL file's name).

    ``stops_only``: every query reads ``stops`` as before the cubes (the baseline beside the figures).
    """
    os.environ["PIPELINE_WAREHOUSE"] = url
    import contextlib
    import logging

    logging.disable(logging.WARNING)
    from dashboard import db
    from dashboard import queries as q

    db.reset()
    per_query: dict[str, list[float]] = {}
    plain_run = q.run

    def timed_run(name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        t = time.perf_counter()
        try:
            return plain_run(name, *args, **kwargs)
        finally:
            per_query.setdefault(name, []).append(1000 * (time.perf_counter() - t))

    rows = []
    with q.bypass_cache(), (q.stops_only() if stops_only else contextlib.nullcontext()):
        for fn in pages().values():  # warm-up: imports, file cache, connection
            fn(combos()[0])
        for name, fn in pages().items():
            samples = []
            for _ in range(repeat):
                for f in combos():
                    t = time.perf_counter()
                    fn(f)
                    samples.append(1000 * (time.perf_counter() - t))
            rows.append({"page": name, **_p(samples)})
        # Each query alone: the pages again with gather made sequential, so a query's time is its own
        # (inside gather it would include waiting for the page's other queries).
        plain_gather, q.run = q.gather, timed_run
        q.gather = lambda *calls: [c() for c in calls]
        try:
            for fn in pages().values():
                for _ in range(repeat):
                    for f in combos():
                        fn(f)
        finally:
            q.run, q.gather = plain_run, plain_gather
    return {"pages": rows, "queries": [{"query": k, **_p(v)} for k, v in sorted(per_query.items())]}


COLD = r"""
import json, sys, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("streamlit_app.py", default_timeout=120)
at.run()
first = time.perf_counter() - t0
assert not at.exception, at.exception
for page in ("pages/my_zip.py", "pages/map.py", "pages/trends.py", "pages/people.py",
             "pages/disparities.py", "pages/changes.py", "pages/data.py"):
    at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
print(json.dumps({"first_render_s": first, "all_pages_s": time.perf_counter() - t0}))
"""


def cold_start(url: str) -> dict:
    m = measure([PYTHON, "-c", COLD], env={"PIPELINE_WAREHOUSE": url})
    out = json.loads(m.stdout.strip().splitlines()[-1])
    out.update(process_s=m.seconds, peak_rss_mb=m.peak_rss_mb)
    return out


def label(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgres") else "DuckDB" if url.startswith("duckdb") else url.split(":")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", required=True, help="a PIPELINE_WAREHOUSE URL (repeat)")
    parser.add_argument("--rows", default="2M SYNTHETIC", help="what the warehouses hold (for the report)")
    parser.add_argument("--baseline-repeat", type=int, default=1,
                        help="repeats of the baseline (every query reading stops, as before the cubes); 0 skips it")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stops-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one backend per process: connections and caches never mix
        repeat = args.baseline_repeat if args.stops_only else REPEAT
        print(json.dumps(time_pages(args.warehouse[0], stops_only=args.stops_only, repeat=repeat)))
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
