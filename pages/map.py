"""Map: stops (or stops per 1,000 residents) by ZIP code, with poverty / density overlays."""

import pandas as pd
import streamlit as st

from dashboard import charts, filters, queries, ui

ALL = "All ZIP codes"
BLANK_STYLE = "app/static/blank-style.json"
ONLINE_STYLE = "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json"

f = filters.current()
k = queries.small_count()
ui.header("Map of stops by ZIP code",
          "Where stops happen. Click a ZIP code (or pick one below) to filter every page to it.")

features = queries.county_zctas()
if not features:
    st.error("The ZIP code polygons are missing from data/reference, so the map can't be drawn.")
    st.stop()
valid = {feat["zip5"] for feat in features}

with st.sidebar:
    st.subheader("Map options")
    online = st.toggle("Online basemap (streets from CARTO)", key="map_online",
                       help="Off by default: the map then loads nothing from outside this site.")

c1, c2 = st.columns([1, 1])
metric = c1.radio("Colour ZIP codes by", list(charts.MAP_METRICS), key="map_metric", horizontal=True,
                  format_func=lambda m: charts.MAP_METRICS[m].label)
overlay = c2.radio("Overlay (circles)", list(charts.OVERLAYS), key="map_overlay", horizontal=True,
                   format_func={"none": "None", "poverty": "Poverty rate",
                                "density": "Population density"}.get)
show_grid = st.toggle("Show where stops happened (squares of about 1 km)", key="map_grid",
                      help=f"Squares with fewer than {k} stops are not drawn.")

zips = queries.zip_map(f)
zips = zips[zips["zip5"].isin(valid)].reset_index(drop=True)
if int(zips["stops"].sum()) == 0:
    ui.no_stops()
table = charts.map_table(zips, metric, k)
grid = queries.location_grid(f, 0.01) if show_grid else None
base_path = (st.get_option("server.baseUrlPath") or "").strip("/")
style = ONLINE_STYLE if online else ("/" + (base_path + "/" if base_path else "") + BLANK_STYLE)
deck, legend = charts.zip_choropleth(features, table, metric, overlay, f.zips, style, grid, 0.01)

st.session_state.setdefault("map_n", 0)
map_key = f"zip_map_{st.session_state['map_n']}"


def _from_map(key: str) -> None:
    event = st.session_state.get(key) or {}
    objects = ((event.get("selection") or {}).get("objects") or {}).get("zips") or []
    if objects:
        obj = objects[0]
        z = (obj.get("properties") or {}).get("zip5") or obj.get("zip5")
        if z in valid:
            filters.set_zips([z])
            st.session_state["map_n"] += 1  # a fresh chart: no lingering selection greys the others


def _from_pick() -> None:
    value = st.session_state.get("map_pick")
    filters.set_zips([] if value in (None, ALL) else [value])


left, right = st.columns([3, 2], gap="medium")  # side by side on a desktop, stacked on a phone
with left:
    st.pydeck_chart(deck, on_select=lambda: _from_map(map_key), selection_mode="single-object", key=map_key,
                    height=480, alt="Choropleth map of Montgomery County ZIP codes coloured by "
                    + charts.MAP_METRICS[metric].label.lower())
with right:
    swatches = "".join(
        f"<div style='margin:2px 0'><span style='display:inline-block;width:14px;height:14px;"
        f"background:{item.color};border:1px solid #555;vertical-align:middle;margin-right:6px'></span>"
        f"{item.label}</div>"
        for item in legend
    )
    st.markdown(f"**{charts.MAP_METRICS[metric].label}** (quantile classes){swatches}", unsafe_allow_html=True)
    st.session_state["map_pick"] = f.zips[0] if len(f.zips) == 1 else ALL
    st.selectbox("Or choose a ZIP code (filters every page)", [ALL] + sorted(valid), key="map_pick",
                 on_change=_from_pick)
    if overlay != "none":
        st.caption(charts.overlay_legend(table, overlay))
    if show_grid:
        st.caption(f"Orange squares: where stops happened, in cells of 0.01° (about 1.1 km by 0.9 km); the more "
                   f"stops, the darker. Cells with fewer than {k} stops are not drawn.")

notes = []
if f.zips:
    notes.append("The map shows every ZIP code; the ones in your ZIP filter have a thick outline.")
if metric == "rate" and (f.races or f.genders):
    notes.append("With a race or gender filter the rate divides those drivers' stops by *all* residents.")
notes.append(f"ZIP codes with fewer than {k} stops show no value (small counts), nor do rates for ZIP codes with "
             "fewer than 1,000 county residents (unstable). The rate is over the whole "
             "selected period; only residents of the Montgomery County part of a ZIP code are counted. "
             "ZIP = 2010 census ZCTA, from the stop's coordinates.")
tot = queries.totals(f.without("zips")).iloc[0]
if int(tot["stops_without_zip"]):
    notes.append(f"{int(tot['stops_without_zip']):,} of {int(tot['stops']):,} stops have no usable location and "
                 "are not on the map.")
st.caption(" ".join(notes))
ui.residents_caveat()

shown = pd.DataFrame({
    "ZIP": table["zip5"],
    "stops": table["stops"].where(~table["small_count"]).astype("Int64"),
    "residents (county part)": table["residents_in_county"].round(0).astype("Int64"),
    "stops per 1,000 residents": table["stops_per_1000"].where(~table["small_count"] & ~table["few_residents"]).round(2),
    "poverty rate % (whole ZIP)": (100 * table["poverty_rate"]).round(1),
    "residents per sq mi (whole ZIP)": table["density_per_sqmi"].round(0).astype("Int64"),
    "note": [("fewer than %d stops" % k if s else "") + ("; under 1,000 residents" if r else "")
             for s, r in zip(table["small_count"], table["few_residents"])],
})
with st.expander("Table: the numbers on the map"):
    st.dataframe(shown, hide_index=True, width="stretch")
