"""Pure figure builders: DataFrame in, plotly figure or pydeck Deck out (no Streamlit, no SQL).

Accessibility rules applied everywhere:

* colour-blind-safe palettes (Okabe-Ito for categories, cividis for sequential scales);
* never colour alone: series also differ by line dash, marker symbol or bar pattern, and bars carry
  their numbers as text;
* every figure has axis titles that say whether it counts *stops* or *charges*;
* compact margins and horizontal legends above the plot, so charts stay readable at phone width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk

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
PATTERNS = ["", "/", ".", "x", "\\", "+", "-", "|"]
GREY = "#9a9a9a"
# viridis: perceptually uniform, readable with colour-vision deficiency and in greyscale, and (unlike
# cividis, whose middle is grey) clearly different from the grey of "no value".
VIRIDIS_5 = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
NO_DATA_RGBA = [200, 200, 200, 140]

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

BASE_LAYOUT: dict[str, Any] = {
    "margin": {"l": 8, "r": 8, "t": 48, "b": 8},
    # Legend at the bottom of the figure: it may wrap on a phone without running into the title.
    "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "xanchor": "left", "x": 0},
    "hovermode": "closest",
    "font": {"size": 13},
}


def _pattern(shape: str) -> dict[str, Any]:
    """A hatch drawn in white over the bar's own colour (keeps the colour strong and text readable)."""
    if not shape:
        return {"shape": ""}
    return {"shape": shape, "fillmode": "overlay", "fgcolor": "white", "fgopacity": 0.6, "solidity": 0.35}


def _layout(fig: go.Figure, title: str | None = None, **kwargs: Any) -> go.Figure:
    fig.update_layout(**BASE_LAYOUT)
    if title:
        fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "y": 0.98, "yanchor": "top",
                                 "yref": "container", "font": {"size": 15}})
    fig.update_layout(**kwargs)
    return fig


def fmt_int(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    return f"{int(round(float(value))):,}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def fmt_rate(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    return f"{v:,.1f}" if v >= 10 else f"{v:,.2f}"


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=220)


# --------------------------------------------------------------------------------------------
# Trends
# --------------------------------------------------------------------------------------------


def daily_trend(df: pd.DataFrame) -> go.Figure:
    """Stops per day (per week when the range is longer than about a year)."""
    if df.empty:
        return empty_figure("No stops match these filters.")
    d = df.assign(date_of_stop=pd.to_datetime(df["date_of_stop"])).set_index("date_of_stop")["stops"]
    span = (d.index.max() - d.index.min()).days
    if span > 370:
        d = d.resample("W-MON", label="left", closed="left").sum()
        unit, hover = "Stops per week", "Week of %{x|%d %b %Y}: %{y:,} stops<extra></extra>"
    else:
        d = d.resample("D").sum()
        unit, hover = "Stops per day", "%{x|%a %d %b %Y}: %{y:,} stops<extra></extra>"
    fig = go.Figure(go.Bar(x=d.index, y=d.values, name=unit, marker_color=OKABE_ITO["blue"],
                           hovertemplate=hover))
    fig.update_yaxes(title_text=unit + " (a stop has 1+ charges)", rangemode="tozero")
    fig.update_xaxes(title_text=None)
    return _layout(fig, unit, height=320, bargap=0.05, showlegend=False)


def month_index(df: pd.DataFrame) -> pd.DataFrame:
    """Monthly rows with a ``month`` timestamp; months with no stops in the range filled with 0."""
    if df.empty:
        return df.assign(month=pd.Series(dtype="datetime64[ns]"))
    m = df.assign(month=pd.to_datetime({"year": df["stop_year"], "month": df["stop_month"], "day": 1}))
    full = pd.date_range(m["month"].min(), m["month"].max(), freq="MS")
    m = m.set_index("month").reindex(full)
    m.index.name = "month"
    m["stops"] = m["stops"].fillna(0).astype("int64")
    m["charges"] = m["charges"].fillna(0).astype("int64")
    m["stop_year"] = m.index.year
    m["stop_month"] = m.index.month
    return m.reset_index()


