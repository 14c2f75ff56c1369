"""The dashboard's one browser helper: a zero-height component the router draws on every page.

It reports the width of the window and of the page's main column (the map fits the county to it:
the server cannot know a reader's screen otherwise), makes a typed date in the sidebar apply on
Enter (Streamlit applies it only when the field loses focus), and translates Streamlit's own "Page
not found" dialog, which the server cannot reach. The script is ``browser/index.html`` (plain
JavaScript, no build step, served by this server: nothing is loaded from elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from .i18n import _

K_VIEWPORT = "browser_viewport"
# Before the browser has reported (a session's first run, AppTest): a phone's main column, so that
# the first paint never crops the county.
DEFAULT = {"window": 390, "main": 358}
_component = components.declare_component("dashboard_browser", path=str(Path(__file__).parent / "browser"))


def helper() -> None:
    with st.container(key="browser_helper"):  # drawn at no height (static/dashboard.css)
        value: Any = _component(
            not_found_title=_("Page not found"),
            not_found_text=_("There is no page at this address. Showing the Overview."),
            key="browser", default=None)
    if isinstance(value, dict) and {"window", "main"} <= value.keys():
        st.session_state[K_VIEWPORT] = {"window": int(value["window"]), "main": int(value["main"])}


def viewport() -> dict[str, int]:
    """``{"window": px, "main": px}``: the browser window's width and the main column's inner width."""
    return st.session_state.get(K_VIEWPORT, DEFAULT)
