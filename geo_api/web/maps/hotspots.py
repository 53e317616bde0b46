"""Hotspot maps for neighbourhood and youth-work teams: Gi* hexagons, KDE, boundaries, sites.

``render_hotspot_map`` draws one period; ``render_side_by_side`` draws two periods in two
synchronised maps (pan/zoom one, the other follows). Aggregates only: H3 cells, KDE cells
and area counts, never offence points.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Figure, MacroElement
from folium.template import Template

from geo_api.analysis.defaults import DEFAULT_PERMUTATIONS
from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import to_io
from geo_api.services.report_words import npa_name
from geo_api.web.maps.base import (
    CENTRE,
    LEAFLET_CSS,
    LEAFLET_JS,
    Raw,
    legend,
    new_map,
    page_head,
    root_of,
    safe_geojson,
    tooltip_text,
)
from geo_api.web.templating import render

GI_COLOURS = {"hot 99%": "#b2182b", "hot 95%": "#ef8a62", "hot 90%": "#fddbc7",
              "cold 90%": "#d1e5f0", "cold 95%": "#67a9cf", "cold 99%": "#2166ac"}
KDE_COLOURS = [(0.75, "#7f0000"), (0.5, "#d7301f"), (0.25, "#fc8d59"), (0.1, "#fdcc8a"),
               (0.0, "#fef0d9")]
GI_NOTE = (f"Hot and cold spots: Getis-Ord Gi* on H3 hexagons (two-sided, "
           f"{DEFAULT_PERMUTATIONS:,} permutations, false discovery rate controlled across "
           "cells); heat map: kernel density (KDE), darker = nearer the peak density")
PLAIN = {"hot 99%": "Hot spot, 99% confidence", "hot 95%": "Hot spot, 95% confidence",
         "hot 90%": "Hot spot, 90% confidence",
         "cold 90%": "Cold spot, 90% (layer off at first)", "cold 95%": "Cold spot, 95%",
         "cold 99%": "Cold spot, 99%"}
PLAIN_NOTE = ("Hot spot: many more offences here and in the hexagons around than chance "
              "would give. Cold spot: many fewer. The confidence says how sure that is.")


def plain_items() -> dict[str, str]:
    """Legend label -> colour of the Gi* classes, in plain words."""
    return {PLAIN[k]: c for k, c in GI_COLOURS.items()}


SYNC_JS = "/static/vendor/leaflet.sync/L.Map.Sync.js"


@dataclass
class HotspotLayers:
    """What one period's map shows (all aggregates)."""

    gi_rows: list[dict]
    kde_url: str | None  # the KDE cells as GeoJSON from the API, fetched when switched on
    ward_counts: pd.DataFrame
    npa_counts: pd.DataFrame
    label: str  # text: the period and offences in words
    provenance: str = ""  # parameters, seed and dataset version (text), shown in the legend


def no_count_as_zero(col: pd.Series) -> pd.Series:
    """Areas without offences have no row: 0 (a count may also be text, e.g. "<5")."""
    col = col.astype(object)
    return col.where(col.notna(), 0)


SITE_COLOURS = {True: "#762a83", False: "#1b7837"}  # candidate sets / schools


def sites_layer(sites: pd.DataFrame, name: str, show: bool) -> folium.GeoJson:
    """Sites as circles with their name (and kind, if given) on hover; candidate sets
    (shown at first) larger than the schools layer. One GeoJSON layer, not a marker per
    site (a page with 150 schools builds in a tenth of the time). ``name``: text."""
    colour, radius = SITE_COLOURS[show], (8 if show else 6)
    kinds = sites["kind"].fillna("").astype(str) if "kind" in sites else None
    names = sites["name"].astype(str)
    label = names if kinds is None else names.where(kinds == "", names + " (" + kinds + ")")
    g = gpd.GeoDataFrame({"site": label.to_numpy()},
                         geometry=gpd.points_from_xy(sites["lon"], sites["lat"]), crs=4326)
    return folium.GeoJson(
        safe_geojson(g), name=tooltip_text(name), show=show,  # Leaflet shows it as HTML
        marker=folium.CircleMarker(radius=radius, color=colour, fill=True, fill_opacity=0.9,
                                   weight=1),
        tooltip=folium.GeoJsonTooltip(fields=["site"], labels=False))


