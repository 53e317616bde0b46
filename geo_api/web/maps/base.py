"""Folium maps that work offline: Leaflet is served from /static, base tiles are optional.

Base tiles load in the user's browser from OpenStreetMap; without a network the map still
works on a plain background. A small script records JavaScript errors on the page
(``data-js-errors`` on <html>) so browser tests can assert there are none.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence

import folium
import pandas as pd
from branca.element import Element, Figure, MacroElement
from markupsafe import Markup

from geo_api.web.templating import escape_text, render

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
LEAFLET_CSS = "/static/vendor/leaflet/leaflet.css"
CENTRE = [52.636, -1.133]  # Leicester (lat, lon for Leaflet)


class Raw(Element):
    """Finished HTML in a page (a rendered template, ``Markup``). Branca's ``Element(text)``
    compiles ``text`` as a Jinja template on every page build - slow for long blocks and
    unsafe for text from users (an area name containing ``{{ ... }}`` would be evaluated);
    this one is written as it is. Plain ``str`` is refused: HTML is made by templates, where
    user text is an escaped value."""

    def __init__(self, text: Markup):
        super().__init__()
        if not isinstance(text, Markup):
            raise TypeError("Raw takes finished HTML (templating.render or Markup), not str")
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
            getattr(figure, part).add_child(Raw(Markup(macro(self, kwargs))),
                                            name=self.get_name())
    for element in self._children.values():
        element.render(**kwargs)


# every folium layer renders through this (deliberately replacing branca's method)
MacroElement.render = _render_macro  # type: ignore[method-assign]


def root_of(m: Element) -> Figure:
    """The Figure (the page) a map or element belongs to."""
    root = m.get_root()
    if not isinstance(root, Figure):
        raise TypeError(f"{m!r} is not in a Figure")
    return root


def page_head(root: Figure, title: str, print_button: bool = True) -> None:
    """Error probe, ``<title>``, the offline note, the link to the glossary (``GET
    /glossary``), the phone layout (legend and layer list folded at first) and printing
    (A4 landscape stylesheet, the whole selection fitted into the printed map, and a Print
    button) for a page."""
    root.header.add_child(Raw(render("_error_probe.html")), index=0)
    root.header.add_child(Raw(render("maps/head.html", title=title)))
    root.html.add_child(Raw(render("maps/offline_note.html")))
    root.html.add_child(Raw(render("maps/glossary_link.html")))
    root.html.add_child(Raw(render("maps/phone.html")))
    root.html.add_child(Raw(render("maps/print_fit.html")))
    if print_button:
        root.html.add_child(Raw(render("maps/print_button.html")))


def print_selection(m: folium.Map, layers: list[Element]) -> None:
    """What ``m`` prints whole (maps/print_fit.html): these layers, instead of all it draws
    (e.g. the places a page lists, not the city's ward outlines around them)."""
    names = json.dumps([layer.get_name() for layer in layers])  # folium's identifiers
    root_of(m).html.add_child(Raw(Markup(
        f"<script>window.geoPrintSelection = (window.geoPrintSelection || []).concat({names});"
        "</script>")))


def new_map(title: str = "Leicester violence map", print_button: bool = True,
            **kwargs) -> folium.Map:
    """A Leaflet map centred on Leicester with local Leaflet assets, an error probe, a
    ``<title>``, the offline note and printing."""
    m = folium.Map(location=kwargs.pop("location", CENTRE),
                   zoom_start=kwargs.pop("zoom_start", 12), tiles="OpenStreetMap",
                   control_scale=True, **kwargs)
    m.default_js = [("leaflet", LEAFLET_JS)]
    m.default_css = [("leaflet_css", LEAFLET_CSS)]
    page_head(root_of(m), title, print_button)
    return m


def legend(m: Element, title: str, items: dict[str, str], notes: Sequence[str] = (),
           technical: str = "") -> None:
    """A fixed legend box (bottom left) with colour swatches, plain words first and the
    technical line (statistic, permutations, seed, dataset) folded in "How this was made";
    ``m`` is a Map or a Figure. ``title``, ``items`` (label -> colour), ``notes`` (one line
    each) and ``technical`` are text (escaped) or finished HTML (``Markup``)."""
    root = m if isinstance(m, Figure) else root_of(m)
    root.html.add_child(Raw(render(
        "maps/legend.html", title=title, items=list(items.items()),
        notes=[n for n in notes if n], technical=technical,
        made=datetime.date.today().isoformat())))


def tooltip_text(text: object) -> str:
    """User text for a Folium tooltip: HTML-escaped, and with the characters that matter in
    the JavaScript template literal Folium wraps tooltips in (backslash, backtick, ``$``)
    written as HTML entities, so ``${...}`` in a site name is shown, never run (the same
    escaping as every template value)."""
    return str(escape_text(str(text)))


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
