"""The real dashboard in Debian's chromium (Playwright's Python API, never `playwright install`).

Starts `streamlit run streamlit_app.py` on port 0 (the OS picks a free port and the test reads it
back from the server's own log line: no port is chosen and released first) against the sample
warehouse (bound to 127.0.0.1 by .streamlit/config.toml, not by a flag), opens every page in English and Spanish at
desktop and phone width, runs axe-core on each (no serious or critical violation), changes filters
and checks that the numbers update, opens hostile links, watches the first paint, saves a
screenshot per page to test-artifacts/, and records every request the browser makes: none may leave
this machine.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from dashboard import routing
from tests.services import service_missing

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_MS = 60_000
SCREENS = [Path(p) for p in os.environ.get("SCREENSHOT_DIRS", "").split(os.pathsep) if p]
SERVER: dict = {}
# Every page of the router, home at "/"; My ZIP with a ZIP chosen, so that it draws its map and numbers.
PAGES = ["" if i == 0 else p.url + ("?zip=20902" if p.url == "my-zip" else "") for i, p in enumerate(routing.PAGES)]
VIEWPORTS = {"desktop": {"width": 1280, "height": 1000}, "phone": {"width": 390, "height": 844}}

SERVER_URL = re.compile(r"URL: (http://127\.0\.0\.1:(\d+))")


@pytest.fixture(scope="module", autouse=True)
def chromium() -> Path:
    if not CHROMIUM.exists():
        service_missing("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    return CHROMIUM


def start_server(warehouse_url: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    """A new streamlit server on a port it picks; returns it and its base URL once healthy."""
    env = {**os.environ, "PIPELINE_WAREHOUSE": warehouse_url, "PYTHONUNBUFFERED": "1"}
    env.pop("PIPELINE_STALE_AFTER_DAYS", None)
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.headless", "true",
         "--server.port", "0", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()  # the child holds its own descriptor
    deadline = time.monotonic() + 60
    base = port = None
    while True:
        if base is None:
            found = SERVER_URL.search(log_path.read_text())
            if found:
                base, port = found.group(1), int(found.group(2))
        try:
            if base is not None:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"streamlit did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def server(sample_warehouse, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    proc, base = start_server(sample_warehouse.warehouse_url, log_path)
    SERVER.update(log=log_path, port=int(base.rsplit(":", 1)[1]), base=base)
    yield base
    stop_server(proc)


@pytest.fixture
def fresh_server(sample_warehouse, tmp_path):
    """A server no session has visited yet: Streamlit still runs in its pages/-folder mode."""
    proc, base = start_server(sample_warehouse.warehouse_url, tmp_path / "server.log")
    yield base
    stop_server(proc)


@pytest.fixture(scope="module")
def browser_page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 2000})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.requests = []  # every URL the browser asked for, for the "stays local" test
        page.on("request", lambda r: page.requests.append(r.url))
        yield page
        context.close()
        browser.close()


@pytest.fixture(scope="module")
def con(sample_warehouse):
    c = duckdb.connect(str(sample_warehouse.duckdb_path), read_only=True)
    yield c
    c.close()


def count(con, where: str = "true") -> int:
    return con.execute(f"select count(*) from stops where {where}").fetchall()[0][0]


def settle(page) -> None:
    """Wait until the script has finished and every chart has drawn (twice: a session's first run is
    followed by the one the browser helper's width report causes, dashboard/browser.py)."""
    _settle_once(page)
    page.wait_for_timeout(800)
    _settle_once(page)


def _settle_once(page) -> None:
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
    page.wait_for_selector("h1")
    page.wait_for_function(
        """() => document.querySelectorAll('.js-plotly-plot .main-svg').length
                   >= document.querySelectorAll('[data-testid="stPlotlyChart"]').length
              && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0"""
    )
    page.wait_for_timeout(500)


VISITED: set[str] = set()  # pages (the part before "?") this module's browser has opened on the module's server


def open_page(page, base: str, path: str) -> None:
    page.goto(f"{base}/{path}")
    settle(page)
    if base == SERVER.get("base"):
        VISITED.add(path.split("?", 1)[0])


def choose(page, key: str, option: str) -> None:
    """Pick an option in the multiselect or selectbox whose widget key is ``key``."""
    box = page.locator(f".st-key-{key} input")
    box.click()
    box.fill(option)  # long option lists are virtualised: filter first
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def metric_value(page, label: str):
    return page.locator("[data-testid='stMetric']", has_text=label).locator("[data-testid='stMetricValue']")


def shot(page, name: str) -> None:
    for folder in [ARTIFACTS, *SCREENS]:  # SCREENSHOT_DIRS: extra folders for a reviewer's copies
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_overview_updates_when_a_filter_changes(browser_page, server, con):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "")
    expect(metric_value(page, "Charges (rows)")).to_be_visible()
    expect(metric_value(page, "Stops per 1,000")).to_be_visible()
    expect(metric_value(page, "Stops").first).to_have_text(f"{count(con):,}")
    choose(page, "flt_race", "Black")
    black = count(con, "race = 'BLACK'")
    expect(metric_value(page, "Stops").first).to_have_text(f"{black:,}", timeout=TIMEOUT_MS)
    expect(page).to_have_url(f"{server}/?race=black")
    settle(page)
    assert page.locator(".js-plotly-plot").count() == 2
    shot(page, "overview")


