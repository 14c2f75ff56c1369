"""Small Streamlit helpers the pages share: headers, charts with their table, CSVs, plain text, notes."""

from __future__ import annotations

import html
import re
from typing import Any, Callable, Mapping

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from . import browser, charts, filters, rates, routing
from .i18n import N_, _, fmt_date, fmt_int, fmt_month, fmt_num, fmt_pct

PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True,
                                 "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
TOPOJSON_PATH = "app/static/topojson/"
K_PROVENANCE = "provenance_line"
K_SYNTHETIC = "is_synthetic"

# Every ASCII punctuation character can be backslash-escaped in CommonMark: escaping all of them
# turns any Markdown (links, images, emphasis, Streamlit's :colour[...] and :icon: shortcodes) into
# literal text.
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# GitHub-flavoured Markdown also turns bare URLs and e-mail addresses into links, escapes or not: a
# zero-width space inside the trigger ("h\u200bttp://", "w\u200bww.", "\u200b@") leaves the text as it
# reads but no longer a link.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp|www)(?=[:.])|(?=@)")


def plain(text: str, limit: int = 600) -> str:
    """``text`` (possibly from a URL or a file) made safe for a Markdown element: length-capped,
    one line, every Markdown character escaped so it shows literally."""
    one_line = " ".join(str(text).split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    unlinked = _AUTOLINK.sub(lambda m: (m.group(1)[0] + "\u200b" + m.group(1)[1:]) if m.group(1) else "\u200b", one_line)
    return _MD_SPECIAL.sub(r"\\\1", unlinked)


SAMPLE_SOURCE_TEXT = N_("the bundled sample (a small subset of real rows, not the county's full record: counts are "
                      "counts of the sample)")
MAX_FILES_NAMED = 3


def source_text(sources: pd.DataFrame) -> tuple[str, bool]:
    """Where the served rows came from, in words, and whether any are SYNTHETIC.

    ``sources``: queries.data_sources() (source, file_name, charges, synthetic_charges, largest first).
    The portal API, each loaded file by its name (escaped: a file name is outside text), the bundled
    sample; rows that bench/generate.py made are called SYNTHETIC whatever their route in.
    """
    total = int(sources["charges"].sum()) if not sources.empty else 0
    synthetic = int(sources["synthetic_charges"].fillna(0).sum()) if not sources.empty else 0
    parts: list[str] = []
    files = sources[sources["source"] == "file"]
    for row in sources.itertuples(index=False):
        if row.source == "socrata":
            part = _("the county's open-data portal (API)")
        elif row.source == "sample":
            part = _(SAMPLE_SOURCE_TEXT)
        elif row.source == "file":
            rank = list(files["file_name"]).index(row.file_name)
            if rank >= MAX_FILES_NAMED:
                if rank == MAX_FILES_NAMED:
                    parts.append(_("{n} more files").format(n=fmt_int(len(files) - MAX_FILES_NAMED)))
                continue
            part = _("the file {name}").format(name=plain(str(row.file_name or "?"), 120))
        else:
            part = plain(str(row.source), 40)
        if len(sources) > 1:
            part += " " + _("({n} charges)").format(n=fmt_int(row.charges))
        parts.append(part)
    text = "; ".join(parts)
    if synthetic:
        share = _("all rows") if synthetic == total else _("{n} of {total} rows").format(
            n=fmt_int(synthetic), total=fmt_int(total))
        text = _("SYNTHETIC data ({share} made by bench/generate.py: not real stops), loaded from {source}").format(
            share=share, source=text)
    return text, synthetic > 0


def header(title: str, what: str, filtered: bool = True) -> None:
    """Page title, one line on what the page shows, where the data comes from, and the filters
    (``filtered=False`` on a page the sidebar filters don't apply to)."""
    st.title(title)
    st.caption(what)
    provenance = st.session_state.get(K_PROVENANCE)
    if provenance and st.session_state.get(K_SYNTHETIC):
        st.warning(provenance, icon=":material/science:")  # never mistaken for real stops, on any page
    elif provenance:
        st.caption(provenance)
    if filtered:
        st.markdown("**" + _("Showing:") + "** " + plain(filters.describe(filters.current(), filters.bounds())) + ".")


def column_config(labels: Mapping[str, str]) -> dict[str, Any]:
    """Translated column headers (numbers formatted by :func:`styled`, dates by :func:`date_texts`)."""
    return {col: st.column_config.Column(label) for col, label in labels.items()}


def date_texts(df: pd.DataFrame, dates: Mapping[str, str] | None) -> pd.DataFrame:
    """Date columns (``{"col": "day" | "month"}``) as the language writes dates ("7 Dec 2026" / "7 dic 2026",
    "Dec 2026"): one date style per language on every page, never ISO in one table and words in another."""
    if not dates:
        return df
    out = df.copy()
    for col, unit in dates.items():
        if col in out.columns:
            fmt = fmt_month if unit == "month" else fmt_date
            out[col] = pd.Series(["" if pd.isna(v) else fmt(pd.Timestamp(v).date()) for v in out[col]],
                                 index=out.index, dtype=object)
    return out


def styled(df: pd.DataFrame, percent: tuple[str, ...] = ()) -> Any:
    """The table's numbers as the reader writes them (12,345 / 12.345; 12.3% / 12,3 %), missing values
    blank (never "None"), while the cells stay numbers underneath (sorting, tests)."""
    formats: dict[str, Any] = {}
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            continue  # already text (blank_missing)
        if col in percent:
            formats[col] = fmt_pct
        elif pd.api.types.is_integer_dtype(df[col]):
            formats[col] = fmt_int
        elif pd.api.types.is_float_dtype(df[col]):
            formats[col] = (lambda v: fmt_int(v)) if _whole(df[col]) else (lambda v: fmt_num(v, 2))
    return df.style.format(formats, na_rep="").format(na_rep="", subset=[c for c in df.columns if c not in formats])


def blank_missing(df: pd.DataFrame, percent: tuple[str, ...] = ()) -> pd.DataFrame:
    """Columns holding a missing value, as the reader's text with the gaps blank.

    NOTE: Streamlit's data grid draws a null cell as a grey "None" whatever the Styler's ``na_rep``
    says (seen on the Data page's withheld cells), so only columns without gaps stay numbers.
    """
    out = df.copy()
    for col in out.columns:
        values = out[col]
        if not values.isna().any():
            continue
        if col in percent:
            fmt = fmt_pct
        elif pd.api.types.is_numeric_dtype(values):
            fmt = fmt_int if pd.api.types.is_integer_dtype(values) or _whole(values) else (lambda v: fmt_num(v, 2))
        else:
            fmt = str
        out[col] = pd.Series(["" if pd.isna(v) else fmt(v) for v in values], index=out.index, dtype=object)
    return out


def _whole(values: pd.Series) -> bool:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(v)) and bool((v == v.round()).all())


