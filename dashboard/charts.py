"""Pure plotly figure builders: DataFrame in, figure out (no Streamlit, no SQL).

Accessibility rules applied everywhere:

* colour-blind-safe palettes (Okabe-Ito for categories, cividis/viridis for sequential scales);
* never colour alone: series also differ by line dash, marker symbol or bar pattern, and bars carry
  their numbers as text;
* every figure has axis titles that say whether it counts *stops* or *charges*;
* every visible string is translated and numbers use the reader's separators (``i18n``);
* counts of 1..k-1 are not drawn (``tables`` applies the small-count policy before a chart sees them).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import labels, tables
from .i18n import _, fmt_date, fmt_int, fmt_month, fmt_pct, month_names, plotly_separators, weekday_names

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}
SERIES = [OKABE_ITO[c] for c in ("blue", "orange", "green", "vermillion", "purple", "sky", "black", "yellow")]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down"]
GREY = "#9a9a9a"

BASE_LAYOUT: dict[str, Any] = {
    # Room above the plot for the title, so the mode bar (top right) never covers it on a phone.
    "margin": {"l": 8, "r": 8, "t": 64, "b": 8},
    # Legend at the bottom of the figure: it may wrap on a phone without running into the title.
    "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "xanchor": "left", "x": 0},
    "hovermode": "closest",
    "font": {"size": 13},
    # A vertical tool bar at the right edge leaves the title (top left) readable on a phone.
    "modebar": {"orientation": "v"},
}


def _pattern(shape: str) -> dict[str, Any]:
    """A hatch drawn in white over the bar's own colour (keeps the colour strong and text readable)."""
    if not shape:
        return {"shape": ""}
    return {"shape": shape, "fillmode": "overlay", "fgcolor": "white", "fgopacity": 0.6, "solidity": 0.35}


def _layout(fig: go.Figure, title: str | None = None, **kwargs: Any) -> go.Figure:
    fig.update_layout(**BASE_LAYOUT, separators=plotly_separators())
    if title:
        # Anchored at the container's top edge with a pad below it: at y=0.99 the glyphs' tops poked
        # out of the figure and were cut (tests/test_browser.py checks the title's box on a phone).
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "y": 1, "yanchor": "top",
                                 "yref": "container", "pad": {"t": 8, "l": 4}, "font": {"size": 15},
                                 "automargin": True})
    fig.update_layout(**kwargs)
    return fig


def title_of(fig: go.Figure) -> str:
    """The figure's title (its accessible name on the page), on one line."""
    return " ".join(str(fig.layout.title.text or "").replace("<br>", " ").split())


# Average glyph width as a share of the font size (plotly's default sans-serif; accents included).
GLYPH = 0.58


def wrap(text: str, chars: int) -> str:
    """``text`` broken into lines of at most ``chars`` characters at spaces, joined by plotly's <br>."""
    import textwrap

    plain = " ".join(str(text).replace("<br>", " ").split())
    return "<br>".join(textwrap.wrap(plain, max(int(chars), 12), break_long_words=False)) or plain


def fit_to_width(fig: go.Figure, width: float) -> go.Figure:
    """Titles and axis titles wrapped to a ``width``-px chart instead of being cut (phones, Spanish),
    with room made above the plot for the title's lines. Plotly never wraps a title by itself."""
    layout = fig.layout
    title = str(layout.title.text or "")
    if title:
        size = (layout.title.font.size or 15)
        text = wrap(title, (width - 16) / (GLYPH * size))
        lines = text.count("<br>") + 1
        # NOTE: plotly anchors a multi-line title by its first line, so each further line needs its
        # own room above the plot: the pad grows with the lines (measured in chromium, 390 px wide).
        pad = 8 + 18 * (lines - 1)
        fig.update_layout(title_text=text, title_pad_t=pad, margin_t=max(layout.margin.t or 0, pad + 28 + 20 * lines))
    height = layout.height or 450
    for axis in ("xaxis", "yaxis"):
        ax = getattr(layout, axis)
        if ax is None or ax.title is None or not ax.title.text:
            continue
        font = (ax.title.font.size if ax.title.font and ax.title.font.size else None) or 13
        # A y-axis title runs along the plot's height; an x-axis title along its width.
        room = (height - 110) if axis == "yaxis" else (width - 60)
        fig.update_layout({axis: {"title": {"text": wrap(ax.title.text, room / (GLYPH * font))}, "automargin": True}})
    return fig


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=220)