def test_the_link_reproduces_the_view_after_a_reload(browser_page, server, con):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "?race=black&gender=f&zip=20902")
    expected = count(con, "race = 'BLACK' and gender = 'F' and zip5 = '20902'")
    expect(metric_value(page, "Stops").first).to_have_text(f"{expected:,}")
    expect(page.locator("[data-testid='stSidebar']")).to_contain_text("20902")


def test_the_map_draws_offline_and_a_zip_can_be_chosen(browser_page, server, con):
    from PIL import Image
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "map")
    # The SVG map (no WebGL, no canvas): plotly draws the ZIP shapes as SVG paths, once its blank
    # world came from this server, not from cdn.plot.ly (dashboard/ui.py map_config).
    chart = page.locator("[data-testid='stPlotlyChart']")
    expect(chart).to_have_count(1)
    assert page.locator("[data-testid='stDeckGlJsonChart'] canvas, [data-testid='stPlotlyChart'] canvas").count() == 0
    assert chart.locator("path.choroplethlocation").count() == 49  # every county ZIP code
    assert f"{server}/app/static/topojson/world_110m.json" in page.requests
    image = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 20, "the choropleth has drawn (more than a blank background)"
    expect(page.get_by_text("Stops per 1,000 residents per year (quantile classes)", exact=False)).to_be_visible()

    page.locator(".st-key-map_metric").get_by_text("Stops", exact=True).click()
    expect(page.get_by_text("Stops (quantile classes)", exact=False)).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)

    # clicking a ZIP on the map (st.plotly_chart on_select) filters every page to that ZIP code
    shape = chart.locator("path.choroplethlocation").nth(0)
    box = shape.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)  # the tooltip names the ZIP code under the pointer: the click picks that one
    tooltip = page.locator(".hoverlayer .hovertext").first
    expect(tooltip).to_contain_text("ZIP ")
    under = re.search(r"ZIP (\d{5})", tooltip.text_content()).group(1)
    page.mouse.click(x, y)
    expect(page).to_have_url(f"{server}/map?zip={under}", timeout=TIMEOUT_MS)
    settle(page)

    choose(page, "map_pick", "20902")
    expect(page).to_have_url(f"{server}/map?zip=20902", timeout=TIMEOUT_MS)
    expect(page.locator(".st-key-flt_zip")).to_contain_text("20902")
    settle(page)
    shot(page, "map")


