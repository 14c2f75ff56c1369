"""People: who is stopped compared with who lives here, and what happens after the stop."""

import pandas as pd
import streamlit as st

from dashboard import charts, filters, labels, queries, reasons, routing, tables, ui
from dashboard.i18n import _

routing.require_router()

f = filters.current()
k = queries.small_count()
ui.header(_("Who is stopped, and what happens next"),
          _("Drivers' race and gender as recorded by the officer, compared with the residents of the area."))

area = filters.area_text(f.zips)
SHARE_LABELS = {"group": _("Group"), "stops": _("Stops"), "share_of_stops": _("Share of stops"),
                "acs_category": _("Census category"), "residents": _("Residents"),
                "share_of_residents": _("Share of residents")}

# --- Race: share of stops vs share of residents ------------------------------------------------
race_stops = queries.stops_by(f, "race", ignore=("races",))
if int(race_stops["stops"].sum()) == 0:
    ui.no_stops()
    routing.stop_page()
county = queries.county_race_population()
acs_year = int(county["acs_year"].dropna().iloc[0])
vintage = _("ACS {first}-{last} 5-year estimates, table B03002").format(first=acs_year - 4, last=acs_year)
shares = tables.race_share_vs_county(race_stops, county, k)
st.header(_("Share of stops by race ({area}) vs share of the county's residents").format(area=area))
ui.chart(charts.share_bars(shares, _("Drivers stopped vs county residents, by race"), k),
         shares.assign(residents=shares["residents"].round(0).astype("Int64")), key="race_share",
         labels=SHARE_LABELS, percent=("share_of_stops", "share_of_residents"))
st.caption(_(
    "The race filter is not applied here (every group is shown). Residents: Montgomery County's residents, census "
    "{vintage}, in the same exclusive groups as the stop data (Hispanic of any race; the other groups not "
    "Hispanic), as on the Disparities page, so each resident is counted once (residents of some other race or of "
    "two or more races, about 4%, have no matching stop group). The census publishes this table for the "
    "county, not for ZIP codes, so with a ZIP filter the stops of those ZIP codes are compared with the whole "
    "county's residents. 'Other' has no census group. Groups with fewer than {k} stops show no share. Residents "
    "are not the driving population: commuters, visitors and through traffic are stopped too, and not every "
    "resident drives. A gap between the two bars is a question, not proof of bias."
).format(vintage=vintage, k=k))

# --- Gender -----------------------------------------------------------------------------------
gender = queries.stops_by(f, "gender", ignore=("genders",))
total_g = gender["stops"].sum()
g = pd.DataFrame({"group": [labels.gender(x) for x in gender["label"]], "stops": gender["stops"].astype("int64")})
g["share_of_stops"] = (g["stops"] / total_g).where(~g["stops"].between(1, k - 1))
g["stops"] = tables.mask_small(g["stops"], k)
st.header(_("Share of stops by gender"))
ui.chart(charts.share_bars(g, _("Drivers stopped, by gender"), k), g, key="gender_share",
         labels={"group": _("Group"), "stops": _("Stops"), "share_of_stops": _("Share of stops")},
         percent=("share_of_stops",))
st.caption(_("The gender filter is not applied here. The reference data has no residents-by-sex counts yet, so "
             "there is no residents' bar (about half of the county's residents are women)."))

# --- Reasons ---------------------------------------------------------------------------------
# Shares are of all the filtered stops; a reason with 1..k-1 stops shows neither count nor share (as for gender).
by_reason = queries.stops_by(f, "reason").sort_values("stops", ascending=False)
total_r = float(by_reason["stops"].sum())
small_r = by_reason["stops"].between(1, k - 1)
rsn = pd.DataFrame({"group": [reasons.label(x) for x in by_reason["label"]],
                    "stops": tables.mask_small(by_reason["stops"], k),
                    "share_of_stops": (by_reason["stops"] / total_r).where(~small_r) if total_r else float("nan")})
rsn = rsn[~small_r.to_numpy()].reset_index(drop=True)
st.header(_("Why drivers were stopped"))
# The table's share column is named "share": it holds fractions (1.0 = every stop), not counts.
ui.chart(charts.share_bars(rsn, _("Share of stops by reason (category of the most serious charge)"), k),
         rsn.rename(columns={"share_of_stops": "share"}), key="reason_share",
         labels={"group": _("Reason for the stop"), "stops": _("Stops"), "share": _("Share of stops")},
         percent=("share",))
