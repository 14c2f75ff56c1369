"""Figure builders for the Disparities page: analysis result table in, plotly figure out (pure).

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

from . import labels, tables
from .charts import _layout, empty_figure
from .i18n import _, fmt_num, fmt_pct

BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"
GREY = "#9a9a9a"


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
    order = {r: i for i, r in enumerate(labels.RACE_ORDER + ["ALL"])}
    return df.assign(_o=df["race"].map(order)).sort_values("_o").drop(columns="_o")


def benchmark_rates(table: pd.DataFrame, year: int, k: int,
                    views: tuple[str, ...] = ("all_stops_county", "residents_county")) -> go.Figure:
    """Stops per 1,000 residents by race (one marker series per view), with exact Poisson 95% CIs."""
    t = table[(table["stop_year"] == year) & table["view"].isin(views) & table["rate_per_1000"].notna()
              & (table["race"] != "ALL")]
    if t.empty:
        return empty_figure(_("No per-resident rate can be computed for this year."))
    fig = go.Figure()
    for i, view in enumerate(views):
        v = order_races(t[t["view"] == view])
        if v.empty:
            continue
        plus, minus = _errors(v["rate_per_1000"], v["rate_low"], v["rate_high"])
        reliable = v["reliable"].astype(bool).to_numpy()
        fig.add_trace(go.Scatter(
            x=[labels.race(r) for r in v["race"]], y=v["rate_per_1000"], mode="markers",
            name=labels.view(view),
            marker={"size": 12, "color": [BLUE, ORANGE][i % 2],
                    "line": {"width": 2, "color": [BLUE, ORANGE][i % 2]},
                    # hollow marker = unreliable cell (small count or small population)
                    "symbol": [["circle", "square"][i % 2] + ("" if ok else "-open") for ok in reliable]},
            error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
            hovertext=[_("{race}: {rate} stops per 1,000 residents ({n} stops)").format(
                race=labels.race(r), rate=fmt_num(x, 2), n=tables.count_text(n, k))
                for r, x, n in zip(v["race"], v["rate_per_1000"], v["stops"])],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
    fig.update_yaxes(title_text=_("Stops per 1,000 residents per year (95% CI)"), rangemode="tozero")
    fig.update_xaxes(title_text=_("Driver race (as recorded by the officer)"))
    return _layout(fig, _("Stops per 1,000 residents, {year}").format(year=year), height=380,
                   scattermode="group", scattergap=0.6)


def benchmark_ratios(table: pd.DataFrame, year: int) -> go.Figure:
    """Rate relative to White drivers' rate (log scale), with conditional-binomial 95% CIs."""
    t = table[(table["stop_year"] == year) & table["ratio_vs_white"].notna() & (table["race"] != "WHITE")]
    if t.empty:
        return empty_figure(_("No ratio to the White rate can be computed for this year."))
    fig = go.Figure()
    for i, view in enumerate(("all_stops_county", "residents_county")):
        v = order_races(t[t["view"] == view])
        if v.empty:
            continue
        plus, minus = _errors(v["ratio_vs_white"], v["ratio_low"], v["ratio_high"])
        fig.add_trace(go.Scatter(
            y=[labels.race(r) for r in v["race"]], x=v["ratio_vs_white"], mode="markers",
            name=labels.view(view), orientation="h",
            marker={"size": 12, "color": [BLUE, ORANGE][i], "symbol": ["circle", "square"][i]},
            error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
            hovertext=[_("{race}: {ratio} times the White rate").format(race=labels.race(r), ratio=fmt_num(x, 2))
                       for r, x in zip(v["race"], v["ratio_vs_white"])],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
    fig.add_vline(x=1.0, line={"color": GREY, "dash": "dash"})
    fig.update_xaxes(type="log", title_text=_("Stops per resident relative to White residents (95% CI, log scale)"))
    return _layout(fig, _("Rate ratio to White, {year}").format(year=year), height=320, scattermode="group",
                   scattergap=0.5)


def zip_rates(table: pd.DataFrame, year: int, race: str, k: int, top: int = 25) -> go.Figure:
    """Stops per 1,000 residents of one group by ZIP (in-county residents), highest first.

    Unreliable cells (few stops, few residents) are left out: one tiny ZIP would otherwise squash
    the axis; the page lists them in the table under the chart.
    """
    t = table[(table["view"] == "all_stops_zip") & (table["stop_year"] == year) & (table["race"] == race)
              & table["rate_per_1000"].notna() & table["reliable"].astype(bool)]
    if t.empty:
        return empty_figure(_("No reliable ZIP-level rate for this choice (too few stops or residents)."))
    t = t.sort_values("rate_per_1000", ascending=False).head(top).iloc[::-1]
    plus, minus = _errors(t["rate_per_1000"], t["rate_low"], t["rate_high"])
    reliable = t["reliable"].astype(bool).to_numpy()
    fig = go.Figure(go.Scatter(
        y=t["geography"], x=t["rate_per_1000"], mode="markers",
        marker={"size": 10, "color": BLUE, "symbol": ["circle" if ok else "circle-open" for ok in reliable]},
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.2},
        hovertext=[_("ZIP {zip}: {rate} per 1,000 ({n} stops)").format(zip=z, rate=fmt_num(x, 2), n=tables.count_text(n, k))
                   for z, x, n in zip(t["geography"], t["rate_per_1000"], t["stops"])],
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.update_xaxes(title_text=_("Stops per 1,000 residents per year (95% CI)"), rangemode="tozero")
    fig.update_yaxes(type="category")
    return _layout(fig, _("{group}: stops per 1,000 residents by ZIP code, {year} (top {n}, reliable cells)").format(
        group=labels.race(race), year=year, n=len(t)), height=max(300, 22 * len(t) + 110), showlegend=False)


def outcome_rates(table: pd.DataFrame, metric: str = "hit_rate") -> go.Figure:
    """County-wide (district-weighted) search or hit rate by race with 95% CIs."""
    t = order_races(table[(table["level"] == "county_weighted") & table[metric].notna()])
    if t.empty:
        return empty_figure(_("Cannot be computed on this data."))
    plus, minus = _errors(t[metric], t[f"{metric}_low"], t[f"{metric}_high"])
    what = _("Contraband found per discretionary search") if metric == "hit_rate" else _("Discretionary searches per stop")
    fig = go.Figure(go.Scatter(
        x=[labels.race(r) for r in t["race"]], y=t[metric], mode="markers",
        marker={"size": 12, "color": VERMILLION if metric == "hit_rate" else GREEN},
        error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
        hovertext=[f"{labels.race(r)}: {fmt_pct(x)}" for r, x in zip(t["race"], t[metric])],
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.update_yaxes(title_text=_("{what} (95% CI)").format(what=what), tickformat=".0%", rangemode="tozero")
    return _layout(fig, _("{what}, district-weighted").format(what=what), height=340, showlegend=False)


def veil_odds_ratios(table: pd.DataFrame) -> go.Figure:
    """Odds ratio of a stopped driver being Black, dark vs light, per model, with 95% CI (log scale)."""
    t = table[table["ran"].astype(bool) & table["odds_ratio"].notna()]
    if t.empty:
        return empty_figure(_("Cannot be computed on this data."))
    models = {"time": _("Adjusted for clock time"), "time_district": _("Adjusted for clock time and district")}
    plus, minus = _errors(t["odds_ratio"], t["or_low"], t["or_high"])
    fig = go.Figure(go.Scatter(
        y=[models.get(m, m) for m in t["model"]], x=t["odds_ratio"], mode="markers",
        marker={"size": 12, "color": PURPLE},
        error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5},
        hovertext=[_("{model}: odds ratio {x}").format(model=models.get(m, m), x=fmt_num(x, 2))
                   for m, x in zip(t["model"], t["odds_ratio"])],
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.add_vline(x=1.0, line={"color": GREY, "dash": "dash"})
    fig.update_xaxes(type="log", title_text=_("Odds ratio, dark vs daylight (below 1: fewer Black drivers after dark)"))
    return _layout(fig, _("Veil of darkness: odds that a stopped driver is Black, after dark vs daylight"),
                   height=260, showlegend=False)


def caveat_by_year(table: pd.DataFrame, caveat: str, title: str, k: int) -> go.Figure:
    """One caveat's share of stops per year with Wilson 95% CIs."""
    t = table[(table["caveat"] == caveat) & table["stop_year"].notna() & table["share"].notna()]
    if t.empty:
        return empty_figure(_("No data."))
    t = t.sort_values("stop_year")
    plus, minus = _errors(t["share"], t["share_low"], t["share_high"])
    fig = go.Figure(go.Scatter(
        x=t["stop_year"].astype(int).astype(str), y=t["share"], mode="markers",
        marker={"size": 9, "color": BLUE},
        error_y={"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.2},
        hovertext=[_("{year}: {share} ({n} of {d} stops)").format(
            year=int(y), share=fmt_pct(s), n=tables.count_text(n, k), d=tables.count_text(d, k))
            for y, s, n, d in zip(t["stop_year"], t["share"], t["numerator"], t["denominator"])],
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.update_yaxes(title_text=_("Share of stops (95% CI)"), tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(title_text=_("Year of stop"), type="category")
    return _layout(fig, title, height=300, showlegend=False)


def fmt_ci(est: Any, low: Any, high: Any, pct: bool = False, digits: int = 2) -> str:
    """'12.3 (10.1 to 14.6)' or '12.3% (10.1% to 14.6%)'; '–' when the estimate is missing."""
    e, lo, hi = _num(est), _num(low), _num(high)
    if math.isnan(e):
        return "–"
    f = (lambda x: fmt_pct(x)) if pct else (lambda x: fmt_num(x, digits) if math.isfinite(x) else "∞")
    if math.isnan(lo) or math.isnan(hi):
        return f(e)
    return _("{est} ({low} to {high})").format(est=f(e), low=f(lo), high=f(hi))
