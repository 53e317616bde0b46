"""Folium map of a displacement report: the answer in words (each policing area's share
change with its certainty, the WDQ reading and its caveat), NPA/ward share change, Gi*
hotspot change, centres.

Aggregates only (areas, H3 cells, mean centres): no individual offence points.
"""

from __future__ import annotations

import math

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import metric_to_lonlat
from geo_api.services.comparison import CentreShift, Shift
from geo_api.services.report import ReportMapLayers
from geo_api.services.report_words import (
    WDQ_CAVEAT,
    WDQ_MEANING,
    area_sentences,
    certainty_sentence,
    npa_name,
    wdq_order,
    wdq_sentences,
)
from geo_api.web.maps.base import Raw, legend, new_map, root_of, safe_geojson
from geo_api.web.maps.hotspots import (
    AreaLabels,
    join_properties,
    label_points,
    outline_features,
)
from geo_api.web.templating import render

# Colour-blind-safe and distinct from each other: areas on a purple-green diverging scale
# (ColorBrewer PRGn), hot spot cells in Okabe-Ito orange/vermillion/sky blue with outlines.
CHANGE_COLOURS = {"persistent": "#D55E00", "new": "#E69F00", "no longer hot": "#56B4E9"}
CHANGE_WORDS = {"persistent": "hot in both periods", "new": "hot only after",
                "no longer hot": "hot only before"}
CHANGE_NAMES = {"persistent": "lasting", "new": "new", "no longer hot": "gone"}
SHARE_STEPS = [(-4, "#1b7837", "share fell by more than 4 points"),
               (-1, "#a6dba0", "fell by 1-4 points"),
               (1, "#f7f7f7", "within 1 point"),
               (4, "#c2a5cf", "rose by 1-4 points"),
               (math.inf, "#762a83", "rose by more than 4 points")]
WITHHELD = "#cccccc"


def _share_colour(pp: float | None) -> str:
    """Diverging colour for a share change in percentage points (grey when withheld)."""
    if not isinstance(pp, int | float) or math.isnan(pp):
        return WITHHELD
    return next(c for limit, c, _ in SHARE_STEPS if pp < limit)


COMPASS = ["north", "north-east", "east", "south-east", "south", "south-west", "west",
           "north-west"]


def shift_words(shift: Shift) -> str:
    """'moved 850 m north-east' from a centre shift (distance and bearing); 'did not move'
    when the centres are the same point (e.g. the public role's, on their coarse grid)."""
    assert shift.distance_m is not None  # (callers: a published shift)
    if not shift.distance_m or shift.bearing_deg is None:
        return "did not move (at the precision shown)"
    return (f"moved {shift.distance_m:,.0f} m "
            f"{COMPASS[round(shift.bearing_deg / 45) % 8]}")


def arrow_head(x_m: float, y_m: float, dx: float, dy: float) -> list[tuple[float, float]]:
    """The two barbs of an arrow ending at (x_m, y_m) pointing along (dx, dy), in metres:
    a quarter of the shaft long (40-250 m), 25 degrees either side."""
    length = math.hypot(dx, dy)
    barb = min(max(0.25 * length, 40.0), 250.0)
    back = math.atan2(-dy, -dx)
    return [(x_m + barb * math.cos(back + a), y_m + barb * math.sin(back + a))
            for a in (math.radians(25), math.radians(-25))]


def _areas_layer(name: str, features: list[dict], table: pd.DataFrame, show: bool
                 ) -> folium.GeoJson:
    """An area layer coloured by the change in its share, with counts and shares on hover."""
    t = table[["code", "before", "after", "share_before", "share_after", "share_change",
               "share_change_ci95_low", "share_change_ci95_high", "direction"]].copy()
    for c in ("share_before", "share_after", "share_change", "share_change_ci95_low",
              "share_change_ci95_high"):
        t[c] = (100 * pd.to_numeric(t[c], errors="coerce")).round(1)  # null: withheld
    return folium.GeoJson(
        join_properties(features, t), name=name, show=show,
        style_function=lambda f: {"fillColor": _share_colour(f["properties"]["share_change"]),
                                  "color": "#555", "weight": 1.5, "fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "before", "after", "share_before", "share_after", "share_change",
                    "share_change_ci95_low", "share_change_ci95_high", "direction"],
            aliases=["Area", "Offences before", "Offences after", "Share before %",
                     "Share after %", "Change (percentage points)",
                     "Change: 95% range from", "to", "Verdict"]))


