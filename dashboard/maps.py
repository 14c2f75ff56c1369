"""Pure pydeck map builders: the ZIP choropleth, its legend, the stop-location grid (no Streamlit, no SQL).

Offline the map has no basemap, so it draws its own landmarks: the county outline and every ZIP
code's number at its interior point. ``table`` arguments come from :func:`tables.map_table`, so a
ZIP with 1..k-1 stops has no value and its tooltip says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import rates
from .i18n import N_, _, fmt_int, fmt_pct

if TYPE_CHECKING:  # pydeck is imported only for the streets view a reader asks for
    import pydeck as pdk

# viridis: perceptually uniform, readable with colour-vision deficiency and in greyscale, and (unlike
# cividis, whose middle is grey) clearly different from the grey of "no value".
VIRIDIS_5 = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
NO_DATA_RGBA = [200, 200, 200, 140]
# deck.gl's Web Mercator world is 512 px wide at zoom 0.
WORLD_PX = 512.0
# A digit's width as a share of the font size (deck.gl's sans-serif SDF font), for label boxes.
GLYPH_W = 0.62
FIT_PADDING_PX = 12


def _merc_x(lon: float) -> float:
    return (lon + 180.0) / 360.0


def _merc_y(lat: float) -> float:
    return (1.0 - math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / math.pi) / 2.0


def _merc_lat(y: float) -> float:
    return math.degrees(2 * math.atan(math.exp((1.0 - 2.0 * y) * math.pi)) - math.pi / 2)


def aspect(lons: Sequence[float], lats: Sequence[float]) -> float:
    """Width / height of the box around these points as the map draws it (Web Mercator)."""
    dx = _merc_x(max(lons)) - _merc_x(min(lons))
    dy = _merc_y(min(lats)) - _merc_y(max(lats))
    return dx / dy if dy > 0 else 1.0


def fit_view(lons: Sequence[float], lats: Sequence[float], width: float, height: float,
             padding: float = FIT_PADDING_PX, max_zoom: float = 15.0) -> dict[str, float]:
    """The view (centre, zoom) that fits the box around these points into a ``width`` x ``height``
    pixel map with ``padding`` pixels to spare on each side: deck.gl's fitBounds, done here because
    Streamlit's map takes a view, not bounds."""
    x0, x1 = _merc_x(min(lons)), _merc_x(max(lons))
    y0, y1 = _merc_y(max(lats)), _merc_y(min(lats))  # y grows southwards
    dx, dy = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    usable_w, usable_h = max(width - 2 * padding, 50.0), max(height - 2 * padding, 50.0)
    zoom = math.log2(min(usable_w / (dx * WORLD_PX), usable_h / (dy * WORLD_PX)))
    return {"longitude": (min(lons) + max(lons)) / 2, "latitude": _merc_lat((y0 + y1) / 2),
            "zoom": round(min(zoom, max_zoom), 3), "min_zoom": 7, "max_zoom": max_zoom}


def map_size(width: float, box_aspect: float, min_height: int = 260, max_height: int = 680) -> int:
    """A map height (px) that gives a ``width``-px map the shape of what it shows."""
    return int(min(max(width / max(box_aspect, 0.2), min_height), max_height))


