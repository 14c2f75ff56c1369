"""Screenshots of every page, in English and Spanish, at desktop and phone size, for a person to look at.

    python -m bench.screens --warehouse duckdb:////path/warehouse.duckdb --out screens/sample

Starts ``streamlit run streamlit_app.py`` on a free port against the given warehouse (read-only:
the dashboard never writes), opens each page x {en, es} x {desktop 1400x900, phone 390x844} in
Debian's chromium (Playwright, ``executable_path=/usr/bin/chromium``; never ``playwright install``),
waits until the script has finished and every chart has drawn, saves a full-page PNG named
``<page>-<lang>-<viewport>.png`` and prints the list of files. Nothing here asserts: the pictures
are for reading (tests/test_browser.py holds the checks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import routing
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, settle, start_server, stop_server

PAGES: dict[str, str] = {p.url: p.url + ("?zip=20902" if p.url == "my-zip" else "") for p in routing.PAGES}
VIEWPORTS: dict[str, dict[str, int]] = {"desktop": {"width": 1400, "height": 900},
                                        "phone": {"width": 390, "height": 844}}
LANGS = ("en", "es")


def take(base: str, out: Path, pages: list[str], langs: tuple[str, ...], viewports: list[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for vp in viewports:
                context = browser.new_context(viewport=VIEWPORTS[vp], is_mobile=(vp == "phone"),
                                              has_touch=(vp == "phone"), device_scale_factor=1)
                page = context.new_page()
                page.set_default_timeout(90_000)
                for name in pages:
                    for lang in langs:
                        path = PAGES[name]
                        sep = "&" if "?" in path else "?"
                        page.goto(f"{base}/{path}{sep}lang={lang}" if lang != "en" else f"{base}/{path}")
                        settle(page)
                        # The browser helper reports the screen's width once per session, and the page
                        # redraws for it (maps, chart titles): wait for that second run too.
                        page.wait_for_timeout(1200)
                        settle(page)
                        if name == "map":
                            page.wait_for_timeout(2500)  # WebGL draws after the element appears
                        target = out / f"{name}-{lang}-{vp}.png"
                        # Streamlit scrolls inside its main container, not the document: grow the
                        # window to the content's height so that the picture holds the whole page.
                        tall = page.evaluate("() => Math.max(...[...document.querySelectorAll("
                                             "'[data-testid=stMain], [data-testid=stSidebarContent]')]"
                                             ".map(e => e.scrollHeight))")
                        page.set_viewport_size({**VIEWPORTS[vp], "height": max(VIEWPORTS[vp]["height"], int(tall))})
                        page.wait_for_timeout(300)
                        page.screenshot(path=str(target), full_page=True)
                        page.set_viewport_size(VIEWPORTS[vp])
                        files.append(target)
                context.close()
        finally:
            browser.close()
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.screens", description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", required=True, help="PIPELINE_WAREHOUSE URL of the warehouse to show")
    ap.add_argument("--out", type=Path, required=True, help="folder for the PNG files")
    ap.add_argument("--pages", nargs="*", choices=list(PAGES), default=list(PAGES))
    ap.add_argument("--langs", nargs="*", choices=list(LANGS), default=list(LANGS))
    ap.add_argument("--viewports", nargs="*", choices=list(VIEWPORTS), default=list(VIEWPORTS))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    proc, base = start_server(args.warehouse, args.out / "server.log")
    try:
        files = take(base, args.out, args.pages, tuple(args.langs), args.viewports)
    finally:
        stop_server(proc)
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