def test_my_zip_draws_its_map_as_svg_with_the_squares_where_stops_happened(browser_page, server):
    """No WebGL on My ZIP code either: the ZIP's outline and its squares are SVG paths, and the bench's
    reading of chromium's CPU by process kind (bench/browser.py) finds this browser's GPU process."""
    from playwright.sync_api import expect

    from bench.browser import chromium_cpu

    page = browser_page
    before = chromium_cpu()
    open_page(page, server, "my-zip?zip=20902")
    zip_map = page.locator("[data-testid='stPlotlyChart']").filter(has=page.locator(".choroplethlayer"))
    expect(zip_map).to_have_count(1)
    shapes = zip_map.locator("path.choroplethlocation")
    assert shapes.count() > 1  # the ZIP's outline and at least one square of 10 or more stops
    assert page.locator("[data-testid='stMain'] canvas").count() == 0
    after = chromium_cpu()
    assert {"browser", "renderer", "gpu-process"} <= set(after), after
    assert sum(after.values()) > sum(before.values())


def test_trends_update_when_a_filter_changes(browser_page, server, con):
    from playwright.sync_api import expect

    from tests.test_dashboard_pages import count_on, matched_days

    page = browser_page
    open_page(page, server, "trends")
    latest, earlier = con.execute("select max(stop_year), max(stop_year) filter (where stop_year < "
                                  "(select max(stop_year) from stops)) from stops").fetchone()
    days_a, days_b = matched_days(con, earlier, latest)
    expect(metric_value(page, f"Stops in {latest}")).to_have_text(f"{count_on(con, days_b):,}")
    choose(page, "flt_gender", "Male")
    men = count_on(con, days_b, "gender = 'M'")
    expect(metric_value(page, f"Stops in {latest}")).to_have_text(f"{men:,}" if men >= 10 else "fewer than 10",
                                                                  timeout=TIMEOUT_MS)
    settle(page)
    assert page.locator(".js-plotly-plot").count() >= 4
    shot(page, "trends")


def test_people_update_when_a_filter_changes(browser_page, server):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "people")
    # the stops of the area against the county's residents (ACS B03002 exists for the county only)
    expect(page.get_by_text("Share of stops by race (Montgomery County) vs share of the county's residents",
                            exact=False)).to_be_visible()
    choose(page, "flt_zip", "20910")
    expect(page.get_by_text("Share of stops by race (ZIP 20910) vs share of the county's residents",
                            exact=False)).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)
    assert page.locator(".js-plotly-plot").count() >= 3
    shot(page, "people")


def test_data_page_regroups_the_table(browser_page, server):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "data")
    expect(page.get_by_role("button", name="Download CSV")).to_be_visible()
    choose(page, "data_dim", "Driver race")
    expect(page.locator("[data-testid='stDataFrame']").first).to_contain_text("Driver race", timeout=TIMEOUT_MS)
    settle(page)
    shot(page, "data")


PHONE_WIDTH_SHOTS = {"": "overview_phone", "map": "map_phone", "people": "people_phone",
                     "my-zip?zip=20902": "my_zip_phone", "disparities": "disparities_phone"}


def test_pages_are_readable_at_phone_width(visits):
    """No sideways scrolling at 390 px wide (the phone viewport, 390x844), read from the English phone
    visit of every page (`visits`); these five pages' screenshots keep their *_phone names."""
    seen = visits("en", "phone")
    for path in PHONE_WIDTH_SHOTS:
        overflow = seen[path]["overflow"]
        assert overflow <= 1, f"{path or 'overview'} scrolls sideways on a phone ({overflow}px)"


def test_the_server_listens_on_127_0_0_1_only(server):
    """.streamlit/config.toml binds the server (the fixture passes no address flag)."""
    port = SERVER["port"]
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                listening.append(address)
    assert listening == ["0100007F"], listening  # 127.0.0.1, and nothing on 0.0.0.0 or ::
    log = SERVER["log"].read_text()
    assert f"URL: http://127.0.0.1:{port}" in log and "External URL" not in log and "Network URL" not in log


