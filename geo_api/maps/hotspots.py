"""Hotspot map for neighbourhood and youth-work teams: Gi* hexagons, KDE, boundaries."""

from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import to_io
from geo_api.maps.base import legend, new_map

GI_COLOURS = {"hot 99%": "#b2182b", "hot 95%": "#ef8a62", "hot 90%": "#fddbc7",
              "cold 90%": "#d1e5f0", "cold 95%": "#67a9cf", "cold 99%": "#2166ac"}
KDE_COLOURS = [(0.75, "#7f0000"), (0.5, "#d7301f"), (0.25, "#fc8d59"), (0.1, "#fdcc8a"),
               (0.0, "#fef0d9")]


def sites_layer(sites: pd.DataFrame) -> folium.FeatureGroup:
    """Candidate sites (e.g. schools) as small circles with their name on hover."""
    fg = folium.FeatureGroup(name="Sites (schools / candidate sites)", show=False)
    for r in sites.itertuples():
        folium.CircleMarker([r.lat, r.lon], radius=4, color="#1b7837", fill=True,
                            fill_opacity=0.9, weight=1, tooltip=str(r.name)).add_to(fg)
    return fg


def render_hotspot_map(boundaries, gi_rows: list[dict], kde_fc: dict, ward_counts: pd.DataFrame,
                       title: str, sites: pd.DataFrame | None = None) -> str:
    """HTML page: Gi* H3 layer, KDE cells, wards (name + count on hover), NPAs, sites."""
    m = new_map()
    wards = to_io(boundaries.get("ward").gdf[["code", "name", "geometry"]])
    wards = wards.merge(ward_counts[["code", "count"]], on="code", how="left").fillna({"count": 0})
    folium.GeoJson(wards.to_json(), name="Wards (offences on hover)",
                   style_function=lambda f: {"fill": True, "fillOpacity": 0, "color": "#555",
                                             "weight": 1},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "count"],
                                                 aliases=["Ward", "Offences"])).add_to(m)
    npa = to_io(boundaries.get("npa").gdf[["code", "name", "geometry"]])
    folium.GeoJson(npa.to_json(), name="Policing areas (approximate)",
                   style_function=lambda f: {"fill": False, "color": "#000", "weight": 2.5},
                   tooltip=folium.GeoJsonTooltip(fields=["code", "name"],
                                                 aliases=["NPA", "Name"])).add_to(m)
    sig = pd.DataFrame([r for r in gi_rows if r["label"] != "not significant"])
    if len(sig):
        g = gpd.GeoDataFrame(sig[["id", "count", "gi_z", "label"]],
                             geometry=h3_polygons_lonlat(sig["id"].map(lambda s: int(s, 16)).to_numpy()),
                             crs=4326)
        g["gi_z"] = g["gi_z"].round(2)
        folium.GeoJson(g.to_json(), name="Gi* hot and cold spots (H3)",
                       style_function=lambda f: {"fillColor": GI_COLOURS[f["properties"]["label"]],
                                                 "color": "white", "weight": 0.5,
                                                 "fillOpacity": 0.75},
                       tooltip=folium.GeoJsonTooltip(fields=["label", "count", "gi_z"],
                                                     aliases=["Gi*", "Offences", "z"])).add_to(m)
    if kde_fc["features"]:
        def kde_style(f):
            s = f["properties"]["share_of_max"]
            colour = next(c for lim, c in KDE_COLOURS if s >= lim)
            return {"fillColor": colour, "color": colour, "weight": 0, "fillOpacity": 0.6}

        folium.GeoJson(kde_fc, name="Kernel density (share of peak)", show=False,
                       style_function=kde_style).add_to(m)
    if sites is not None and len(sites):
        sites_layer(sites).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    legend(m, title, GI_COLOURS, "Gi* hot/cold spots (two-sided, 999 permutations); "
                                 "KDE layer: darker = nearer the peak density")
    return m.get_root().render()
