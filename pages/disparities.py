"""Disparities: who is stopped per resident, who is searched and on what evidence, and what changes
after dark - each with its uncertainty and its limits. Reads the ``analysis_*`` tables that
``python -m pipeline analyze`` writes after each load, through ``queries`` like every page.
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from dashboard import analysis_charts as ac
from dashboard import labels, queries, routing, tables, ui
from dashboard.i18n import _, fmt_date, fmt_datetime, fmt_int, fmt_num, lang
from pipeline.analysis.caveats import LABELS as CAVEAT_LABELS

routing.require_router()

k = queries.small_count()


def _first(df: pd.DataFrame, col: str, default=None):  # noqa: ANN001, ANN202
    return df[col].iloc[0] if len(df) and col in df.columns else default


def _chart(fig, key: str) -> None:  # noqa: ANN001
    ui.chart(fig, None, key=key)


def cannot(detail: object) -> None:
    """'Cannot be computed on this data', with the analysis' own reason (in English only: it is
    written by the pipeline with its numbers; counts of 1..k-1 in it are not shown)."""
    text = _("Cannot be computed on this data.")
    if lang() == "en" and detail:
        scrubbed = re.sub(r"(?<![\d.,])([1-9]\d*)(?![\d.,%])",
                          lambda m: tables.count_text(int(m.group(1)), k) if int(m.group(1)) < k else m.group(1),
                          str(detail))
        text += " " + scrubbed[:1].upper() + scrubbed[1:] + "."
    st.warning(ui.plain(text))


ui.header(_("Disparities by race"),
          _("Three standard checks (stops per resident, searches, veil of darkness), each with a 95% confidence "
            "interval and its limits, then what the data can and cannot say. Computed after each load over "
            "**all loaded stops** (every rate counts stops, never charges), so the sidebar filters do not apply on "
            "this page."), filtered=False)

try:
    res = queries.analysis_results()
except Exception as exc:  # never show driver errors (they may quote the URL)
    st.error(_("The analysis tables could not be read ({error}).").format(error=type(exc).__name__))
    routing.stop_page()
bench, outc, veil, cav = (res[t] for t in ("analysis_benchmark", "analysis_outcome_test",
                                           "analysis_veil_of_darkness", "analysis_caveats"))
if bench.empty and outc.empty and veil.empty:
    st.info(_("The analyses have not been run on this warehouse yet. Run `python -m pipeline analyze` (or the daily "
              "load, which runs it), then reload this page."), icon=":material/hourglass_empty:")
    routing.stop_page()
computed = _first(bench, "computed_at")
if computed is not None and not pd.isna(computed):
    st.caption(_("Computed {when}.").format(when=fmt_datetime(pd.Timestamp(computed))))
sample_note = cav[cav["caveat"] == "bundled_sample"] if len(cav) else cav
if len(sample_note):
    st.warning(_(str(sample_note["text"].iloc[0])), icon=":material/science:")

t_res, t_search, t_dark, t_cav = st.tabs(
    [_("Stops per resident"), _("Searches (outcome test)"), _("Veil of darkness"), _("Data caveats")])

# ---------------------------------------------------------------- population benchmark
with t_res:
    st.header(_("Stops per 1,000 residents per year, by race"))
    if bench.empty or not bool(_first(bench, "ran", False)):
        cannot(_first(bench, "reason", ""))
    else:
        st.info(_(str(_first(bench, "reason", ""))), icon=":material/info:")
        years = sorted(int(y) for y in bench["stop_year"].dropna().unique())
        county = bench[bench["view"] != "all_stops_zip"]
        busiest = county[county["race"] == "ALL"].sort_values("stops").tail(1)["stop_year"]
        default = int(busiest.iloc[0]) if len(busiest) else years[-1]
        year = st.selectbox(_("Year"), years, index=years.index(default), key="disp_year")
        _chart(ac.benchmark_rates(bench, year, k), "disp_rates")
        st.caption(_("Bars: 95% confidence intervals. A hollow marker is unreliable (few stops or few residents)."))
        _chart(ac.benchmark_ratios(bench, year), "disp_ratios")
        t = county[county["stop_year"] == year]
        table = pd.DataFrame({
            "view": t["view"].map(labels.view),
            "race": t["race"].map(labels.race),
            "stops": tables.mask_small(t["stops"], k),
            "share": [ac.fmt_ci(*r, pct=True) for r in t[["stops_share", "stops_share_low", "stops_share_high"]].itertuples(index=False)],
            "residents": t["population"].map(fmt_int),
            "category": t["population_category"].map(labels.census_category),
            "rate": [ac.fmt_ci(*r) for r in t[["rate_per_1000", "rate_low", "rate_high"]].itertuples(index=False)],
            "ratio": [ac.fmt_ci(*r) for r in t[["ratio_vs_white", "ratio_low", "ratio_high"]].itertuples(index=False)],
        })
        with st.expander(_("Table: county rates by race, {year}").format(year=year)):
            ui.table(table, {"view": _("View"), "race": _("Driver race"), "stops": _("Stops"),
                             "share": _("Share of stops (95% CI)"), "residents": _("Residents (census)"),
                             "category": _("Census category"), "rate": _("Per 1,000 residents (95% CI)"),
                             "ratio": _("Times the White rate (95% CI)")})
        st.caption(_("Residents only = stops of drivers whose Driver State is MD and Driver City is a Montgomery County "
                     "place. County denominators: census ACS 2013-2017 table B03002 (non-Hispanic White, Black and "
                     "Asian, Hispanic of any race), which matches the stop data's exclusive categories; OTHER has no "
                     "census counterpart."))

        st.header(_("By ZIP code"))
        st.caption(_("Stops located in the ZIP code (from the stop's coordinates) per 1,000 residents of the county part "
                     "of the ZIP code. ZIP counts by race are race-alone census counts that include Hispanic residents, "
                     "so these are approximate (the White rate most of all) and no ratio to White is given."))
        race = st.selectbox(_("Group"), ["ALL", "BLACK", "WHITE", "HISPANIC", "ASIAN"], format_func=labels.race,
                            key="disp_zip_race")
        _chart(ac.zip_rates(bench, year, race, k), "disp_zip")
        z = bench[(bench["view"] == "all_stops_zip") & (bench["stop_year"] == year) & (bench["race"] == race)]
        with st.expander(_("Table: every ZIP code, {group}, {year} (including unreliable cells)").format(
                group=labels.race(race), year=year)):
            ui.table(pd.DataFrame({
                "zip": z["geography"], "stops": tables.mask_small(z["stops"], k),
                "residents": z["population"].map(fmt_int),
                "rate": [ac.fmt_ci(*r) if not tables.is_small(n, k) else "–"
                         for n, r in zip(z["stops"], z[["rate_per_1000", "rate_low", "rate_high"]].itertuples(index=False))],
            }).sort_values("zip"), {"zip": _("ZIP code"), "stops": _("Stops"), "residents": _("Residents (county part)"),
                                    "rate": _("Per 1,000 residents (95% CI)")})

# ---------------------------------------------------------------- outcome test
with t_search:
    st.header(_("Searches and what they find"))
    st.caption(_("Only discretionary searches count (not 'Incident to Arrest'). If one group's searches find contraband "
                 "less often, officers may be searching that group on weaker evidence. Rates are compared within police "
                 "districts, then combined with the same district weights for every group. A lower hit rate is "
                 "consistent with, not proof of, a lower bar for searching."))
    if outc.empty or not bool(_first(outc, "ran", False)):
        cannot(_first(outc, "reason", ""))
        d = outc[outc["level"] == "district"] if len(outc) else outc
        if len(d):
            with st.expander(_("What the data do hold (search rates by district, 95% CI)")):
                ui.table(pd.DataFrame({
                    "district": d["district"].map(labels.district_short), "race": d["race"].map(labels.race),
                    "stops": tables.mask_small(d["stops"], k),
                    "searches": tables.mask_small(d["discretionary_searches"], k),
                    "rate": [ac.fmt_ci(*r, pct=True) if not tables.is_small(n, k) else "–" for n, r in
                             zip(d["discretionary_searches"], d[["search_rate", "search_rate_low", "search_rate_high"]]
                                 .itertuples(index=False))],
                }), {"district": _("Police district"), "race": _("Driver race"), "stops": _("Stops with search fields"),
                     "searches": _("Discretionary searches"), "rate": _("Search rate (95% CI)")})
    else:
        # The pipeline's own sentence names the groups compared (English); elsewhere a translated summary.
        st.success(ui.plain(str(_first(outc, "reason", ""))) if lang() == "en" else
                   _("Hit rates compared with White over districts with enough discretionary searches per group."))
        _chart(ac.outcome_rates(outc, "hit_rate"), "disp_hit")
        _chart(ac.outcome_rates(outc, "search_rate"), "disp_search")
        w = ac.order_races(outc[outc["level"] == "county_weighted"])
        ui.table(pd.DataFrame({
            "race": w["race"].map(labels.race),
            "hit": [ac.fmt_ci(*r, pct=True) for r in w[["hit_rate", "hit_rate_low", "hit_rate_high"]].itertuples(index=False)],
            "diff": [ac.fmt_ci(*r, pct=True) for r in w[["hit_rate_diff", "hit_rate_diff_low", "hit_rate_diff_high"]].itertuples(index=False)],
            "search": [ac.fmt_ci(*r, pct=True) for r in w[["search_rate", "search_rate_low", "search_rate_high"]].itertuples(index=False)],
            "districts": w["n_districts_hit"],
        }), {"race": _("Driver race"), "hit": _("Hit rate"), "diff": _("Difference from White (points)"),
             "search": _("Search rate"), "districts": _("Districts compared")})

# ---------------------------------------------------------------- veil of darkness
with t_dark:
    st.header(_("Veil of darkness"))
    st.caption(_("After dark it is harder to see a driver's race. Comparing stops at the same clock time on days when it "
                 "is light and days when it is dark (the sun sets at different times over the year), a smaller Black "
                 "share after dark suggests race played a part in daylight stops (Pierson et al. 2020). Black and White "
                 "drivers only; stops between sunset and dusk are left out."))
    if veil.empty or not bool(veil["ran"].astype(bool).any()):
        cannot(_first(veil, "reason", ""))
    else:
        models = {"time": _("clock time"), "time_district": _("clock time and district")}
        for row in veil[veil["ran"].astype(bool)].itertuples(index=False):
            head = _("After dark, the odds that a stopped driver (Black or White) is Black are {ratio} times the "
                     "daylight odds at the same {adj} (95% CI {low} to {high}).").format(
                ratio=fmt_num(row.odds_ratio, 2), adj=models.get(row.model, row.model),
                low=fmt_num(row.or_low, 2), high=fmt_num(row.or_high, 2))
            if row.or_high < 1:
                tail = _("Black drivers are a smaller share of stops when darkness makes race harder to see: evidence "
                         "consistent with racial bias in daylight stop decisions, not proof (street lighting, seasonal "
                         "driving patterns).")
            elif row.or_low > 1:
                tail = _("Black drivers are a larger share of stops after dark: this test finds no sign of daylight bias "
                         "against Black drivers; who drives, where and when may differ after dark.")
            else:
                tail = _("The interval includes 1: no detectable difference between daylight and darkness, so this test "
                         "neither shows nor rules out bias in stop decisions.")
            st.markdown(f"- {head} {tail}")
        _chart(ac.veil_odds_ratios(veil), "disp_veil")
        v = veil.iloc[0]
        st.caption(_("{n} stops between {start} and {end} ({light} in daylight, {dark} after dusk; {dropped} between "
                     "sunset and dusk left out), {first} to {last}. Black share of stops: daylight {share_light}, dark "
                     "{share_dark} (raw shares, not adjusted for clock time).").format(
            n=tables.count_text(v["n"], k), start=v["window_start"], end=v["window_end"],
            light=tables.count_text(v["n_light"], k), dark=tables.count_text(v["n_dark"], k),
            dropped=tables.count_text(v["n_twilight_dropped"], k),
            first=fmt_date(pd.Timestamp(v["date_min"])), last=fmt_date(pd.Timestamp(v["date_max"])),
            share_light=ac.fmt_ci(v["share_black_light"], v["share_black_light_low"], v["share_black_light_high"], pct=True),
            share_dark=ac.fmt_ci(v["share_black_dark"], v["share_black_dark_low"], v["share_black_dark_high"], pct=True)))

# ---------------------------------------------------------------- caveats
with t_cav:
    st.header(_("What these numbers can and cannot say"))
    text = (cav[cav["stop_year"].isna() & cav["numerator"].isna() & (cav["caveat"] != "bundled_sample")]
            if len(cav) else cav)
    for row in text.itertuples(index=False):
        st.markdown("- " + _(str(row.text)))
    if len(cav):
        _chart(ac.caveat_by_year(cav, "race_other", _("Share of stops with race OTHER, by year"), k), "disp_cav_other")
        _chart(ac.caveat_by_year(cav, "no_location", _("Share of stops without a location, by year"), k), "disp_cav_loc")
        allyears = cav[cav["stop_year"].isna() & cav["numerator"].notna()]
        ui.table(pd.DataFrame({
            "measure": allyears["caveat"].map(lambda c: _(CAVEAT_LABELS.get(c, c))),
            "count": [tables.count_text(x, k) if c != "charges_per_stop" else fmt_int(x)
                      for c, x in zip(allyears["caveat"], allyears["numerator"])],
            "of": allyears["denominator"].map(lambda x: tables.count_text(x, k)),
            "share": [(ac.fmt_ci(*r, pct=True) if not tables.is_small(n, k) else "–") if c != "charges_per_stop"
                      else _("{n} per stop").format(n=fmt_num(r[0], 2))
                      for c, n, r in zip(allyears["caveat"], allyears["numerator"],
                                         allyears[["share", "share_low", "share_high"]].itertuples(index=False))],
            "meaning": allyears["text"].map(lambda s: _(str(s))),
        }), {"measure": _("Measure (all years)"), "count": _("Count"), "of": _("Of"), "share": _("Share (95% CI)"),
             "meaning": _("What it means")}, wrap=True)
    st.caption(_("Methods and sources: the page “Data”, section “Sources and methods”, and the file docs/METHODS.md "
                 "(in English) in the project's repository."))
