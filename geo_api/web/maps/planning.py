"""The planner's map: kits and their reach, proposed kits in order, covered and uncovered
demand (H3 cells, aggregates only), uncovered hot spots, and the People Zone ranking as a
choropleth with the ranked table beside it. Prints on A4 landscape."""

from __future__ import annotations

import datetime

import folium
import geopandas as gpd
import h3
import numpy as np
import pandas as pd

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import metric_to_lonlat, to_io
from geo_api.web.maps.base import Raw, new_map, safe_geojson, tooltip_text

RANK_COLOURS = [(5, "#54278f"), (10, "#9e9ac8"), (15, "#dadaeb")]  # top 5 / 6-10 / 11-15
PRINT_CSS = """<style>
#plan-panel{position:fixed;top:10px;right:10px;width:360px;max-height:calc(100% - 40px);
 overflow:auto;z-index:9999;background:#fff;border:1px solid #999;padding:8px 10px;
 font:12px/1.35 sans-serif}
#plan-panel h1{font-size:15px;margin:0 0 4px}#plan-panel h2{font-size:13px;margin:8px 0 2px}
#plan-panel table{border-collapse:collapse;width:100%}
#plan-panel td,#plan-panel th{border-bottom:1px solid #ddd;padding:1px 3px;text-align:left}
#plan-panel .num{text-align:right}.kit-no{background:#d95f02;color:#fff;border-radius:50%;
 width:22px;height:22px;line-height:22px;text-align:center;font:bold 12px sans-serif;
 border:2px solid #fff;box-shadow:0 0 2px #000}
.sw{display:inline-block;width:12px;height:12px;margin-right:4px;border:1px solid #777}
#print-btn{margin:4px 0}
@media print{@page{size:A4 landscape;margin:8mm}
 body{margin:0}.folium-map{position:absolute!important;left:0;top:0;width:62%!important;
 height:180mm!important}#plan-panel{position:absolute;left:64%;top:0;right:0;width:auto;
 max-height:none;overflow:visible;border:none}
 #plan-panel{font-size:9px;line-height:1.2}#plan-panel h1{font-size:12px}
 #plan-panel h2{font-size:10px;margin:4px 0 1px}
 .leaflet-control-layers,.leaflet-control-zoom,#print-btn{display:none!important}}
</style>"""


def _rank_colour(rank: int) -> str:
    return next((c for top, c in RANK_COLOURS if rank <= top), "#f7f7f7")


def render_planning_map(boundaries, view: dict, *, title: str, period: str,
                        radius_m: float, controls=None) -> str:
    """HTML page of the planner's map (``view``: services.planning.planning_view)."""
    siting, zones = view["siting"], view["zones"]
    m = new_map(title=title, print_button=False, zoom_start=12)
    root = m.get_root()
    root.header.add_child(Raw(PRINT_CSS))
    _zones_layer(m, boundaries, zones)
    _demand_layer(m, view)
    _hot_layer(m, view)
    existing = view["existing"]
    if existing is not None and len(existing):
        fg = folium.FeatureGroup(name=f"Existing kits ({len(existing)}) and their reach")
        for r in existing.itertuples():
            folium.Circle([r.lat, r.lon], radius=radius_m, color="#1b9e77", weight=1,
                          fill=True, fill_opacity=0.08).add_to(fg)
            folium.CircleMarker([r.lat, r.lon], radius=5, color="#1b9e77", fill=True,
                                fill_opacity=1, tooltip=tooltip_text(f"{r.name} ({r.kind})")
                                ).add_to(fg)
        fg.add_to(m)
    fg = folium.FeatureGroup(name=f"Proposed kits ({len(siting['sites'])}), numbered by gain")
    for s in siting["sites"]:
        tip = (f"#{s['rank']} {s['name']}: adds {s['added_offences']} offences "
               f"({s['added_share']:.1%}); {s['cumulative_share']:.1%} covered so far")
        folium.Circle([s["lat"], s["lon"]], radius=radius_m, color="#d95f02", weight=1.5,
                      dash_array="4", fill=True, fill_opacity=0.06).add_to(fg)
        folium.Marker([s["lat"], s["lon"]], tooltip=tooltip_text(tip),
                      icon=folium.DivIcon(html=f'<div class="kit-no">{s["rank"]}</div>',
                                          icon_size=(26, 26), icon_anchor=(13, 13))).add_to(fg)
    fg.add_to(m)
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    root.html.add_child(Raw(with_form(_panel(view, title, period, radius_m), controls,
                                      m.get_name())))
    return root.render()