def test_the_first_paint_shows_only_the_dashboards_own_menu(browser_page, fresh_server):
    """No auto-discovered 'streamlit app / data / disparities...' menu, not even for a moment, on the
    first visit a new server gets, to a page other than the home page (pages/ is the folder
    Streamlit's older multipage mode would discover and run by itself)."""
    page = browser_page
    seen: list[str] = []
    page.goto(f"{fresh_server}/trends", wait_until="commit")
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        seen += page.evaluate("""() => Array.from(document.querySelectorAll(
            '[data-testid="stSidebarNav"] a, [data-testid="stSidebarNavLink"], [data-testid="stPageLink-NavLink"]'))
            .map(a => a.textContent.trim())""")
        page.wait_for_timeout(50)
    settle(page)
    assert seen, "the menu was sampled"
    titles = ("Overview", "My ZIP code", "Map", "Trends", "People", "Disparities", "What changed", "Data")
    assert all(s.endswith(titles) for s in seen), sorted(set(seen))  # (the text starts with the icon's name)
    assert "Page not found" not in page.content()
    # The page ran through the router: its title, and the router's filters and provenance around it.
    assert page.locator("h1").first.inner_text().startswith("Trends")
    assert page.locator(".st-key-flt_race").count() == 1
    assert page.get_by_text("Data: the bundled sample").count() >= 1


HOSTILE = {
    "race": "[Click here](http://evil.example/phish) ![x](http://evil.example/pixel.png) :red[OFFICIAL]",
    "zip": "9" * 60_000,
}


def test_hostile_links_are_shown_as_short_plain_text(browser_page, server):
    from urllib.parse import urlencode

    page = browser_page
    open_page(page, server, "?" + urlencode(HOSTILE))
    alerts = page.locator("[data-testid='stAlert']")
    text = " ".join(alerts.all_inner_texts()).replace("\u200b", "")  # the zero-width space that stops autolinks
    assert "[Click here](http://evil.example/phish)" in text  # literally, as typed
    assert alerts.locator("a").count() == 0 and alerts.locator("img").count() == 0
    assert alerts.locator("[style*='color']").count() == 0 or "OFFICIAL" in text
    assert len(text) < 1500, len(text)  # a 60,000-character value is not echoed
    assert not [u for u in page.requests if urlsplit(u).hostname == "evil.example"]
    shot(page, "hostile_link")


@pytest.fixture(scope="module")
def visits(browser_page, server):  # noqa: ANN001, ANN201
    """``visits(lang, viewport)``: every page opened once in that language at that width, and what the
    tests of this file check on it read while it is open (exceptions, the lang attribute, sideways
    overflow, axe-core's report, the phone charts' boxes, overflowing headings); screenshots saved.
    Several tests read one visit instead of opening the same pages again."""
    from axe_playwright_python.sync_playwright import Axe

    done: dict[tuple[str, str], dict[str, dict]] = {}

    def get(lang: str, viewport: str) -> dict[str, dict]:
        if (lang, viewport) in done:
            return done[(lang, viewport)]
        page = browser_page
        page.set_viewport_size(VIEWPORTS[viewport])
        axe = Axe()
        seen: dict[str, dict] = {}
        try:
            for path in PAGES:
                sep = "&" if "?" in path else "?"
                open_page(page, server, f"{path}{sep}lang={lang}")
                page.wait_for_timeout(1500 if "map" in path or "zip" in path else 300)
                if viewport == "phone":  # the browser helper reports the width, the page redraws for it
                    page.wait_for_timeout(1000)
                    settle(page)
                record = {
                    "exceptions": page.locator("[data-testid='stException']").count(),
                    "lang": page.locator("html").get_attribute("lang"),
                    "overflow": page.evaluate(
                        "() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth - window.innerWidth"),
                    "violations": axe.run(page).response["violations"],
                }
                if viewport == "phone":
                    record["charts"] = page.evaluate(CHART_BOXES)
                    record["headings"] = page.evaluate(HEADING_OVERFLOW)
                seen[path] = record
                name = (path.split("?")[0] or "overview").replace("-", "_")
                shot(page, f"{name}_{lang}_{viewport}")
                if lang == "en" and viewport == "phone" and path in PHONE_WIDTH_SHOTS:
                    shot(page, PHONE_WIDTH_SHOTS[path])
        finally:
            report = [(path, [(v["id"], v["impact"], len(v["nodes"])) for v in r["violations"]]) for path, r in seen.items()]
            (ARTIFACTS / f"axe_{lang}_{viewport}.json").write_text(json.dumps(report, indent=1))
            page.set_viewport_size({"width": 1280, "height": 2000})
        done[(lang, viewport)] = seen
        return seen

    return get


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_is_accessible_and_readable(visits, lang, viewport):
    """axe-core on every page in both languages: no serious or critical violation; no exception;
    no sideways scrolling on a phone."""
    seen = visits(lang, viewport)
    assert list(seen) == PAGES
    for path, record in seen.items():
        assert record["exceptions"] == 0, path
        if lang == "es":
            assert record["lang"] in (None, "en", "es")
        assert record["overflow"] <= 1, f"{path or 'overview'} scrolls sideways ({record['overflow']}px)"
        bad = [v for v in record["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, (path, [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad])


def test_a_filter_changes_the_numbers_in_spanish(browser_page, server, con):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "?lang=es")
    expect(page.locator("h1").first).to_have_text("Paradas de tráfico en el condado de Montgomery (Maryland)")
    expect(metric_value(page, "Paradas").first).to_have_text(f"{count(con):,}".replace(",", "."))
    choose(page, "flt_race", "Negra")
    black = count(con, "race = 'BLACK'")
    expect(metric_value(page, "Paradas").first).to_have_text(f"{black:,}".replace(",", "."), timeout=TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"lang=es"))
    expect(page).to_have_url(re.compile(r"race=black"))
    page.locator(".st-key-ui_lang").get_by_text("English").click()
    expect(page.locator("h1").first).to_have_text("Traffic stops in Montgomery County, MD", timeout=TIMEOUT_MS)
    expect(metric_value(page, "Stops").first).to_have_text(f"{black:,}", timeout=TIMEOUT_MS)