def no_stops_figure() -> go.Figure:
    return empty_figure(_("No stops match these filters."))


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------


def daily_trend(df: pd.DataFrame, k: int) -> go.Figure:
    """Stops per day (per week when the range is longer than about a year); 1..k-1 not drawn.

    A first or last week that the data covers only in part (it begins or ends inside the week) is
    hatched and says so, so that its short bar does not read as a fall."""
    if df.empty:
        return no_stops_figure()
    counts, unit = tables.period_counts(df)
    shown = tables.mask_small(counts, k)
    partial = [False] * len(counts)
    if unit == "week":
        title = _("Stops per week")
        days = pd.to_datetime(df["date_of_stop"])
        first, last = days.min(), days.max()  # once, not per week (the loop below ran over every day per week)
        partial = [d < first or d + pd.Timedelta(days=6) > last for d in counts.index]
        hover = [_("Week of {date}: {n} stops").format(date=fmt_date(d), n=tables.count_text(n, k))
                 + (" " + _("(partial week)") if part else "") for (d, n), part in zip(counts.items(), partial)]
    else:
        title = _("Stops per day")
        hover = [_("{date}: {n} stops").format(date=fmt_date(d), n=tables.count_text(n, k)) for d, n in counts.items()]
    fig = go.Figure(go.Bar(x=counts.index, y=shown.astype("float64"), name=title, marker_color=OKABE_ITO["blue"],
                           marker_pattern={"shape": ["/" if p else "" for p in partial], "fgcolor": "white",
                                           "solidity": 0.3, "fillmode": "overlay"},
                           hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"))
    fig.update_yaxes(title_text=title + " " + _("(a stop has 1+ charges)"), rangemode="tozero")
    fig.update_xaxes(title_text=None)
    return _layout(fig, title, height=320, bargap=0.05, showlegend=False)


def _partial_markers(x: Sequence[Any], y: Sequence[float], hover: Sequence[str], color: str,
                     showlegend: bool = True) -> go.Scatter:
    """Hollow markers for the months the data covers only in part: shown, never joined to the line."""
    return go.Scatter(x=list(x), y=list(y), mode="markers", name=_("Partial month (data for part of it)"),
                      marker={"symbol": "circle-open", "size": 10, "color": color, "line": {"width": 2}},
                      hovertext=list(hover), hovertemplate="%{hovertext}<extra></extra>", showlegend=showlegend,
                      legendgroup="partial")


def monthly_trend(df: pd.DataFrame, k: int, coverage: pd.DataFrame | None = None) -> go.Figure:
    """Stops and charges per month: two lines that differ by colour, dash and marker.

    With ``coverage`` (tables.month_coverage): a month without data is a gap, and a month the data
    covers only in part (the record or the date window begins or ends inside it) is left out of the
    line and drawn as a hollow marker, so it never reads as a fall."""
    if df.empty:
        return no_stops_figure()
    m = tables.month_index(df, coverage)
    partial = m["status"].eq("partial") if "status" in m else pd.Series(False, index=m.index)
    fig = go.Figure()
    for i, (col, label) in enumerate((("stops", _("Stops")), ("charges", _("Charges (rows)")))):
        # A month's charges are withheld with its stops: both describe the same few stops.
        values = tables.mask_small(m[col].where(~m["stops"].between(1, k - 1)), k).astype("float64")
        hover = [f"{fmt_month(d)}: {tables.count_text(v, k) if not pd.isna(v) else _('fewer than {k}').format(k=k)} "
                 f"{label.lower()}" for d, v in zip(m["month"], values)]
        fig.add_trace(go.Scatter(
            x=m["month"], y=values.where(~partial), name=label, mode="lines+markers", connectgaps=False,
            line={"color": SERIES[i], "dash": DASHES[i], "width": 2},
            marker={"symbol": SYMBOLS[i], "size": 6},
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        ))
        if partial.any():
            fig.add_trace(_partial_markers(m.loc[partial, "month"], values[partial],
                                           [h + " " + _("(partial month)") for h, p in zip(hover, partial) if p],
                                           SERIES[i], showlegend=i == 0))
    fig.update_yaxes(title_text=_("Per month"), rangemode="tozero")
    return _layout(fig, _("Stops and charges per month"), height=340)


def yearly_lines(df: pd.DataFrame, highlight: Sequence[int], k: int, coverage: pd.DataFrame | None = None) -> go.Figure:
    """One line per year over Jan-Dec; highlighted years coloured, the others thin grey.

    With ``coverage`` (tables.month_coverage): months the data covers only in part are left out of
    the lines (hollow markers on the highlighted years), months without data are gaps."""
    if df.empty:
        return no_stops_figure()
    months = month_names()
    fig = go.Figure()
    years = sorted(int(y) for y in df["stop_year"].unique())
    highlight = [y for y in highlight if y in years]
    status = ({(ts.year, ts.month): st for ts, st in zip(pd.to_datetime(coverage["month"]), coverage["status"])}
              if coverage is not None and not coverage.empty else {})
    legend_partial = True
    for year in years:
        y = tables.mask_small(df[df["stop_year"] == year].set_index("stop_month")["stops"].reindex(range(1, 13)), k)
        y = y.astype("float64")
        partial = pd.Series([status.get((year, mo)) == "partial" for mo in range(1, 13)], index=y.index)
        if status:
            y = y.where(pd.Series([status.get((year, mo), "none") != "none" for mo in range(1, 13)], index=y.index))
        if partial.any() and year in highlight:
            i = highlight.index(year)
            fig.add_trace(_partial_markers([months[mo - 1] for mo in y.index[partial]], y[partial],
                                           [f"{months[mo - 1]} {year}: {fmt_int(v)} " + _("(partial month)")
                                            for mo, v in y[partial].items()], SERIES[i], legend_partial))
            legend_partial = False
        y = y.where(~partial)
        if year in highlight:
            i = highlight.index(year)
            style = {"line": {"color": SERIES[i], "dash": DASHES[i], "width": 3},
                     "marker": {"symbol": SYMBOLS[i], "size": 8}, "mode": "lines+markers"}
        else:
            style = {"line": {"color": GREY, "width": 1}, "mode": "lines", "opacity": 0.7}
        fig.add_trace(go.Scatter(
            x=months, y=y.astype("float64"), name=str(year), connectgaps=False,
            hovertext=[f"{mn} {year}: {fmt_int(v)}" if not pd.isna(v) else f"{mn} {year}: –" for mn, v in zip(months, y)],
            hovertemplate="%{hovertext}<extra></extra>", **style,
        ))
    fig.update_yaxes(title_text=_("Stops per month"), rangemode="tozero")
    return _layout(fig, _("Stops per month, one line per year"), height=360)


def withheld_legend(k: int) -> go.Scatter:
    """A legend entry for the blank (withheld) cells of a heatmap: a colour scale cannot show them."""
    return go.Scatter(x=[None], y=[None], mode="markers", name=_("Blank: fewer than {k} stops (withheld)").format(k=k),
                      marker={"symbol": "square", "size": 12, "color": "white", "line": {"color": GREY, "width": 1}},
                      showlegend=True, hoverinfo="skip")


def weekday_hour_heatmap(df: pd.DataFrame, k: int) -> go.Figure:
    """Stops by weekday (rows, Monday first) and hour (columns); cividis; cells of 1..k-1 blank."""
    if df.empty:
        return empty_figure(_("No stops with a recorded time match these filters."))
    grid = tables.weekday_hour_matrix(df, k)
    days = weekday_names()
    z = grid.astype("float64").to_numpy()
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"{h:02d}" for h in grid.columns], y=days,
        colorscale="Cividis", colorbar={"title": {"text": _("Stops")}, "thickness": 12},
        hovertemplate="%{y} %{x}h: %{z:,}<extra></extra>", xgap=1, ygap=1,
    ))
    if np.isnan(z).any():
        fig.add_trace(withheld_legend(k))
    fig.update_yaxes(autorange="reversed", title_text=None)
    fig.update_xaxes(title_text=_("Hour of day"), dtick=3)
    return _layout(fig, _("Stops by day of week and hour"), height=360,
                   legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0})