def monthly_trend(df: pd.DataFrame) -> go.Figure:
    """Stops and charges per month: two lines that differ by colour, dash and marker."""
    if df.empty:
        return empty_figure("No stops match these filters.")
    m = month_index(df)
    fig = go.Figure()
    for i, (col, label) in enumerate((("stops", "Stops"), ("charges", "Charges (rows)"))):
        fig.add_trace(go.Scatter(
            x=m["month"], y=m[col], name=label, mode="lines+markers",
            line={"color": SERIES[i], "dash": DASHES[i], "width": 2},
            marker={"symbol": SYMBOLS[i], "size": 6},
            hovertemplate="%{x|%b %Y}: %{y:,} " + label.lower() + "<extra></extra>",
        ))
    fig.update_yaxes(title_text="Per month", rangemode="tozero")
    return _layout(fig, "Stops and charges per month", height=340)


def yearly_lines(df: pd.DataFrame, highlight: Sequence[int] = ()) -> go.Figure:
    """One line per year over Jan-Dec; highlighted years coloured, the others thin grey."""
    if df.empty:
        return empty_figure("No stops match these filters.")
    fig = go.Figure()
    years = sorted(df["stop_year"].unique())
    highlight = [y for y in highlight if y in years]
    for year in years:
        y = df[df["stop_year"] == year].set_index("stop_month")["stops"].reindex(range(1, 13))
        if year in highlight:
            i = highlight.index(year)
            style = {"line": {"color": SERIES[i], "dash": DASHES[i], "width": 3},
                     "marker": {"symbol": SYMBOLS[i], "size": 8}, "mode": "lines+markers"}
        else:
            style = {"line": {"color": GREY, "width": 1}, "mode": "lines", "opacity": 0.7}
        fig.add_trace(go.Scatter(
            x=MONTHS, y=y.values, name=str(year), connectgaps=False,
            hovertemplate=f"%{{x}} {year}: %{{y:,}} stops<extra></extra>", **style,
        ))
    fig.update_yaxes(title_text="Stops per month", rangemode="tozero")
    return _layout(fig, "Stops per month, one line per year", height=360)


def weekday_hour_heatmap(df: pd.DataFrame) -> go.Figure:
    """Stops by weekday (rows, Mon first) and hour (columns); cividis; numbers in the hover."""
    if df.empty:
        return empty_figure("No stops with a recorded time match these filters.")
    grid = weekday_hour_matrix(df)
    fig = go.Figure(go.Heatmap(
        z=grid.values, x=[f"{h:02d}" for h in grid.columns], y=WEEKDAYS,
        colorscale="Cividis", colorbar={"title": {"text": "Stops"}, "thickness": 12},
        hovertemplate="%{y} %{x}:00-%{x}:59: %{z:,} stops<extra></extra>", xgap=1, ygap=1,
    ))
    fig.update_yaxes(autorange="reversed", title_text=None)
    fig.update_xaxes(title_text="Hour of day", dtick=3)
    return _layout(fig, "Stops by day of week and hour", height=320)


def weekday_hour_matrix(df: pd.DataFrame) -> pd.DataFrame:
    """7 x 24 counts, rows Mon..Sun (SQL gives 0 = Sunday)."""
    grid = (
        df.assign(row=(df["stop_weekday"].astype(int) + 6) % 7)
        .pivot_table(index="row", columns="stop_hour", values="stops", aggfunc="sum", fill_value=0)
        .reindex(index=range(7), columns=range(24), fill_value=0)
    )
    grid.index = WEEKDAYS
    return grid.astype("int64")


def change_table(df: pd.DataFrame, year_a: int, year_b: int) -> pd.DataFrame:
    """label, stops in A, stops in B, change, % change (None when A is 0)."""
    out = pd.DataFrame({
        "label": df["label"],
        f"{year_a}": df["stops_a"].astype("int64"),
        f"{year_b}": df["stops_b"].astype("int64"),
    })
    out["change"] = out[f"{year_b}"] - out[f"{year_a}"]
    a = out[f"{year_a}"].astype(float)
    out["change_pct"] = np.where(a > 0, (out[f"{year_b}"] - a) / a.where(a > 0), np.nan)
    return out


def comparison_bars(df: pd.DataFrame, year_a: int, year_b: int, title: str, label_width: int = 30) -> go.Figure:
    """Horizontal bars, year A (hatched) vs year B (solid), with counts and change as text."""
    if df.empty:
        return empty_figure("No stops in these years match these filters.")
    t = change_table(df, year_a, year_b).iloc[::-1]
    labels = [_short(x, label_width) for x in t["label"]]
    fig = go.Figure()
    # The focus year (B) is solid blue, the comparison year (A) hatched orange, as in yearly_lines.
    for i, (col, year) in enumerate(((f"{year_a}", year_a), (f"{year_b}", year_b))):
        fig.add_trace(go.Bar(
            y=labels, x=t[col], name=str(year), orientation="h",
            marker={"color": SERIES[1 - i], "pattern": _pattern("/" if i == 0 else "")},
            text=[fmt_int(v) for v in t[col]], textposition="outside", cliponaxis=False,
            customdata=t["label"], hovertemplate="%{customdata}<br>" + str(year) + ": %{x:,} stops<extra></extra>",
        ))
    top = float(max(t[f"{year_a}"].max(), t[f"{year_b}"].max(), 1))
    fig.update_xaxes(title_text="Stops", range=[0, top * 1.25])
    fig.update_yaxes(automargin=True)
    return _layout(fig, title, barmode="group", height=max(260, 58 * len(t) + 80), bargap=0.25)


