"""Pure pydeck map builders: the ZIP choropleth, its legend, the stop-location grid (no Streamlit, no SQL).

Offline the map has no basemap, so it draws its own landmarks: the county outline and every ZIP
code's number at its interior point. ``table`` arguments come from :func:`tables.map_table`, so a
ZIP with 1..k-1 stops has no value and its tooltip says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import pydeck as pdk

from . import rates
from .i18n import N_, _, fmt_int, fmt_pct

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
) -> tuple[pdk.Deck, list[LegendItem]]:
    """Choropleth of the county's ZIPs (``features`` from queries.county_zctas) coloured by ``metric``.

    Overlay values are drawn as hollow circles whose *area* is proportional to the value (a second,
    colour-free encoding). Selected ZIPs get a thick outline. ``grid`` (cell_y, cell_x, stops) adds
    the binned stop locations as squares, cut to ``outline`` (GeoJSON, the county boundary, also
    drawn). ``view`` (:func:`fit_view`) frames the map; without it, the county's box at phone width.
    ZIP numbers are drawn only where they fit at that view (:func:`labels_that_fit`, bigger ZIP codes
    first); every ZIP code's number is in its tooltip.
    """
    m = MAP_METRICS[metric]
    by_zip = table.set_index("zip5")
    eligible = table.loc[table["value"].notna(), "value"]
    edges = class_breaks(eligible)
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
        xs, ys = _bounds(feat["geometry"])
        # Bigger ZIP codes keep their label when labels collide (the selected ones first of all).
        names.append({"zip5": z, "lon": feat["lon"], "lat": feat["lat"],
                      "priority": 1000 if z in selected_set else min(int(2e4 * (max(xs) - min(xs)) * (max(ys) - min(ys))), 999)})
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
    legend = [LegendItem(colours[i], _("{low} to under {high}").format(low=m.fmt(edges[i]), high=m.fmt(edges[i + 1]))
                         if i < len(edges) - 2 else _("{low} to {high}").format(low=m.fmt(edges[i]), high=m.fmt(edges[i + 1])))
              for i in range(len(edges) - 1)]
    legend.append(LegendItem(_rgb_hex(NO_DATA_RGBA),
                             _("no value (fewer than {k} stops or fewer than 1,000 residents)").format(k=k)
                             if metric == "rate" else _("no value (fewer than {k} stops)").format(k=k)))
    return deck, legend


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


def single_zip_map(feature: dict[str, Any], grid: pd.DataFrame | None, cell: float, map_style: str | None,
                   width: float = 358) -> tuple[pdk.Deck, int]:
    """One ZIP code's outline with the squares where its stops happened, cut to the outline (My ZIP
    page), framed for a ``width``-px map; returns the deck and the map's height."""
    lons, lats = _bounds(feature["geometry"])
    height = map_size(width, aspect(lons, lats), max_height=480)
    view = fit_view(lons, lats, width, height, max_zoom=15)
    layers = [pdk.Layer(
        "GeoJsonLayer", id="zip", data={"type": "Feature", "geometry": feature["geometry"], "properties": {}},
        pickable=False, stroked=True, filled=True, get_fill_color=[0, 114, 178, 30],
        get_line_color=[0, 0, 0, 255], get_line_width=3, line_width_units=pdk.types.String("pixels"),
    )]
    if grid is not None and not grid.empty:
        layers.append(grid_layer(grid, cell, feature["geometry"]))
    return pdk.Deck(
        layers=layers, map_style=map_style,
        map_provider="carto" if map_style and "cartocdn" in map_style else None,
        initial_view_state=pdk.ViewState(**view),
    ), height


def _bounds(geometry: dict[str, Any]) -> tuple[list[float], list[float]]:
    coords: list[Any] = geometry["coordinates"]
    rings = coords if geometry["type"] == "Polygon" else [r for poly in coords for r in poly]
    points = [p for ring in rings for p in ring]
    return [p[0] for p in points], [p[1] for p in points]
