"""My ZIP code: how stops in one ZIP code compare with the county, in plain words, ready to print."""

from functools import partial

import pandas as pd
import streamlit as st

from dashboard import browser, charts, filters, labels, maps, queries, rates, reasons, routing, tables, ui
from dashboard.i18n import _, fmt_int, fmt_num, fmt_pct
from pipeline.analysis.stats import poisson_interval

routing.require_router()

k = queries.small_count()
f = filters.current()
features = {feat["zip5"]: feat for feat in queries.county_zctas()}


def _pick() -> None:
    value = st.session_state.get("my_zip_pick")
    filters.set_zips([value] if value else [])


if len(f.zips) > 1:  # this page is about one ZIP code: keep the first, and say so
    filters.request_zips(f.zips[:1], _("This page shows one ZIP code: {zip}, the first of {zips}.").format(
        zip=f.zips[0], zips=", ".join(f.zips)))
ui.header(_("My ZIP code"), _("Stops in one ZIP code compared with the whole county, in plain words."))
chosen = f.zips[0] if len(f.zips) == 1 else None
st.session_state["my_zip_pick"] = chosen
st.selectbox(_("Your ZIP code"), sorted(features), key="my_zip_pick", on_change=_pick, index=None,
             placeholder=_("Pick a ZIP code"))
if chosen is None:
    st.info(_("Pick your ZIP code above (or in the sidebar) to see how stops there compare with the county. "
              "The page address then holds it, so you can share or bookmark it."), icon=":material/home_pin:")
    routing.stop_page()

z = chosen
fz = f  # the sidebar's other filters (dates, race, ...) apply too
county = f.without("zips")
zmap, race_stops, res, outcomes, years, by_reason, charges, grid, cov, covered = queries.gather(
    partial(queries.zip_map, county),
    partial(queries.stops_by, fz, "race", ignore=("races",)),
    partial(queries.residents, [z]),
    partial(queries.outcomes_by_race, fz),
    partial(queries.stops_by, fz, "year", ignore=("dates",)),
    partial(queries.stops_by, fz, "reason", suppress=True),
    partial(queries.stops_by, fz, "description", suppress=True),
    partial(queries.location_grid, fz, 0.005),
    queries.year_coverage,
    queries.covered_days,
)
row = zmap[zmap["zip5"] == z]
stops = int(row["stops"].iloc[0]) if len(row) else 0
residents = float(row["residents_in_county"].iloc[0]) if len(row) and pd.notna(row["residents_in_county"].iloc[0]) else 0.0
lo, hi = filters.bounds()
per = rates.period(covered, f.date_from or lo, f.date_to or hi)
zip_rate, county_rate = rates.area_rate(zmap, [z], per), rates.area_rate(zmap, [], per)
period = filters.period_text(f.date_from, f.date_to, filters.bounds())

# --- The answer in one paragraph ------------------------------------------------------------------
st.header(_("Stops in ZIP {zip}, {period}").format(zip=z, period=period))
if stops == 0:
    st.markdown(_("The data has **no stops** located in ZIP {zip} for these filters.").format(zip=z))
elif tables.is_small(stops, k):
    st.markdown(_("The data has **fewer than {k} stops** located in ZIP {zip} for these filters: too few to say "
                  "more without risking identifying people.").format(k=k, zip=z))
else:
    text = _("Police made **{n} stops** located in ZIP {zip}.").format(n=fmt_int(stops), zip=z)
    if residents >= 1000 and not f.races and not f.genders:
        low, high = poisson_interval(stops)
        rate = zip_rate.value
        text += " " + _("That is **{rate} stops per 1,000 residents per year** (95% interval {low} to {high}), for "
                        "{res} residents of the ZIP code's Montgomery County part.").format(
            rate=rates.fmt_rate(rate), low=rates.fmt_rate(rates.per_1000_per_year(float(low), residents, per.years)),
            high=rates.fmt_rate(rates.per_1000_per_year(float(high), residents, per.years)), res=fmt_int(residents))
        if rate is not None and county_rate.value:
            ratio = rate / county_rate.value
            text += " " + _("The county as a whole has {rate} stops per 1,000 residents per year, so this ZIP code "
                            "has about **{ratio} times** the county's rate.").format(
                rate=rates.fmt_rate(county_rate.value), ratio=fmt_num(ratio, 1))
    elif f.races or f.genders:
        text += " " + _("No per-resident rate while a race or gender filter is on (the census counts residents, "
                        "not drivers of a given race or gender).")
    else:
        text += " " + _("Fewer than 1,000 residents live in its county part, so a per-resident rate would be unstable.")
    st.markdown(text)
if stops and not tables.is_small(stops, k) and residents >= 1000 and not f.races and not f.genders:
    ui.rate_definition(zip_rate)
st.caption(_("Read with care: stops are placed in a ZIP code by where they happened, not where the driver lives. A ZIP "
             "code with a highway or a shopping centre has many stops of people who live elsewhere, and residents "
             "who don't drive are counted. The interval shows how much the rate could move by chance alone."))
if st.session_state.get("is_sample"):
    st.warning(_("These numbers come from the bundled sample, not the county's full record: they show how the "
                 "page works, not how many stops really happened."), icon=":material/science:")

