"""Spanish: every visible string has a translation, the catalogue matches the code, and each page,
rendered in Spanish, shows no string that is still the English one."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from dashboard import db, i18n, routing
from tests.test_analysis_sample import analysed_sample  # noqa: F401  (a fixture: Disparities with its analyses)

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
PAGES = [p.file for p in routing.PAGES]
PLACEHOLDER = re.compile(r"\{\w*\}")


def extracted() -> dict[str, str]:
    """msgid -> where, exactly as `pybabel extract -F babel.cfg` finds them in the code."""
    method_map, options_map = [], {}
    for line in (ROOT / "babel.cfg").read_text().splitlines():
        m = re.match(r"\[python: (.+)\]", line.strip())
        if m:
            method_map.append((m.group(1), "python"))
    out = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(str(ROOT), method_map, options_map):
        out[message if isinstance(message, str) else message[0]] = f"{filename}:{lineno}"
    return out


def test_every_visible_string_has_a_spanish_translation():
    with open(i18n.po_path("es"), "rb") as fh:
        catalogue = read_po(fh, locale="es")
    translated = {}
    for m in catalogue:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        translated[key] = (m, strings)
    code = extracted()
    assert len(code) > 300
    missing = [f"{where}: {msg!r}" for msg, where in code.items()
               if msg not in translated or not all(s.strip() for s in translated[msg][1]) or translated[msg][0].fuzzy]
    assert not missing, "untranslated strings (run pybabel extract/update, then translate):\n" + "\n".join(missing)
    for msg, (m, strings) in translated.items():
        wanted = sorted(PLACEHOLDER.findall(msg))
        for s in strings:
            if s:
                assert sorted(PLACEHOLDER.findall(s)) == wanted or m.pluralizable, f"placeholders differ: {msg!r}"


def test_the_catalogue_holds_no_string_the_code_no_longer_uses():
    with open(i18n.po_path("es"), "rb") as fh:
        catalogue = read_po(fh, locale="es")
    stale = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue if m.id} - set(extracted())
    assert not stale, f"remove from the catalogue (pybabel update): {sorted(stale)[:5]}"


def test_the_terms_are_consistent():
    """One Spanish word per concept for a general audience: 'parada' for a stop, 'cargo' for a charge."""
    with open(i18n.po_path("es"), "rb") as fh:
        catalogue = read_po(fh, locale="es")
    for m in catalogue:
        if not m.id or not isinstance(m.id, str):
            continue
        en, es = m.id.lower(), m.string.lower()
        if re.search(r"\bstops?\b", en) and "stop outcome" not in en and "stop's" not in en:
            assert "parada" in es, (m.id, m.string)
        if re.search(r"\bcharges?\b", en) and "most serious charge" not in en:
            assert "cargo" in es, (m.id, m.string)
        for wrong in ("detención", "infracción", "parar de tráfico", "cobro"):
            assert wrong not in es, (m.id, m.string)


# NOTE: stop reasons are still the county's statute text, in English, as the pages say; plain-language
# categories in both languages are issue 21's other branch (r21-words), which will drop this exemption.
STATUTE_COLUMNS = {"Most serious charge", "Cargo más grave"}


def visible_texts(at: AppTest) -> list[tuple[str, str]]:
    """(kind, text) of every element a reader sees, in page order, plus chart titles and axis titles."""
    out: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        out += [(kind, e.value) for e in at.get(kind)]
    out += [("metric", m.label) for m in at.metric]
    for kind in ("selectbox", "multiselect", "radio", "toggle", "date_input", "button"):
        out += [(kind, w.label) for w in at.get(kind)]
    out += [("tab", t.label) for t in at.tabs]
    out += [("expander", e.label) for e in at.expander]
    for kind in ("dataframe", "table"):  # headers and text cells of every table (the runs table too)
        for el in at.get(kind):
            df = el.value
            df = df.data if hasattr(df, "data") and not hasattr(df, "columns") else df
            # st.dataframe's headers are its column configuration's labels (ui.column_config)
            config = json.loads(el.proto.columns) if kind == "dataframe" and el.proto.columns else {}
            headers = {c: str((config.get(str(c)) or {}).get("label", c)) for c in df.columns}
            out += [(f"{kind} header", h) for h in headers.values()]
            for col in df.columns:
                if headers[col] in STATUTE_COLUMNS:
                    continue
                if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):  # pandas 3: "str"
                    out += [(f"{kind} cell", str(v)) for v in df[col].dropna()]
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        layout = spec["layout"]
        out.append(("chart title", (layout.get("title") or {}).get("text", "")))
        for axis in ("xaxis", "yaxis"):
            out.append((f"chart {axis}", ((layout.get(axis) or {}).get("title") or {}).get("text", "")))
        for trace in spec["data"]:
            if trace.get("name") and not str(trace["name"]).isdigit():
                out.append(("chart series", str(trace["name"])))
    return out


def _has_words(text: str) -> bool:
    # A text a translation could change: letters beyond ZIP codes, years, numbers and codes.
    return bool(re.search(r"[A-Za-z]{3,}", re.sub(r"\b(ZIP|ACS|SERO|CSV|UTC|MD|CI)\b", "", text)))


def render(settings, monkeypatch, page: str, lang: str, **params: str) -> AppTest:
    monkeypatch.setenv("PIPELINE_WAREHOUSE", settings.warehouse_url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params = {"lang": lang, **({"zip": "20902"} if "my_zip" in page else {}), **params}
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# English that hides inside a Spanish sentence (a sentence-level comparison can't see it): stored codes,
# run kinds, UTC and ISO dates, decimal days, documents named only in English.
ENGLISH_INSIDE = [
    (re.compile(r"\b(OTHER|WHITE|BLACK|HISPANIC|ASIAN|NATIVE AMERICAN)\b"), "a stored race code"),
    (re.compile(r"\b(Citation|Warning|Arrest)\b"), "a stored outcome code"),
    (re.compile(r"Incident to Arrest"), "a search reason as stored"),
    (re.compile(r"\bSeqID\b"), "a source column name"),
    (re.compile(r"\b(backfill|sample|socrata|run)\b"), "a run command or source as stored"),
    (re.compile(r"\bUTC\b"), "a time in UTC (times are local)"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "an ISO date (one date style per language)"),
    (re.compile(r"\d,\d días"), "decimal days ('hace 0,0 días')"),
    (re.compile(r"\bdays? ago\b|\btoday\b|\byesterday\b"), "English relative time"),
    (re.compile(r"Page not found"), "Streamlit's English dialog"),
    (re.compile(r"conductores: [A-ZÁÉÍÓÚ]"), "a label that does not agree with its noun"),
]


def english_inside(texts: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    found = []
    for kind, text in texts:
        for pattern, why in ENGLISH_INSIDE:
            if pattern.search(text):
                found.append((why, kind, text[:120]))
        if "METHODS.md" in text and "en inglés" not in text:
            found.append(("a document named only by its English file", kind, text[:120]))
    return found


def test_the_english_inside_check_catches_what_the_issue_found():
    seen = english_inside([("caption", "backfill desde sample"), ("cell", "OTHER"), ("cell", "Sin SeqID"),
                           ("caption", "Métodos: docs/METHODS.md en el repositorio."),
                           ("markdown", "**Se muestra:** conductores: Negra, Mujer; del 1 ene 2012"),
                           ("caption", "última carga correcta el 7 dic 2026 (hace 0,0 días)"),
                           ("cell", "2026-12-07 13:56"), ("caption", "Calculado el 7 dic 2026, 13:56 UTC.")])
    assert len({text for _why, _kind, text in seen}) == 8
    assert not english_inside([("caption", "carga completa desde la muestra incluida"), ("cell", "Otra / desconocida"),
                               ("caption", "Calculado el 7 dic 2026, 8:56 EST (hoy)."),
                               ("caption", "el documento de métodos del proyecto (docs/METHODS.md, en inglés)")])


@pytest.mark.parametrize("page", PAGES)
def test_each_page_in_spanish_shows_no_english_string(analysed_sample, monkeypatch, page):
    settings = analysed_sample[0]
    english = visible_texts(render(settings, monkeypatch, page, "en"))
    spanish_at = render(settings, monkeypatch, page, "es")
    spanish = visible_texts(spanish_at)
    assert [k for k, _ in english] == [k for k, _ in spanish], "the same elements in both languages"
    same = [(k, en) for (k, en), (_, es) in zip(english, spanish) if en == es and _has_words(en)]
    assert not same, f"still in English on {page}: {same[:8]}"
    inside = english_inside(spanish)
    assert not inside, f"English inside Spanish text on {page}: {inside[:8]}"
    assert spanish_at.query_params.get("lang") == "es"  # the language stays in the address
    db.reset()


def test_the_language_is_kept_in_the_url_across_pages_and_filters(sample_warehouse, monkeypatch):
    monkeypatch.setenv("PIPELINE_WAREHOUSE", sample_warehouse.warehouse_url)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params = {"lang": "es"}
    at.run()
    assert at.metric[0].label == "Paradas"
    at.switch_page("pages/trends.py").run()
    assert at.query_params == {"lang": "es"} and at.title[0].value == "Tendencias"
    # a filter chosen in one language survives a switch to the other
    at.switch_page("pages/overview.py").run()
    at.query_params = {"lang": "es", "race": "black"}
    at2 = AppTest.from_file(str(APP), default_timeout=60)
    at2.query_params = {"lang": "es", "race": "black"}
    at2.run()
    assert at2.sidebar.multiselect(key="flt_race").value == ["BLACK"]
    at2.sidebar.segmented_control(key="ui_lang").set_value("en").run()
    assert at2.title[0].value == "Traffic stops in Montgomery County, MD"
    assert at2.query_params == {"race": "black"}
    assert at2.sidebar.multiselect(key="flt_race").value == ["BLACK"]
    db.reset()


def test_no_translated_call_hides_inside_an_f_string():
    """Babel can't see `_()` inside an f-string, so such a string would never reach the catalogue."""
    hidden = []
    for pattern in ("streamlit_app.py", "dashboard/**/*.py", "pages/**/*.py"):
        for path in ROOT.glob(pattern):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\{_\(|\{ngettext\(", line):
                    hidden.append(f"{path.relative_to(ROOT)}:{n}")
    assert not hidden, hidden


def test_times_are_shown_in_the_county_time_zone_in_each_languages_date_style():
    from datetime import datetime

    winter, summer = datetime(2026, 12, 7, 13, 56), datetime(2026, 7, 1, 3, 0)  # stored UTC, naive
    try:
        # (Babel puts a narrow no-break space before AM/PM: the time never breaks across lines)
        assert (i18n.fmt_datetime(winter), i18n.fmt_datetime(summer)) == ("7 Dec 2026, 8:56\u202fAM EST",
                                                                          "30 Jun 2026, 11:00\u202fPM EDT")
        i18n.set_lang("es")
        assert (i18n.fmt_datetime(winter), i18n.fmt_datetime(summer)) == ("7 dic 2026, 8:56 EST", "30 jun 2026, 23:00 EDT")
        assert i18n.fmt_date(date(2019, 6, 4)) == "4 jun 2019"
    finally:
        i18n.set_lang("en")


def test_how_long_ago_is_said_in_calendar_days_of_the_county():
    from datetime import datetime, timezone

    load = datetime(2026, 12, 7, 13, 56)
    # 03:00 UTC on the 8th is still the evening of the 7th in Maryland: "today", not "1 day ago"
    assert i18n.days_since(load, datetime(2026, 12, 8, 3, 0, tzinfo=timezone.utc)) == 0
    assert i18n.days_since(load, datetime(2026, 12, 8, 6, 0, tzinfo=timezone.utc)) == 1
    assert i18n.days_since(load, datetime(2026, 12, 11, 6, 0, tzinfo=timezone.utc)) == 4
    assert [i18n.fmt_ago(n) for n in (0, 1, 4, None)] == ["today", "yesterday", "4 days ago", "never"]
    i18n.set_lang("es")
    try:
        assert [i18n.fmt_ago(n) for n in (0, 1, 4)] == ["hoy", "ayer", "hace 4 días"]
    finally:
        i18n.set_lang("en")


def test_run_kinds_and_sources_are_words_in_both_languages():
    from dashboard import labels

    assert labels.run_kind("backfill", "sample") == "full load from the bundled sample"
    assert labels.run_kind("run", "socrata") == "daily update from the county's portal"
    i18n.set_lang("es")
    try:
        assert labels.run_kind("backfill", "sample") == "carga completa desde la muestra incluida"
        assert labels.run_kind("backfill", "file") == "carga completa desde un archivo"
    finally:
        i18n.set_lang("en")


def test_the_filter_summary_agrees_in_gender_on_a_spanish_page(sample_warehouse, monkeypatch):
    at = render(sample_warehouse, monkeypatch, PAGES[0], "es", race="black", gender="f")
    showing = next(md.value for md in at.markdown if md.value.startswith("**Se muestra:**")).replace("\\", "")
    assert "raza del conductor: negra; sexo del conductor: mujer;" in showing
    assert not english_inside([("markdown", showing)])
    db.reset()


def test_numbers_and_dates_made_once_per_process_still_follow_the_language():
    # i18n keeps each formatted text (a chart formats thousands per rerun): per language, never shared.
    try:
        for lang, expected in (("en", ("12,345", "4 Jun 2019", "Mar 2016")), ("es", ("12.345", "4 jun 2019", "mar 2016")),
                               ("en", ("12,345", "4 Jun 2019", "Mar 2016"))):
            i18n.set_lang(lang)
            assert (i18n.fmt_int(12345.2), i18n.fmt_date(date(2019, 6, 4)), i18n.fmt_month(date(2016, 3, 1))) == expected
    finally:
        i18n.set_lang("en")