def features_bounds(features: Sequence[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """(lons, lats) of the corners of the box around GeoJSON features' geometries."""
    lons: list[float] = []
    lats: list[float] = []
    for feat in features:
        xs, ys = _bounds(feat["geometry"])
        lons += [min(xs), max(xs)]
        lats += [min(ys), max(ys)]
    return lons, lats


@dataclass(frozen=True)
class LegendItem:
    color: str  # hex
    label: str


@dataclass(frozen=True)
class MapMetric:
    column: str
    label: str  # marked for translation; shown through _()
    fmt: Callable[[Any], str]


MAP_METRICS = {
    "rate": MapMetric(rates.RATE_COLUMN, N_("Stops per 1,000 residents per year"), rates.fmt_rate),
    "stops": MapMetric("stops", N_("Stops"), fmt_int),
}
OVERLAYS = {
    "none": None,
    "poverty": ("poverty_rate", N_("Poverty rate")),
    "density": ("density_per_sqmi", N_("Residents per sq mi")),
}
# What the map can add on top of the ZIP colours: one thing at a time, so each stays readable and
# keeps its own legend (circles and squares together were noise).
LAYERS_ON_TOP = {"none": N_("Nothing"), "poverty": N_("Poverty rate"), "density": N_("Population density"),
                 "grid": N_("Where stops happened")}


def _hex_to_rgb(hex_colour: str) -> list[int]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


def _rgb_hex(rgba: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgba[:3])


def class_breaks(values: pd.Series, n: int = 5) -> list[float]:
    """Quantile class edges (unique, ascending) for the choropleth."""
    v = pd.Series(values, dtype="float64").dropna()
    if v.empty:
        return []
    edges = sorted(set(np.quantile(v, np.linspace(0, 1, n + 1)).round(6)))
    if len(edges) == 1:
        edges = [edges[0], edges[0]]
    return edges


def classify(value: float, edges: list[float]) -> int:
    if len(edges) < 2:
        return 0
    for i in range(1, len(edges) - 1):
        if value < edges[i]:
            return i - 1
    return len(edges) - 2


def palette_for(edges: list[float]) -> list[str]:
    k = max(len(edges) - 1, 1)
    if k >= len(VIRIDIS_5):
        return VIRIDIS_5
    idx = np.linspace(0, len(VIRIDIS_5) - 1, k).round().astype(int)
    return [VIRIDIS_5[i] for i in idx]


def legend(table: pd.DataFrame, metric: str, k: int) -> list[LegendItem]:
    """The colour classes of both maps (quantile classes of ``table``'s values), then "no value"."""
    m = MAP_METRICS[metric]
    edges = class_breaks(table.loc[table["value"].notna(), "value"])
    colours = palette_for(edges)
    items = [LegendItem(colours[i], _("{low} to under {high}").format(low=m.fmt(edges[i]), high=m.fmt(edges[i + 1]))
                        if i < len(edges) - 2 else _("{low} to {high}").format(low=m.fmt(edges[i]), high=m.fmt(edges[i + 1])))
             for i in range(len(edges) - 1)]
    items.append(LegendItem(_rgb_hex(NO_DATA_RGBA),
                            _("no value (fewer than {k} stops or fewer than 1,000 residents)").format(k=k)
                            if metric == "rate" else _("no value (fewer than {k} stops)").format(k=k)))
    return items


def zip_choropleth(
    features: Sequence[dict[str, Any]],
    table: pd.DataFrame,
    metric: str,
    k: int,
    overlay: str = "none",
    selected: Sequence[str] = (),
    map_style: str | None = None,
    grid: pd.DataFrame | None = None,
    grid_cell: float = 0.01,
    outline: dict[str, Any] | None = None,
    view: dict[str, float] | None = None,
) -> pdk.Deck:
    """The streets view (deck.gl, drawn only when a reader asks for the online basemap): the county's
    ZIPs (``features`` from queries.county_zctas) coloured by ``metric`` over CARTO's streets.

    Overlay values are drawn as hollow circles whose *area* is proportional to the value (a second,
    colour-free encoding). Selected ZIPs get a thick outline. ``grid`` (cell_y, cell_x, stops) adds
    the binned stop locations as squares, cut to ``outline`` (GeoJSON, the county boundary, also
    drawn). ``view`` (:func:`fit_view`) frames the map; without it, the county's box at phone width.
    ZIP numbers are drawn only where they fit at that view (:func:`labels_that_fit`, bigger ZIP codes
    first); every ZIP code's number is in its tooltip.
    """
    import pydeck as pdk

    by_zip = table.set_index("zip5")
    edges = class_breaks(table.loc[table["value"].notna(), "value"])
    colours = palette_for(edges)
    selected_set = set(selected)

    out_features = []
    centroids = []
    names = []
    for feat in features:
        z = feat["zip5"]
        row = by_zip.loc[z] if z in by_zip.index else None
        value = None if row is None or pd.isna(row["value"]) else float(row["value"])
        fill = NO_DATA_RGBA if value is None else _hex_to_rgb(colours[classify(value, edges)]) + [200]
        props = _tooltip_props(z, row, k)
        props.update({"fill": fill, "line_w": 4 if z in selected_set else 1,
                      "line": [0, 0, 0, 255] if z in selected_set else [60, 60, 60, 200]})
        out_features.append({"type": "Feature", "geometry": feat["geometry"], "properties": props})
        names.append(label_item(feat, selected_set))
        if overlay != "none" and row is not None:
            ov = row[OVERLAYS[overlay][0]]
            if not pd.isna(ov):
                centroids.append({**props, "lon": feat["lon"], "lat": feat["lat"], "ov": float(ov)})

    layers = [
        pdk.Layer(
            "GeoJsonLayer", id="zips", data={"type": "FeatureCollection", "features": out_features},
            pickable=True, stroked=True, filled=True, auto_highlight=True,
            get_fill_color="properties.fill", get_line_color="properties.line",
            get_line_width="properties.line_w", line_width_units=pdk.types.String("pixels"),
        )
    ]
    if grid is not None and not grid.empty:
        layers.append(grid_layer(grid, grid_cell, outline))
    if centroids:
        top = max(c["ov"] for c in centroids) or 1.0
        for c in centroids:
            c["radius"] = 2200.0 * math.sqrt(max(c["ov"], 0) / top)  # area proportional to value
        layers.append(pdk.Layer(
            "ScatterplotLayer", id="overlay", data=centroids, pickable=False, stroked=True, filled=True,
            get_position="[lon, lat]", get_radius="radius", radius_units=pdk.types.String("meters"),
            get_fill_color=[255, 255, 255, 60], get_line_color=[213, 94, 0, 255],
            line_width_min_pixels=2,
        ))
    if outline is not None:
        layers.append(pdk.Layer(
            "GeoJsonLayer", id="county", data=outline, pickable=False, stroked=True, filled=False,
            get_line_color=[0, 0, 0, 255], get_line_width=3, line_width_units=pdk.types.String("pixels"),
        ))
    if view is None:
        lons, lats = features_bounds((outline or {}).get("features") or list(features))
        view = fit_view(lons, lats, 358, map_size(358, aspect(lons, lats)))
    layers.append(pdk.Layer(
        "TextLayer", id="labels", data=labels_that_fit(names, view), pickable=False, get_position="[lon, lat]",
        get_text="zip5", get_size=LABEL_PX, get_color=[0, 0, 0, 255], outline_width=2,
        outline_color=[255, 255, 255, 255], font_settings={"sdf": True}, font_family=pdk.types.String("sans-serif"),
    ))
    deck = pdk.Deck(
        layers=layers,
        initial_view_state=pdk.ViewState(**view),
        map_style=map_style,
        map_provider="carto" if map_style and "cartocdn" in map_style else None,
        tooltip={
            "html": "<b>{title}</b><br/>{l1}<br/>{l2}<br/>{l3}<br/>{l4}<br/>{l5}",
            "style": {"fontSize": "13px", "maxWidth": "280px", "whiteSpace": "normal"},
        },
    )
    return deck


LABEL_PX = 12
LABEL_GAP_PX = 4


def to_pixels(view: dict[str, float], lon: float, lat: float) -> tuple[float, float]:
    """Where the map draws (lon, lat) in ``view``, in pixels from the map's centre (x right, y down)."""
    scale = WORLD_PX * 2 ** view["zoom"]
    return ((_merc_x(lon) - _merc_x(view["longitude"])) * scale, (_merc_y(lat) - _merc_y(view["latitude"])) * scale)


def label_box(view: dict[str, float], item: dict[str, Any]) -> tuple[float, float, float, float]:
    """The pixel box (x0, y0, x1, y1) a centred ZIP label takes in ``view``, with a small gap around it."""
    x, y = to_pixels(view, item["lon"], item["lat"])
    half_w = len(str(item["zip5"])) * LABEL_PX * GLYPH_W / 2 + LABEL_GAP_PX
    half_h = LABEL_PX / 2 + LABEL_GAP_PX
    return x - half_w, y - half_h, x + half_w, y + half_h


def label_item(feature: dict[str, Any], selected: set[str]) -> dict[str, Any]:
    """A ZIP's label candidate: bigger ZIP codes keep their number when labels collide (the selected
    ones first of all)."""
    xs, ys = _bounds(feature["geometry"])
    z = feature["zip5"]
    return {"zip5": z, "lon": feature["lon"], "lat": feature["lat"],
            "priority": 1000 if z in selected else min(int(2e4 * (max(xs) - min(xs)) * (max(ys) - min(ys))), 999)}


def labels_that_fit(names: Sequence[dict[str, Any]], view: dict[str, float]) -> list[dict[str, Any]]:
    """The ZIP labels that can be drawn at the map's first view without touching one another: the
    most important first (selected, then bigger ZIP codes), the others left to the tooltip."""
    kept: list[dict[str, Any]] = []
    boxes: list[tuple[float, float, float, float]] = []
    for item in sorted(names, key=lambda n: (-n["priority"], n["zip5"])):
        b = label_box(view, item)
        if all(b[2] <= o[0] or o[2] <= b[0] or b[3] <= o[1] or o[3] <= b[1] for o in boxes):
            kept.append(item)
            boxes.append(b)
    return kept


def _tooltip_props(zip5: str, row: pd.Series | None, k: int) -> dict[str, Any]:
    title = _("ZIP {zip}").format(zip=zip5)
    if row is None:
        return {"zip5": zip5, "title": title, "l1": _("No data"), "l2": "", "l3": "", "l4": "", "l5": ""}
    stops = int(row["stops"])
    res = row["residents_in_county"]
    if row["small_count"]:
        l1 = _("Fewer than {k} stops: not shown").format(k=k)
        l2 = ""
    else:
        l1 = _("{n} stops").format(n=fmt_int(stops))
        l2 = (_("{rate} stops per 1,000 residents per year").format(rate=rates.fmt_rate(row[rates.RATE_COLUMN]))
              if not row["few_residents"] else _("fewer than 1,000 county residents: no rate shown"))
    return {
        "zip5": zip5, "title": title, "l1": l1, "l2": l2,
        "l3": _("Residents in the county part: {n}").format(n=fmt_int(res)),
        "l4": _("Poverty rate (whole ZIP code): {p}").format(p=fmt_pct(row["poverty_rate"])),
        "l5": _("Density (whole ZIP code): {n} residents per sq mi").format(n=fmt_int(row["density_per_sqmi"])),
    }


def _shape(geojson: dict[str, Any] | None) -> Any:
    """A GeoJSON geometry, Feature or FeatureCollection as one shapely geometry (None: no clipping)."""
    if not geojson:
        return None
    import shapely
    from shapely.geometry import shape

    if geojson.get("type") == "FeatureCollection":
        parts = [shape(f["geometry"]) for f in geojson.get("features") or [] if f.get("geometry")]
        return shapely.union_all(parts) if parts else None
    if geojson.get("type") == "Feature":
        return shape(geojson["geometry"]) if geojson.get("geometry") else None
    return shape(geojson)


def grid_cells(grid: pd.DataFrame, cell: float, clip: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The grid's squares as polygons, each cut to ``clip`` (GeoJSON) so that nothing is drawn outside
    it: a square across the county's (or the ZIP code's) edge keeps only its inside part."""
    import shapely

    area = _shape(clip)
    if area is not None:
        area = shapely.make_valid(area)
        shapely.prepare(area)
    top = float(grid["stops"].max()) if len(grid) else 0.0
    cells = []
    for r in grid.itertuples(index=False):
        y0, x0 = r.cell_y * cell, r.cell_x * cell
        share = math.sqrt(r.stops / top) if top else 0
        fill = [213, 94, 0, int(60 + 170 * share)]
        square = shapely.box(x0, y0, x0 + cell, y0 + cell)
        if area is not None and not area.contains(square):
            square = shapely.intersection(square, area)
        polys = [g for g in getattr(square, "geoms", [square]) if g.geom_type == "Polygon" and not g.is_empty]
        for poly in polys:
            cells.append({"polygon": [[round(x, 6), round(y, 6)] for x, y in poly.exterior.coords[:-1]],
                          "fill": fill, "stops": int(r.stops)})
    return cells


def grid_layer(grid: pd.DataFrame, cell: float, clip: dict[str, Any] | None = None) -> pdk.Layer:
    """Binned stop locations as squares cut to ``clip`` (the query left out cells under the threshold).

    Not pickable: a click goes through to the ZIP code underneath, which is what a reader wants to
    filter by (a square is not a filter of its own).
    """
    import pydeck as pdk

    cells = grid_cells(grid, cell, clip)
    return pdk.Layer(
        "PolygonLayer", id="grid", data=cells, pickable=False, stroked=True, filled=True,
        get_polygon="polygon", get_fill_color="fill", get_line_color=[120, 40, 0, 200], line_width_min_pixels=1,
    )


def overlay_legend(table: pd.DataFrame, overlay: str) -> str:
    """Plain-text key for the circle overlay (circle area proportional to the value)."""
    if overlay == "none":
        return ""
    col, label = OVERLAYS[overlay]
    v = table[col].dropna()
    if v.empty:
        return ""
    fmt = fmt_pct if overlay == "poverty" else (lambda x: _("{n} per sq mi").format(n=fmt_int(x)))
    vintage = (_("Poverty: census ACS 2017-2021 5-year estimates.") if overlay == "poverty" else
               _("Density: residents (census {acs}) per square mile of land.").format(acs=rates.ACS_VINTAGE))
    return _("Hollow orange circles: {what} of each ZIP code (whole ZIP code); circle area is proportional "
             "to it. Largest circle = {top}, median ZIP code = {median}.").format(
        what=_(label).lower(), top=fmt(v.max()), median=fmt(v.median())) + " " + vintage


def _bounds(geometry: dict[str, Any]) -> tuple[list[float], list[float]]:
    coords: list[Any] = geometry["coordinates"]
    rings = coords if geometry["type"] == "Polygon" else [r for poly in coords for r in poly]
    points = [p for ring in rings for p in ring]
    return [p[0] for p in points], [p[1] for p in points]


# ---------------------------------------------------------------------------------------------
# The default map: plotly SVG (no WebGL). deck.gl above draws the streets view only when asked.
# ---------------------------------------------------------------------------------------------
# NOTE: a deck.gl map costs ~2.6 s of CPU per visit where the browser renders WebGL in software
# (no GPU: this machine, cheap phones); the same ZIP polygons as SVG cost a few tens of ms
# (BENCHMARKS.md, h23-map). plotly's JavaScript is loaded by every page already.
EARTH_M = 40075016.686
GRID_OPACITY = (60 / 255, 230 / 255)  # the lightest and darkest square, as the deck map drew them


def _ring_area(ring: Sequence[Sequence[float]]) -> float:
    """Shoelace area in lon/lat (positive: anticlockwise with north up)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, list(ring[1:]) + [ring[0]])) / 2