def test_no_request_leaves_this_machine(browser_page, server):
    # Every page must have been opened: those no earlier test of this module opened are opened here
    # (all of them when this test runs alone); the requests of every visit so far are checked.
    for path in PAGES:
        if path.split("?", 1)[0] not in VISITED:
            open_page(browser_page, server, path)
    assert {p.split("?", 1)[0] for p in PAGES} <= VISITED
    assert browser_page.requests, "the browser made requests"
    external = []
    for url in browser_page.requests:
        parts = urlsplit(url)
        if parts.scheme == "data":
            continue
        if parts.scheme == "blob":
            parts = urlsplit(url[len("blob:"):])
        if parts.hostname not in LOCAL_HOSTS:
            external.append(url)
    assert not external, f"requests left 127.0.0.1: {sorted(set(external))[:10]}"


# ------------------------------------------------------------------ phone-first, routing, dates (issue 21)

PHONE = {"width": 390, "height": 844}
CHART_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => {
  const box = e => {
    if (!e) return null;
    for (let n = e; n && n !== document; n = n.parentNode) {
      const s = getComputedStyle(n);
      if (s.display === 'none' || s.visibility === 'hidden') return null;
    }
    const b = e.getBoundingClientRect();
    return b.width > 0 && b.height > 0 ? {x: b.left, y: b.top, r: b.right, b: b.bottom} : null;
  };
  const named = sel => [...p.querySelectorAll(sel)].map(e => [sel + ' ' + (e.textContent || '').slice(0, 40), box(e)])
                                                     .filter(([, b]) => b);
  return {
    chart: box(p),
    modebar: box(p.querySelector('.modebar')),
    texts: [...named('.gtitle'), ...named('.g-xtitle text'), ...named('.g-ytitle text')],
    content: [...named('.legend'), ...named('.colorbar'), ...named('.nsewdrag'), ...named('.gtitle')],
  };
})"""


def _overlaps(a: dict, b: dict) -> bool:
    return a["x"] < b["r"] - 1 and b["x"] < a["r"] - 1 and a["y"] < b["b"] - 1 and b["y"] < a["b"] - 1


HEADING_OVERFLOW = """() => [...document.querySelectorAll('[data-testid=stMain] h1, '
    + '[data-testid=stMain] h2, [data-testid=stMain] h3')]
    .filter(h => h.scrollWidth > h.clientWidth + 1).map(h => h.textContent.slice(0, 60))"""


@pytest.mark.parametrize("lang", ["en", "es"])
def test_phone_charts_have_no_toolbar_over_content_and_no_cut_titles(visits, lang):
    """At 390x844: plotly's toolbar never covers a title, legend, colour scale or the data area, and
    every chart title and axis title lies inside its chart (wrapped, not cut); headings don't overflow.
    Read from the phone visit of every page (`visits`)."""
    assert VIEWPORTS["phone"] == PHONE
    seen = visits(lang, "phone")
    for path in ("", "my-zip?zip=20902", "trends", "people", "disparities"):
        charts = seen[path]["charts"]
        assert charts or path == "disparities", f"{path}: charts drawn"
        for c in charts:
            if c["modebar"]:
                covered = [name for name, b in c["content"] if _overlaps(c["modebar"], b)]
                assert not covered, f"{path}: the toolbar covers {covered}"
            chart = c["chart"]
            cut = [(name, b, chart) for name, b in c["texts"]
                   if b["x"] < chart["x"] - 1 or b["r"] > chart["r"] + 1 or b["y"] < chart["y"] - 1]
            assert not cut, f"{path}: title cut at the chart's edge: {cut}"
        overflow = seen[path]["headings"]
        assert not overflow, f"{path}: headings overflow: {overflow}"


def test_the_overview_answers_at_its_own_address_and_unknown_pages_speak_spanish(browser_page, server):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "overview")
    expect(page.locator("h1").first).to_have_text("Traffic stops in Montgomery County, MD")
    page.wait_for_timeout(1000)
    assert page.get_by_text("Page not found").count() == 0
    page.goto(f"{server}/no-such-page?lang=es")
    expect(page.get_by_text("Página no encontrada")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("No hay ninguna página en esta dirección", exact=False)).to_be_visible()
    assert page.get_by_text("Page not found").count() == 0


def test_a_typed_date_applies_on_enter(browser_page, server):
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "")
    page.wait_for_timeout(1000)
    year = page.locator(".st-key-flt_from [data-type=year]")  # the field's year segment (MM/DD/YYYY)
    year.click()
    page.keyboard.type("2016")
    page.keyboard.press("Enter")  # no click elsewhere, no Tab: Enter alone applies the date
    expect(page).to_have_url(re.compile(r"from=2016-01-01"), timeout=TIMEOUT_MS)


# ------------------------------------------------------------------ one script run on a first visit (issue 22)

IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/15.0 Mobile/15E148 Safari/604.1")


def _first_visit(browser, base: str, **context) -> tuple[dict, list]:  # noqa: ANN001
    """A new browser session's visit to the Overview: what went over its websocket (bench/browser.py's
    counts of full, fragment and interrupted script runs) and the charts' boxes, once settled."""
    from bench.browser import Wire

    ctx = browser.new_context(**context)
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        wire = Wire(page)
        page.goto(base)
        settle(page)
        page.wait_for_timeout(1500)  # a report of the width, and the rerun it may cause
        settle(page)
        return wire.take(), page.evaluate(CHART_BOXES)
    finally:
        ctx.close()


