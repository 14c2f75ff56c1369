"""Map: stops (or stops per 1,000 residents) by ZIP code, with poverty / density overlays."""

import pandas as pd
import streamlit as st

from dashboard import browser, filters, maps, queries, rates, routing, tables, ui
from dashboard.i18n import _, fmt_int

routing.require_router()

ALL = "all"
ONLINE_STYLE = "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json"

f = filters.current()
k = queries.small_count()
ui.header(_("Map of stops by ZIP code"),
          _("Where stops happen. Click a ZIP code (or pick one below) to filter every page to it."))

features = queries.county_zctas()
if not features:
    st.error(_("The ZIP code polygons are missing from data/reference, so the map can't be drawn."))
    routing.stop_page()
valid = {feat["zip5"] for feat in features}

with st.sidebar:
    st.subheader(_("Map options"))
    online = st.toggle(_("Online basemap (streets from CARTO)"), key="map_online",
                       help=_("Off by default: the map then loads nothing from outside this site."))

c1, c2 = st.columns([1, 1])
metric = c1.radio(_("Colour ZIP codes by"), list(maps.MAP_METRICS), key="map_metric", horizontal=True,
                  format_func=lambda m: _(maps.MAP_METRICS[m].label))
on_top = c2.radio(_("Add to the map"), list(maps.LAYERS_ON_TOP), key="map_overlay", horizontal=True,
                  format_func=lambda o: _(maps.LAYERS_ON_TOP[o]),
                  help=_("One layer at a time: circles for poverty or density, or squares of about 1 km where stops "
                         "happened (squares with fewer than {k} stops are not drawn).").format(k=k))
overlay = on_top if on_top in maps.OVERLAYS else "none"
show_grid = on_top == "grid"

lo, hi = filters.bounds()
per = rates.period(queries.covered_days(), f.date_from or lo, f.date_to or hi)
zmap = queries.zip_map(f)
county_rate = rates.area_rate(zmap, [], per)
zips = rates.with_zip_rates(zmap[zmap["zip5"].isin(valid)].reset_index(drop=True), per)
if int(zips["stops"].sum()) == 0:
    ui.no_stops()
table = tables.map_table(zips, metric, k)
grid = queries.location_grid(f, 0.01) if show_grid else None
# Fit the county to the map's frame: the map takes the left column on a wide screen, the whole
# width on a phone (Streamlit stacks columns under 640 px).
outline = queries.county_outline()
screen = browser.viewport()
map_width = screen["main"] if screen["stacked"] else (screen["main"] - 24) * 3 / 5
lons, lats = maps.features_bounds((outline or {}).get("features") or features)
map_height = maps.map_size(map_width, maps.aspect(lons, lats))
view = maps.fit_view(lons, lats, map_width, map_height)
legend = maps.legend(table, metric, k)

st.session_state.setdefault("map_n", 0)
map_key = f"zip_map_{st.session_state['map_n']}"


def _from_map(key: str) -> None:
    event = (st.session_state.get(key) or {}).get("selection") or {}
    if online:  # the streets view (deck.gl): the picked ZIP polygon's properties
        objects = (event.get("objects") or {}).get("zips") or []
        picked = [(o.get("properties") or {}).get("zip5") or o.get("zip5") for o in objects]
    else:  # the SVG map: the clicked ZIP's number is its customdata (squares and labels are not clickable)
        picked = [p.get("customdata") or p.get("location") for p in event.get("points") or []]
    if picked and picked[0] in valid:
        filters.set_zips([picked[0]])
    st.session_state["map_n"] += 1  # a fresh chart: no lingering selection greys the other ZIP codes


def _from_pick() -> None:
    value = st.session_state.get("map_pick")
    filters.set_zips([] if value in (None, ALL) else [value])


metric_label = _(maps.MAP_METRICS[metric].label)
left, right = st.columns([3, 2], gap="medium")  # side by side on a desktop, stacked on a phone
with left:
    alt = _("Map of Montgomery County ZIP codes coloured by {what}; the same numbers are in the table below the "
            "map.").format(what=metric_label.lower())
    if online:  # WebGL with a streets basemap: only when asked (it costs seconds of CPU without a GPU)
        deck = maps.zip_choropleth(features, table, metric, k, overlay, f.zips, ONLINE_STYLE, grid, 0.01, outline, view)
        st.pydeck_chart(deck, on_select=lambda: _from_map(map_key), selection_mode="single-object", key=map_key,
                        height=map_height, alt=alt)
    else:
        ui.sr_only(alt)
        st.plotly_chart(maps.zip_figure(features, table, metric, overlay, f.zips, view, map_height, k, grid, 0.01,
                                        outline),
                        on_select=lambda: _from_map(map_key), selection_mode="points", key=map_key,
                        config=ui.map_config(), width="stretch")
