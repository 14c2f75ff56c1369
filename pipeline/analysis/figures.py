"""Figure builders for the disparity analyses: result table in, plotly figure out (pure).

Every estimate is drawn with its 95% interval as an error bar; unreliable cells (small counts)
are drawn hollow and named in the hover text. Colours: Okabe-Ito (colour-blind safe), and never
colour alone (markers differ in shape too).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"
GREY = "#9a9a9a"
RACE_ORDER = ["WHITE", "BLACK", "HISPANIC", "ASIAN", "NATIVE AMERICAN", "OTHER"]
RACE_LABELS = {"WHITE": "White", "BLACK": "Black", "HISPANIC": "Hispanic", "ASIAN": "Asian",
               "NATIVE AMERICAN": "Native American", "OTHER": "Other", "ALL": "All drivers"}
VIEW_LABELS = {"all_stops_county": "All stops in the county", "residents_county": "County residents only",
               "all_stops_zip": "Stops located in the ZIP"}
LAYOUT: dict[str, Any] = {
    "margin": {"l": 8, "r": 8, "t": 56, "b": 8},
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
    "font": {"size": 13},
}


def _layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    fig.update_layout(**LAYOUT)
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}}, **kwargs)
    return fig


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height=200)


def _num(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v


def _errors(est: pd.Series, low: pd.Series, high: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    e, lo, hi = (pd.to_numeric(x, errors="coerce").to_numpy(float) for x in (est, low, high))
    return np.clip(hi - e, 0, None), np.clip(e - lo, 0, None)


def order_races(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in the usual race order (White, Black, Hispanic, Asian, Native American, Other, All)."""
    order = {r: i for i, r in enumerate(RACE_ORDER + ["ALL"])}
    return df.assign(_o=df["race"].map(order)).sort_values("_o").drop(columns="_o")


def benchmark_rates(table: pd.DataFrame, year: int, views: tuple[str, ...] = ("all_stops_county", "residents_county")) -> go.Figure:
    """Stops per 1,000 residents by race (one marker series per view), with exact Poisson 95% CIs."""
    t = table[(table["stop_year"] == year) & table["view"].isin(views) & table["rate_per_1000"].notna()
              & (table["race"] != "ALL")]
    if t.empty:
        return empty_figure("No per-resident rate can be computed for this year.")
    fig = go.Figure()
    for i, view in enumerate(views):
        v = order_races(t[t["view"] == view])
        if v.empty:
            continue
        plus, minus = _errors(v["rate_per_1000"], v["rate_low"], v["rate_high"])
        reliable = v["reliable"].astype(bool).to_numpy()
        fig.add_trace(go.Scatter(
            x=[RACE_LABELS.get(r, r) for r in v["race"]], y=v["rate_per_1000"], mode="markers",
            name=VIEW_LABELS.get(view, view),
            marker={"size": 12, "color": [BLUE, ORANGE][i % 2],
                    "line": {"width": 2, "color": [BLUE, ORANGE][i % 2]},
                    # hollow marker = unreliable cell (small count or small population)
                    "symbol": [["circle", "square"][i % 2] + ("" if ok else "-open") for ok in reliable]},
            error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
            customdata=np.stack([v["stops"].to_numpy(float), v["flag"].fillna("").to_numpy(object)], axis=-1),
            hovertemplate="%{x}: %{y:.2f} stops per 1,000 residents (%{customdata[0]:,.0f} stops)"
                          "<br>%{customdata[1]}<extra></extra>",
        ))
    fig.update_yaxes(title_text="Stops per 1,000 residents (95% CI)", rangemode="tozero")
    fig.update_xaxes(title_text="Driver race (as recorded by the officer)")
    return _layout(fig, f"Stops per 1,000 residents, {year} (hollow = unreliable)", height=380,
                   scattermode="group", scattergap=0.6)


def benchmark_ratios(table: pd.DataFrame, year: int) -> go.Figure:
    """Rate relative to White drivers' rate (log scale), with conditional-binomial 95% CIs."""
    t = table[(table["stop_year"] == year) & table["ratio_vs_white"].notna() & (table["race"] != "WHITE")]
    if t.empty:
        return empty_figure("No ratio to the White rate can be computed for this year.")
    fig = go.Figure()
    for i, view in enumerate(("all_stops_county", "residents_county")):
        v = order_races(t[t["view"] == view])
        if v.empty:
            continue
        plus, minus = _errors(v["ratio_vs_white"], v["ratio_low"], v["ratio_high"])
        fig.add_trace(go.Scatter(
            y=[RACE_LABELS.get(r, r) for r in v["race"]], x=v["ratio_vs_white"], mode="markers",
            name=VIEW_LABELS[view], orientation="h",
            marker={"size": 12, "color": [BLUE, ORANGE][i], "symbol": ["circle", "square"][i]},
            error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
            hovertemplate="%{y}: %{x:.2f} x the White rate<extra></extra>",
        ))
    fig.add_vline(x=1.0, line={"color": GREY, "dash": "dash"})
    fig.update_xaxes(type="log", title_text="Stops per resident relative to White residents (95% CI, log scale)")
    return _layout(fig, f"Rate ratio to White, {year}", height=320, scattermode="group", scattergap=0.5)


