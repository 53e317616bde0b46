"""The focus map: where to go next month, numbered, with the table beside it and how well
each method predicted on the loaded months (an inline SVG chart). Prints on A4 landscape."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass

import folium
import numpy as np
from markupsafe import Markup

from geo_api.crs import to_io
from geo_api.services.digest import month_words
from geo_api.services.forecast import Evaluation, FocusList, FocusPlace
from geo_api.web.maps.base import Raw, new_map, print_selection, root_of, safe_geojson, tooltip_text
from geo_api.web.maps.hotspots import AreaLabels, label_points, outline_features
from geo_api.web.maps.layers import GROUP_WORDS, months_words
from geo_api.web.templating import render

COLOURS = {"naive": "#000000", "long_run": "#1b9e77", "recency": "#d95f02", "kde": "#7570b3",
           "gi": "#e7298a", "emerging": "#66a61e", "ensemble": "#e6ab02"}
# each method in plain words (its name and definition are under "How this was made")
METHOD_WORDS = {"naive": "recent counts only", "long_run": "counts over all earlier months",
                "recency": "all earlier months, recent ones counting more",
                "kde": "recent counts, smoothed over neighbouring places",
                "gi": "recent hot spots (clusters beyond chance)",
                "emerging": "emerging hot spots (new or growing clusters)",
                "ensemble": "smoothed counts, recent months counting more (tuned)"}


@dataclass(frozen=True)
class PatchChoice:
    """The panel's patch drop-down: (value, label) options, the chosen value ('' for the
    whole city) and the page's other query parameters (kept as hidden fields)."""

    options: list[tuple[str, str]]
    chosen: str
    keep: list[tuple[str, str]]


def render_focus_map(focus: FocusList, evaluation: Evaluation, shapes, boundaries=None,
                     query: str = "", zoom_to: int | None = None, controls=None,
                     patch: PatchChoice | None = None) -> str:
    """HTML of the focus map (``focus``/``evaluation``: services.forecast answers;
    ``shapes``: the places' polygons in EPSG:4326; ``boundaries``: for ward outlines and
    names, for orientation when the base map cannot load; ``query``: the page's query
    string, for the download links; ``patch``: the patch drop-down)."""
    meta = focus.meta
    title = f"Where to go in {month_words(meta['next_period'])}"
    if meta.get("area_name"):
        title += f": {meta['area_name']}"
    m = new_map(title=title, print_button=False, zoom_start=13)
    root = root_of(m)
    root.header.add_child(Raw(render("maps/panel_style.html")))
    if boundaries is not None:
        AreaLabels(label_points(boundaries, "ward"), "Ward names").add_to(m)
        folium.GeoJson({"type": "FeatureCollection",
                        "features": outline_features(boundaries, "ward")}, name="Wards",
                       style_function=lambda f: {"fill": False, "color": "#777",
                                                 "weight": 1},
                       tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["Ward"])
                       ).add_to(m)
    patch_bounds, selection = None, []
    if boundaries is not None and meta.get("area"):
        outline, patch_bounds = _patch_layer(boundaries, meta)
        selection.append(outline.add_to(m))
    selection.append(_places_layer(shapes, focus.places).add_to(m))
    selection.append(_numbers_layer(focus.places).add_to(m))
    print_selection(m, selection)  # printed: the places listed (and the patch), not the city
    chosen = [place for place in focus.places if zoom_to is None or place.rank == zoom_to]
    if chosen:
        lats = [place.lat for place in chosen]
        lons = [place.lon for place in chosen]
        m.fit_bounds([[min(lats) - 0.004, min(lons) - 0.006],
                      [max(lats) + 0.004, max(lons) + 0.006]], padding_bottom_right=(380, 10))
    elif patch_bounds is not None:
        m.fit_bounds(patch_bounds, padding_bottom_right=(380, 10))
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    form = controls(m.get_name()) if controls is not None else ""
    root.html.add_child(Raw(_panel(focus, evaluation, title, query, form, patch)))
    return root.render()


def _patch_layer(boundaries, meta: dict) -> tuple[folium.GeoJson, list[list[float]]]:
    """The chosen ward or NPA's outline, and its bounds [[south, west], [north, east]]."""
    layer, _, code = meta["area"].partition(":")
    g = to_io(boundaries.get(layer).gdf[["code", "name", "geometry"]])
    g = g[g["code"] == code]
    west, south, east, north = g.total_bounds
    return folium.GeoJson(safe_geojson(g), name=f"Your patch: {meta['area_name']}",
                          style_function=lambda f: {"fill": False, "color": "#08519c",
                                                    "weight": 3}), [[south, west], [north, east]]


def _places_layer(shapes, places: list[FocusPlace]) -> folium.GeoJson:
    """The focus places' polygons with rank, name and recent count on hover."""
    by_id = {place.id: place for place in places}
    polygons = shapes.copy()
    polygons["rank"] = [by_id[i].rank for i in polygons["id"]]
    polygons["place"] = [by_id[i].name for i in polygons["id"]]
    polygons["last_3_months"] = [by_id[i].count_last_3_months for i in polygons["id"]]
    return folium.GeoJson(
        safe_geojson(polygons), name="Focus places",
        style_function=lambda f: {"fillColor": "#d95f02", "color": "#7f2704", "weight": 2,
                                  "fillOpacity": 0.35},
        tooltip=folium.GeoJsonTooltip(fields=["rank", "place", "last_3_months"],
                                      aliases=["#", "Place", "Offences, last 3 months"]))