def _short(text: Any, width: int) -> str:
    s = str(text)
    return s if len(s) <= width else s[: width - 1] + "…"


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------

# Stop race category -> (residents column of queries.residents(), label of the ACS category).
RESIDENT_CATEGORY = {
    "WHITE": ("white_alone", "White alone (incl. Hispanic whites)"),
    "BLACK": ("black_alone", "Black alone (incl. Hispanic Blacks)"),
    "HISPANIC": ("hispanic_any_race", "Hispanic (any race)"),
    "ASIAN": ("asian_alone", "Asian alone"),
    "NATIVE AMERICAN": ("native_alone", "American Indian alone"),
    "OTHER": (None, "no matching ACS category"),
}


def race_share_table(stops: pd.DataFrame, residents: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """Per race: stops, share of stops, residents (ACS category), share of residents.

    ``stops``: label (race), stops. ``residents``: one row from queries.residents().
    Resident shares overlap (race alone includes Hispanics), so they do not add up to 100%.
    """
    total_stops = float(stops["stops"].sum()) if not stops.empty else 0.0
    res = residents.iloc[0] if not residents.empty else pd.Series(dtype=float)
    total_res = float(res.get("residents", 0) or 0)
    rows = []
    for race, (col, acs_label) in RESIDENT_CATEGORY.items():
        n = stops.loc[stops["label"] == race, "stops"].sum() if not stops.empty else 0
        r = float(res.get(col, np.nan)) if col else np.nan
        rows.append({
            "race": race,
            "group": labels.get(race, race),
            "stops": int(n),
            "share_of_stops": n / total_stops if total_stops else np.nan,
            "acs_category": acs_label,
            "residents": r,
            "share_of_residents": r / total_res if total_res and not math.isnan(r) else np.nan,
        })
    return pd.DataFrame(rows)


def share_bars(table: pd.DataFrame, title: str, category_col: str = "group") -> go.Figure:
    """Share of stops (solid) vs share of residents (hatched), per group, with percentages as text."""
    if table.empty or table["stops"].sum() == 0:
        return empty_figure("No stops match these filters.")
    t = table.iloc[::-1]
    fig = go.Figure()
    if "share_of_residents" in t:
        fig.add_trace(go.Bar(
            y=t[category_col], x=t["share_of_residents"].fillna(0), name="Share of residents (ACS)",
            orientation="h", marker={"color": SERIES[1], "pattern": _pattern("/")},
            text=[fmt_pct(v) if not pd.isna(v) else "n/a" for v in t["share_of_residents"]],
            textposition="outside", cliponaxis=False,
            customdata=t.get("acs_category", t[category_col]),
            hovertemplate="%{customdata}: %{x:.1%} of residents<extra></extra>",
        ))
    fig.add_trace(go.Bar(
        y=t[category_col], x=t["share_of_stops"].fillna(0), name="Share of stops", orientation="h",
        marker={"color": SERIES[0]},
        text=[fmt_pct(v) if not pd.isna(v) else "too few" for v in t["share_of_stops"]],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%} of stops<extra></extra>",
    ))
    fig.update_layout(legend={"traceorder": "reversed"})
    top = float(np.nanmax([t["share_of_stops"].max(), t.get("share_of_residents", t["share_of_stops"]).max(), 0.01]))
    fig.update_xaxes(title_text="Share", tickformat=".0%", range=[0, top * 1.3])
    fig = _layout(fig, title, barmode="group", height=max(260, 62 * len(t) + 90), bargap=0.25)
    fig.update_layout(legend={"traceorder": "reversed"})
    return fig


OUTCOME_ORDER = [("warnings", "Warning only"), ("seros", "SERO (repair order)"), ("citations", "Citation")]