with st.expander(_("The county's wording of the most serious charges")):
    words = queries.stops_by(f, "description", suppress=True).dropna(subset=["stops"])
    words = words.sort_values("stops", ascending=False).head(20)
    ui.table(words.assign(category=[reasons.label(reasons.categorise(x)) for x in words["label"]],
                          label=[labels.placeholder(x) for x in words["label"]], stops=words["stops"].astype("Int64")),
             {"label": _("Most serious charge"), "category": _("Reason for the stop"), "stops": _("Stops")},
             key="people_charges", wrap=True)
st.caption(_("A stop is counted once, under the category of its most serious charge; a wording the categories "
             "don't know yet counts as 'Other' (how the county's wording is sorted: Data, quality and methods). "
             "Reasons with fewer than {k} stops are not shown.").format(k=k))

# --- Outcomes by race -------------------------------------------------------------------------
out = queries.outcomes_by_race(f)
st.header(_("What the stop ended in, by race"))
otab = tables.outcome_share_table(out, k)
ui.chart(charts.outcome_bars(otab), otab, key="outcomes",
         labels={"group": _("Group"), "stops": _("Stops"),
                 **{f"{col}_share": labels.outcome(code) for col, code in labels.OUTCOME_COLUMNS}},
         percent=tuple(f"{col}_share" for col, _code in labels.OUTCOME_COLUMNS))
st.caption(_("Outcome = the stop's most serious charge: a citation (ticket) outranks a repair order (SERO, safety "
             "equipment repair order), which outranks a warning. The outcome filter is not applied here. Groups with "
             "fewer than {k} stops, and shares that would reveal fewer than {k} stops, are not shown.").format(k=k))

# --- Searches, arrests, contraband ------------------------------------------------------------
st.header(_("Searches and arrests"))
recorded = int(out["stops_search_recorded"].sum())
total = int(out["stops"].sum())
st.markdown(_("Only **{recorded} of {total} stops** here have the search fields filled in (the portal added them "
              "around 2019); search, arrest and contraband rates use those stops as the denominator.").format(
    recorded=tables.count_text(recorded, k), total=tables.count_text(total, k)))
if recorded == 0:
    st.info(_("None of the stops matching these filters has search information, so no search rates can be shown."))
else:
    search = tables.rate_table(out, "searched", "stops_search_recorded", k)
    arrest = tables.rate_table(out, "arrested", "stops_search_recorded", k)
    hits = tables.rate_table(out, "contraband_found", "searched", k)
    rate_labels = {"group": _("Group"), "rate": _("Rate")}
    too_few = _("Too few stops with search information to show a rate.")
    c1, c2 = st.columns(2)
    with c1:
        ui.chart(charts.rate_bars(search, "searched", "stops_search_recorded", _("Search rate"), too_few), search,
                 key="search_rate", labels={**rate_labels, "searched": _("Searched"),
                                            "stops_search_recorded": _("Stops with search fields")}, percent=("rate",))
    with c2:
        ui.chart(charts.rate_bars(arrest, "arrested", "stops_search_recorded", _("Arrest rate"), too_few), arrest,
                 key="arrest_rate", labels={**rate_labels, "arrested": _("Arrested"),
                                            "stops_search_recorded": _("Stops with search fields")}, percent=("rate",))
    ui.chart(charts.rate_bars(hits, "contraband_found", "searched", _("Contraband found when searched (hit rate)"),
                              _("Too few searches to show a rate.")), hits,
             key="hit_rate", labels={**rate_labels, "contraband_found": _("Contraband found"), "searched": _("Searched")},
             percent=("rate",))
    st.caption(_("A rate is withheld when its denominator or its numerator is fewer than {k} stops. An arrest here is "
                 "a search outcome of 'Arrest' in the source. A lower hit rate for a group can indicate a lower bar "
                 "for searching it (the 'outcome test'), but small numbers make these rates noisy.").format(k=k))
ui.small_count_note(k)