def test_a_first_visit_runs_the_page_once_when_the_user_agent_tells_the_device(browser_page, server):
    """dashboard/browser.py: a session's first run is drawn for the device its User-Agent names and
    the width report reruns only the helper's fragment, so a desktop (1280 px) and a phone (an
    iPhone's User-Agent, 390 px) each run the Overview's script once. A desktop browser in a 390 px
    window is drawn for a desktop first, then once more for the phone width it reports; every chart
    title then fits its chart."""
    browser = browser_page.context.browser
    desktop, _ = _first_visit(browser, server, viewport={"width": 1280, "height": 1000})
    assert (desktop["script_runs"], desktop["interrupted_runs"], desktop["fragment_runs"]) == (1, 0, 1), desktop
    phone, phone_charts = _first_visit(browser, server, viewport=PHONE, user_agent=IPHONE_UA, is_mobile=True,
                                       has_touch=True, device_scale_factor=3)
    assert (phone["script_runs"], phone["interrupted_runs"]) == (1, 0), phone
    narrow, narrow_charts = _first_visit(browser, server, viewport=PHONE)  # a desktop User-Agent
    assert narrow["script_runs"] == 2, narrow  # the page drawn again for the reported phone width
    for charts in (phone_charts, narrow_charts):
        assert len(charts) == 2
        for c in charts:
            chart = c["chart"]
            assert chart["r"] - chart["x"] <= PHONE["width"]
            cut = [(name, b) for name, b in c["texts"] if b["x"] < chart["x"] - 1 or b["r"] > chart["r"] + 1]
            assert not cut, f"title cut at the chart's edge: {cut}"