_OUTLINES: dict[tuple[str, str], list[dict]] = {}


def shown_names(boundaries, layer: str) -> list[str]:
    """A layer's area names as people see them: NPAs as 'Central (NC)' (``npa_name``: the
    name with the code the API and the strategy use), other areas by name."""
    g = boundaries.get(layer).gdf
    if layer == "npa":
        return [npa_name(c, n) for c, n in zip(g["code"], g["name"])]
    return [str(n) for n in g["name"]]


def outline_features(boundaries, layer: str) -> list[dict]:
    """A layer's areas as lon/lat GeoJSON features (code, escaped name as shown, see
    ``shown_names``), converted once per boundary set: only the counts change from page to
    page."""
    key = (boundaries.version, layer)
    if key not in _OUTLINES:
        g = to_io(boundaries.get(layer).gdf[["code", "name", "geometry"]])
        g["name"] = shown_names(boundaries, layer)
        _OUTLINES[key] = json.loads(safe_geojson(g))["features"]
    return _OUTLINES[key]


def with_counts(features: list[dict], counts: pd.DataFrame) -> dict:
    """The features with each area's ``count`` (0 where it has no row; text such as "<5"
    kept) as a FeatureCollection."""
    by_code = {c: tooltip_text(v) if isinstance(v, str) else v  # "<5": escaped like names
               for c, v in zip(counts["code"], no_count_as_zero(counts["count"]))}
    return {"type": "FeatureCollection", "features": [
        {**f, "properties": {**f["properties"],
                             "count": by_code.get(f["properties"]["code"], 0)}}
        for f in features]}


_LABEL_POINTS: dict[tuple[str, str], list[list]] = {}


def label_points(boundaries, layer: str) -> list[list]:
    """[lat, lon, escaped name] of each area at a point inside it (once per boundary set)."""
    key = (boundaries.version, layer)
    if key not in _LABEL_POINTS:
        g = boundaries.get(layer).gdf
        pts = to_io(gpd.GeoDataFrame(geometry=g.geometry.representative_point(), crs=g.crs))
        _LABEL_POINTS[key] = [[round(p.y, 5), round(p.x, 5), tooltip_text(n)]
                              for p, n in zip(pts.geometry, shown_names(boundaries, layer))]
    return _LABEL_POINTS[key]