def _wound(ring: Sequence[Sequence[float]], clockwise: bool) -> list[list[float]]:
    pts = [list(p) for p in ring]
    return pts[::-1] if (_ring_area(pts) < 0) != clockwise else pts


def d3_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON (Multi)Polygon wound as plotly's d3-geo reads it: outer rings clockwise, holes
    anticlockwise (RFC 7946's order is the opposite, and d3 then fills the whole globe but the shape)."""
    def poly(rings: Sequence[Any]) -> list[Any]:
        return [_wound(r, clockwise=i == 0) for i, r in enumerate(rings)]

    if geometry["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": poly(geometry["coordinates"])}
    return {"type": "MultiPolygon", "coordinates": [poly(p) for p in geometry["coordinates"]]}


def _metres_per_px(view: dict[str, float]) -> float:
    return EARTH_M * math.cos(math.radians(view["latitude"])) / (WORLD_PX * 2 ** view["zoom"])


def _geo_layout(fig: go.Figure, height: int, lons: Sequence[float], lats: Sequence[float],
                zoom: float) -> go.Figure:
    """No basemap, no frame, Web Mercator like the streets view: the box around ``lons``/``lats``
    fills the frame with FIT_PADDING_PX to spare (``zoom`` as :func:`fit_view` gives it); shapes
    reaching beyond it (ZIP codes across the county line) are cut at the frame."""
    pad = FIT_PADDING_PX * 360.0 / (WORLD_PX * 2 ** zoom)  # degrees of longitude per padding
    lat_pad = pad * math.cos(math.radians((min(lats) + max(lats)) / 2))
    fig.update_geos(visible=False, projection_type="mercator", bgcolor="rgba(0,0,0,0)",
                    lonaxis_range=[min(lons) - pad, max(lons) + pad], lataxis_range=[min(lats) - lat_pad, max(lats) + lat_pad])
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=0, b=0), showlegend=False,
                      paper_bgcolor="rgba(0,0,0,0)", hoverlabel=dict(align="left"))
    return fig


