"""Data: the numbers behind the views (download), data quality, sources and methodology."""

import streamlit as st

from dashboard import charts, filters, queries, ui

f = filters.current()
k = queries.small_count()
ui.header("Data, quality and methods", "The aggregated numbers behind the dashboard, how they were made, and their limits.")

st.subheader("Download the numbers")
dims = {key: label for key, (_, label) in queries.DIMENSIONS.items() if key != "description"}
c1, c2 = st.columns(2)
dim = c1.selectbox("Group stops by", [d for d in dims if d != "none"], format_func=dims.get, key="data_dim")
dim2 = c2.selectbox("and by", list(dims), format_func=lambda d: "(nothing)" if d == "none" else dims[d],
                    key="data_dim2")
table = queries.stops_by(f, dim, dim2, suppress=True)
if table.empty:
    ui.no_stops()
else:
    out = table.drop(columns=["label2"]) if dim2 in ("none", dim) else table
    out = out.rename(columns={"label": dims[dim], "label2": dims[dim2]})
    month_cols = [dims[d] for d in (dim, dim2) if d == "month" and dims[d] in out]
    for col in month_cols:
        out[col] = out[col].str.slice(0, 4) + "-" + out[col].str.slice(4, 6)
    n_supp = int(out["suppressed"].sum())
    st.dataframe(out, hide_index=True, width="stretch",
                 column_config={"suppressed": st.column_config.CheckboxColumn(f"fewer than {k} stops")})
    st.caption(
        f"Counts under {k} stops are suppressed (blank) to protect privacy and avoid unstable numbers"
        + (f": {n_supp} of {len(out)} rows here." if n_supp else ".")
        + " Rows are stops; charges are the source rows of those stops. There is no total row (it would let "
        "suppressed cells be recovered)."
    )
    st.download_button(
        "Download CSV", out.to_csv(index=False).encode("utf-8"),
        file_name=f"moco_traffic_stops_by_{dim}{'_' + dim2 if dim2 not in ('none', dim) else ''}.csv",
        mime="text/csv", icon=":material/download:", key="download_csv",
    )
    st.caption("Filters in effect: " + filters.describe(f, filters.bounds()) + ".")

st.subheader("Data quality")
dq = queries.data_quality()
if not dq.empty:
    den = dq["denominator"].astype("Float64")
    dq = dq.assign(share=dq["value"].astype("Float64") / den.where(den > 0))
    st.dataframe(dq, hide_index=True, width="stretch",
                 column_config={"share": st.column_config.NumberColumn("share", format="percent")})
runs = queries.recent_runs(5)
if not runs.empty:
    last = runs.iloc[0]
    st.markdown(
        f"Last load: **{last['status']}** ({last['command']} from {last['source']}), finished "
        f"{str(last['finished_at'])[:16]} UTC; {charts.fmt_int(last['warehouse_rows'])} charges and "
        f"{charts.fmt_int(last['warehouse_stops'])} stops in the warehouse; newest stop "
        f"{str(last['max_date_of_stop'])[:10]}."
    )
    with st.expander("Recent pipeline runs"):
        st.dataframe(runs.drop(columns=["message"]), hide_index=True, width="stretch")

st.subheader("Sources and methods")
st.markdown(f"""
**Stops.** Montgomery County's open-data portal publishes *Traffic Violations* (dataset `4mse-ku6q`),
one row per **charge**. A **stop** is the set of charges that share the stop's sequence number, date and
time; the dashboard counts stops unless a number is labelled *charges*. A stop's **outcome** is its most
serious charge: Citation > SERO/ESERO (safety equipment repair order) > Warning.

**Race and gender** are as recorded by the officer. Race "OTHER" includes missing values.

**Searches and arrests.** The source has search fields only for some stops (exports from about 2019 on);
rates use the stops that have them as the denominator, never all stops. Arrest = search outcome "Arrest".

**ZIP code.** Each stop's coordinates are placed in a 2010 census ZCTA (the polygons are a simplified
version, so a stop within a few hundred metres of a boundary may get the neighbouring ZIP). Stops
without usable coordinates have no ZIP: they count in county totals, never on the map.

**Residents.** American Community Survey 2015-2019 5-year estimates per census tract. A tract that
spans several ZIP codes is shared among them by land-area weight (each tract's weights sum to 1), so
nobody is counted twice, and only the Montgomery County part of a ZIP counts. Poverty rates
(ACS 2017-2021) and density are for the whole ZIP. Census race categories overlap (race *alone*
includes Hispanic residents; Hispanic is of any race).

**Per-capita rates** divide stops by residents; residents are not the driving population.

**Small counts.** Cells with fewer than {k} stops are suppressed in downloads and not shown on the map
or in rates.

**Updates.** A pipeline loads new and changed rows every day; a banner appears if the last successful
load is more than {queries.stale_after_days():g} days old.
""")