def render_report_map(boundaries, layers: ReportMapLayers, title: str, group_words: str = "",
                      controls=None) -> str:
    """HTML of the report map (works offline except for the base tiles). ``title``: the two
    periods in words ('Dec 2019–Feb 2020 vs Apr–Jun 2020'); text is escaped here."""
    m = new_map(title=f"Did it move? {title}")
    _areas_layer("Policing areas: change in share (approximate boundaries)",
                 outline_features(boundaries, "npa"), layers.npa_table, True).add_to(m)
    _areas_layer("Wards: change in share", outline_features(boundaries, "ward"),
                 layers.ward_table, False).add_to(m)
    AreaLabels(label_points(boundaries, "ward"), "Ward names").add_to(m)
    cells = pd.DataFrame(layers.hotspots.cells)
    cells = cells[cells["change"] != "not hot"]
    if len(cells):
        ids = cells["id"].map(lambda s: int(s, 16)).to_numpy()
        hg = gpd.GeoDataFrame(cells[["id", "count_before", "count_after", "change"]],
                              geometry=h3_polygons_lonlat(ids), crs=4326)
        hg["hot_spot"] = hg["change"].map(CHANGE_NAMES)
        hg["meaning"] = hg["change"].map(CHANGE_WORDS)
        folium.GeoJson(
            safe_geojson(hg), name="Hot spots: new, lasting or gone (hexagons)",
            style_function=lambda f: {"fillColor": CHANGE_COLOURS[f["properties"]["change"]],
                                      "color": "#222", "weight": 1, "fillOpacity": 0.85},
            tooltip=folium.GeoJsonTooltip(
                fields=["hot_spot", "meaning", "count_before", "count_after"],
                aliases=["Hot spot", "Meaning", "Offences before", "Offences after"])
        ).add_to(m)
    _centre_arrow(layers.centres).add_to(m)
    folium.LayerControl(collapsed=False, position="bottomright").add_to(m)
    items = {f"Area: {words}": c for _, c, words in SHARE_STEPS}
    items["Area: withheld (few offences)"] = WITHHELD
    items.update({f"Hot spot {CHANGE_NAMES[k]} ({CHANGE_WORDS[k]})": c
                  for k, c in CHANGE_COLOURS.items()})
    shift = layers.centres.shift
    moved = (f" The centre of offences {shift_words(shift)} (arrow)."
             if shift.distance_m is not None else "")
    legend(m, f"Did it move? {title}", items,
           [(f"{group_words.capitalize()}. " if group_words else "")
            + "Areas: change in each area's share of the city's offences (hover for counts "
            "and shares). Hexagons: hot spots in either period." + moved],
           technical=layers.hotspots.meta["hot_definition"].replace("hot =", "Hot =", 1)
           + ". Hexagons: H3 resolution 9. Share change: Newcombe 95% interval; verdict: "
           "exact conditional binomial test. WDQ: Bowers & Johnson (2003), "
           + ", ".join(wdq_order(layers.wdq)) + " (target, areas around, comparison).")
    root_of(m).html.add_child(Raw(verdict_panel(layers)))
    if controls is not None:  # map name -> the controls form
        root_of(m).html.add_child(Raw(controls(m.get_name())))
    return root_of(m).render()


def verdict_panel(layers: ReportMapLayers):
    """The answer in words (``report_words``) from the tables as published to the caller:
    a sentence per policing area, the WDQ reading, what "clear" means and the caveats."""
    rows = layers.npa_table.to_dict("records")
    reading = wdq_sentences(layers.wdq, {str(r["code"]): npa_name(r["code"], r.get("name"))
                                         for r in rows})
    notes = [WDQ_MEANING, WDQ_CAVEAT]
    return render("maps/verdict.html", heading="The answer in words",
                  areas=area_sentences(rows, wdq_order(layers.wdq)),
                  reading=[s for s in reading if s not in notes],
                  certainty=certainty_sentence(layers.sig.alpha, layers.sig.fdr, len(rows)),
                  notes=notes)


def _centre_arrow(centres: CentreShift) -> folium.FeatureGroup:
    """Both mean centres and a labelled arrow from the before centre to the after centre."""
    fg = folium.FeatureGroup(name="Centre of offences: shift")
    ends = {}
    for label, centre in (("before", centres.before), ("after", centres.after)):
        if centre.mean_x_m is None or centre.mean_y_m is None:  # withheld under disclosure
            continue  # control (few offences)
        ends[label] = (centre.mean_x_m, centre.mean_y_m)
        lon, lat = metric_to_lonlat(np.array([centre.mean_x_m]), np.array([centre.mean_y_m]))
        folium.CircleMarker((float(lat[0]), float(lon[0])), radius=6, color="black",
                            fill=True, fill_opacity=1,
                            fill_color="white" if label == "before" else "black",
                            tooltip=f"Centre of offences {label}").add_to(fg)
    shift = centres.shift
    if len(ends) == 2 and shift.distance_m:  # (no arrow where it did not move)
        (x0, y0), (x1, y1) = ends["before"], ends["after"]
        barbs = arrow_head(x1, y1, x1 - x0, y1 - y0)
        xs, ys = [x0, x1, barbs[0][0], x1, barbs[1][0]], [y0, y1, barbs[0][1], y1, barbs[1][1]]
        lon, lat = metric_to_lonlat(np.array(xs), np.array(ys))
        pts = [(float(a), float(b)) for a, b in zip(lat, lon)]
        text = f"Centre {shift_words(shift)}"
        folium.PolyLine(pts[:2], color="black", weight=3,
                        tooltip=folium.Tooltip(text, permanent=True, direction="right",
                                               class_name="shift-label")).add_to(fg)
        folium.PolyLine(pts[2:], color="black", weight=3).add_to(fg)
    return fg