# --- Who is stopped vs who lives there -----------------------------------------------------------
shares = tables.race_share_table(race_stops, res, k)
st.header(_("Who is stopped, and who lives there"))
ui.chart(charts.share_bars(shares, _("Drivers stopped in ZIP {zip} vs its residents, by race").format(zip=z), k),
         shares.assign(residents=shares["residents"].round(0).astype("Int64")), key="zip_race",
         labels={"group": _("Group"), "stops": _("Stops"), "share_of_stops": _("Share of stops"),
                 "acs_category": _("Census category"), "residents": _("Residents"),
                 "share_of_residents": _("Share of residents")},
         percent=("share_of_stops", "share_of_residents"))
st.caption(_("Race as recorded by the officer. Residents: census {acs} 5-year estimates for the ZIP code's "
             "Montgomery County part. By ZIP code the census gives race alone, whose categories overlap ('White "
             "alone' and 'Black alone' include Hispanic residents), so residents' shares add up to more than 100%; "
             "the People page compares the county with the census's exclusive groups. A gap between the bars is a "
             "question, not proof of bias.").format(acs=rates.ACS_VINTAGE))

# --- What happened after the stop ----------------------------------------------------------------
st.header(_("What the stops ended in"))
totals = outcomes[["stops", "warnings", "seros", "citations"]].sum()
if tables.is_small(int(totals["stops"]), k) or int(totals["stops"]) == 0:
    st.markdown(_("Too few stops to describe their outcomes."))
else:
    parts = []
    for col, code in labels.OUTCOME_COLUMNS:
        n = int(totals[col])
        share = _("fewer than {k} stops").format(k=k) if tables.is_small(n, k) else fmt_pct(n / int(totals["stops"]), 0)
        parts.append(f"{labels.outcome(code)}: **{share}**")
    st.markdown("; ".join(parts) + ".")

# --- The trend -----------------------------------------------------------------------------------
st.header(_("Stops per year"))
per_year = pd.DataFrame({"stop_year": pd.to_numeric(years["label"]).astype(int),
                         "stops": years["stops"].astype("int64")}).sort_values("stop_year")
ui.chart(charts.year_bars(per_year, k, _("Stops per year in ZIP {zip}").format(zip=z), tables.year_status(cov)),
         per_year.assign(stops=tables.mask_small(per_year["stops"], k), stop_year=per_year["stop_year"].astype(str)),
         key="zip_years", labels={"stop_year": _("Year"), "stops": _("Stops")})
partial_years = [str(y) for y, status in tables.year_status(cov).items() if status == "partial"]
notes = [_("Years differ in how many days the data covers, so compare years with care.")]
if partial_years:
    notes.append(_("Partial years (fewer days with data than the calendar): {years}.").format(years=", ".join(partial_years)))
if st.session_state.get("is_sample"):
    notes.append(_("On the bundled sample the years differ because of how each public copy was drawn."))
notes.append(_("The Trends page compares two years over the days both have data for."))
st.caption(" ".join(notes))

# --- Top reasons ---------------------------------------------------------------------------------
st.header(_("Most common reasons for a stop"))
top = by_reason.dropna(subset=["stops"]).sort_values("stops", ascending=False).head(5)
if top.empty:
    st.markdown(_("Too few stops to list reasons."))
else:
    ui.table(top.assign(label=[reasons.label(x) for x in top["label"]], stops=top["stops"].astype("Int64")),
             {"label": _("Reason for the stop"), "stops": _("Stops")}, key="zip_reasons",
             wrap=True)  # both columns, even on a phone
    st.caption(_("A stop's reason is the category of its most serious charge. Reasons with fewer than {k} stops are "
                 "not listed.").format(k=k))
    words = charges.dropna(subset=["stops"]).sort_values("stops", ascending=False).head(10)
    with st.expander(_("The county's wording of these charges")):
        ui.table(words.assign(category=[reasons.label(reasons.categorise(x)) for x in words["label"]],
                              label=[labels.placeholder(x) for x in words["label"]], stops=words["stops"].astype("Int64")),
                 {"label": _("Most serious charge"), "category": _("Reason for the stop"), "stops": _("Stops")},
                 key="zip_charges", wrap=True)

# --- Where in the ZIP code -----------------------------------------------------------------------
st.header(_("Where in the ZIP code"))
if z in features:
    inside = grid  # cells of the ZIP's stops (the stops are already filtered to the ZIP)
    ui.sr_only(_("Map of ZIP code {zip}: its outline and orange squares where stops happened.").format(zip=z))
    st.plotly_chart(maps.single_zip_figure(features[z], inside, 0.005, browser.viewport()["main"]), key="zip_where",
                    config=ui.map_config(), width="stretch")
    st.caption(_("Orange squares: where stops happened, in cells of about 550 m, cut at the ZIP code's outline; the "
                 "more stops, the darker. Squares with fewer than {k} stops are not drawn. The outline is simplified, "
                 "so a stop near its edge may belong to the neighbouring ZIP code.").format(k=k))
st.caption(_("To print this page, use your browser's Print command: the sidebar and buttons are left out."))
