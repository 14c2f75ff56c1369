"""Benchmark 12 (issue 22): what a resident waits for, in a real browser (Debian's chromium via Playwright).

    python -m bench.browser --warehouse <URL> [--warehouse <URL> ...] [--rounds 3]

For each warehouse a `streamlit run streamlit_app.py` server is started and warmed by one visit
(imports, the reference geometry, the dashboard's copy of a server warehouse's marts), then:

* **first visit on a warm server**: a new browser context opens the Overview; seconds from the
  navigation to the first number (a metric value) on screen, and to the page settled (the script
  finished, every chart drawn);
* **page change**: in one session, a click on a sidebar page link until the new page has settled
  (URL changed, script finished, every chart drawn), over Overview -> Trends -> People -> Map -> Data
  -> My ZIP -> Overview, ``--rounds`` times;
* **filter change**: on the Overview, a sidebar filter value picked (race, gender, ZIP; the walk
  starts again from a clean URL each round, not timed) until the page has settled again.

The latency-injected "Redshift" (bench/latency.py) is measured by bench/readers.py only: the
server here opens its warehouse from ``PIPELINE_WAREHOUSE`` like any deployment. Targets (issue 22):
first number <= 3 s on a warm server, page change and filter change p95 <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, choose, start_server, stop_server

NAV = ["Trends", "People", "Map", "Data", "My ZIP code", "Overview"]
FILTERS = [("flt_race", "Black", "race="), ("flt_gender", "Male", "gender="), ("flt_zip", "20902", "zip=")]
DRAWN = """() => document.querySelectorAll('.js-plotly-plot .main-svg').length
                 >= document.querySelectorAll('[data-testid="stPlotlyChart"]').length
            && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0"""


def settled(page) -> None:  # noqa: ANN001
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    page.wait_for_selector("h1")
    page.wait_for_function(DRAWN)


def p95(samples: list[float]) -> float:
    samples = sorted(samples)
    return samples[int(0.95 * (len(samples) - 1))]


def measure_server(base: str, rounds: int, server: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"first_number": [], "first_settled": [], "page_change": [], "filter_change": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        warm = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        warm.set_default_timeout(120_000)
        warm.goto(base)
        settled(warm)
        # A server warehouse: first visits are timed once the server answers from its copy of the marts.
        deadline = time.monotonic() + 900
        while server and "this server's copy" not in warm.inner_text("body") and time.monotonic() < deadline:
            time.sleep(2)
            warm.reload()
            settled(warm)
        warm.context.close()
        for _ in range(rounds):  # first visits, each a new session
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(60_000)
            start = time.perf_counter()
            page.goto(base)
            page.wait_for_selector("[data-testid='stMetricValue']")
            out["first_number"].append(time.perf_counter() - start)
            settled(page)
            out["first_settled"].append(time.perf_counter() - start)
            context.close()
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(base)
        settled(page)
        for _ in range(rounds):  # page changes
            for name in NAV:
                link = page.locator("[data-testid='stSidebar'] a", has_text=name).first
                before = page.url
                start = time.perf_counter()
                link.click()
                page.wait_for_function("u => location.href !== u", arg=before)
                settled(page)
                out["page_change"].append(time.perf_counter() - start)
        for _ in range(rounds):  # filter changes on the Overview
            page.goto(base)
            settled(page)
            for key, option, param in FILTERS:
                box = page.locator(f".st-key-{key} input")
                box.click()
                box.fill(option)
                start = time.perf_counter()
                page.get_by_role("option", name=option, exact=True).click()
                page.wait_for_function("p => location.search.includes(p)", arg=param)
                settled(page)
                out["filter_change"].append(time.perf_counter() - start)
                page.keyboard.press("Escape")
        context.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for url in args.warehouse:
        log_path = Path(tempfile.mkdtemp(prefix="bench-browser-")) / "server.log"
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc, base = start_server(url, log_path)
        started = time.perf_counter() - start
        try:
            res = measure_server(base, args.rounds, server=not url.startswith("duckdb"))
        finally:
            stop_server(proc)
        summary = {k: {"n": len(v), "p50": round(statistics.median(v), 2), "p95": round(p95(v), 2), "max": round(max(v), 2)}
                   for k, v in res.items()}
        print(json.dumps({"warehouse": url.split("?")[0].split("://")[0], "server_start_s": round(started, 1), "load_start": load, "load_end": os.getloadavg()[0],
                          **summary}))


if __name__ == "__main__":
    main()