def table(df: pd.DataFrame, labels: Mapping[str, str], percent: tuple[str, ...] = (),
          dates: Mapping[str, str] | None = None, key: str | None = None, wrap: bool = False) -> None:
    """A table with translated headers; only the columns named in ``labels`` are shown. ``wrap``:
    a static table whose long texts wrap instead of being cut (a few rows of sentences)."""
    cols = [c for c in labels if c in df.columns]
    df = date_texts(df, dates)
    if wrap:
        st.table(styled(df[cols].reset_index(drop=True).rename(columns=dict(labels)),
                        tuple(labels[c] for c in percent if c in labels)).hide(axis="index"))
        return
    shown = blank_missing(df[cols].reset_index(drop=True), percent)
    st.dataframe(styled(shown, percent), hide_index=True, width="stretch", key=key,
                 column_config=column_config(labels))


def map_config() -> dict[str, Any]:
    """plotly's settings for the SVG maps: a wheel or a swipe scrolls the page, not the map (its +/-
    buttons zoom it), and the world outline plotly loads before any geo map is drawn comes from this
    server (static/topojson: an empty world, the maps draw their own shapes) instead of cdn.plot.ly."""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return {**PLOTLY_CONFIG, "scrollZoom": False, "topojsonURL": "/" + (base + "/" if base else "") + TOPOJSON_PATH}


def sr_only(text: str) -> None:
    """Text read out by screen readers, hidden on screen (a chart's or a map's name: an SVG's own text
    is not announced as one)."""
    st.html('<p class="sr-only">' + html.escape(text) + "</p>")


def chart(fig: go.Figure, data: pd.DataFrame | None, key: str, labels: Mapping[str, str] | None = None,
          percent: tuple[str, ...] = (), dates: Mapping[str, str] | None = None) -> None:
    """A plotly chart, named by its title for screen readers, then its numbers (the table alternative)."""
    name = charts.title_of(fig)
    # The chart's name for screen readers (the SVG's own text is not announced as one): read out
    # before the chart, hidden on screen.
    sr_only(_("Chart: {name}. Its numbers are in the table after it.").format(name=name or _("the numbers in this chart")))
    st.plotly_chart(charts.fit_to_width(fig, browser.viewport()["main"]), config=PLOTLY_CONFIG, key=key,
                    width="stretch")
    if data is not None:
        def numbers() -> None:
            if labels:
                table(data, labels, percent, dates)
            else:
                st.dataframe(styled(blank_missing(data.reset_index(drop=True))), hide_index=True, width="stretch")

        on_demand(_("Table: {what}").format(what=name or _("the numbers in this chart")), f"{key}_table", numbers)


