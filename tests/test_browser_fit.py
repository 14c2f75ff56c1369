"""dashboard/browser.py's width classes: which width a page is drawn for before and after the
browser reports it (pure functions; the browser's side is tests/test_browser.py)."""

from __future__ import annotations

import re

import pytest

from dashboard import browser

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/15.0 Mobile/15E148 Safari/604.1")
PIXEL = ("Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
         "Mobile Safari/537.36")
ANDROID_TABLET = "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
IPAD = ("Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1 "
        "Mobile/15E148 Safari/604.1")
CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 "
                "Safari/537.36")
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.mark.parametrize("ua", [None, "", IPHONE, PIXEL, ANDROID_TABLET, IPAD])
def test_an_unknown_or_mobile_browser_is_drawn_for_a_phone_first(ua):
    assert browser.guess(ua) == {"window": 390, "main": 358}


@pytest.mark.parametrize("ua", [CHROME_LINUX, FIREFOX_WINDOWS])
def test_a_desktop_browser_is_drawn_for_a_1280_px_window_first(ua):
    # 820 px: the main column of a 1280 px chromium window with the sidebar open (measured).
    assert browser.guess(ua) == {"window": 1280, "main": 820}


@pytest.mark.parametrize(("window", "main", "drawn"), [
    (390, 358, {"main": 358, "stacked": 1}),   # an iPhone: exactly the phone width, as before
    (393, 361, {"main": 358, "stacked": 1}),   # a Pixel 5: rounded down, never up
    (360, 328, {"main": 320, "stacked": 1}),
    (320, 288, {"main": 280, "stacked": 1}),
    (300, 250, {"main": 280, "stacked": 1}),   # narrower than every class: the narrowest
    (639, 607, {"main": 540, "stacked": 1}),
    (640, 608, {"main": 540, "stacked": 0}),   # Streamlit puts columns side by side from 640 px
    (1280, 820, {"main": 820, "stacked": 0}),
    (1366, 906, {"main": 820, "stacked": 0}),  # a common laptop: the same class as 1280, no redraw
    (1440, 980, {"main": 960, "stacked": 0}),
    (1920, 1460, {"main": 1300, "stacked": 0}),
])
def test_a_reported_width_is_drawn_for_the_class_below_it(window, main, drawn):
    assert browser.fit({"window": window, "main": main}) == drawn


def test_neighbouring_classes_differ_by_at_most_a_fifth():
    """A page drawn for the class below the reported width is at most a fifth narrower than it can be."""
    widths = browser.MAIN_WIDTHS
    assert list(widths) == sorted(set(widths))
    assert all(b / a <= 1.2 for a, b in zip(widths, widths[1:]))


def _static(tmp_path, files: dict[str, str], entry: str | None = "index.A1.js"):
    """A Streamlit-like static folder: index.html naming its entry module, chunks under static/js."""
    js = tmp_path / "static" / "js"
    js.mkdir(parents=True)
    for name, text in files.items():
        (js / name).write_text(text, encoding="utf-8")
    if entry is not None:
        (tmp_path / "index.html").write_text(
            f'<script>x</script><script type="module" crossorigin src="./static/js/{entry}"></script>', encoding="utf-8")
    return tmp_path


def test_the_chunks_fetched_ahead_are_an_elements_imports_less_what_the_page_start_loads(tmp_path):
    """browser.prefetch_chunks: the element's chunk and everything it imports (static imports, followed
    transitively), without the chunks Streamlit's entry script already loads, each named once."""
    static = _static(tmp_path, {
        "index.A1.js": 'import{a}from"./react.B2.js";import"./shared.C3.js";',
        "react.B2.js": "",
        "shared.C3.js": 'import{x}from"./react.B2.js";',
        "DataFrame.D4.js": 'import{a}from"./react.B2.js";import{g}from"./grid.E5.js";const l=()=>import("./lazy.F6.js")',
        "grid.E5.js": 'import{q}from"./quiver.G7.js";import{s}from"./shared.C3.js";',
        "quiver.G7.js": 'import{g}from"./grid.E5.js";',  # a cycle ends where it began
        "lazy.F6.js": "",
        "DataFrameOther.H8.js": "",  # another element whose name starts alike: not taken
    })
    assert browser.prefetch_chunks(static, ("DataFrame",)) == ("DataFrame.D4.js", "grid.E5.js", "quiver.G7.js")
    assert browser.prefetch_chunks(static, ("NoSuchElement",)) == ()


def test_nothing_is_fetched_ahead_when_streamlits_files_are_not_laid_out_as_expected(tmp_path):
    static = _static(tmp_path, {"DataFrame.D4.js": ""}, entry=None)  # no index.html
    assert browser.prefetch_chunks(static, ("DataFrame",)) == ()


def test_the_installed_streamlit_has_the_data_grids_chunks_to_fetch_ahead():
    """On the installed Streamlit: the data grid's chunk and its own imports are named (the helper's
    pattern only lets such plain file names through), none that the page start loads already."""
    chunks = browser.prefetch_chunks()
    js = browser.STATIC_DIR / "static" / "js"
    assert chunks[0].startswith("DataFrame.") and len(chunks) > 10
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+\.js", c) and (js / c).is_file() for c in chunks)
    assert not any(c.startswith(("index.", "react-dom.", "protobuf.")) for c in chunks)