def _outline_trace(geojson: dict[str, Any], name: str, width: float) -> go.Scattergeo:
    """A boundary as one line trace (rings separated by gaps)."""
    geometries = ([f["geometry"] for f in geojson.get("features") or [] if f.get("geometry")]
                  if geojson.get("type") == "FeatureCollection" else [geojson.get("geometry", geojson)])
    lons: list[float | None] = []
    lats: list[float | None] = []
    for g in geometries:
        rings = g["coordinates"] if g["type"] == "Polygon" else [r for p in g["coordinates"] for r in p]
        for ring in rings:
            lons += [p[0] for p in ring] + [None]
            lats += [p[1] for p in ring] + [None]
    return go.Scattergeo(lon=lons, lat=lats, mode="lines", line=dict(color="black", width=width),
                         hoverinfo="skip", meta=name)


def _grid_trace(grid: pd.DataFrame, cell: float, clip: dict[str, Any] | None) -> go.Choropleth:
    """The stop squares (cut to ``clip``; GeoJSON rings closed again), darker with more stops. Not a hover or click target
    (hoverinfo "skip"): a click goes through to the ZIP code underneath, as on the streets view."""
    cells = grid_cells(grid, cell, clip)
    top = float(grid["stops"].max()) if len(grid) else 1.0
    lo, hi = GRID_OPACITY  # z is each square's own count (the query left out those under k)
    return go.Choropleth(
        geojson={"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": str(i), "geometry": d3_geometry({"type": "Polygon", "coordinates": [c["polygon"] + c["polygon"][:1]]})}
            for i, c in enumerate(cells)]},
        locations=[str(i) for i in range(len(cells))], z=[c["stops"] for c in cells], zmin=0, zmax=top,
        # opacity grows with the square root of the count (as the streets view's squares): stops at
        # (i/10)^2 of the most, opacity i/10 of the way from the lightest to the darkest
        colorscale=[[(i / 10) ** 2, f"rgba(213,94,0,{lo + (hi - lo) * i / 10:.3f})"] for i in range(11)],
        showscale=False, marker_line=dict(color="rgba(120,40,0,0.8)", width=0.5), hoverinfo="skip", meta="grid")


