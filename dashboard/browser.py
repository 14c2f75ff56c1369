"""The dashboard's one browser helper: a zero-height component the router draws on every page.

It reports the width of the window and of the page's main column (chart titles are wrapped and the
map fits the county to it: the server cannot know a reader's screen otherwise), makes a typed date
in the sidebar apply on Enter (Streamlit applies it only when the field loses focus), and translates
Streamlit's own "Page not found" dialog, which the server cannot reach. The script is
``browser/index.html`` (plain JavaScript, no build step, served by this server: nothing is loaded
from elsewhere).

The component lives in a fragment: its report reruns only the fragment, which stores the width and
reruns the whole page only when the page was drawn for another width class (:func:`fit`). A
session's first run is drawn for the width the request's User-Agent suggests (a phone or a
desktop), so that a first visit usually runs the page script once.

It also fetches ahead, once a page is idle, the JavaScript of the elements a later page shows
(:func:`prefetch_chunks`): Streamlit loads each element's JavaScript only when a page first draws
one, so the first page with a table used to wait for the data grid's 1.6 MB.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import streamlit as st
import streamlit.components.v1 as components

from . import routing
from .i18n import _

K_VIEWPORT = "browser_viewport"
K_DRAWN = "browser_drawn_for"  # the width class this run's page was drawn for (None: it used no width)
# The main column widths a page is drawn for: a reported width is rounded down to one of these, so
# that a title wrapped (or a map fitted) for it always fits, and a few pixels more or less (a scroll
# bar, a resized window) redraw nothing. Neighbours differ by at most a fifth.
MAIN_WIDTHS = (280, 320, 358, 400, 460, 540, 640, 740, 820, 960, 1120, 1300, 1500, 1760, 2040)
# Before the browser has reported: a phone's main column (390 px window), unless the request says it
# comes from a desktop browser: then a 1280 px window with the sidebar open (820 px of main column,
# measured in chromium). A narrower desktop window is drawn again once it reports.
PHONE = {"window": 390, "main": 358}
DESKTOP = {"window": 1280, "main": 820}
# Streamlit stacks columns side by side below this window width (the map's frame depends on it).
STACKED_BELOW = 640
# Elements some page draws that the Overview does not (tables, the Data page's choice and download):
# their JavaScript is fetched ahead (:func:`prefetch_chunks`). Names of Streamlit's lazily loaded chunks.
PREFETCHED_ELEMENTS = ("DataFrame", "Table", "Selectbox", "DownloadButton")
# Streamlit's own JavaScript: index.html and the hashed chunks under static/js.
STATIC_DIR = Path(st.__file__).parent / "static"
_STATIC_IMPORT = re.compile(r'(?:\bfrom|\bimport)\s*"\./([\w.\-]+\.js)"')
_ENTRY = re.compile(r'<script[^>]*type="module"[^>]*src="\./static/js/([\w.\-]+\.js)"')
_component = components.declare_component("dashboard_browser", path=str(Path(__file__).parent / "browser"))


def guess(user_agent: str | None) -> dict[str, int]:
    """The viewport to draw a session's first run for, from its User-Agent: a phone unless the
    browser is known and says nothing of a mobile device ("Mobi" is in every phone browser's
    User-Agent; tablets are drawn as phones until they report, so that nothing is cropped)."""
    ua = user_agent or ""
    if not ua or any(word in ua for word in ("Mobi", "Android", "iPad", "iPhone")):
        return dict(PHONE)
    return dict(DESKTOP)


def fit(viewport: Mapping[str, int]) -> dict[str, int]:
    """The width class a page is drawn for: the main column's width rounded down to one of
    :data:`MAIN_WIDTHS`, and whether the window is narrow enough that Streamlit stacks columns."""
    main = max([w for w in MAIN_WIDTHS if w <= int(viewport["main"])], default=MAIN_WIDTHS[0])
    return {"main": main, "stacked": int(int(viewport["window"]) < STACKED_BELOW)}


def _imports(js_dir: Path, names: Iterable[str]) -> list[str]:
    """The chunks ``names`` import, directly or not (their static ``import`` lines), themselves first."""
    todo, seen = list(names), []
    while todo:
        name = todo.pop(0)
        if name not in seen and (js_dir / name).is_file():
            seen.append(name)
            todo += _STATIC_IMPORT.findall((js_dir / name).read_text(encoding="utf-8"))
    return seen


@functools.lru_cache(maxsize=4)
def prefetch_chunks(static_dir: Path = STATIC_DIR, elements: tuple[str, ...] = PREFETCHED_ELEMENTS) -> tuple[str, ...]:
    """The file names of the JavaScript chunks ``elements`` need that a page's start does not load:
    each element's chunk and what it imports, less what Streamlit's entry script imports. Read from
    the installed Streamlit (the names are hashed per release); empty if its layout is not the one
    expected, and then nothing is fetched ahead."""
    js_dir = static_dir / "static" / "js"
    entry = _ENTRY.search((static_dir / "index.html").read_text(encoding="utf-8")) if (static_dir / "index.html").is_file() else None
    if entry is None or not js_dir.is_dir():
        return ()
    loaded = set(_imports(js_dir, [entry.group(1)]))
    wanted = _imports(js_dir, [p.name for stem in elements for p in sorted(js_dir.glob(f"{stem}.*.js"))])
    return tuple(name for name in wanted if name not in loaded)


def _headers_user_agent() -> str | None:
    try:
        return st.context.headers.get("User-Agent")
    except Exception:  # noqa: BLE001 - no request behind this run (AppTest, a bare script)
        return None


def helper() -> None:
    """Draw the helper (the router calls it once per full run, before the page)."""
    st.session_state[K_DRAWN] = None  # the page about to run says what it draws for (viewport())
    if K_VIEWPORT not in st.session_state:
        st.session_state[K_VIEWPORT] = guess(_headers_user_agent())
    with st.container(key="browser_helper"):  # drawn at no height (static/dashboard.css)
        _report()


@routing.fragment
def _report() -> None:
    """The component; a new width report reruns only this fragment, and the whole page only when the
    page on screen was drawn for another width class than the one reported."""
    value: Any = _component(
        not_found_title=_("Page not found"),
        not_found_text=_("There is no page at this address. Showing the Overview."),
        prefetch=list(prefetch_chunks()), key="browser", default=None)
    if isinstance(value, dict) and {"window", "main"} <= value.keys():
        reported = {"window": int(value["window"]), "main": int(value["main"])}
        st.session_state[K_VIEWPORT] = reported
        drawn = st.session_state.get(K_DRAWN)
        if drawn is not None and fit(reported) != drawn:
            st.rerun(scope="app")


def viewport() -> dict[str, int]:
    """``{"main": px, "stacked": 0|1}``: the width class the page is drawn for (:func:`fit` of the
    main column's inner width and the window's width the browser reported), noted as this run's."""
    drawn = fit(st.session_state.get(K_VIEWPORT, PHONE))
    st.session_state[K_DRAWN] = drawn
    return drawn