def with_form(panel: str, controls, map_name: str) -> str:
    """The side panel with the controls form (``controls``: map name -> form) at its top."""
    if controls is None:
        return panel
    return panel.replace('<div id="plan-panel">', '<div id="plan-panel">'
                         + controls(map_name), 1)


def _zones_layer(m, boundaries, zones: dict) -> None:
    layer = zones["meta"]["layer"]
    g = to_io(boundaries.get(layer).gdf[["code", "geometry"]])
    t = pd.DataFrame(zones["areas"])
    t["rank_range"] = (t["rank_best_weights_pm50"].astype(str) + "-"
                       + t["rank_worst_weights_pm50"].astype(str))
    t["poisson_range"] = (t["rank_p05_poisson"].astype(str) + "-"
                          + t["rank_p95_poisson"].astype(str))
    g = g.merge(t[["code", "name", "rank", "score", "rank_range", "poisson_range", "offences"]],
                on="code", how="inner")
    g["score"] = g["score"].round(2)
    folium.GeoJson(
        safe_geojson(g), name=f"People Zone ranking ({layer}s)",
        style_function=lambda f: {"fillColor": _rank_colour(f["properties"]["rank"]),
                                  "fillOpacity": 0.45, "color": "#555", "weight": 1},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "rank", "score", "rank_range", "poisson_range", "offences"],
            aliases=["Area", "Rank", "Score", "Rank if weights ±50%", "Rank 90% range (chance)",
                     "Offences"])).add_to(m)


def _demand_layer(m, view: dict) -> None:
    """Offences per H3 resolution-10 cell (about 0.015 km^2), split covered / not covered."""
    d, covered = view["demand"].demand, view["covered"]
    lon, lat = metric_to_lonlat(d.x_m, d.y_m)
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(la, lo, 10)) for la, lo in zip(lat, lon)],
                     dtype=np.uint64)
    df = pd.DataFrame({"cell": cells, "n": d.n, "covered": np.where(covered, d.n, 0)})
    agg = df.groupby("cell", as_index=False)[["n", "covered"]].sum()
    agg["not_covered"] = agg["n"] - agg["covered"]
    g = gpd.GeoDataFrame(agg[["n", "covered", "not_covered"]].astype(int),
                         geometry=h3_polygons_lonlat(agg["cell"].to_numpy()), crs=4326)
    top = max(int(agg["not_covered"].max()), 1)
    folium.GeoJson(
        safe_geojson(g), name="Offences within reach of a kit (green) or not (red), H3 cells",
        style_function=lambda f: {
            "fillColor": "#1b9e77" if f["properties"]["not_covered"] == 0 else "#e7298a",
            "fillOpacity": 0.25 + 0.6 * min(1.0, f["properties"]["not_covered"] / top) ** 0.5
            if f["properties"]["not_covered"] else 0.35, "color": "#444", "weight": 0.3},
        tooltip=folium.GeoJsonTooltip(fields=["n", "covered", "not_covered"],
                                      aliases=["Offences", "Within reach", "Not within reach"])
    ).add_to(m)


def _hot_layer(m, view: dict) -> None:
    unc = view["hot_out_of_reach"]
    fg = folium.FeatureGroup(name=f"Hot spots out of reach of every kit ({len(unc)} of "
                                  f"{view['n_hot_cells']})")
    if unc:
        ids = np.array([int(u["id"], 16) for u in unc], dtype=np.uint64)
        g = gpd.GeoDataFrame(pd.DataFrame(unc)[["id", "count", "label",
                                                "distance_to_nearest_site_m"]],
                             geometry=h3_polygons_lonlat(ids), crs=4326)
        folium.GeoJson(safe_geojson(g), style_function=lambda f: {
            "fill": False, "color": "#000", "weight": 3, "dashArray": "2,3"},
            tooltip=folium.GeoJsonTooltip(fields=["label", "count",
                                                  "distance_to_nearest_site_m"],
                                          aliases=["Gi*", "Offences", "Nearest kit, m"])
        ).add_to(fg)
    fg.add_to(m)