def zip_rates(table: pd.DataFrame, year: int, race: str, top: int = 25) -> go.Figure:
    """Stops per 1,000 residents of one group by ZIP (in-county residents), highest first.

    Unreliable cells (few stops, few residents) are left out: one tiny ZIP would otherwise squash
    the axis; the page lists them in the table under the chart.
    """
    t = table[(table["view"] == "all_stops_zip") & (table["stop_year"] == year) & (table["race"] == race)
              & table["rate_per_1000"].notna() & table["reliable"].astype(bool)]
    if t.empty:
        return empty_figure("No reliable ZIP-level rate for this choice (too few stops or residents).")
    t = t.sort_values("rate_per_1000", ascending=False).head(top).iloc[::-1]
    plus, minus = _errors(t["rate_per_1000"], t["rate_low"], t["rate_high"])
    reliable = t["reliable"].astype(bool).to_numpy()
    fig = go.Figure(go.Scatter(
        y=t["geography"], x=t["rate_per_1000"], mode="markers",
        marker={"size": 10, "color": BLUE, "symbol": ["circle" if ok else "circle-open" for ok in reliable]},
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.2},
        customdata=np.stack([t["stops"].to_numpy(float), t["flag"].fillna("").to_numpy(object)], axis=-1),
        hovertemplate="ZIP %{y}: %{x:.2f} per 1,000 (%{customdata[0]:,.0f} stops)<br>%{customdata[1]}<extra></extra>",
    ))
    fig.update_xaxes(title_text="Stops per 1,000 residents (95% CI)", rangemode="tozero")
    fig.update_yaxes(type="category")
    label = RACE_LABELS.get(race, race)
    return _layout(fig, f"{label}: stops per 1,000 residents by ZIP, {year} (top {len(t)}, reliable cells)",
                   height=max(300, 22 * len(t) + 110), showlegend=False)


def outcome_rates(table: pd.DataFrame, metric: str = "hit_rate") -> go.Figure:
    """County-wide (district-weighted) search or hit rate by race with 95% CIs."""
    t = order_races(table[(table["level"] == "county_weighted") & table[metric].notna()])
    if t.empty:
        return empty_figure("Cannot be computed on this data.")
    plus, minus = _errors(t[metric], t[f"{metric}_low"], t[f"{metric}_high"])
    what = "Contraband found per discretionary search" if metric == "hit_rate" else "Discretionary searches per stop"
    fig = go.Figure(go.Scatter(
        x=[RACE_LABELS.get(r, r) for r in t["race"]], y=t[metric], mode="markers",
        marker={"size": 12, "color": VERMILLION if metric == "hit_rate" else GREEN},
        error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    ))
    fig.update_yaxes(title_text=f"{what} (95% CI)", tickformat=".0%", rangemode="tozero")
    return _layout(fig, what + ", district-weighted", height=340, showlegend=False)


def veil_odds_ratios(table: pd.DataFrame) -> go.Figure:
    """Odds ratio of a stopped driver being Black, dark vs light, per model, with 95% CI (log scale)."""
    t = table[table["ran"].astype(bool) & table["odds_ratio"].notna()]
    if t.empty:
        return empty_figure("Cannot be computed on this data.")
    labels = {"time": "Adjusted for clock time", "time_district": "Adjusted for clock time and district"}
    plus, minus = _errors(t["odds_ratio"], t["or_low"], t["or_high"])
    fig = go.Figure(go.Scatter(
        y=[labels.get(m, m) for m in t["model"]], x=t["odds_ratio"], mode="markers",
        marker={"size": 12, "color": PURPLE},
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
        hovertemplate="%{y}: odds ratio %{x:.2f}<extra></extra>",
    ))
    fig.add_vline(x=1.0, line={"color": GREY, "dash": "dash"})
    fig.update_xaxes(type="log", title_text="Odds ratio, dark vs daylight (below 1: fewer Black drivers after dark)")
    return _layout(fig, "Veil of darkness: odds that a stopped driver is Black, after dark vs daylight",
                   height=260, showlegend=False)


def caveat_by_year(table: pd.DataFrame, caveat: str, title: str) -> go.Figure:
    """One caveat's share of stops per year with Wilson 95% CIs."""
    t = table[(table["caveat"] == caveat) & table["stop_year"].notna() & table["share"].notna()]
    if t.empty:
        return empty_figure("No data.")
    t = t.sort_values("stop_year")
    plus, minus = _errors(t["share"], t["share_low"], t["share_high"])
    fig = go.Figure(go.Scatter(
        x=t["stop_year"].astype(int).astype(str), y=t["share"], mode="markers",
        marker={"size": 9, "color": BLUE},
        error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.2},
        customdata=np.stack([t["numerator"].to_numpy(float), t["denominator"].to_numpy(float)], axis=-1),
        hovertemplate="%{x}: %{y:.1%} (%{customdata[0]:,.0f} of %{customdata[1]:,.0f} stops)<extra></extra>",
    ))
    fig.update_yaxes(title_text="Share of stops (95% CI)", tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title_text="Year of stop", type="category")
    return _layout(fig, title, height=300, showlegend=False)


def fmt_ci(est: Any, low: Any, high: Any, pct: bool = False, digits: int = 2) -> str:
    """'12.3 (10.1 to 14.6)' or '12.3% (10.1% to 14.6%)'; '–' when the estimate is missing."""
    e, lo, hi = _num(est), _num(low), _num(high)
    if math.isnan(e):
        return "–"
    f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:,.{digits}f}" if math.isfinite(x) else "∞")
    if math.isnan(lo) or math.isnan(hi):
        return f(e)
    return f"{f(e)} ({f(lo)} to {f(hi)})"
