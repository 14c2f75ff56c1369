"""Trends: two years compared over the days both cover, monthly lines by year, weekday x hour."""

from datetime import date
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import charts, filters, labels, queries, reasons, routing, tables, ui
from dashboard.i18n import _, fmt_date, fmt_int, fmt_signed_pct, weekday_names

routing.require_router()

f = filters.current()
k = queries.small_count()
ui.header(_("Trends"), _("How the number of stops changes from year to year, month to month and hour to hour."))

monthly_all, cov, covered, daily_any = queries.gather(
    partial(queries.monthly, f, ignore=("dates",)), queries.year_coverage, queries.covered_days,
    partial(queries.daily, f, ignore=("dates",)))
years = [int(y) for y in cov["stop_year"]]
if monthly_all.empty or not years:
    ui.no_stops()
    routing.stop_page()

# Partial years: fewer days with data than the calendar has (a year begun or ended mid-way, or gaps).
partial_years = []
for row in cov.itertuples(index=False):
    days_in_year = (date(int(row.stop_year), 12, 31) - date(int(row.stop_year), 1, 1)).days + 1
    if int(row.days_covered) < days_in_year:
        partial_years.append(_("{year}: {days} of {total} days, {first} to {last}").format(
            year=int(row.stop_year), days=fmt_int(row.days_covered), total=fmt_int(days_in_year),
            first=fmt_date(pd.Timestamp(row.first_stop).date()), last=fmt_date(pd.Timestamp(row.last_stop).date())))

latest = years[-1]
default_a = latest - 1 if latest - 1 in years else (years[-2] if len(years) > 1 else latest)
c1, c2 = st.columns(2)
year_b = c1.selectbox(_("Year"), years[::-1], index=0, key="trend_year_b")
year_a = c2.selectbox(_("compared with"), years[::-1], index=years[::-1].index(default_a), key="trend_year_a")
if year_a == year_b:
    st.info(_("Pick two different years to compare."))
    routing.stop_page()
first, second = sorted((year_a, year_b))
period_a = (date(first, 1, 1), date(first, 12, 31))
period_b = (date(second, 1, 1), date(second, 12, 31))
name_a, name_b = str(first), str(second)

periods = tables.compare_periods(covered, daily_any, period_a, period_b)
cmp = tables.assess(periods, k, st.session_state.get("is_sample", False))
# The rest of the page's queries are independent of each other: run them at once.
reason, desc, dist, wh = queries.gather(
    partial(queries.year_compare, f, "reason", periods["days_a"], periods["days_b"], 20),
    partial(queries.year_compare, f, "description", periods["days_a"], periods["days_b"], 10),
    partial(queries.year_compare, f, "district", periods["days_a"], periods["days_b"], 20),
    partial(queries.weekday_hour, f),
)

if cmp.matched_days == 0:
    st.header(_("{b} vs {a}").format(a=name_a, b=name_b))
    st.info(_("{a} and {b} have no day with data in common, so they can't be compared.").format(a=name_a, b=name_b))
else:
    st.header(_("{b} vs {a}, on the {n} days both years have data").format(a=name_a, b=name_b,
                                                                              n=fmt_int(cmp.matched_days)))
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Stops in {year}").format(year=name_a), tables.count_text(cmp.stops_a, k))
    m2.metric(_("Stops in {year}").format(year=name_b), tables.count_text(cmp.stops_b, k))
    m3.metric(_("Change"), fmt_signed_pct(cmp.change) if cmp.change is not None else "–",
              help=_("Stops on the same days of both years, counting only days that both years have data for."))
    notes = []
    if cmp.partial and cmp.first_b and cmp.last_b:
        notes.append(_("Only days that both years have data for are counted: {n} days between {first} and {last} "
                       "(of {na} days with data in {a} and {nb} in {b}).").format(
            n=fmt_int(cmp.matched_days), first=fmt_date(cmp.first_b), last=fmt_date(cmp.last_b),
            na=fmt_int(cmp.covered_a), a=name_a, nb=fmt_int(cmp.covered_b), b=name_b))
    if cmp.change is None:
        notes.append(_("No change is shown: {reason}.").format(reason=cmp.reason))
    notes.append(_("The date-range filter does not apply to the year comparisons; the other filters do."))
    st.caption(" ".join(notes))
if partial_years:
    st.caption(_("Years with data on fewer days than the calendar (partial or under-recorded): {years}.").format(
        years="; ".join(partial_years)))

year_table = (monthly_all.pivot_table(index="stop_month", columns="stop_year", values="stops", fill_value=0)
              .reindex(range(1, 13), fill_value=0).apply(lambda col: tables.mask_small(col, k)))
year_table = year_table.rename_axis(index="month", columns=None).reset_index().rename(columns=str)
ui.chart(charts.yearly_lines(monthly_all, [second, first], k, tables.month_coverage(covered)), year_table, key="yearly",
         labels={"month": _("Month"), **{str(y): str(y) for y in years}})
if st.session_state.get("is_sample"):
    st.caption(_("On the bundled sample the lines differ because of how each public copy was drawn, not because "
                 "stops changed."))

if cmp.matched_days:
    # A per-row change is printed only when the whole comparison may be (same coverage, no sample).
    change_col = {"change_pct": _("% change")} if cmp.change is not None else {}
    reason_t = tables.change_table(reason, k).assign(label=lambda d: [reasons.label(x) for x in d["label"]])
    ui.chart(charts.comparison_bars(reason_t, name_a, name_b,
                                    _("Reasons for stops in {year} (most serious charge, by category)").format(year=name_b),
                                    k),
             reason_t, key="reason",
             labels={"label": _("Reason for the stop"), "stops_a": name_a, "stops_b": name_b, **change_col},
             percent=("change_pct",))
    with st.expander(_("The county's wording: top 10 most serious charges in {year}").format(year=name_b)):
        desc_t = tables.change_table(desc, k).assign(
            category=lambda d: [reasons.label(reasons.categorise(x)) for x in d["label"]],
            label=lambda d: [labels.placeholder(x) for x in d["label"]])
        ui.table(desc_t, {"label": _("Most serious charge"), "category": _("Reason for the stop"), "stops_a": name_a,
                          "stops_b": name_b, **change_col}, percent=("change_pct",), key="desc")
        st.caption(_("Charges as the county publishes them (in English), and the category each is counted in "
                     "(a wording the categories don't know yet counts as 'Other')."))
    dist_t = tables.change_table(dist, k).assign(label=lambda d: [labels.district_short(x) for x in d["label"]])
    ui.chart(charts.comparison_bars(dist_t, name_a, name_b, _("Stops by police district"), k), dist_t, key="district",
             labels={"label": _("Police district"), "stops_a": name_a, "stops_b": name_b, **change_col},
             percent=("change_pct",))

st.header(_("When stops happen"))
heat = (tables.weekday_hour_matrix(wh, k).set_axis(weekday_names(), axis=0)
        .rename(columns=lambda h: f"{h:02d}h").reset_index(names=_("Day of the week"))) if not wh.empty else wh
ui.chart(charts.weekday_hour_heatmap(wh, k), heat, key="heatmap")
st.caption(_("Uses the date range in the sidebar. Hours are the recorded time of the stop."))
ui.small_count_note(k)
