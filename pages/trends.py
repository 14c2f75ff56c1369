"""Trends: the same months of two years, monthly lines by year, weekday x hour, what and where changed."""

from functools import partial

import streamlit as st

from dashboard import charts, filters, queries, ui

f = filters.current()
ui.header("Trends", "How the number of stops changes from year to year, month to month and hour to hour.")

monthly_all, cov = queries.gather(partial(queries.monthly, f, ignore=("dates",)), queries.year_coverage)
if monthly_all.empty:
    ui.no_stops()
    st.stop()
years = [int(y) for y in cov["stop_year"]]
if not years:
    ui.no_stops()
    st.stop()
latest = years[-1]
default_a = latest - 1 if latest - 1 in years else (years[-2] if len(years) > 1 else latest)
c1, c2 = st.columns(2)
year_b = c1.selectbox("Year", years[::-1], index=0, key="trend_year_b")
year_a = c2.selectbox("compared with", years[::-1], index=years[::-1].index(default_a), key="trend_year_a")
if year_a == year_b:
    st.info("Pick two different years to compare.")

last_b = cov.loc[cov["stop_year"] == year_b, "last_stop"].iloc[0]
last_a = cov.loc[cov["stop_year"] == year_a, "last_stop"].iloc[0]
cutoff = (last_b.month, last_b.day) if hasattr(last_b, "month") else (12, 31)
period = "the whole year" if cutoff == (12, 31) else f"1 January to {last_b.day} {last_b.strftime('%B')}"

# The rest of the page's queries are independent of each other: run them at once.
total, desc, dist, wh = queries.gather(
    partial(queries.year_compare, f, "none", year_a, year_b, cutoff, 1),
    partial(queries.year_compare, f, "description", year_a, year_b, cutoff, 10),
    partial(queries.year_compare, f, "district", year_a, year_b, cutoff, 20),
    partial(queries.weekday_hour, f),
)
a = int(total["stops_a"].sum()) if not total.empty else 0
b = int(total["stops_b"].sum()) if not total.empty else 0
change = charts.pct_change(b, a)
st.subheader(f"{year_b} vs {year_a}, same months ({period})")
m1, m2, m3 = st.columns(3)
m1.metric(f"Stops in {year_a}", f"{a:,}")
m2.metric(f"Stops in {year_b}", f"{b:,}")
m3.metric("Change", f"{change:+.0%}" if change is not None else "–",
          help="Stops in the same part of each year (1 January to the last day with data in the later year).")
notes = ["The date-range filter does not apply to the year comparisons; the other filters do."]
if hasattr(last_a, "month") and (last_a.month, last_a.day) < cutoff:
    notes.append(f"Careful: the data for {year_a} ends on {filters.fmt_date(last_a)}, before the comparison "
                 "period ends, so that year is incomplete.")
st.caption(" ".join(notes))

ui.chart(charts.yearly_lines(monthly_all, [year_b, year_a]),
         monthly_all.pivot_table(index="stop_month", columns="stop_year", values="stops", fill_value=0)
         .rename_axis(index="month", columns=None).reset_index().rename(columns=str),
         "stops per month and year", key="yearly")

ui.chart(charts.comparison_bars(desc, year_a, year_b, f"Top 10 reasons for stops in {year_b} (most serious charge)"),
         charts.change_table(desc, year_a, year_b), "top charge descriptions, both years", key="desc",
         column_config={"change_pct": st.column_config.NumberColumn("% change", format="percent")})
dist = dist.assign(label=[filters.district_short(x) if x != "(unknown)" else x for x in dist["label"]])
ui.chart(charts.comparison_bars(dist, year_a, year_b, "Stops by police district"),
         charts.change_table(dist, year_a, year_b), "stops by district, both years", key="district",
         column_config={"change_pct": st.column_config.NumberColumn("% change", format="percent")})

st.subheader("When stops happen")
ui.chart(charts.weekday_hour_heatmap(wh), charts.weekday_hour_matrix(wh).rename(columns=lambda h: f"{h:02d}h").reset_index(names="day")
         if not wh.empty else wh,
         "stops by weekday (rows) and hour (columns)", key="heatmap")
st.caption("Uses the date range in the sidebar. Hours are the recorded time of the stop.")