def zip_figure(
    features: Sequence[dict[str, Any]],
    table: pd.DataFrame,
    metric: str,
    overlay: str,
    selected: Sequence[str],
    view: dict[str, float],
    height: int,
    k: int,
    grid: pd.DataFrame | None = None,
    grid_cell: float = 0.01,
    outline: dict[str, Any] | None = None,
) -> go.Figure:
    """The ZIP choropleth as an SVG map: what :func:`zip_choropleth` draws, without WebGL or basemap.

    One trace per colour class (``meta`` "zips"; ``z`` is the ZIP's own value, 0 for "no value"),
    each ZIP's number in ``customdata`` for a click, its figures in ``hovertext``; then the squares,
    the overlay circles (area proportional to the value, sized in metres at ``view`` like the
    streets view's), the county line and the ZIP numbers that fit at ``view`` (:func:`labels_that_fit`).
    """
    edges = class_breaks(table.loc[table["value"].notna(), "value"])
    colours = palette_for(edges)
    by_zip = table.set_index("zip5")
    selected_set = set(selected)
    classes: dict[int, list[dict[str, Any]]] = {}
    names, centroids = [], []
    for feat in features:
        z = feat["zip5"]
        row = by_zip.loc[z] if z in by_zip.index else None
        value = None if row is None or pd.isna(row["value"]) else float(row["value"])
        props = _tooltip_props(z, row, k)
        hover = "<br>".join([f"<b>{props['title']}</b>"] + [props[f"l{i}"] for i in range(1, 6) if props[f"l{i}"]])
        classes.setdefault(-1 if value is None else classify(value, edges), []).append(
            {"zip5": z, "geometry": d3_geometry(feat["geometry"]), "z": 0.0 if value is None else value, "hover": hover})
        names.append(label_item(feat, selected_set))
        if overlay != "none" and row is not None and not pd.isna(row[OVERLAYS[overlay][0]]):
            centroids.append((feat["lon"], feat["lat"], float(row[OVERLAYS[overlay][0]])))

    fig = go.Figure()
    for cls in sorted(classes):
        rows = classes[cls]
        colour = _rgb_hex(NO_DATA_RGBA) if cls < 0 else colours[cls]
        fig.add_trace(go.Choropleth(
            geojson={"type": "FeatureCollection", "features": [
                {"type": "Feature", "id": r["zip5"], "geometry": r["geometry"]} for r in rows]},
            locations=[r["zip5"] for r in rows], z=[r["z"] for r in rows], customdata=[r["zip5"] for r in rows],
            colorscale=[[0, colour], [1, colour]], showscale=False,
            marker=dict(opacity=0.8, line=dict(width=[3 if r["zip5"] in selected_set else 0.6 for r in rows],
                                               color=["black" if r["zip5"] in selected_set else "rgb(60,60,60)" for r in rows])),
            hovertext=[r["hover"] for r in rows], hoverinfo="text", meta="zips"))
    if grid is not None and not grid.empty:
        fig.add_trace(_grid_trace(grid, grid_cell, outline))
    if centroids:
        top = max(v for _x, _y, v in centroids) or 1.0
        per_px = _metres_per_px(view)
        fig.add_trace(go.Scattergeo(
            lon=[x for x, _y, _v in centroids], lat=[y for _x, y, _v in centroids], mode="markers",
            marker=dict(size=[2 * 2200.0 * math.sqrt(max(v, 0) / top) / per_px for _x, _y, v in centroids],
                        color="rgba(255,255,255,0.24)", line=dict(color="rgb(213,94,0)", width=2)),
            hoverinfo="skip", meta="overlay"))
    if outline is not None:
        fig.add_trace(_outline_trace(outline, "county", 2.5))
    shown = labels_that_fit(names, view)
    fig.add_trace(go.Scattergeo(
        lon=[n["lon"] for n in shown], lat=[n["lat"] for n in shown], text=[n["zip5"] for n in shown], mode="text",
        textfont=dict(size=LABEL_PX, color="black", shadow="0 0 2px white, 0 0 2px white, 0 0 3px white"),
        hoverinfo="skip", meta="labels"))
    box_lons, box_lats = features_bounds((outline or {}).get("features") or list(features))
    return _geo_layout(fig, height, box_lons, box_lats, view["zoom"])


def single_zip_figure(feature: dict[str, Any], grid: pd.DataFrame | None, cell: float,
                      width: float = 358) -> go.Figure:
    """One ZIP code's outline with the squares where its stops happened, cut to the outline (My ZIP
    page), as an SVG map framed for a ``width``-px column."""
    lons, lats = _bounds(feature["geometry"])
    height = map_size(width, aspect(lons, lats), max_height=480)
    fig = go.Figure(go.Choropleth(
        geojson={"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": feature["zip5"], "geometry": d3_geometry(feature["geometry"])}]},
        locations=[feature["zip5"]], z=[0], colorscale=[[0, "rgba(0,114,178,0.12)"], [1, "rgba(0,114,178,0.12)"]],
        showscale=False, marker_line=dict(color="black", width=3), hoverinfo="skip", meta="zip"))
    if grid is not None and not grid.empty:
        fig.add_trace(_grid_trace(grid, cell, feature["geometry"]))
    return _geo_layout(fig, height, lons, lats, fit_view(lons, lats, width, height)["zoom"])