def comparison_bars(table: pd.DataFrame, name_a: str, name_b: str, title: str, k: int,
                    label_width: int = 30) -> go.Figure:
    """Horizontal bars, period A (hatched) vs period B (solid), with counts as text.

    ``table`` comes from :func:`tables.change_table` (small counts already missing).
    """
    if table.empty:
        return empty_figure(_("No stops in these periods match these filters."))
    t = table.iloc[::-1]
    names = [short_label(x, label_width) for x in t["label"]]
    fig = go.Figure()
    # The focus period (B) is solid blue, the comparison period (A) hatched orange, as in yearly_lines.
    for i, (col, name) in enumerate((("stops_a", name_a), ("stops_b", name_b))):
        values = t[col]
        text = [fmt_int(v) if not pd.isna(v) else _("fewer than {k}").format(k=k) for v in values]
        fig.add_trace(go.Bar(
            # A withheld count is a bar of no length that still carries its "fewer than k" label.
            y=names, x=values.astype("float64").fillna(0), name=name, orientation="h",
            marker={"color": SERIES[1 - i], "pattern": _pattern("/" if i == 0 else "")},
            text=text, textposition="outside", cliponaxis=False,
            hovertext=[f"{full}<br>{name}: {tx}" for full, tx in zip(t["label"], text)],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
    top = float(np.nanmax([t["stops_a"].astype("float64").max(), t["stops_b"].astype("float64").max(), 1]))
    fig.update_xaxes(title_text=_("Stops"), range=[0, top * 1.3])
    fig.update_yaxes(automargin=True)
    return _layout(fig, title, barmode="group", height=max(260, 58 * len(t) + 80), bargap=0.25)


def short_label(text: Any, width: int) -> str:
    """Shorten a label for a narrow screen; source text in capitals is put in sentence case."""
    s = str(text)
    if s.isupper():
        s = s[:1] + s[1:].lower()
    return s if len(s) <= width else s[: width - 1] + "…"


def year_bars(df: pd.DataFrame, k: int, title: str, status: dict[int, str] | None = None) -> go.Figure:
    """Stops per year (label = year) as bars, with counts as text; years with 1..k-1 stops not drawn.

    Every year from the first to the last has its place, so a year without data is a visible gap
    ("no data"), never skipped; with ``status`` (tables.year_status) a partial year is hatched and
    says so."""
    if df.empty:
        return no_stops_figure()
    status = status or {}
    years = list(range(int(df["stop_year"].min()), int(df["stop_year"].max()) + 1))
    counts = df.set_index(df["stop_year"].astype(int))["stops"].reindex(years)
    values = tables.mask_small(counts.fillna(0).astype("int64"), k).astype("float64").where(counts.notna())
    partial = [status.get(y) == "partial" for y in years]
    no_data = [pd.isna(c) and (not status or y not in status) for y, c in zip(years, counts)]
    text = [_("no data") if gap else tables.count_text(int(c) if not pd.isna(c) else 0, k)
            + (" " + _("(partial year)") if part else "") for c, part, gap in zip(counts, partial, no_data)]
    fig = go.Figure(go.Bar(
        x=[str(y) for y in years], y=values.fillna(0), marker_color=SERIES[0],
        # overlay: the hatch is drawn over the bar's colour (plotly's default replaces it, so a
        # partial year read as an empty bar)
        marker_pattern={"shape": ["/" if p else "" for p in partial], "fgcolor": "white", "solidity": 0.3,
                        "fillmode": "overlay"},
        text=text, textposition="outside", cliponaxis=False,
        hovertemplate="%{x}: %{text}<extra></extra>",
    ))
    fig.update_yaxes(title_text=_("Stops"), rangemode="tozero")
    fig.update_xaxes(title_text=None, type="category")
    return _layout(fig, title, height=300, showlegend=False)


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def share_bars(table: pd.DataFrame, title: str, k: int, category_col: str = "group") -> go.Figure:
    """Share of stops (solid) vs share of residents (hatched), per group, with percentages as text."""
    if table.empty or table["share_of_stops"].fillna(0).sum() == 0:
        return no_stops_figure()
    t = table.iloc[::-1]
    fig = go.Figure()
    if "share_of_residents" in t and t["share_of_residents"].notna().any():
        fig.add_trace(go.Bar(
            y=t[category_col], x=t["share_of_residents"].fillna(0), name=_("Share of residents (census)"),
            orientation="h", marker={"color": SERIES[1], "pattern": _pattern("/")},
            text=[fmt_pct(v) if not pd.isna(v) else _("n/a") for v in t["share_of_residents"]],
            textposition="outside", cliponaxis=False,
            hovertext=[f"{c}: {fmt_pct(v)}" for c, v in zip(t.get("acs_category", t[category_col]), t["share_of_residents"])],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
    fig.add_trace(go.Bar(
        y=t[category_col], x=t["share_of_stops"].fillna(0), name=_("Share of stops"), orientation="h",
        marker={"color": SERIES[0]},
        text=[fmt_pct(v) if not pd.isna(v) else _("fewer than {k} stops").format(k=k) for v in t["share_of_stops"]],
        textposition="outside", cliponaxis=False,
        hovertext=[f"{g}: {fmt_pct(v)}" for g, v in zip(t[category_col], t["share_of_stops"])],
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    top = float(np.nanmax([t["share_of_stops"].max(), t.get("share_of_residents", t["share_of_stops"]).max(), 0.01]))
    fig.update_xaxes(title_text=_("Share"), tickformat=".0%", range=[0, top * 1.35])
    fig = _layout(fig, title, barmode="group", height=max(260, 62 * len(t) + 90), bargap=0.25)
    fig.update_layout(legend={"traceorder": "reversed"})
    return fig


def outcome_bars(table: pd.DataFrame) -> go.Figure:
    """100% stacked bars per race: warning / repair order / citation, each with a pattern and its % as text."""
    shown = table[~table["suppressed"]] if not table.empty else table
    if shown.empty:
        return empty_figure(_("Too few stops to show outcomes for these filters."))
    t = shown.iloc[::-1]
    fig = go.Figure()
    for i, (col, code) in enumerate(labels.OUTCOME_COLUMNS):
        name = labels.outcome(code)
        fig.add_trace(go.Bar(
            y=[f"{g} (n={fmt_int(n)})" for g, n in zip(t["group"], t["stops"])], x=t[f"{col}_share"],
            name=name, orientation="h",
            marker={"color": [SERIES[2], SERIES[1], SERIES[0]][i], "pattern": _pattern(["", ".", "/"][i]),
                    "line": {"color": "white", "width": 1}},
            text=[fmt_pct(v, 0) for v in t[f"{col}_share"]], textposition="inside", insidetextanchor="middle",
            # Black on the light green/orange and white on the dark blue: contrast above 4.5:1.
            textfont={"color": ["black", "black", "white"][i]},
            hovertext=[f"{g}: {fmt_pct(v)} {name.lower()}" for g, v in zip(t["group"], t[f"{col}_share"])],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
    fig.update_xaxes(title_text=_("Share of stops"), tickformat=".0%", range=[0, 1])
    fig = _layout(fig, _("What the stop ended in, by driver race"), barmode="stack",
                  height=max(260, 52 * len(t) + 100), uniformtext={"minsize": 10, "mode": "hide"})
    fig.update_layout(legend={"traceorder": "normal"})
    return fig


def rate_bars(table: pd.DataFrame, num: str, den: str, title: str, empty: str) -> go.Figure:
    """Horizontal bars of a rate with 'x% (n of d)' labels; withheld groups left out."""
    shown = table[~table["suppressed"]]
    if shown.empty:
        return empty_figure(empty)
    t = shown.iloc[::-1]
    text = [_("{rate} ({n} of {d})").format(rate=fmt_pct(r), n=fmt_int(n), d=fmt_int(d))
            for r, n, d in zip(t["rate"], t[num], t[den])]
    fig = go.Figure(go.Bar(
        y=t["group"], x=t["rate"], orientation="h", marker={"color": SERIES[0]},
        text=text, textposition="outside", cliponaxis=False,
        hovertext=[f"{g}: {tx}" for g, tx in zip(t["group"], text)], hovertemplate="%{hovertext}<extra></extra>",
    ))
    top = float(t["rate"].max() or 0)
    fig.update_xaxes(title_text=_("Rate"), tickformat=".0%", range=[0, max(0.05, top * 1.7)])
    return _layout(fig, title, height=max(220, 48 * len(t) + 90), showlegend=False)