def _panel(view, title, period, radius_m) -> str:
    e = tooltip_text  # HTML-escaped, and no `, $ or \ left to matter to any script
    siting, zones = view["siting"], view["zones"]
    sm, cm, zm = siting["summary"], siting["meta"], zones["meta"]
    kits = "".join(
        f"<tr><td>{s['rank']}</td><td>{e(s['name'])}</td><td class=num>{s['added_offences']}"
        f"</td><td class=num>{s['cumulative_share']:.1%}</td></tr>" for s in siting["sites"])
    areas = "".join(
        f"<tr><td>{a['rank']}</td><td>{e(a['name'])}</td><td class=num>"
        f"{a['rank_best_weights_pm50']}–{a['rank_worst_weights_pm50']}</td><td class=num>"
        f"{a['rank_p05_poisson']}–{a['rank_p95_poisson']}</td><td class=num>"
        f"{a['violence_rate']:.1f}</td></tr>" for a in zones["areas"][:10])
    weights = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in zm["weights"].items())
    existing = cm.get("existing")
    ex_line = (f"Existing kits ({e(existing)}, {cm['n_existing']}): "
               f"{sm['covered_share_existing']:.1%} of offences within {radius_m:g} m."
               if existing else "No existing kits given (add existing=&lt;site set&gt;).")
    made = datetime.date.today().isoformat()
    from geo_api.web.maps.layers import GROUP_WORDS

    group_words = GROUP_WORDS.get(cm["filters"]["group"], cm["filters"]["group"])
    swatches = "".join(f'<span class="sw" style="background:{c}"></span>{lab} '
                       for lab, c in (("top 5", RANK_COLOURS[0][1]), ("6–10", RANK_COLOURS[1][1]),
                                      ("11–15", RANK_COLOURS[2][1])))
    return f"""<div id="plan-panel">
<h1>{e(title)}</h1><div>{e(period)} · {e(group_words)}</div>
<button id="print-btn" onclick="window.print()">Print (A4 landscape)</button>
<h2>Where the next {len(siting['sites'])} kits go</h2>
<div>{ex_line} With the proposed kits: <b>{sm['covered_share']:.1%}</b> (best possible with
this many: {sm['covered_share_bound']:.1%}; solver: {e(sm['status'])}).</div>
<table><tr><th>#</th><th>Site</th><th class=num>Adds</th><th class=num>Covered</th></tr>
{kits}</table>
<div><span class="sw" style="background:#d95f02"></span>proposed kit, dashed circle = {radius_m:g} m
reach ({e(cm['distance'])}); <span class="sw" style="background:#1b9e77"></span>within reach /
<span class="sw" style="background:#e7298a"></span>not within reach (offences per H3 cell);
black dashed hexagons: Gi* hot spots out of reach of every kit.</div>
<h2>People Zone shortlist ({e(zm['layer'])}s)</h2>
<div>{swatches}</div>
<table><tr><th>#</th><th>Area</th><th class=num>if weights ±50%</th>
<th class=num>by chance (90%)</th><th class=num>per 1,000</th></tr>{areas}</table>
<div>A shortlist for community engagement, not a decision. Weights: {e(weights)}.
{e(zm['warnings'][0]) if zm['warnings'] else ''}</div>
<details><summary>How this was made</summary>
<div>Candidates: {e(cm['candidates_description'] or '')}. Demand: {e(cm['demand_definition'])}.
Distance: {e(cm['distance_source'])}. Hot spots: {e(view['hot_spot_definition'])}. Ranking: {e(zm['uncertainty'])}; {e(zm['sensitivity'])}. Dataset
{e(str(cm['dataset_version']))}, boundaries {e(cm['boundaries_version'])}, seed {zm['seed']}.
</div></details>
<div style="margin-top:6px;color:#555">Made {made}. Contains public sector information
licensed under the Open Government Licence v3.0; contains OS data © Crown copyright and
database right. Base map © OpenStreetMap contributors.</div>
</div>"""