def _numbers_layer(places: list[FocusPlace]) -> folium.FeatureGroup:
    """Each place's rank in a circle."""
    numbers = folium.FeatureGroup(name="Numbers")
    for place in places:
        folium.Marker([place.lat, place.lon],
                      tooltip=tooltip_text(f"#{place.rank} {place.name}"),
                      icon=folium.DivIcon(html=render("maps/kit_number.html", rank=place.rank),
                                          icon_size=(26, 26), icon_anchor=(13, 13))
                      ).add_to(numbers)
    return numbers


def _walk_text(meta: dict) -> str:
    """Why the table's best row flatters (the walk-forward figure is in the reading)."""
    if not meta.get("walk_forward_folds"):
        return "The table's figures are in-sample."
    return ("The table is over all folds, which also chose the method: its best row is "
            "in-sample and flatters it; the walk-forward figure is the one to expect.")


def _plain_reading(meta: dict, n_places: int) -> str:
    """How well choosing places this way worked in earlier months, in plain words (the
    technical reading is under "How this was made")."""
    where = f" in {meta['area_name']}" if meta.get("area_name") else ""
    if not n_places:
        return f"No places{where} had offences in the months counted."
    text = (f"The {n_places} places{where} most likely to see violence next month, by the way "
            "of choosing that worked best on earlier months. ")
    if meta.get("walk_forward_folds") and None not in (
            meta.get("backtest_mean_hit_rate"), meta.get("backtest_mean_pai"),
            meta.get("naive_mean_pai")):
        text += (f"Tested on earlier months, the top {meta['coverage']:.0%} of the city chosen "
                 f"this way caught {meta['backtest_mean_hit_rate']:.0%} of the next month's "
                 f"violence: {meta['backtest_mean_pai']:.1f} times its share of the area "
                 f"(choosing by recent counts alone: {meta['naive_mean_pai']:.1f} times). ")
    else:
        text += "Too few months are loaded to test this on earlier months. "
    return text + "Counts are small: a place can drop out next month by chance."


def _period(months: list[str]) -> str:
    """'Dec 2019–Sep 2020 (10 months)' for ['2019-12', '2020-09']."""
    a, b = (datetime.date.fromisoformat(m + "-01") for m in months)
    n = (b.year - a.year) * 12 + b.month - a.month + 1
    return f"{months_words(a, b)} ({n} month{'s' if n > 1 else ''})"


def _panel(focus: FocusList, evaluation: Evaluation, title: str, query: str = "",
           controls: str = "", patch: PatchChoice | None = None) -> Markup:
    """The side panel (``controls``: the form at its top, finished HTML)."""
    meta = focus.meta
    months = meta["months"]
    summary = [{"colour": COLOURS.get(row["method"], "#999"), "method": row["method"],
                "words": METHOD_WORDS.get(row["method"], row["method"]),
                "pai": _f(row["mean_pai"]), "hit_rate": _pct(row["mean_hit_rate"]),
                "pei": _f(row["mean_pei"])}
               for row in sorted(evaluation.summary, key=lambda row: -(row["mean_pai"] or 0))]
    return render(
        "maps/focus_panel.html", controls=controls, title=title, meta=meta, ev=evaluation,
        group_words=GROUP_WORDS.get(meta["filters"]["group"], meta["filters"]["group"]),
        period=f"data {_period([months[0], months[-1]])}" if months else "",
        heads={"last_3": _period(meta["months_last_3"]),
               "last_12": _period(meta["months_last_12"])},
        places=focus.places, reading=focus.reading, plain=_plain_reading(meta, len(focus.places)),
        query=query, patch=patch, method_words=METHOD_WORDS.get(meta["method"], meta["method"]),
        walk_text=_walk_text(meta), summary=summary, chart=curve_chart(evaluation),
        coverage=f"{meta['coverage']:.0%}", made=datetime.date.today().isoformat(),
        grid=f"{meta['grid']}" + (f" r{meta['resolution']}" if meta.get("resolution") else ""))


def _f(v) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.2f}"


def _pct(v) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.0%}"


def curve_chart(evaluation: Evaluation, width: int = 330, height: int = 170) -> dict:
    """Hit rate against coverage for every method: what maps/curve.html draws (lines,
    ticks and the plot box, in SVG pixels)."""
    cov = evaluation.curves.coverage
    curves = evaluation.curves.hit_rate
    top = max([max((v for v in c if v is not None), default=0) for c in curves.values()]
              + [0.05])
    x0, y0, w, h = 34, 8, width - 44, height - 36

    def px(c, v):
        return x0 + (c - cov[0]) / (cov[-1] - cov[0]) * w, y0 + h - v / top * h

    lines = [{"name": METHOD_WORDS.get(name, name), "colour": COLOURS.get(name, "#999"),
              "width": 2.5 if name == "naive" else 1.5,
              "points": " ".join(f"{px(a, b)[0]:.1f},{px(a, b)[1]:.1f}"
                                 for a, b in zip(cov, c) if b is not None)}
             for name, c in curves.items()]
    step = 0.1 if top > 0.3 else 0.05
    y_ticks = [{"y": f"{px(cov[0], t)[1]:.1f}", "y_text": f"{px(cov[0], t)[1] + 3:.1f}",
                "label": f"{t:.0%}"} for t in np.arange(step, top + 1e-9, step)]
    x_ticks = [{"x": f"{px(c, 0)[0]:.1f}", "label": f"{c:.0%}"}
               for c in (cov[0], 0.05, 0.1, 0.15, cov[-1])]
    return {"width": width, "height": height, "x0": x0, "y0": y0, "w": w, "h": h,
            "lines": lines, "y_ticks": y_ticks, "x_ticks": x_ticks}
