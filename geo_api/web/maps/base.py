"""Folium maps that work offline: Leaflet is served from /static, base tiles are optional.

Base tiles load in the user's browser from OpenStreetMap; without a network the map still
works on a plain background. A small script records JavaScript errors on the page
(``data-js-errors`` on <html>) so browser tests can assert there are none.
"""

from __future__ import annotations

import html

import folium
import pandas as pd
from branca.element import Element, Figure, MacroElement

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
LEAFLET_CSS = "/static/vendor/leaflet/leaflet.css"
CENTRE = [52.636, -1.133]  # Leicester (lat, lon for Leaflet)
ERROR_PROBE = ("<script>window.addEventListener('error',function(e){var h=document.documentElement;"
               "h.setAttribute('data-js-errors',(+h.getAttribute('data-js-errors')||0)+1);"
               "h.setAttribute('data-js-error-last',String(e.message));});</script>")


# When no base-map tile has loaded after a few seconds (offline, or the tile server is
# blocked), say so in a corner instead of leaving a silent grey background.
OFFLINE_NOTE = ("<script>setTimeout(function(){if(document.querySelector('.leaflet-tile-loaded')"
                "||!document.querySelector('.leaflet-tile'))return;var d=document.createElement"
                "('div');d.id='offline-note';d.textContent='Base map could not load (offline?)"
                " - the data layers still work.';d.style.cssText='position:fixed;right:10px;"
                "bottom:24px;z-index:9999;background:#fff8c4;border:1px solid #b59f00;padding:"
                "3px 6px;font:12px sans-serif';document.body.appendChild(d);},5000);</script>")


# A4 landscape on paper: the map, its legend (title, period, made on), scale bar and
# attribution; no buttons or layer switches.
PRINT_PAGE = """<style>
#print-map{position:fixed;top:80px;left:10px;z-index:9999;font:12px sans-serif}
@media print{@page{size:A4 landscape;margin:8mm}
 .leaflet-control-layers,.leaflet-control-zoom,#print-map,#offline-note,#map-controls,
 .no-print{
  display:none!important}
 #legend{bottom:12mm!important}}
</style>"""
PRINT_BUTTON = '<button id="print-map" onclick="window.print()">Print (A4 landscape)</button>'


class Raw(Element):
    """Literal HTML in a page. Branca's ``Element(text)`` compiles ``text`` as a Jinja
    template on every page build - slow for long blocks and unsafe for text from users (an
    area name containing ``{{ ... }}`` would be evaluated); this one is written as it is."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


def _render_macro(self, **kwargs) -> None:
    """``MacroElement.render`` adding its rendered header/html/script as literal text.

    Branca (0.8) wraps each rendered macro in ``Element(text)``, which compiles the text -
    GeoJSON with area and site names in it - as a Jinja template again: a site named
    ``{{ 7*7 }}`` showed 49, and any Jinja expression in an uploaded name ran on the server.
    It was also most of a page's build time (a 1.3 MB layer compiled as a template). Same
    output otherwise; tests/test_xss.py checks that such names stay text."""
    figure = self.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("You cannot render this Element if it is not in a Figure.")
    macros = self._template.module.__dict__
    for part in ("header", "html", "script"):
        if (macro := macros.get(part)) is not None:
            getattr(figure, part).add_child(Raw(macro(self, kwargs)), name=self.get_name())
    for element in self._children.values():
        element.render(**kwargs)


MacroElement.render = _render_macro  # every folium layer renders through this


def page_head(root, title: str, print_button: bool = True) -> None:
    """Error probe, ``<title>``, the offline note and printing (A4 landscape stylesheet and
    a Print button) for a page (``root``: a Figure)."""
    root.header.add_child(Raw(ERROR_PROBE), index=0)
    root.header.add_child(Raw(f"<title>{html.escape(title)}</title>{PRINT_PAGE}"))
    root.html.add_child(Raw(OFFLINE_NOTE))
    if print_button:
        root.html.add_child(Raw(PRINT_BUTTON))


def new_map(title: str = "Leicester violence map", print_button: bool = True,
            **kwargs) -> folium.Map:
    """A Leaflet map centred on Leicester with local Leaflet assets, an error probe, a
    ``<title>``, the offline note and printing."""
    m = folium.Map(location=kwargs.pop("location", CENTRE),
                   zoom_start=kwargs.pop("zoom_start", 12), tiles="OpenStreetMap",
                   control_scale=True, **kwargs)
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    page_head(m.get_root(), title, print_button)
    return m


def legend(m, title: str, items: dict[str, str], note: str = "",
           technical: str = "") -> None:
    """A fixed legend box (bottom left) with colour swatches, plain words first and the
    technical line (statistic, permutations, seed, dataset) folded in "How this was made";
    ``m`` is a Map or a Figure."""
    rows = "".join(f'<div><span style="background:{c};width:12px;height:12px;display:inline-block;'
                   f'margin-right:4px;border:1px solid #777"></span>{k}</div>'
                   for k, c in items.items())
    import datetime

    more = (f"<details><summary>How this was made</summary><small>{technical}</small>"
            "</details>" if technical else "")
    more += f'<div style="color:#555">Made {datetime.date.today().isoformat()}</div>'
    root = m if isinstance(m, Figure) else m.get_root()
    root.html.add_child(Raw(
        f'<div id="legend" style="position:fixed;bottom:60px;left:10px;z-index:9999;'
        f'background:white;padding:8px;border:1px solid #999;font:12px sans-serif;'
        f'max-width:320px"><b>{title}</b>{f"<div>{note}</div>" if note else ""}{rows}{more}'
        "</div>"))


def tooltip_text(text: str) -> str:
    """User text for a Folium tooltip: HTML-escaped, and with the characters that matter in
    the JavaScript template literal Folium wraps tooltips in (backslash, backtick, ``$``)
    written as HTML entities, so ``${...}`` in a site name is shown, never run."""
    return (html.escape(str(text)).replace("\\", "&#92;").replace("`", "&#96;")
            .replace("$", "&#36;"))


def safe_geojson(gdf) -> str:
    """A GeoDataFrame as GeoJSON for a Folium layer, with every text property passed through
    ``tooltip_text``: Folium's GeoJsonTooltip puts property values into ``innerHTML``, and
    the JSON sits in an inline ``<script>``, so an area name like ``<img onerror=...>`` or
    ``</script>`` from a user's NPA file must arrive as inert text."""
    g = gdf.copy()
    for c in g.columns:
        if c != g.geometry.name and (g[c].dtype == object
                                     or pd.api.types.is_string_dtype(g[c])):
            g[c] = g[c].map(lambda v: tooltip_text(v) if isinstance(v, str) else v)
    return g.to_json()
