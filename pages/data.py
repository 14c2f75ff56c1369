"""Data: the numbers behind the views (download), data quality, the last load, sources and methods."""

import pandas as pd
import streamlit as st

from dashboard import filters, labels, queries, rates, routing, tables, ui
from dashboard.i18n import _, fmt_date, fmt_datetime, fmt_int, fmt_num

routing.require_router()

f = filters.current()
k = queries.small_count()
ui.header(_("Data, quality and methods"),
          _("The aggregated numbers behind the dashboard, how they were made, and their limits."))

st.header(_("Download the numbers"))
dims = {key: _(label) for key, (_sql, label) in queries.DIMENSIONS.items()}
c1, c2 = st.columns(2)
dim = c1.selectbox(_("Group stops by"), [d for d in dims if d != "none"], format_func=dims.get, key="data_dim")
dim2 = c2.selectbox(_("and by"), list(dims), format_func=lambda d: _("(nothing)") if d == "none" else dims[d],
                    key="data_dim2")
table = queries.stops_by(f, dim, dim2, suppress=True)
if table.empty:
    ui.no_stops()
else:
    two = dim2 not in ("none", dim)
    out = pd.DataFrame({
        "label": [labels.dimension_value(dim, v) for v in table["label"]],
        "label2": [labels.dimension_value(dim2, v) for v in table["label2"]],
        "stops": table["stops"].astype("Int64"),
        "charges": table["charges"].astype("Int64"),
        "note": [_("fewer than {k} stops").format(k=k) if s else "" for s in table["suppressed"].astype(bool)],
    })
    columns = {"label": dims[dim], **({"label2": dims[dim2]} if two else {}), "stops": _("Stops"),
               "charges": _("Charges (rows)"), "note": _("Note")}
    n_supp = int(table["suppressed"].sum())
    ui.table(out, columns, key="data_table")
    st.caption(
        _("Counts of fewer than {k} stops are left blank and marked, to protect privacy and avoid unstable numbers"
          ).format(k=k)
        + (_(": {n} of {rows} rows here.").format(n=fmt_int(n_supp), rows=fmt_int(len(out))) if n_supp else ".")
        + " " + _("Rows are stops; charges are the source rows of those stops. There is no total row (it would let "
                  "blank cells be recovered).")
    )
    described = filters.describe(f, filters.bounds())
    st.download_button(
        _("Download CSV"),
        ui.csv_bytes(out, columns, dict([(_("Filters"), described),
                                         (_("Data source"), st.session_state.get(ui.K_PROVENANCE, ""))])),
        file_name=ui.csv_name(f"moco_traffic_stops_by_{dim}" + (f"_{dim2}" if two else ""), f),
        mime="text/csv", icon=":material/download:", key="download_csv",
    )
    st.caption(_("Filters in effect: {filters}. The CSV's last two columns say the same and where the data comes "
                 "from.").format(filters=ui.plain(described)))

st.header(_("Data quality"))
dq = queries.data_quality()
if not dq.empty:
    den = dq["denominator"].astype("Float64")
    dq = dq.assign(share=(dq["value"].astype("Float64") / den.where(den > 0)).where(~dq["value"].between(1, k - 1)),
                   label=dq["measure"].map(labels.quality_measure),
                   value=dq["value"].map(lambda v: tables.count_text(v, k)),
                   denominator=dq["denominator"].map(lambda v: "" if pd.isna(v) else tables.count_text(v, k)))
    ui.table(dq, {"label": _("Measure"), "value": _("Value"), "denominator": _("Out of"), "share": _("Share")},
             percent=("share",), wrap=True)  # a static table: all four columns, even on a phone

st.header(_("Loads"))
prov = queries.provenance()
if prov.last_success_at is None:
    st.markdown(_("No successful load is logged."))
else:
    st.markdown(_("Last successful load: **{when}** ({kind}). Served now: **{charges} charges "
                  "and {stops} stops**, stops from {first} to {last}.").format(
        when=fmt_datetime(prov.last_success_at), kind=labels.run_kind(prov.last_success_command, prov.last_success_source),
        charges=fmt_int(prov.charges), stops=fmt_int(prov.stops),
        first=fmt_date(prov.first_stop), last=fmt_date(prov.last_stop)))