def test_a_charts_table_is_built_when_opened_in_the_readers_language(browser_page, server):
    """ui.on_demand: a chart's table is not sent while its expander is closed; opening it reruns only
    its fragment, which draws the table in the reader's language (the fragment sets it itself: the
    router does not run then)."""
    from playwright.sync_api import expect

    page = browser_page
    open_page(page, server, "?lang=es")
    tables = page.locator("[data-testid='stExpander'] [data-testid='stDataFrame']")
    assert tables.count() == 0  # two charts, their tables not built
    page.locator("[data-testid='stExpander'] summary", has_text="Tabla: Paradas y cargos por mes").click()
    expect(tables).to_have_count(1, timeout=TIMEOUT_MS)
    settle(page)
    cells = tables.first.locator("td").all_inner_texts()
    assert cells[:4] == ["ene 2012", "20", "24", ""], cells[:8]  # Spanish month names, as the page writes dates
    page.locator("[data-testid='stExpander'] summary", has_text="Tabla: Paradas y cargos por mes").click()
    expect(tables).to_have_count(0, timeout=TIMEOUT_MS)  # closed again: the table is gone


def test_the_data_grids_javascript_is_fetched_ahead_while_the_overview_is_idle(browser_page, server):
    """dashboard/browser.py prefetch_chunks: a new reader idle on the Overview (no table on it) has the
    data grid's JavaScript fetched ahead as module preloads, and the italic and code faces of the fonts,
    so the first page with a table (Data, whose methods use both faces) requests none of them."""
    from dashboard.browser import prefetch_chunks

    ctx = browser_page.context.browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server)
        settle(page)
        assert page.locator("[data-testid='stDataFrame']").count() == 0
        grid = prefetch_chunks()[0]
        page.wait_for_function(  # preloads start once the page has settled and the browser is idle
            "name => performance.getEntriesByType('resource').some(r => r.name.endsWith('/' + name))", arg=grid)
        preloads = page.evaluate("() => [...document.querySelectorAll('link[rel=modulepreload]')].map(l => l.href)")
        assert {u.rsplit("/", 1)[1] for u in preloads} >= set(prefetch_chunks())
        page.wait_for_timeout(1500)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url.rsplit("/", 1)[-1]))
        page.locator("[data-testid='stSidebar'] a", has_text="Data").first.click()
        page.wait_for_url("**/data")
        settle(page)
        assert page.locator("[data-testid='stDataFrame']").count() >= 1
        assert not set(asked) & set(prefetch_chunks()), asked
        assert not [a for a in asked if a.endswith(".woff2")], asked
    finally:
        ctx.close()


def test_a_first_visit_asks_for_the_pages_javascript_before_the_filters(browser_page, server):
    """streamlit_app.py draws the filters' widgets after the page (their place in the sidebar kept
    above it): a first visit asks for the first number's JavaScript (Metric) before the sidebar
    widgets' (Multiselect, DateInput), which the server otherwise serves first while the page script
    runs (BENCHMARKS.md, h23-firstvisit). The filters still show, and a page that ends early
    (My ZIP code with no ZIP chosen: routing.stop_page) keeps them."""
    ctx = browser_page.context.browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = ctx.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url.rsplit("/", 1)[-1].split(".", 1)[0]))
        page.goto(server)
        settle(page)
        assert {"Metric", "Multiselect", "DateInput"} <= set(asked), asked
        assert asked.index("Metric") < min(asked.index("Multiselect"), asked.index("DateInput")), asked
        assert page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").count() == 5
        page.locator("[data-testid='stSidebar'] a", has_text="My ZIP code").first.click()
        page.wait_for_url("**/my-zip")
        settle(page)
        assert page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").count() == 5
    finally:
        ctx.close()
