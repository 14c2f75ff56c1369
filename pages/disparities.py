"""Disparities: who is stopped per resident, who is searched and on what evidence, and what changes
after dark - each with its uncertainty and its limits. Reads the ``analysis_*`` tables that
``python -m pipeline analyze`` (pipeline.analysis.run_all) writes after each load.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from pipeline.analysis import figures, read_results
from pipeline.analysis.caveats import LABELS as caveat_labels

from dashboard import filters
from dashboard import queries as _queries

# A deep link straight to this page after a restart must still go through the router (sidebar).
filters.require_router()


def _warehouse():  # noqa: ANN202
    return _queries.warehouse()

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
CANNOT = "Cannot be computed on this data: "


@st.cache_data(ttl=600, show_spinner=False)
def _results(wh_key: str, version: str) -> dict[str, pd.DataFrame]:
    _, wh = _warehouse()
    return read_results(wh)


def _chart(fig, key: str) -> None:  # noqa: ANN001
    st.plotly_chart(fig, config=PLOTLY_CONFIG, key=key, width="stretch")


def _first(df: pd.DataFrame, col: str, default=None):  # noqa: ANN001, ANN202
    return df[col].iloc[0] if len(df) and col in df.columns else default


st.title("Disparities by race")
st.caption(
    "Four standard checks, each with a 95% confidence interval and its limits. Computed after each "
    "load over **all loaded stops** (every rate counts stops, never charges): the sidebar filters do "
    "not apply on this page."
)

key, wh = _warehouse()
try:
    res = _results(key, wh.version())
except Exception as exc:  # never show driver errors (they may quote the URL)
    st.error(f"The analysis tables could not be read ({type(exc).__name__}).")
    st.stop()
bench, outc, veil, cav = (res[t] for t in ("analysis_benchmark", "analysis_outcome_test",
                                           "analysis_veil_of_darkness", "analysis_caveats"))
if bench.empty and outc.empty and veil.empty:
    st.info("The analyses have not been run on this warehouse yet. Run `python -m pipeline analyze` "
            "(or the daily load, which runs it), then reload this page.", icon=":material/hourglass_empty:")
    st.stop()
computed = _first(bench, "computed_at")
if computed is not None and not pd.isna(computed):
    st.caption(f"Computed {pd.Timestamp(computed):%Y-%m-%d %H:%M} UTC.")
sample_note = cav[cav["caveat"] == "bundled_sample"] if len(cav) else cav
if len(sample_note):
    st.warning(sample_note["text"].iloc[0], icon=":material/science:")

t_res, t_search, t_dark, t_cav = st.tabs(
    ["Stops per resident", "Searches (outcome test)", "Veil of darkness", "Data caveats"])

# ---------------------------------------------------------------- population benchmark
with t_res:
    st.subheader("Stops per 1,000 residents, by race")
    if bench.empty or not bool(_first(bench, "ran", False)):
        st.warning(CANNOT + str(_first(bench, "reason", "the benchmark has not been computed")))
    else:
        why = str(_first(bench, "reason", "")).removeprefix("Benchmark, not proof: ")
        st.info(f"**Benchmark, not proof.** {why[:1].upper()}{why[1:]}", icon=":material/info:")
        years = sorted(int(y) for y in bench["stop_year"].dropna().unique())
        county = bench[bench["view"] != "all_stops_zip"]
        busiest = county[county["race"] == "ALL"].sort_values("stops").tail(1)["stop_year"]
        default = int(busiest.iloc[0]) if len(busiest) else years[-1]
        year = st.selectbox("Year", years, index=years.index(default), key="disp_year")
        _chart(figures.benchmark_rates(bench, year), "disp_rates")
        _chart(figures.benchmark_ratios(bench, year), "disp_ratios")
        t = county[county["stop_year"] == year].copy()
        table = pd.DataFrame({
            "View": t["view"].map(figures.VIEW_LABELS),
            "Race": t["race"].map(figures.RACE_LABELS),
            "Stops": t["stops"].astype(int),
            "Share of stops": [figures.fmt_ci(*r, pct=True) for r in t[["stops_share", "stops_share_low", "stops_share_high"]].itertuples(index=False)],
            "Residents (ACS)": t["population"],
            "Census category": t["population_category"],
            "Per 1,000 residents": [figures.fmt_ci(*r) for r in t[["rate_per_1000", "rate_low", "rate_high"]].itertuples(index=False)],
            "x White rate": [figures.fmt_ci(*r) for r in t[["ratio_vs_white", "ratio_low", "ratio_high"]].itertuples(index=False)],
            "Note": t["flag"].fillna(""),
        })
        with st.expander(f"Table: county rates by race, {year}"):
            st.dataframe(table, hide_index=True, width="stretch")
        st.caption(
            "Residents only = stops of drivers whose Driver State is MD and Driver City is a Montgomery County "
            "place. County denominators: ACS 2013-2017 table B03002 (non-Hispanic White/Black/Asian, Hispanic of "
            "any race), which matches the stop data's exclusive categories; OTHER has no census counterpart."
        )

        st.subheader("By ZIP code")
        st.caption(
            "Stops located in the ZIP (from the stop's coordinates) per 1,000 residents of the county part of "
            "the ZIP. ZIP counts by race are race-alone census counts that include Hispanic residents, so "
            "these are approximate (the White rate most of all) and no ratio to White is given."
        )
        race = st.selectbox("Group", ["ALL", "BLACK", "WHITE", "HISPANIC", "ASIAN"],
                            format_func=lambda r: figures.RACE_LABELS[r], key="disp_zip_race")
        _chart(figures.zip_rates(bench, year, race), "disp_zip")
        z = bench[(bench["view"] == "all_stops_zip") & (bench["stop_year"] == year) & (bench["race"] == race)]
        with st.expander(f"Table: every ZIP, {figures.RACE_LABELS[race]}, {year} (including unreliable cells)"):
            st.dataframe(pd.DataFrame({
                "ZIP": z["geography"], "Stops": z["stops"].astype(int),
                "Residents (county part)": z["population"].round(0),
                "Per 1,000 residents": [figures.fmt_ci(*r) for r in z[["rate_per_1000", "rate_low", "rate_high"]].itertuples(index=False)],
                "Note": z["flag"].fillna(""),
            }).sort_values("ZIP"), hide_index=True, width="stretch")

# ---------------------------------------------------------------- outcome test
with t_search:
    st.subheader("Searches and what they find")
    st.caption(
        "Only discretionary searches count (not 'Incident to Arrest'). If one group's searches find "
        "contraband less often, officers may be searching that group on weaker evidence. Rates are "
        "compared within police districts, then combined with the same district weights for every group. "
        "A lower hit rate is consistent with, not proof of, a lower bar for searching."
    )
    if outc.empty or not bool(_first(outc, "ran", False)):
        st.warning(CANNOT + str(_first(outc, "reason", "the outcome test has not been computed")))
        d = outc[outc["level"] == "district"] if len(outc) else outc
        if len(d):
            with st.expander("What the data do hold (search rates by district, 95% CI)"):
                st.dataframe(pd.DataFrame({
                    "District": d["district"], "Race": d["race"].map(figures.RACE_LABELS),
                    "Stops with search fields": d["stops"].astype(int),
                    "Discretionary searches": d["discretionary_searches"].astype(int),
                    "Search rate": [figures.fmt_ci(*r, pct=True) for r in d[["search_rate", "search_rate_low", "search_rate_high"]].itertuples(index=False)],
                    "Note": d["flag"],
                }), hide_index=True, width="stretch")
    else:
        st.success(str(_first(outc, "reason", "")))
        _chart(figures.outcome_rates(outc, "hit_rate"), "disp_hit")
        _chart(figures.outcome_rates(outc, "search_rate"), "disp_search")
        w = figures.order_races(outc[outc["level"] == "county_weighted"])
        st.dataframe(pd.DataFrame({
            "Race": w["race"].map(figures.RACE_LABELS),
            "Hit rate": [figures.fmt_ci(*r, pct=True) for r in w[["hit_rate", "hit_rate_low", "hit_rate_high"]].itertuples(index=False)],
            "Difference from White (points)": [figures.fmt_ci(*r, pct=True) for r in w[["hit_rate_diff", "hit_rate_diff_low", "hit_rate_diff_high"]].itertuples(index=False)],
            "Search rate": [figures.fmt_ci(*r, pct=True) for r in w[["search_rate", "search_rate_low", "search_rate_high"]].itertuples(index=False)],
            "Districts compared": w["n_districts_hit"],
            "Note": w["flag"].fillna(""),
        }), hide_index=True, width="stretch")

# ---------------------------------------------------------------- veil of darkness
with t_dark:
    st.subheader("Veil of darkness")
    st.caption(
        "After dark it is harder to see a driver's race. Comparing stops at the same clock time on days "
        "when it is light and days when it is dark (the sun sets at different times over the year), a "
        "smaller Black share after dark suggests race played a part in daylight stops (Pierson et al. 2020). "
        "Black and White drivers only; stops between sunset and dusk are left out."
    )
    if veil.empty or not bool(veil["ran"].astype(bool).any()):
        st.warning(CANNOT + str(_first(veil, "reason", "the test has not been computed")))
    else:
        for row in veil[veil["ran"].astype(bool)].itertuples(index=False):
            st.markdown(f"- {row.interpretation}")
        _chart(figures.veil_odds_ratios(veil), "disp_veil")
        v = veil.iloc[0]
        st.caption(
            f"{int(v['n']):,} stops between {v['window_start']} and {v['window_end']} "
            f"({int(v['n_light']):,} in daylight, {int(v['n_dark']):,} after dusk; "
            f"{int(v['n_twilight_dropped']):,} between sunset and dusk left out), "
            f"{pd.Timestamp(v['date_min']):%Y-%m-%d} to {pd.Timestamp(v['date_max']):%Y-%m-%d}. "
            f"Black share of stops: daylight {figures.fmt_ci(v['share_black_light'], v['share_black_light_low'], v['share_black_light_high'], pct=True)}, "
            f"dark {figures.fmt_ci(v['share_black_dark'], v['share_black_dark_low'], v['share_black_dark_high'], pct=True)} "
            "(raw shares, not adjusted for clock time)."
        )

# ---------------------------------------------------------------- caveats
with t_cav:
    st.subheader("What these numbers can and cannot say")
    text = cav[cav["stop_year"].isna() & cav["numerator"].isna() & (cav["caveat"] != "bundled_sample")] if len(cav) else cav
    for row in text.itertuples(index=False):
        st.markdown(f"- {row.text}")
    if len(cav):
        _chart(figures.caveat_by_year(cav, "race_other", "Share of stops with race OTHER, by year"), "disp_cav_other")
        _chart(figures.caveat_by_year(cav, "no_location", "Share of stops without a location, by year"), "disp_cav_loc")
        allyears = cav[cav["stop_year"].isna() & cav["numerator"].notna()]
        st.dataframe(pd.DataFrame({
            "Measure (all years)": allyears["caveat"].map(caveat_labels),
            "Count": allyears["numerator"].map(lambda x: f"{x:,.0f}" if not math.isnan(x) else "–"),
            "Of": allyears["denominator"].map(lambda x: f"{x:,.0f}" if not math.isnan(x) else "–"),
            "Share (95% CI)": [figures.fmt_ci(*r, pct=True) if c != "charges_per_stop" else f"{r[0]:.2f} per stop"
                               for c, r in zip(allyears["caveat"], allyears[["share", "share_low", "share_high"]].itertuples(index=False))],
            "What it means": allyears["text"],
        }), hide_index=True, width="stretch")
    st.caption("Methods and sources: docs/METHODS.md in the project repository.")