def outcome_share_table(df: pd.DataFrame, labels: dict[str, str], min_count: int) -> pd.DataFrame:
    """Per race: stops and the share ending in each outcome; groups under ``min_count`` suppressed."""
    rows = []
    for r in df.itertuples(index=False):
        small = r.stops < min_count
        row = {"race": r.race, "group": labels.get(r.race, r.race), "stops": int(r.stops), "suppressed": small}
        for col, label in OUTCOME_ORDER:
            row[col] = int(getattr(r, col))
            row[f"{col}_share"] = np.nan if small or not r.stops else getattr(r, col) / r.stops
        rows.append(row)
    return pd.DataFrame(rows)


def outcome_bars(table: pd.DataFrame) -> go.Figure:
    """100% stacked bars per race: Warning / SERO / Citation, each with a pattern and its % as text."""
    shown = table[~table["suppressed"]] if not table.empty else table
    if shown.empty:
        return empty_figure("Too few stops to show outcomes for these filters.")
    t = shown.iloc[::-1]
    fig = go.Figure()
    for i, (col, label) in enumerate(OUTCOME_ORDER):
        fig.add_trace(go.Bar(
            y=[f"{g} (n={fmt_int(n)})" for g, n in zip(t["group"], t["stops"])], x=t[f"{col}_share"],
            name=label, orientation="h",
            marker={"color": [SERIES[2], SERIES[1], SERIES[0]][i], "pattern": _pattern(["", ".", "/"][i]),
                    "line": {"color": "white", "width": 1}},
            text=[fmt_pct(v, 0) for v in t[f"{col}_share"]], textposition="inside", insidetextanchor="middle",
            textfont={"color": ["white", "black", "white"][i]},
            hovertemplate="%{y}: %{x:.1%} " + label.lower() + "<extra></extra>",
        ))
    fig.update_xaxes(title_text="Share of stops", tickformat=".0%", range=[0, 1])
    fig = _layout(fig, "What the stop ended in, by driver race", barmode="stack",
                  height=max(260, 52 * len(t) + 100), uniformtext={"minsize": 10, "mode": "hide"})
    fig.update_layout(legend={"traceorder": "normal"})
    return fig


def rate_table(df: pd.DataFrame, labels: dict[str, str], num: str, den: str, min_count: int) -> pd.DataFrame:
    """Per race: numerator, denominator, rate; rate withheld when the denominator is under ``min_count``."""
    out = pd.DataFrame({
        "race": df["race"],
        "group": [labels.get(r, r) for r in df["race"]],
        num: df[num].astype("int64"),
        den: df[den].astype("int64"),
    })
    out["rate"] = np.where(out[den] >= max(min_count, 1), out[num] / out[den].where(out[den] > 0), np.nan)
    out["suppressed"] = out[den] < max(min_count, 1)
    return out