class AreaLabels(folium.map.Layer):
    """Area names written on the map (not only on hover), shown from ``min_zoom`` (the whole
    city) in; a layer people can switch off. Names are escaped text."""

    _template = Template("""
        {% macro header(this, kwargs) %}
            <style>.area-label{background:none;border:none;pointer-events:none}
              .area-label span{position:absolute;transform:translate(-50%,-50%);
              font:bold 11px sans-serif;color:#222;white-space:nowrap;
              text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function (m) {  // own pane: shown from min_zoom in, never catches the mouse
              if (m.getPane('area-labels')) { return; }
              var pane = m.createPane('area-labels');
              pane.style.zIndex = 450; pane.style.pointerEvents = 'none';
              function zoomed() { pane.style.display =
                m.getZoom() >= {{ this.min_zoom }} ? '' : 'none'; }
              m.on('zoomend', zoomed); zoomed();
            })({{ this._parent.get_name() }});
            var {{ this.get_name() }} = L.layerGroup(
              {{ this.points|tojson }}.map(function (p) {
                return L.marker([p[0], p[1]], {interactive: false, keyboard: false,
                  pane: 'area-labels',
                  icon: L.divIcon({className: 'area-label', html: '<span>' + p[2] + '</span>',
                                   iconSize: null})});
              }));
        {% endmacro %}""")

    def __init__(self, points: list[list], name: str, min_zoom: int = 12, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "AreaLabels"
        self.points, self.min_zoom = points, min_zoom


def join_properties(features: list[dict], table: pd.DataFrame) -> dict:
    """The features whose ``code`` is in ``table`` with that row's values as properties
    (text escaped like names, missing numbers null) as a FeatureCollection."""
    def clean(v):
        if isinstance(v, str):
            return tooltip_text(v)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    rows = {r["code"]: {k: clean(v) for k, v in r.items() if k != "code"}
            for r in table.to_dict("records")}
    return {"type": "FeatureCollection", "features": [
        {**f, "properties": {**f["properties"], **rows[f["properties"]["code"]]}}
        for f in features if f["properties"]["code"] in rows]}


def add_hotspot_layers(m: folium.Map, boundaries, layers: HotspotLayers) -> None:
    """Wards (name + count on hover), approximate NPAs, Gi* cells and the KDE layer."""
    folium.GeoJson(with_counts(outline_features(boundaries, "ward"), layers.ward_counts),
                   name="Wards (offences on hover)",
                   style_function=lambda f: {"fill": True, "fillOpacity": 0, "color": "#555",
                                             "weight": 1},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "count"],
                                                 aliases=["Ward", "Offences"])).add_to(m)
    AreaLabels(label_points(boundaries, "ward"), "Ward names").add_to(m)
    folium.GeoJson(with_counts(outline_features(boundaries, "npa"), layers.npa_counts),
                   name="Policing areas (approximate)",
                   style_function=lambda f: {"fill": False, "color": "#000", "weight": 2.5},
                   tooltip=folium.GeoJsonTooltip(fields=["name", "count"],
                                                 aliases=["Policing area", "Offences"])
                   ).add_to(m)
    sig = pd.DataFrame([r for r in layers.gi_rows if r["label"] in GI_COLOURS])
    g = None
    if len(sig):
        ids = sig["id"].map(lambda s: int(s, 16)).to_numpy()
        if "streets" not in sig:
            sig["streets"] = ""
        g = gpd.GeoDataFrame(sig[["id", "count", "gi_z", "label", "streets"]].fillna(
            {"streets": ""}), geometry=h3_polygons_lonlat(ids), crs=4326)
        g["gi_z"] = pd.to_numeric(g["gi_z"], errors="coerce").round(2)  # null: withheld
        g["meaning"] = g["label"].map(PLAIN).str.replace(" (layer off at first)", "")
    for kind, show in (("hot", True), ("cold", False)):  # cold spots: a layer to switch on
        part = g[g["label"].str.startswith(kind)] if g is not None else None
        if part is None or not len(part):  # listed all the same: "none" is an answer too
            folium.FeatureGroup(name=f"{kind.capitalize()} spots (hexagons): none in this "
                                "period", show=False).add_to(m)
            continue
        folium.GeoJson(
            safe_geojson(part), name=f"{kind.capitalize()} spots (hexagons)", show=show,
            style_function=lambda f: {"fillColor": GI_COLOURS[f["properties"]["label"]],
                                      "color": "white", "weight": 0.5,
                                      "fillOpacity": 0.75},
            tooltip=folium.GeoJsonTooltip(fields=["meaning", "streets", "count", "gi_z"],
                                          aliases=["What", "Streets", "Offences",
                                                   "Strength (z-score)"])
        ).add_to(m)
    if layers.kde_url:
        FetchedGeoJson(layers.kde_url, "Heat map (darker: more offences)", KDE_STYLE_JS,
                       show=False).add_to(m)


# darker = nearer the peak (the KDE_COLOURS thresholds)
KDE_STYLE_JS = ("function(f){var s=f.properties.share_of_max,c=" + "".join(
    f"s>={lim}?'{c}':" for lim, c in KDE_COLOURS[:-1]) + f"'{KDE_COLOURS[-1][1]}';"
    "return {fillColor:c,color:c,weight:0,fillOpacity:0.6};}")


