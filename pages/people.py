"""People: who is stopped compared with who lives here, and what happens after the stop."""

import pandas as pd
import streamlit as st

from dashboard import charts, filters, queries, ui

f = filters.current()
k = queries.small_count()
ui.header("Who is stopped, and what happens next",
          "Drivers' race and gender as recorded by the officer, compared with the residents of the area.")

area = ("ZIP " if len(f.zips) == 1 else "ZIPs ") + ", ".join(f.zips) if f.zips else "Montgomery County"

# --- Race: share of stops vs share of residents ------------------------------------------------
race_stops = queries.stops_by(f, "race", ignore=("races",))
if int(race_stops["stops"].sum()) == 0:
    ui.no_stops()
    st.stop()
res = queries.residents(f.zips)
shares = charts.race_share_table(race_stops, res, filters.RACE_LABELS)
small = shares["stops"] < k
shares.loc[small, "share_of_stops"] = float("nan")
st.subheader(f"Share of stops by race vs share of residents ({area})")
ui.chart(
    charts.share_bars(shares, "Drivers stopped vs residents, by race"),
    shares.assign(stops=shares["stops"].where(~small).astype("Int64"),
                  residents=shares["residents"].round(0).astype("Int64"))
    [["group", "stops", "share_of_stops", "acs_category", "residents", "share_of_residents"]],
    "stops and residents by race", key="race_share",
    column_config={"share_of_stops": st.column_config.NumberColumn("share of stops", format="percent"),
                   "share_of_residents": st.column_config.NumberColumn("share of residents", format="percent")},
)
st.caption(
    "The race filter is not applied here (every group is shown). Residents: ACS 2015-2019 5-year estimates "
    f"for {area} (only its Montgomery County part). **The census categories overlap**: 'White alone' and "
    "'Black alone' include Hispanic residents of that race, and 'Hispanic' is of any race, so residents' shares add "
    "up to more than 100% and don't match the officer-recorded categories one to one. "
    f"Groups with fewer than {k} stops show no share. "
    "Residents are not the driving population: commuters, visitors and through traffic are stopped too, and "
    "not every resident drives. A gap between the two bars is a question, not proof of bias."
)

# --- Gender -----------------------------------------------------------------------------------
gender = queries.stops_by(f, "gender", ignore=("genders",))
total_g = gender["stops"].sum()
g = pd.DataFrame({
    "group": [filters.GENDER_LABELS.get(x, x) for x in gender["label"]],
    "stops": gender["stops"].astype("int64"),
})
g["share_of_stops"] = (g["stops"] / total_g).where(g["stops"] >= k)
st.subheader("Share of stops by gender")
ui.chart(charts.share_bars(g.assign(share_of_residents=float("nan")).drop(columns="share_of_residents"),
                           "Drivers stopped, by gender"),
         g.assign(stops=g["stops"].where(g["stops"] >= k).astype("Int64")), "stops by gender", key="gender_share",
         column_config={"share_of_stops": st.column_config.NumberColumn("share of stops", format="percent")})
st.caption("The gender filter is not applied here. The reference data has no residents-by-sex counts yet, "
           "so there is no residents' bar (about half of the county's residents are women).")

# --- Outcomes by race -------------------------------------------------------------------------
out = queries.outcomes_by_race(f)
st.subheader("What the stop ended in, by race")
otab = charts.outcome_share_table(out, filters.RACE_LABELS, k)
ui.chart(charts.outcome_bars(otab),
         otab.assign(stops=otab["stops"].where(~otab["suppressed"]).astype("Int64"))
         [["group", "stops", "warnings_share", "seros_share", "citations_share"]],
         "outcome shares by race", key="outcomes",
         column_config={c: st.column_config.NumberColumn(c.replace("_share", " (share)"), format="percent")
                        for c in ("warnings_share", "seros_share", "citations_share")})
st.caption("Outcome = the stop's most serious charge: a citation (ticket) outranks a SERO (safety equipment "
           "repair order), which outranks a warning. The outcome filter is not applied here. "
           f"Groups with fewer than {k} stops are not shown.")

# --- Searches, arrests, contraband ------------------------------------------------------------
st.subheader("Searches and arrests")
recorded = int(out["stops_search_recorded"].sum())
total = int(out["stops"].sum())
st.markdown(
    f"Only **{recorded:,} of {total:,} stops** here have the search fields filled in (the portal added them "
    "around 2019); search, arrest and contraband rates use those stops as the denominator."
)
if recorded == 0:
    st.info("None of the stops matching these filters has search information, so no search rates can be shown.")
else:
    search = charts.rate_table(out, filters.RACE_LABELS, "searched", "stops_search_recorded", k)
    arrest = charts.rate_table(out, filters.RACE_LABELS, "arrested", "stops_search_recorded", k)
    hits = charts.rate_table(out, filters.RACE_LABELS, "contraband_found", "searched", k)
    c1, c2 = st.columns(2)
    with c1:
        ui.chart(charts.rate_bars(search, "searched", "stops_search_recorded", "Search rate", "search fields"),
                 search.drop(columns="race"), "search rate by race", key="search_rate",
                 column_config={"rate": st.column_config.NumberColumn("rate", format="percent")})
    with c2:
        ui.chart(charts.rate_bars(arrest, "arrested", "stops_search_recorded", "Arrest rate", "search fields"),
                 arrest.drop(columns="race"), "arrest rate by race", key="arrest_rate",
                 column_config={"rate": st.column_config.NumberColumn("rate", format="percent")})
    ui.chart(charts.rate_bars(hits, "contraband_found", "searched", "Contraband found when searched (hit rate)",
                              "a search"),
             hits.drop(columns="race"), "hit rate by race", key="hit_rate",
             column_config={"rate": st.column_config.NumberColumn("rate", format="percent")})
    st.caption(f"Rates whose denominator is under {k} stops are withheld. An arrest here is a search outcome of "
               "'Arrest' in the source. A lower hit rate for a group can indicate a lower bar for searching it "
               "(the 'outcome test'), but small numbers make these rates noisy.")
