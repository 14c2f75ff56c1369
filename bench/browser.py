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
* **to My ZIP code with a ZIP chosen** (its map of the ZIP's stop squares): from the Overview with
  ``?zip=20902``, a click on the page link until the page has settled, ``--rounds`` times;
* **filter change**: on the Overview, a sidebar filter value picked (race, gender, ZIP; the walk
  starts again from a clean URL each round, not timed) until the page has settled again.

The latency-injected "Redshift" (bench/latency.py) is measured by bench/readers.py only: the
server here opens its warehouse from ``PIPELINE_WAREHOUSE`` like any deployment. Targets (issue 22):
first number <= 3 s on a warm server, page change and filter change p95 <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, choose, start_server, stop_server

NAV = ["Trends", "People", "Map", "Data", "My ZIP code", "Overview"]
ZIP = "20902"  # My ZIP code with a ZIP chosen draws that ZIP's map (the walk above visits it without one)
FILTERS = [("flt_race", "Black", "race="), ("flt_gender", "Male", "gender="), ("flt_zip", "20902", "zip=")]
DRAWN = """() => document.querySelectorAll('.js-plotly-plot .main-svg').length
                 >= document.querySelectorAll('[data-testid="stPlotlyChart"]').length
            && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0"""


class Wire:
    """What went over one page's websocket, by kind (the browser-side breakdown; it does not
    depend on the machine's load): bytes received per ForwardMsg kind and per element type, script
    runs (``new_session`` starts one; ``script_finished`` ends a whole page's run or a fragment's;
    a run started and never finished was interrupted by a rerun), reruns the browser asked for
    (``rerun_script``), and the
    HTTP bytes of the page's other requests (the JavaScript bundle, fonts, the static files)."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.reset()
        page.on("websocket", self._socket)
        page.on("requestfinished", self._request)

    def reset(self) -> None:
        self.kinds: dict[str, list[int]] = {}
        self.runs = self.fragment_runs = self.started = 0
        self.reruns_asked = self.http_bytes = self.http_requests = 0

    def _socket(self, ws) -> None:  # noqa: ANN001
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload) -> None:  # noqa: ANN001
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type") or "?"
        if kind == "delta":
            delta = msg.delta
            sub = delta.WhichOneof("type")
            kind = "element:" + (delta.new_element.WhichOneof("type") or "?") if sub == "new_element" else "delta:" + str(sub)
        if kind == "new_session":  # sent when any script run starts, a whole page's or a fragment's
            self.started += 1
        if kind == "script_finished":
            status = msg.script_finished
            if status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.fragment_runs += 1
            elif status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.runs += 1
        count_bytes = self.kinds.setdefault(kind, [0, 0])
        count_bytes[0] += 1
        count_bytes[1] += len(payload)

    def _sent(self, payload) -> None:  # noqa: ANN001
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if isinstance(payload, str):
            return
        msg = BackMsg()
        msg.ParseFromString(payload)
        if msg.WhichOneof("type") == "rerun_script":
            self.reruns_asked += 1

    def _request(self, request) -> None:  # noqa: ANN001
        try:
            sizes = request.sizes()
        except Exception:  # noqa: BLE001 - a request the page dropped
            return
        self.http_requests += 1
        self.http_bytes += sizes.get("responseBodySize", 0) + sizes.get("responseHeadersSize", 0)

    def take(self) -> dict:
        """The counts since the last take (and start again)."""
        ws = sum(b for _, b in self.kinds.values())
        top = sorted(self.kinds.items(), key=lambda kv: -kv[1][1])[:6]
        out = {"ws_kb": round(ws / 1024, 1), "script_runs": self.runs,
               "fragment_runs": self.fragment_runs, "runs_started": self.started,
               # A run stopped for a rerun (the page's own, or a fragment's st.rerun) sends no script_finished
               # of its own every time: what started and did not finish was interrupted.
               "interrupted_runs": self.started - self.runs - self.fragment_runs,
               "reruns_asked": self.reruns_asked,
               "http_kb": round(self.http_bytes / 1024, 1), "http_requests": self.http_requests,
               "largest": {k: [n, round(b / 1024, 1)] for k, (n, b) in top}}
        self.reset()
        return out


# Where a first visit's time went before the script's output: the HTML, the JavaScript bundle, the
# websocket's first message (ms from the navigation's start).
TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const js = performance.getEntriesByType('resource').filter(r => r.name.endsWith('.js'));
  return {html_ms: Math.round(nav.responseEnd), dom_ready_ms: Math.round(nav.domContentLoadedEventEnd),
          js_done_ms: Math.round(Math.max(0, ...js.map(r => r.responseEnd))), js_files: js.length};
}"""


def chromium_cpu() -> dict[str, float]:
    """CPU seconds (user + sys) used so far by this process's chromium processes, by kind (``--type=``
    of each: gpu-process, renderer, utility...; "browser" for the main one). Where the browser renders
    WebGL in software (no GPU: this machine, a cheap phone) a deck.gl map's cost shows in the GPU
    process, off the page's own clock."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    mine, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        kids = [c for c, p in parents.items() if p == pid and c not in mine]
        mine.update(kids)
        todo += kids
    out: dict[str, float] = {}
    for pid in mine:
        try:
            # chromium rewrites its children's command line as one space-separated string
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").split()
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if not cmd or b"chrom" not in cmd[0]:
            continue
        kind = next((a.split(b"=", 1)[1].decode() for a in cmd if a.startswith(b"--type=")), "browser")
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Chromium's CPU per process kind between two :func:`chromium_cpu` readings (a process that
    ended in between loses its share: renderers of closed tabs)."""
    return {f"cpu_{k.replace('-process', '')}_s": round(after[k] - before.get(k, 0.0), 2) for k in sorted(after)}


def settled(page) -> None:  # noqa: ANN001
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    page.wait_for_selector("h1")
    page.wait_for_function(DRAWN)


def p95(samples: list[float]) -> float:
    """Nearest rank (with 2 samples: the larger; the former index rounding gave the smaller)."""
    samples = sorted(samples)
    return samples[max(0, math.ceil(0.95 * len(samples)) - 1)]


def measure_server(base: str, rounds: int, server: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"first_number": [], "first_settled": [], "page_change": [], "zip_page_change": [], "filter_change": [],
                 "breakdown": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        warm = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        warm.set_default_timeout(240_000)
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
            page.set_default_timeout(240_000)
            wire = Wire(page)
            start = time.perf_counter()
            page.goto(base)
            page.wait_for_selector("[data-testid='stMetricValue']")
            out["first_number"].append(time.perf_counter() - start)
            settled(page)
            out["first_settled"].append(time.perf_counter() - start)
            page.wait_for_timeout(1500)  # a rerun the browser helper asks for after the first paint
            settled(page)
            out["breakdown"].append({"action": "first visit", **page.evaluate(TIMING), **wire.take()})
            context.close()
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(240_000)
        wire = Wire(page)
        page.goto(base)
        settled(page)
        page.wait_for_timeout(1500)
        settled(page)
        wire.take()
        visits: list[dict] = []
        for _ in range(rounds):  # page changes
            for name in NAV:
                link = page.locator("[data-testid='stSidebar'] a", has_text=name).first
                before = page.url
                cpu = chromium_cpu()
                if visits:  # chromium's CPU from the previous click to this one: a WebGL map keeps
                    visits[-1].update(cpu_delta(visits[-1].pop("cpu"), cpu))  # drawing after "settled"
                start = time.perf_counter()
                link.click()
                page.wait_for_function("u => location.href !== u", arg=before)
                settled(page)
                out["page_change"].append(time.perf_counter() - start)
                visits.append({"action": f"to {name}", "s": round(out["page_change"][-1], 2), "cpu": cpu, **wire.take()})
        page.wait_for_timeout(1000)  # the last page's share, read as a next click would have come
        visits[-1].update(cpu_delta(visits[-1].pop("cpu"), chromium_cpu()))
        out["breakdown"] += visits
        for _ in range(rounds):  # to My ZIP code with a ZIP chosen (its own map), from the Overview
            page.goto(f"{base}/?zip={ZIP}")
            settled(page)
            wire.take()
            link = page.locator("[data-testid='stSidebar'] a", has_text="My ZIP code").first
            cpu = chromium_cpu()
            start = time.perf_counter()
            link.click()
            page.wait_for_function("u => location.pathname.endsWith('/my-zip')", arg=None)
            settled(page)
            out["zip_page_change"].append(time.perf_counter() - start)
            page.wait_for_timeout(1000)  # as a next click would come
            out["breakdown"].append({"action": f"to My ZIP code, zip={ZIP}", "s": round(out["zip_page_change"][-1], 2),
                                     **cpu_delta(cpu, chromium_cpu()), **wire.take()})
        for _ in range(rounds):  # filter changes on the Overview
            page.goto(base)
            settled(page)
            wire.take()
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
                out["breakdown"].append({"action": f"filter {param}", "s": round(out["filter_change"][-1], 2), **wire.take()})
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
        breakdown = res.pop("breakdown")
        summary = {k: {"n": len(v), "p50": round(statistics.median(v), 2), "p95": round(p95(v), 2), "max": round(max(v), 2)}
                   for k, v in res.items()}
        for row in breakdown:
            print(json.dumps(row))
        print(json.dumps({"warehouse": url.split("?")[0].split("://")[0], "server_start_s": round(started, 1), "load_start": load, "load_end": os.getloadavg()[0],
                          **summary}))


if __name__ == "__main__":
    main()