class FetchedGeoJson(folium.map.Layer):
    """A GeoJSON layer the page fetches from the API the first time it is switched on,
    instead of carrying it inline: the page builds faster and is smaller, and the data goes
    through the API's own roles, disclosure control and audit. A failed fetch says so in
    the corner."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.geoJSON(null, {style: {{ this.style_js }}});
            {{ this.get_name() }}.once('add', function () {
              fetch({{ this.url|tojson }}, {credentials: 'same-origin',
                                           headers: {'Accept': 'application/geo+json'}})
                .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); }
                                     return r.json(); })
                .then(function (d) { {{ this.get_name() }}.addData(d).bringToBack();
                                     document.documentElement.setAttribute(
                                       'data-fetched-layers',
                                       (+document.documentElement.getAttribute(
                                         'data-fetched-layers') || 0) + 1); })
                .catch(function (e) { var n = document.createElement('div');
                  n.className = 'layer-fetch-failed';
                  n.textContent = {{ this.layer_name|tojson }} + ' could not load (' +
                                  e.message + ').';
                  n.style.cssText = 'position:fixed;right:10px;bottom:48px;z-index:9999;' +
                    'background:#fde0dd;border:1px solid #c51b8a;padding:3px 6px;' +
                    'font:12px sans-serif';
                  document.body.appendChild(n); });
            });
        {% endmacro %}""")

    def __init__(self, url: str, name: str, style_js: str, show: bool = False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "FetchedGeoJson"
        self.url, self.layer_name, self.style_js = url, name, style_js


def render_hotspot_map(boundaries, layers: HotspotLayers,
                       sites: Sequence[tuple[str, pd.DataFrame, bool]] = (),
                       extra_note: str = "", controls=None, png_url: str | None = None) -> str:
    """HTML page: one period's hotspot layers, site layers (name, sites, shown), a layer
    control and (``png_url``) a link to the same map as a picture for slides."""
    m = new_map(title=f"Hot spots: {layers.label}")
    add_hotspot_layers(m, boundaries, layers)
    site_items = {}
    for name, rows, show in sites:
        if len(rows):
            sites_layer(rows, name, show).add_to(m)
            site_items[f"{name} ({len(rows):,} sites"
                       f"{'' if show else '; layer off at first'})"] = SITE_COLOURS[show]
    folium.LayerControl(collapsed=False).add_to(m)
    legend(m, layers.label, {**plain_items(), **site_items}, [PLAIN_NOTE, extra_note],
           technical=f"{GI_NOTE}. {layers.provenance}")
    root = root_of(m)
    if controls is not None:  # map name -> the controls form
        root.html.add_child(Raw(controls(m.get_name())))
    if png_url:
        root.html.add_child(Raw(render("maps/png_link.html", url=png_url)))
    return root.render()


class _Sync(MacroElement):
    """Leaflet.Sync between two maps (vendored plugin, served from /static)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this.a.get_name() }}.sync({{ this.b.get_name() }});
            {{ this.b.get_name() }}.sync({{ this.a.get_name() }});
        {% endmacro %}""")

    def __init__(self, a: folium.Map, b: folium.Map):
        super().__init__()
        self.a, self.b = a, b


def render_side_by_side(boundaries, before: HotspotLayers, after: HotspotLayers,
                        note: str = "", controls=None) -> str:
    """Two synchronised maps in one page: ``before`` on the left, ``after`` on the right
    (``note``: text or finished HTML for the legend)."""
    fig = Figure()
    page_head(fig, f"{before.label} | {after.label}")
    maps = []
    for side, layers in (("left", before), ("right", after)):
        m = folium.Map(location=CENTRE, zoom_start=12, tiles="OpenStreetMap",
                       control_scale=True, width="50%", height="100%", position="absolute",
                       left="0%" if side == "left" else "50%", top="0%")
        m.default_js = [("leaflet", LEAFLET_JS), ("leaflet_sync", SYNC_JS)]
        m.default_css = [("leaflet_css", LEAFLET_CSS)]
        fig.add_child(m)
        add_hotspot_layers(m, boundaries, layers)
        folium.LayerControl(collapsed=True).add_to(m)
        fig.html.add_child(Raw(render("maps/side_title.html", side=side, label=layers.label)))
        maps.append(m)
    fig.add_child(_Sync(*maps))
    if controls is not None:
        fig.html.add_child(Raw(controls(maps[0].get_name())))
    fig.html.add_child(Raw(render("maps/divider.html", left=maps[0].get_name(),
                                  right=maps[1].get_name())))
    legend(fig, "Hot spots, left and right", plain_items(),
           [PLAIN_NOTE, note, "Pan or zoom either map: the other follows."],
           technical=f"{GI_NOTE}. {after.provenance}")
    return fig.render()