runs = queries.recent_runs(5)
if not runs.empty:
    not_ok = runs[runs["status"] != "success"]
    if len(not_ok) and runs.iloc[0]["status"] != "success":
        st.caption(_("The latest run did not succeed ({status}); the data of the last successful load keeps "
                     "being served.").format(status=labels.run_status(runs.iloc[0]["status"])))
    with st.expander(_("Recent pipeline runs (every status)")):
        ok = runs["status"] == "success"  # a run that did not succeed describes nothing being served
        shown = runs.assign(
            status=runs["status"].map(labels.run_status),
            started_at=runs["started_at"].map(lambda v: "" if pd.isna(v) else fmt_datetime(pd.Timestamp(v))),
            finished_at=runs["finished_at"].map(lambda v: "" if pd.isna(v) else fmt_datetime(pd.Timestamp(v))),
            command=runs["command"].map(labels.run_command),
            source=runs["source"].map(labels.run_source),
            warehouse_rows=[fmt_int(v) if good and not pd.isna(v) else "" for v, good in zip(runs["warehouse_rows"], ok)],
            warehouse_stops=[fmt_int(v) if good and not pd.isna(v) else "" for v, good in zip(runs["warehouse_stops"], ok)],
            max_date_of_stop=[fmt_date(pd.Timestamp(v).date()) if good and not pd.isna(v) else ""
                              for v, good in zip(runs["max_date_of_stop"], ok)],
        )
        ui.table(shown, {"started_at": _("Started"), "finished_at": _("Finished"), "command": _("Command"),
                         "source": _("Source"), "status": _("Status"), "warehouse_rows": _("Charges after the run"),
                         "warehouse_stops": _("Stops after the run"), "max_date_of_stop": _("Newest stop")},
                 key="data_runs")
        st.caption(_("Blank = not recorded, or a run that did not succeed (its counts describe nothing served). What each "
                     "successful load added, corrected and removed: the page 'What changed'."))
    done = runs[runs["status"] == "success"]
    if len(done):  # what the value rules did in the last successful load (docs/METHODS.md, "Value rules")
        last = done.iloc[0]
        older, clipped = (0 if pd.isna(last.get(c)) else int(last[c]) for c in ("rows_restamped_older", "values_clipped"))
        if older:
            st.caption(_("The last successful load read {n} charges that the portal had re-stamped with an older update "
                         "time than the one already loaded; they hold the portal's current values. A charge moved back "
                         "further than the load's look-back window is not read until a reconcile.").format(
                n=tables.count_text(older, k)))
        if clipped:
            st.caption(_("The last successful load shortened {n} over-long text values to their column's width, keeping "
                         "every whole character that fits.").format(n=tables.count_text(clipped, k)))

st.header(_("Sources and methods"))
st.markdown(_("""
**Stops per 1,000 residents per year** (Overview, My ZIP code, Map) = 1,000 × stops ÷ residents ÷ years, where
*stops* are the filtered stops located in a Montgomery County ZIP code, *residents* live in the Montgomery
County part of those ZIP codes (census {acs}), and *years* are the days of the selected dates on which the data
has stops, divided by 365.25. Every page computes it the same way (dashboard/rates.py).

**Census vintages: one per comparison.** Rates per resident and the residents of a ZIP code: {acs} 5-year
estimates. The race comparison of the county (People, Disparities): ACS 2013-2017 table B03002, whose groups
are exclusive like the stop data's (Hispanic of any race; the others not Hispanic). Poverty rates: ACS
2017-2021. Each page names the vintage it uses.

**Reasons for a stop** are the category of the stop's most serious charge: data/reason_rules.csv maps the
county's wording to about a dozen plain categories (the first rule that matches decides; a wording no rule
knows counts as "Other"). On the real samples more than 98% of charges get a category other than "Other". The
county's wording is shown beside the categories in each page's expander, and can be downloaded above.
""").format(acs=rates.ACS_VINTAGE))
st.markdown(_("""
**Stops.** Montgomery County's open-data portal publishes *Traffic Violations* (dataset `4mse-ku6q`),
one row per **charge**. A **stop** is the set of charges that share the stop's sequence number, date and
time; the dashboard counts stops unless a number is labelled *charges*. A stop's **outcome** is its most
serious charge: Citation > SERO/ESERO (safety equipment repair order) > Warning.

**Race and gender** are as recorded by the officer. Race "OTHER" includes missing values.

**Searches and arrests.** The source has search fields only for some stops (exports from about 2019 on);
rates use the stops that have them as the denominator, never all stops. Arrest = search outcome "Arrest".

**ZIP code.** Each stop's coordinates are placed in a 2010 census ZCTA (the polygons are a simplified
version, so a stop within a few hundred metres of a boundary may get the neighbouring ZIP code). Stops
without usable coordinates have no ZIP code: they count in county totals, never on the map.

**Residents.** American Community Survey 2015-2019 5-year estimates per census tract. A tract that
spans several ZIP codes is shared among them by land-area weight (each tract's weights sum to 1), so
nobody is counted twice, and only the Montgomery County part of a ZIP code counts. Poverty rates
(ACS 2017-2021) and density are for the whole ZIP code. Census race categories overlap (race *alone*
includes Hispanic residents; Hispanic is of any race).

**Per-capita rates** divide stops by residents; residents are not the driving population.

**Small counts.** Counts of fewer than {k} stops are shown as "fewer than {k}" on every page, chart and
download, and no share, rate or change is computed from them.

**Comparisons over time** count only the days both periods have data for; no change is shown on the
bundled sample, or when one period has far fewer records per day than the other.

**Updates.** A pipeline loads new and changed rows every day; a banner appears if the last successful
load is more than {days} days old.
""").format(k=k, days=fmt_num(queries.stale_after_days(), 0)))
