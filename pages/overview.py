"""Overview: how many stops and charges, per resident, compared with a year earlier, over time."""

from functools import partial

import streamlit as st

from dashboard import charts, filters, queries, rates, routing, tables, ui
from dashboard.i18n import _, fmt_date, fmt_int, fmt_pct, fmt_signed_pct

routing.require_router()

f = filters.current()
k = queries.small_count()
lo, hi = filters.bounds()
ui.header(_("Traffic stops in Montgomery County, MD"),
          _("Montgomery County Police traffic stops, as the county publishes them (the line below says where these "
            "rows came from)."))

d_from, d_to = f.date_from or lo, f.date_to or hi
per_capita_ok = not f.races and not f.genders
prev_from, prev_to = tables.same_period_last_year(d_from, d_to)
compare = (d_to - d_from).days <= 366
# The page's queries are independent of each other: run them at once.
tot_df, zmap, covered, daily_any, daily, monthly = queries.gather(
    partial(queries.totals, f),
    partial(queries.zip_map, f.without("zips")) if per_capita_ok else lambda: None,
    queries.covered_days,
    partial(queries.daily, f, ignore=("dates",)) if compare else lambda: None,
    partial(queries.daily, f),
    partial(queries.monthly, f),
)
tot = tot_df.iloc[0]
stops, charges = int(tot["stops"]), int(tot["charges"])
if stops == 0:
    ui.no_stops()
    routing.stop_page()
small = tables.is_small(stops, k)

area_rate = rates.area_rate(zmap, f.zips, rates.period(covered, d_from, d_to)) if per_capita_ok else None
rate = area_rate.value if area_rate is not None and not tables.is_small(area_rate.stops, k) else None
cmp = (tables.assess(tables.compare_periods(covered, daily_any, (prev_from, prev_to), (d_from, d_to)), k,
                     st.session_state.get("is_sample", False)) if compare else None)

# One plain-language sentence for the current filters.
parts = [_("{where}, {period}: **{stops} stops**").format(
    where=filters.area_text(f.zips), period=filters.period_text(d_from, d_to), stops=tables.count_text(stops, k))]
if not small:
    parts.append(_("({charges} charges)").format(charges=fmt_int(charges)))
if rate is not None:
    parts.append(_("**{rate} stops per 1,000 residents per year**").format(rate=rates.fmt_rate(rate)))
sentence = " ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else "") + "."
if cmp is not None and cmp.change is not None:
    word = _("more") if cmp.change >= 0 else _("fewer")
    sentence += " " + _("That is **{pct} {word}** than on the same days a year earlier ({before} stops).").format(
        pct=fmt_pct(abs(cmp.change), 0), word=word, before=fmt_int(cmp.stops_a))
    if cmp.partial and cmp.first_b and cmp.last_b:
        sentence += " " + _("Compared over the {n} days both periods have data ({first} to {last}).").format(
            n=fmt_int(cmp.matched_days), first=fmt_date(cmp.first_b), last=fmt_date(cmp.last_b))
elif cmp is not None:
    sentence += " " + _("No change from a year earlier is shown: {reason}.").format(reason=cmp.reason)
st.markdown(sentence)

c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Stops"), tables.count_text(stops, k), help=_("A stop is one traffic stop; it can have several charges."))
c2.metric(_("Charges (rows)"), fmt_int(charges) if not small else "–",
          help=_("The source has one row per charge; a stop has one or more charges."))
c3.metric(_("Stops per 1,000 residents per year"), rates.fmt_rate(rate),
          help=_("Stops located in the area's ZIP codes, per 1,000 residents (census {acs}), per year of data. "
                 "Residents are not drivers. The definition is under the figures.").format(acs=rates.ACS_VINTAGE))
c4.metric(_("Change vs a year earlier"), fmt_signed_pct(cmp.change) if cmp is not None and cmp.change is not None else "–",
          help=_("Stops in this date range compared with the same days one year earlier, counting only days that "
                 "both periods have data for (shown for ranges of up to one year, and never on the bundled sample)."))
notes = [_("Stops from {first} to {last} ({days} days with stops).").format(
    first=fmt_date(tot["first_stop"]), last=fmt_date(tot["last_stop"]), days=fmt_int(tot["days_with_stops"]))]
if int(tot["stops_without_zip"]) and not tables.is_small(int(tot["stops_without_zip"]), k):
    notes.append(_("{n} of these stops have no usable location, so no ZIP code; they count in county totals but "
                   "not on the map.").format(n=fmt_int(tot["stops_without_zip"])))
if not compare:
    notes.append(_("Pick a date range of a year or less to compare it with the same days a year earlier."))
if not per_capita_ok:
    notes.append(_("No per-resident rate while a race or gender filter is on: the census counts residents, not "
                   "drivers of a given race or gender, so the ratio would mislead."))
st.caption(" ".join(notes))
if per_capita_ok:
    ui.rate_definition(area_rate if rate is not None else None)
ui.residents_caveat()
ui.small_count_note(k)

counts, unit = tables.period_counts(daily) if not daily.empty else (None, "day")
day_table = (counts.rename("stops").rename_axis("date").reset_index().assign(stops=lambda d: tables.mask_small(d["stops"], k))
             if counts is not None else None)
ui.chart(charts.daily_trend(daily, k), day_table, key="daily",
         labels={"date": _("Week starting") if unit == "week" else _("Date"), "stops": _("Stops")},
         dates={"date": "day"})
if st.session_state.get("is_sample"):
    st.caption(_("On the bundled sample, the peaks and gaps come from how each public copy was drawn (one covers a "
                 "few weeks in full, another a few rows a day for years), not from changes in policing."))
coverage = tables.month_coverage(covered, d_from, d_to)
month_table = tables.month_index(monthly, coverage)
month_table = month_table.assign(stops=tables.mask_small(month_table["stops"], k),
                                 charges=month_table["charges"].where(month_table["stops"].eq(0) | month_table["stops"].ge(k)),
                                 note=[{"partial": _("partial month"), "none": _("no data")}.get(s, "")
                                       for s in month_table["status"]])
ui.chart(charts.monthly_trend(monthly, k, coverage), month_table, key="monthly",
         labels={"month": _("Month"), "stops": _("Stops"), "charges": _("Charges (rows)"), "note": _("Note")},
         dates={"month": "month"})
if coverage["status"].eq("partial").any():
    st.caption(_("Hollow circles: months the data covers only in part (the data or the selected dates begin or end "
                 "inside them), left out of the line so that they don't read as a fall."))
st.caption(_("Stops vs charges: the portal publishes one row per charge. This dashboard counts a stop once (charges "
             "sharing the stop's sequence number, date and time) and labels every number as stops or charges."))
