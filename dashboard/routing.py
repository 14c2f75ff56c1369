"""The router runs every page: a page file never runs on its own.

Pages live in ``pages/``, the folder Streamlit's older multipage mode discovers by itself. Until
some session has called ``st.navigation``, Streamlit runs a page file of that folder directly when
the address names it (a fresh server whose first visitor opens ``/map``; every run of ``AppTest``),
so the router — language, provenance, sidebar filters — would be skipped. Each page therefore
starts with ``require_router()``: outside the router it turns the folder mode off and reruns, and
the rerun goes through ``streamlit_app.py`` to the same page.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NamedTuple, NoReturn

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from . import i18n
from .i18n import N_


class Page(NamedTuple):
    file: str   # relative to the repository root, as st.Page takes it
    url: str    # the page's own address; the first page also answers at "/"
    title: str  # English; translated when drawn
    icon: str


# The dashboard's pages, in menu order; the first is the home page. The one list: the router draws
# it, and the tests and the screenshot bench visit it.
PAGES: tuple[Page, ...] = (
    Page("pages/overview.py", "overview", N_("Overview"), ":material/dashboard:"),
    Page("pages/my_zip.py", "my-zip", N_("My ZIP code"), ":material/home_pin:"),
    Page("pages/map.py", "map", N_("Map"), ":material/map:"),
    Page("pages/trends.py", "trends", N_("Trends"), ":material/trending_up:"),
    Page("pages/people.py", "people", N_("People"), ":material/groups:"),
    Page("pages/disparities.py", "disparities", N_("Disparities"), ":material/balance:"),
    Page("pages/changes.py", "changes", N_("What changed"), ":material/history:"),
    Page("pages/data.py", "data", N_("Data"), ":material/table:"),
)

_state = threading.local()  # Streamlit runs each session's script in a thread of its own


def fragment(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``st.fragment`` for a part of a page. A fragment's own rerun runs in a thread of its own
    without the router, so it first sets the session's language (i18n.K_LANG), as the router does
    for a whole run; without it, the part redrawn alone would come back in English."""
    @functools.wraps(fn)
    def in_session_language(*args: Any, **kwargs: Any) -> Any:
        i18n.set_lang(st.session_state.get(i18n.K_LANG))
        return fn(*args, **kwargs)

    return st.fragment(in_session_language)


class PageDone(Exception):
    """A page has drawn all it can (:func:`stop_page`); the router goes on with what follows the page."""


@contextmanager
def routed() -> Iterator[None]:
    """Wrap ``navigation.run()`` in the router: the page runs inside it."""
    _state.active = True
    try:
        yield
    except PageDone:
        pass
    finally:
        _state.active = False


def stop_page() -> NoReturn:
    """End the page here, like ``st.stop()``, but let the router draw what it draws after the page
    (the filters' widgets: streamlit_app.py). ``st.stop()`` would end the whole run, and a run that
    draws no filter widgets makes Streamlit forget their values. A page run on its own: ``st.stop()``."""
    if getattr(_state, "active", False):
        raise PageDone
    st.stop()


def require_router() -> None:
    """First line of every page: rerun through the router when the page was run on its own."""
    # NOTE: Streamlit internals. The flag is True only in the folder mode (st.navigation sets it
    # False); a page run as a script of its own (a test of that page alone) is left to run.
    if getattr(_state, "active", False) or not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    st.rerun()