def rate_bars(table: pd.DataFrame, num: str, den: str, title: str, what: str) -> go.Figure:
    """Horizontal bars of a rate with 'x% (n of d)' labels; withheld groups listed in the title note."""
    shown = table[~table["suppressed"]]
    if shown.empty:
        return empty_figure(f"Too few stops with {what} recorded to show a rate.")
    t = shown.iloc[::-1]
    fig = go.Figure(go.Bar(
        y=t["group"], x=t["rate"], orientation="h", marker={"color": SERIES[0]},
        text=[f"{fmt_pct(r)} ({fmt_int(n)} of {fmt_int(d)})" for r, n, d in zip(t["rate"], t[num], t[den])],
        textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    top = float(t["rate"].max() or 0)
    fig.update_xaxes(title_text="Rate", tickformat=".0%", range=[0, max(0.05, top * 1.6)])
    return _layout(fig, title, height=max(220, 48 * len(t) + 90), showlegend=False)


# --------------------------------------------------------------------------------------------
# Map (pydeck)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegendItem:
    color: str  # hex
    label: str


@dataclass(frozen=True)
class MapMetric:
    column: str
    label: str
    fmt: Any


MAP_METRICS = {
    "rate": MapMetric("stops_per_1000", "Stops per 1,000 residents", fmt_rate),
    "stops": MapMetric("stops", "Stops", fmt_int),
}
OVERLAYS = {
    "none": None,
    "poverty": ("poverty_rate", "Poverty rate"),
    "density": ("density_per_sqmi", "Residents per sq mi"),
}


def _hex_to_rgb(hex_colour: str) -> list[int]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


def class_breaks(values: pd.Series, n: int = 5) -> list[float]:
    """Quantile class edges (unique, ascending) for the choropleth."""
    v = pd.Series(values, dtype="float64").dropna()
    if v.empty:
        return []
    edges = sorted(set(np.quantile(v, np.linspace(0, 1, n + 1)).round(6)))
    if len(edges) == 1:
        edges = [edges[0], edges[0]]
    return edges


def classify(value: float, edges: list[float]) -> int:
    if len(edges) < 2:
        return 0
    for i in range(1, len(edges) - 1):
        if value < edges[i]:
            return i - 1
    return len(edges) - 2


def palette_for(edges: list[float]) -> list[str]:
    k = max(len(edges) - 1, 1)
    if k >= len(VIRIDIS_5):
        return VIRIDIS_5
    idx = np.linspace(0, len(VIRIDIS_5) - 1, k).round().astype(int)
    return [VIRIDIS_5[i] for i in idx]


def map_table(zips: pd.DataFrame, metric: str, min_count: int, min_residents: float = 1000) -> pd.DataFrame:
    """The map's numbers per ZIP: stops, residents, rate, overlays, and a flag for suppressed cells.

    A ZIP's value is withheld when it has fewer than ``min_count`` stops (small count); its rate is
    also withheld when fewer than ``min_residents`` county residents live there (unstable ratio).
    """
    t = zips.copy()
    t["small_count"] = (t["stops"] > 0) & (t["stops"] < min_count)
    t["few_residents"] = t["residents_in_county"].fillna(0) < min_residents
    col = MAP_METRICS[metric].column
    t["value"] = t[col].astype("float64").where(~t["small_count"])
    if metric == "rate":
        t.loc[t["few_residents"], "value"] = np.nan
    return t


def zip_choropleth(
    features: Sequence[dict[str, Any]],
    table: pd.DataFrame,
    metric: str,
    overlay: str = "none",
    selected: Sequence[str] = (),
    map_style: str | None = None,
    grid: pd.DataFrame | None = None,
    grid_cell: float = 0.01,
) -> tuple[pdk.Deck, list[LegendItem]]:
    """Choropleth of the county's ZIPs (``features`` from queries.county_zctas) coloured by ``metric``.

    ``table`` comes from :func:`map_table`. Overlay values are drawn as hollow circles whose *area*
    is proportional to the value (a second, colour-free encoding). Selected ZIPs get a thick outline.
    ``grid`` (cell_y, cell_x, stops) adds the binned stop locations as squares.
    """
    m = MAP_METRICS[metric]
    by_zip = table.set_index("zip5")
    eligible = table.loc[table["value"].notna(), "value"]
    edges = class_breaks(eligible)
    colours = palette_for(edges)
    selected_set = set(selected)

    out_features = []
    centroids = []
    for feat in features:
        z = feat["zip5"]
        row = by_zip.loc[z] if z in by_zip.index else None
        value = None if row is None or pd.isna(row["value"]) else float(row["value"])
        if value is None:
            fill = NO_DATA_RGBA
        else:
            fill = _hex_to_rgb(colours[classify(value, edges)]) + [200]
        props = _tooltip_props(z, row, metric)
        props.update({"fill": fill, "line_w": 4 if z in selected_set else 1,
                      "line": [0, 0, 0, 255] if z in selected_set else [60, 60, 60, 200]})
        out_features.append({"type": "Feature", "geometry": feat["geometry"], "properties": props})
        if overlay != "none" and row is not None:
            ov_col = OVERLAYS[overlay][0]
            ov = row[ov_col]
            if not pd.isna(ov):
                centroids.append({**props, "lon": feat["lon"], "lat": feat["lat"], "ov": float(ov)})

    layers = [
        pdk.Layer(
            "GeoJsonLayer", id="zips", data={"type": "FeatureCollection", "features": out_features},
            pickable=True, stroked=True, filled=True, auto_highlight=True,
            get_fill_color="properties.fill", get_line_color="properties.line",
            get_line_width="properties.line_w", line_width_units=pdk.types.String("pixels"),
        )
    ]
    if grid is not None and not grid.empty:
        layers.append(grid_layer(grid, grid_cell))
    if centroids:
        top = max(c["ov"] for c in centroids) or 1.0
        for c in centroids:
            c["radius"] = 2200.0 * math.sqrt(max(c["ov"], 0) / top)  # area proportional to value
        layers.append(pdk.Layer(
            "ScatterplotLayer", id="overlay", data=centroids, pickable=True, stroked=True, filled=True,
            get_position="[lon, lat]", get_radius="radius", radius_units=pdk.types.String("meters"),
            get_fill_color=[255, 255, 255, 60], get_line_color=[213, 94, 0, 255],
            line_width_min_pixels=2,
        ))
    deck = pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(latitude=39.14, longitude=-77.2, zoom=8.5, min_zoom=7, max_zoom=14),
        map_style=map_style,
        map_provider="carto" if map_style and "cartocdn" in map_style else None,
        tooltip={
            "html": "<b>{title}</b><br/>{l1}<br/>{l2}<br/>{l3}<br/>{l4}<br/>{l5}",
            "style": {"fontSize": "13px", "maxWidth": "280px", "whiteSpace": "normal"},
        },
    )
    legend = [LegendItem(colours[i], f"{m.fmt(edges[i])} to {'under ' if i < len(edges) - 2 else ''}{m.fmt(edges[i + 1])}")
              for i in range(len(edges) - 1)]
    legend.append(LegendItem(_rgb_hex(NO_DATA_RGBA), "no value (too few stops"
                             + (" or fewer than 1,000 residents)" if metric == "rate" else ")")))
    return deck, legend


def _rgb_hex(rgba: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgba[:3])


def _tooltip_props(zip5: str, row: pd.Series | None, metric: str) -> dict[str, Any]:
    if row is None:
        return {"zip5": zip5, "title": f"ZIP {zip5}", "l1": "No data", "l2": "", "l3": "", "l4": "", "l5": ""}
    stops = int(row["stops"])
    res = row["residents_in_county"]
    if row["small_count"]:
        l1 = "Fewer than the small-count threshold of stops: not shown"
        l2 = ""
    else:
        l1 = f"{fmt_int(stops)} stops"
        l2 = (f"{fmt_rate(row['stops_per_1000'])} stops per 1,000 residents ({fmt_int(stops)} ÷ {fmt_int(res)})"
              if not row["few_residents"] else "fewer than 1,000 county residents: no rate shown")
    l3 = f"Residents in the county part: {fmt_int(res)}"
    l4 = f"Poverty rate (whole ZIP): {fmt_pct(row['poverty_rate'])}"
    l5 = f"Density (whole ZIP): {fmt_int(row['density_per_sqmi'])} residents per sq mi"
    return {"zip5": zip5, "title": f"ZIP {zip5}", "l1": l1, "l2": l2, "l3": l3, "l4": l4, "l5": l5}


def grid_layer(grid: pd.DataFrame, cell: float) -> pdk.Layer:
    """Binned stop locations as squares (cells under the threshold were left out by the query)."""
    top = float(grid["stops"].max())
    cells = []
    for r in grid.itertuples(index=False):
        y0, x0 = r.cell_y * cell, r.cell_x * cell
        share = math.sqrt(r.stops / top) if top else 0
        cells.append({
            "polygon": [[x0, y0], [x0 + cell, y0], [x0 + cell, y0 + cell], [x0, y0 + cell]],
            "elev": int(r.stops),
            "fill": [213, 94, 0, int(60 + 170 * share)],
            "zip5": "", "title": "Stop locations",
            "l1": f"{int(r.stops):,} stops in this {cell:g}° square", "l2": "", "l3": "", "l4": "", "l5": "",
        })
    return pdk.Layer(
        "PolygonLayer", id="grid", data=cells, pickable=True, stroked=True, filled=True,
        get_polygon="polygon", get_fill_color="fill", get_line_color=[120, 40, 0, 200], line_width_min_pixels=1,
    )


def overlay_legend(table: pd.DataFrame, overlay: str) -> str:
    """Plain-text key for the circle overlay (circle area proportional to the value)."""
    if overlay == "none":
        return ""
    col, label = OVERLAYS[overlay]
    v = table[col].dropna()
    if v.empty:
        return ""
    fmt = fmt_pct if overlay == "poverty" else (lambda x: fmt_int(x) + " per sq mi")
    return (f"Hollow orange circles: {label.lower()} of each ZIP (whole ZCTA); circle area is proportional to it. "
            f"Largest circle = {fmt(v.max())}, median ZIP = {fmt(v.median())}.")


# --------------------------------------------------------------------------------------------
# Helpers for the pages' text
# --------------------------------------------------------------------------------------------


def pct_change(new: float, old: float) -> float | None:
    if not old:
        return None
    return (new - old) / old


def same_period_last_year(date_from: date, date_to: date) -> tuple[date, date]:
    def back(d: date) -> date:
        try:
            return d.replace(year=d.year - 1)
        except ValueError:  # 29 February
            return d.replace(year=d.year - 1, day=28)

    return back(date_from), back(date_to)