def on_demand(label: str, key: str, draw: Callable[[], None]) -> None:
    """An expander whose content ``draw`` makes only while it is open: a closed table is neither
    formatted nor sent (nor is the data grid's JavaScript loaded for it). Opening or closing it
    reruns only this fragment; once open it stays open, and is drawn again on every rerun."""
    _on_demand(label, key, draw)


@routing.fragment
def _on_demand(label: str, key: str, draw: Callable[[], None]) -> None:
    box = st.expander(label, key=key, on_change="rerun")
    if box.open:
        with box:
            draw()


def csv_bytes(df: pd.DataFrame, labels: Mapping[str, str], about: Mapping[str, str]) -> bytes:
    """A CSV with translated headers that Excel opens as UTF-8 ("Código", "Año"): a byte-order mark
    first, the header line next (no comment line, which a spreadsheet would read as data). ``about``:
    header -> text, columns repeated on every row that say which filters and data made the file."""
    cols = [c for c in labels if c in df.columns]
    out = df[cols].rename(columns=dict(labels))
    for name, text in about.items():
        out[name] = " ".join(str(text).split())
    return out.to_csv(index=False).encode("utf-8-sig")


def csv_name(stem: str, state: filters.FilterState) -> str:
    """File name that reflects the filters: 'moco_stops_by_race__race-black_zip-20902.csv'."""
    parts = [f"{k}-{v.replace(',', '+')}" for k, v in filters.to_query_params(state).items()]
    name = stem + ("__" + "_".join(parts) if parts else "")
    return re.sub(r"[^A-Za-z0-9_+.-]", "", name)[:150] + ".csv"


def rate_definition(rate: "rates.Rate | None" = None) -> None:
    """What "stops per 1,000 residents per year" means, one click away on every page that shows a rate,
    with this page's own figures when it has one (``rates.area_rate``)."""
    with st.expander(_("How the rate per 1,000 residents per year is computed")):
        st.markdown(_(
            "**Stops per 1,000 residents per year** = 1,000 × stops ÷ residents ÷ years.\n\n"
            "- **Stops**: the stops matching the filters that are located in a Montgomery County ZIP code (stops "
            "with no usable location are left out: they can't be placed in a ZIP code).\n"
            "- **Residents**: the people living in the Montgomery County part of those ZIP codes, census {acs} "
            "5-year estimates.\n"
            "- **Years**: the days of the selected dates on which the data has stops, divided by 365.25.\n\n"
            "Every page computes the rate this way, so the same filters give the same figure."
        ).format(acs=rates.ACS_VINTAGE))
        if rate is not None and rate.value is not None:
            st.markdown(_("Here: 1,000 × {stops} stops ÷ {residents} residents ({zips} ZIP codes) ÷ {years} years "
                          "({days} days with data from {first} to {last}) = **{rate}**.").format(
                stops=fmt_int(rate.stops), residents=fmt_int(rate.residents), zips=fmt_int(rate.zip_count),
                years=fmt_num(rate.period.years, 2), days=fmt_int(rate.period.covered_days),
                first=fmt_date(rate.period.first), last=fmt_date(rate.period.last), rate=rates.fmt_rate(rate.value)))
        st.page_link("pages/data.py", label=_("More in Data, quality and methods"), icon=":material/table:")


def residents_caveat() -> None:
    st.caption(_("Per-capita rates divide stops by **residents** (census ACS 2015-2019), not by drivers: many "
                 "people stopped in a ZIP code live elsewhere, and residents who don't drive are counted. "
                 "Compare places with care."))


def small_count_note(k: int) -> None:
    st.caption(_("Counts of fewer than {k} stops are shown as \"fewer than {k}\" (and no share, rate or change is "
                 "computed from them), to protect privacy and avoid unstable numbers.").format(k=k))


def no_stops() -> None:
    st.info(
        _("No stops match these filters. Try a wider date range, or remove a ZIP code, district or driver filter "
          "in the sidebar (or press **Reset filters**)."),
        icon=":material/search_off:",
    )