with right:
    swatches = "".join(
        f"<div style='margin:2px 0'><span style='display:inline-block;width:14px;height:14px;"
        f"background:{item.color};border:1px solid #555;vertical-align:middle;margin-right:6px'></span>"
        f"{ui.plain(item.label)}</div>"
        for item in legend
    )
    classes = _("quantile classes")
    st.markdown(f"**{metric_label}** ({classes}){swatches}", unsafe_allow_html=True)
    st.session_state["map_pick"] = f.zips[0] if len(f.zips) == 1 else ALL
    st.selectbox(_("Or choose a ZIP code (filters every page)"), [ALL] + sorted(valid), key="map_pick",
                 on_change=_from_pick, format_func=lambda z: _("All ZIP codes") if z == ALL else z)
    if overlay != "none":
        st.caption(maps.overlay_legend(table, overlay))
    if show_grid:
        st.caption(_("Orange squares: where stops happened, in cells of 0.01° (about 1.1 km by 0.9 km), cut at the "
                     "county line; the more stops, the darker. Cells with fewer than {k} stops are not drawn. A click "
                     "on a square selects the ZIP code under it.").format(k=k))
    st.caption(_("Black line: the county boundary. Numbers: ZIP codes, where there is room for them; point at "
                 "(or tap) a ZIP code for its number and figures."))

notes = []
if f.zips:
    notes.append(_("The map shows every ZIP code; the ones in your ZIP filter have a thick outline."))
if metric == "rate" and (f.races or f.genders):
    notes.append(_("With a race or gender filter the rate divides those drivers' stops by *all* residents."))
if not f.races and not f.genders and county_rate.value is not None and not tables.is_small(county_rate.stops, k):
    notes.append(_("The county as a whole: {rate} stops per 1,000 residents per year.").format(
        rate=rates.fmt_rate(county_rate.value)))
notes.append(_("ZIP codes with fewer than {k} stops show no value (small counts), nor do rates for ZIP codes with "
               "fewer than 1,000 county residents (unstable). Only residents of the Montgomery County part of a ZIP "
               "code are counted. ZIP code = 2010 census ZCTA, from the stop's coordinates.").format(k=k))
tot = queries.totals(f.without("zips")).iloc[0]
if int(tot["stops_without_zip"]) and not tables.is_small(int(tot["stops_without_zip"]), k):
    notes.append(_("{n} of {total} stops have no usable location and are not on the map.").format(
        n=fmt_int(tot["stops_without_zip"]), total=fmt_int(tot["stops"])))
st.caption(" ".join(notes))
ui.rate_definition(county_rate if not f.races and not f.genders and not tables.is_small(county_rate.stops, k) else None)
ui.residents_caveat()

shown = pd.DataFrame({
    "zip": table["zip5"],
    "stops": tables.mask_small(table["stops"], k),
    "residents": table["residents_in_county"].round(0).astype("Int64"),
    "rate": table[rates.RATE_COLUMN].where(~table["small_count"] & ~table["few_residents"]).round(2),
    "poverty": table["poverty_rate"],
    "density": table["density_per_sqmi"].round(0).astype("Int64"),
    "note": [", ".join(([_("fewer than {k} stops").format(k=k)] if s else [])
                       + ([_("under 1,000 residents")] if r else []))
             for s, r in zip(table["small_count"], table["few_residents"])],
})
ui.on_demand(_("Table: the numbers on the map"), "map_table", lambda: ui.table(
    shown, {"zip": _("ZIP code"), "stops": _("Stops"), "residents": _("Residents (county part)"),
            "rate": _("Stops per 1,000 residents per year"), "poverty": _("Poverty rate (whole ZIP code)"),
            "density": _("Residents per sq mi (whole ZIP code)"), "note": _("Note")},
    percent=("poverty",)))
