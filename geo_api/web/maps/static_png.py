"""Static PNG of the hot spot map for briefings and slide decks: Gi* hot (and cold) cells,
ward outlines with their names, approximate NPA outlines with their names ('Central
(NC)'), a title with the period and
offence group, a legend, a 1 km scale bar, what it was made from and the attribution. No base
tiles (nothing is fetched), drawn in British National Grid metres so distances are true.
Aggregates only, like the interactive map."""

from __future__ import annotations

import datetime
import io
import textwrap

import geopandas as gpd
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure  # not pyplot: no global state, safe in worker threads
from matplotlib.patches import Patch

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import METRIC_EPSG
from geo_api.web.maps.hotspots import GI_COLOURS, PLAIN, HotspotLayers, shown_names

SIZES_IN = {"slide": (13.333, 7.5), "a4": (11.69, 8.27)}  # 16:9 and A4 landscape, inches
DPI = 120
ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence "
               "v3.0 (police.uk). Contains OS data © Crown copyright and database right. "
               "Policing-area boundaries are approximate.")


def render_hotspot_png(boundaries, layers: HotspotLayers, layout: str = "slide",
                       cold: bool = False) -> bytes:
    """PNG bytes of one period's hot spots (``cold``: cold spots drawn too)."""
    wards = boundaries.get("ward").gdf
    npa = boundaries.get("npa").gdf
    fig = Figure(figsize=SIZES_IN[layout], dpi=DPI)
    ax = fig.subplots()
    fig.subplots_adjust(left=0.01, right=0.74, top=0.9, bottom=0.1)
    wards.boundary.plot(ax=ax, color="#777777", linewidth=0.6, zorder=2)
    shown = [k for k in GI_COLOURS if k.startswith("hot") or cold]
    sig = pd.DataFrame([r for r in layers.gi_rows if r.get("label") in shown])
    if len(sig):
        ids = sig["id"].map(lambda s: int(s, 16)).to_numpy()
        cells = gpd.GeoDataFrame({"label": sig["label"].to_numpy()},
                                 geometry=h3_polygons_lonlat(ids), crs=4326
                                 ).to_crs(METRIC_EPSG)
        cells.plot(ax=ax, color=cells["label"].map(GI_COLOURS), edgecolor="white",
                   linewidth=0.3, zorder=3)
    npa.boundary.plot(ax=ax, color="black", linewidth=1.6, zorder=4)
    for name, pt in zip(shown_names(boundaries, "npa"), npa.geometry.representative_point()):
        ax.annotate(name, (pt.x, pt.y), xytext=(0, -12), textcoords="offset points",
                    ha="center", va="center", fontsize=10, weight="bold", style="italic",
                    color="#000000", zorder=6, parse_math=False, path_effects=[halo()])
    for name, pt in zip(wards["name"], wards.geometry.representative_point()):
        ax.annotate(name, (pt.x, pt.y), ha="center", va="center", fontsize=7,
                    color="#222222", zorder=5, parse_math=False,  # "$" is text
                    path_effects=[halo()])
    ax.set_axis_off()
    ax.set_aspect("equal")
    scale_bar(ax)
    fig.suptitle(f"Hot spots: {layers.label}", x=0.02, ha="left", fontsize=15, weight="bold",
                 parse_math=False)
    handles = [Patch(facecolor=GI_COLOURS[k], edgecolor="#999999",
                     label=PLAIN[k].replace(" (layer off at first)", "")) for k in shown]
    handles += [Patch(facecolor="none", edgecolor="#777777", label="Ward"),
                Patch(facecolor="none", edgecolor="black", linewidth=1.6,
                      label="Policing area, NPA (approximate)")]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.75, 0.88),
               frameon=False, fontsize=9, title="Hot and cold spots (hexagons)",
               title_fontsize=9)
    note = ("Hot spot: many more offences here and in the hexagons around than chance "
            "would give. Cold spot: many fewer." + ("" if cold else
                                                     " Cold spots not drawn."))
    fig.text(0.755, 0.5, "\n".join(textwrap.wrap(note, 44)), fontsize=8, va="top",
             parse_math=False)
    made = (f"{layers.provenance}. Made "
            f"{datetime.date.today().isoformat()}.")
    fig.text(0.755, 0.32, "\n".join(textwrap.wrap(made, 48)), fontsize=7, va="top",
             color="#444444", parse_math=False)
    fig.text(0.01, 0.02, ATTRIBUTION, fontsize=7, color="#444444", parse_math=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def halo():
    return patheffects.withStroke(linewidth=2.5, foreground="white")


def scale_bar(ax, length_m: float = 1000.0) -> None:
    """A 1 km bar in the lower left (the axes are in metres)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    x, y = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([x, x + length_m], [y, y], color="black", linewidth=3, zorder=6,
            solid_capstyle="butt")
    ax.annotate(f"{length_m / 1000:g} km", (x + length_m / 2, y), xytext=(0, 4),
                textcoords="offset points", ha="center", fontsize=8, zorder=6)
