"""Overview: how many stops and charges, per resident, compared with a year earlier, over time."""

from dataclasses import replace
from functools import partial

import streamlit as st

from dashboard import charts, filters, queries, ui

f = filters.current()
lo, hi = filters.bounds()
ui.header("Traffic stops in Montgomery County, MD",
          "Montgomery County Police traffic stops from the county's open-data portal, updated daily.")

d_from, d_to = f.date_from or lo, f.date_to or hi
per_capita_ok = not f.races and not f.genders
prev_from, prev_to = charts.same_period_last_year(d_from, d_to)
compare = (d_to - d_from).days <= 366
# The page's queries are independent of each other: run them at once.
tot_df, residents_df, prev_df, daily, monthly = queries.gather(
    partial(queries.totals, f),
    partial(queries.residents, f.zips) if per_capita_ok else lambda: None,
    partial(queries.totals, replace(f, date_from=prev_from, date_to=prev_to)) if compare else lambda: None,
    partial(queries.daily, f),
    partial(queries.monthly, f),
)
tot = tot_df.iloc[0]
stops, charges = int(tot["stops"]), int(tot["charges"])
if stops == 0:
    ui.no_stops()
    st.stop()

residents = float(residents_df.iloc[0]["residents"]) if per_capita_ok else 0.0
rate = 1000 * stops / residents if residents > 0 else None

prev_stops = change = None
if compare:
    prev_stops = int(prev_df.iloc[0]["stops"])
    change = charts.pct_change(stops, prev_stops)

# One plain-language sentence for the current filters.
where = (("In ZIP " if len(f.zips) == 1 else "In ZIPs ") + ", ".join(f.zips)) if f.zips else "In Montgomery County"
sentence = f"{where} {filters.period_text(d_from, d_to)}: **{stops:,} stops** ({charges:,} charges)"
if rate is not None:
    sentence += f", **{charts.fmt_rate(rate)} per 1,000 residents**"
if change is not None:
    word = "more" if change >= 0 else "fewer"
    sentence += (f", **{abs(change):.0%} {word}** than the same period a year earlier "
                 f"({prev_stops:,} stops, {filters.period_text(prev_from, prev_to)})")
    if prev_from < lo:
        sentence += f" (careful: the data starts on {filters.fmt_date(lo)}, so that period is incomplete)"
elif prev_stops == 0 and compare:
    sentence += ". The data has no stops for the same period a year earlier"
st.markdown(sentence + ".")

c1, c2, c3, c4 = st.columns(4)
c1.metric("Stops", f"{stops:,}", help="A stop is one traffic stop; it can have several charges.")
c2.metric("Charges (rows)", f"{charges:,}",
          help="The source has one row per charge; a stop has one or more charges.")
c3.metric("Stops per 1,000 residents", charts.fmt_rate(rate) if rate is not None else "–",
          help="Stops divided by residents of the area (ACS 2015-2019). Residents are not drivers.")
c4.metric("Change vs a year earlier", f"{change:+.0%}" if change is not None else "–",
          help="Stops in this date range compared with the same dates one year earlier "
               "(shown for ranges of up to one year).")
notes = [f"Stops from {filters.fmt_date(tot['first_stop'])} to {filters.fmt_date(tot['last_stop'])} "
         f"({int(tot['days_with_stops']):,} days with stops)."]
if int(tot["stops_without_zip"]):
    notes.append(f"{int(tot['stops_without_zip']):,} of these stops have no usable location, so no ZIP code; "
                 "they count in county totals but not on the map.")
if (d_to - d_from).days > 366:
    notes.append("Pick a date range of a year or less to compare it with the same dates a year earlier.")
if not per_capita_ok:
    notes.append("No per-resident rate while a race or gender filter is on: the census counts residents, "
                 "not drivers of a given race or gender, so the ratio would mislead.")
st.caption(" ".join(notes))
ui.residents_caveat()

ui.chart(charts.daily_trend(daily), daily.rename(columns={"date_of_stop": "date"}), "stops and charges per day",
         key="daily")
ui.chart(charts.monthly_trend(monthly), charts.month_index(monthly)[["month", "stops", "charges"]],
         "stops and charges per month (months with none are 0)", key="monthly",
         column_config={"month": st.column_config.DateColumn("month", format="YYYY-MM")})
st.caption("Stops vs charges: the portal publishes one row per charge. This dashboard counts a stop once "
           "(charges sharing the stop's sequence number, date and time) and labels every number as stops or charges.")
