"""Folium map of a displacement report: NPA/ward share change, Gi* hotspot change, centres.

Aggregates only (areas, H3 cells, mean centres): no individual offence points.
"""

from __future__ import annotations

import math

import folium
import geopandas as gpd
import pandas as pd

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import metric_to_lonlat, to_io
from geo_api.web.maps.base import Raw, legend, new_map, safe_geojson

CHANGE_COLOURS = {"persistent": "#b2182b", "new": "#ef8a62", "no longer hot": "#67a9cf"}


def _share_colour(pp: float | None) -> str:
    """Diverging colour for a share change in percentage points (grey when withheld)."""
    if not isinstance(pp, int | float) or math.isnan(pp):
        return "#cccccc"
    steps = [(-4, "#2166ac"), (-1, "#67a9cf"), (1, "#f7f7f7"), (4, "#ef8a62"), (99, "#b2182b")]
    return next(c for limit, c in steps if pp < limit)


def _areas_layer(name: str, gdf: gpd.GeoDataFrame, table: pd.DataFrame, show: bool):
    g = to_io(gdf[["code", "name", "geometry"]]).merge(
        table[["code", "before", "after", "share_before", "share_after", "share_change",
               "share_change_ci95_low", "share_change_ci95_high", "direction"]], on="code")
    for c in ("share_before", "share_after", "share_change", "share_change_ci95_low",
              "share_change_ci95_high"):
        g[c] = (100 * pd.to_numeric(g[c], errors="coerce")).round(1)  # null: withheld
    return folium.GeoJson(
        safe_geojson(g), name=name, show=show,
        style_function=lambda f: {"fillColor": _share_colour(f["properties"]["share_change"]),
                                  "color": "#333", "weight": 1.5, "fillOpacity": 0.55},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "before", "after", "share_before", "share_after", "share_change",
                    "share_change_ci95_low", "share_change_ci95_high", "direction"],
            aliases=["Area", "Offences before", "Offences after", "Share before %",
                     "Share after %", "Change (pp)", "95% CI low", "95% CI high", "Verdict"]))


def render_report_map(boundaries, npa_table: pd.DataFrame, ward_table: pd.DataFrame,
                      hotspots: dict, centres: dict, title: str, controls=None) -> str:
    """HTML of the report map (works offline except for the base tiles)."""
    m = new_map(title=f"Did it move? {title}")
    _areas_layer("NPA share change (approximate NPAs)", boundaries.get("npa").gdf, npa_table,
                 True).add_to(m)
    _areas_layer("Ward share change", boundaries.get("ward").gdf, ward_table, False).add_to(m)
    cells = pd.DataFrame(hotspots["cells"])
    cells = cells[cells["change"] != "not hot"]
    if len(cells):
        ids = cells["id"].map(lambda s: int(s, 16)).to_numpy()
        hg = gpd.GeoDataFrame(cells[["id", "count_before", "count_after", "change"]],
                              geometry=h3_polygons_lonlat(ids), crs=4326)
        folium.GeoJson(safe_geojson(hg), name="Gi* hotspot change (H3 res 9)",
                       style_function=lambda f: {"fillColor": CHANGE_COLOURS[f["properties"]["change"]],
                                                 "color": "white", "weight": 0.5, "fillOpacity": 0.75},
                       tooltip=folium.GeoJsonTooltip(fields=["change", "count_before", "count_after"],
                                                     aliases=["Hot spot", "Offences before",
                                                              "Offences after"])).add_to(m)
    fg = folium.FeatureGroup(name="Mean centre shift")
    pts = []
    for label, c in (("before", centres["before"]), ("after", centres["after"])):
        if c.get("mean_x_m") is None:  # withheld under disclosure control (few offences)
            continue
        lon, lat = metric_to_lonlat([c["mean_x_m"]], [c["mean_y_m"]])
        pts.append((float(lat[0]), float(lon[0])))
        folium.CircleMarker(pts[-1], radius=6, color="black", fill=True,
                            fill_color="white" if label == "before" else "black",
                            tooltip=f"Mean centre {label}").add_to(fg)
    if len(pts) == 2 and centres["shift"].get("distance_m") is not None:
        folium.PolyLine(pts, color="black", weight=2,
                        tooltip=f"{centres['shift']['distance_m']:.0f} m").add_to(fg)
    fg.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    legend(m, title, {f"Gi* hot spot: {k}": c for k, c in CHANGE_COLOURS.items()},
           "Areas: blue share fell, red share rose (percentage points). "
           + hotspots["meta"]["hot_definition"].replace("hot =", "Hot =", 1) + ".")
    if controls is not None:  # map name -> the controls form
        m.get_root().html.add_child(Raw(controls(m.get_name())))
    return m.get_root().render()
