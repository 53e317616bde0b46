"""The briefing pack as an A4 portrait PDF (matplotlib's PDF backend, no browser): page 1
what changed and the hot spot map, page 2 the monthly trend, the focus places and the People
Zone rank, page 3 kits and how this was made. Text in plain words; methods only at the end.
"""

from __future__ import annotations

import io
import textwrap

import geopandas as gpd
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure  # not pyplot: no global state, safe in worker threads
from matplotlib.patches import Patch as LegendPatch

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import METRIC_EPSG, lonlat_to_metric
from geo_api.services.briefings import Briefing
from geo_api.services.digest import month_words
from geo_api.web.maps.hotspots import GI_COLOURS, PLAIN
from geo_api.web.maps.static_png import ATTRIBUTION, halo, scale_bar

A4_IN = (8.27, 11.69)  # portrait
LEFT, RIGHT = 0.07, 0.93
WRAP = 106  # characters per line at 9 pt across the text column
MAX_STREET_LABELS = 18
MAX_PLACE_LABELS = 8


class Page:
    """An A4 page filled top to bottom (``y``: the next line's top, figure fraction)."""

    def __init__(self, pdf: PdfPages, b: Briefing, number: int):
        self.fig = Figure(figsize=A4_IN)
        self.pdf, self.y = pdf, 0.955
        self.fig.text(LEFT, 0.975, f"{b.patch.label} - briefing, {b.period}", fontsize=8,
                      color="#555555", parse_math=False)
        self.fig.text(RIGHT, 0.975, f"page {number}", fontsize=8, color="#555555",
                      ha="right", parse_math=False)
        self.fig.text(LEFT, 0.02, "\n".join(textwrap.wrap(ATTRIBUTION, 120)), fontsize=6,
                      color="#555555", va="bottom", parse_math=False)

    def text(self, s: str, size: float = 9, weight: str = "normal", gap: float = 0.004,
             width: int = WRAP, colour: str = "black") -> None:
        lines = textwrap.wrap(s, int(width * 9 / size)) or [""]
        self.fig.text(LEFT, self.y, "\n".join(lines), fontsize=size, weight=weight,
                      va="top", color=colour, parse_math=False, linespacing=1.35)
        self.y -= len(lines) * size * 1.35 / 72 / A4_IN[1] + gap

    def heading(self, s: str) -> None:
        self.y -= 0.008
        self.text(s, size=12, weight="bold", gap=0.006)

    def axes(self, height: float, left: float = LEFT, right: float = RIGHT):
        ax = self.fig.add_axes((left, self.y - height, right - left, height))
        self.y -= height + 0.01
        return ax

    def done(self) -> None:
        self.pdf.savefig(self.fig)


def render_briefing_pdf(b: Briefing, boundaries) -> bytes:
    """PDF bytes of briefing ``b`` (``boundaries``: for ward and policing-area outlines)."""
    buf = io.BytesIO()
    with PdfPages(buf, metadata={
            "Title": f"Briefing: {b.patch.label}, {b.period}",
            "Subject": f"{b.group_words}; dataset version {b.dataset_version}",
            "Author": "geo_api", "Creator": "geo_api briefings (matplotlib)",
            "CreationDate": b.made, "Keywords": f"{b.patch.slug} {b.months[-1]}"}) as pdf:
        _page_one(pdf, b, boundaries)
        _page_two(pdf, b)
        _page_three(pdf, b)
    return buf.getvalue()


def _count(n) -> str:
    return "fewer than 5" if n is None else f"{n:,}"


def _page_one(pdf, b: Briefing, boundaries) -> None:
    page = Page(pdf, b, 1)
    page.text(f"Briefing: {b.patch.label}", size=18, weight="bold", gap=0.006)
    page.text(f"{b.group_words.capitalize()}, {b.period}", size=11, gap=0.004)
    page.text(f"Made {b.made:%d %B %Y %H:%M} UTC from dataset version {b.dataset_version}, "
              f"for the {b.role} role.", size=8, colour="#444444", gap=0.01)
    if b.left_out:
        page.text(f"Public version: {b.left_out}.", size=8, colour="#8a1c00", gap=0.008)
    page.heading("What changed")
    page.text(f"{b.patch.name} had {_count(b.offences)} offences in {b.period} "
              f"(the whole city {_count(b.city_offences)}).")
    for change in b.changes:
        page.text(change.sentence)
    page.text(b.hot_sentence, gap=0.01)
    page.heading(f"Hot spot map, {b.period}")
    _hotspot_map(page.axes(page.y - 0.1), b, boundaries)
    page.text(f"{b.street_note}. Hexagons about 350 m across; policing-area outlines are "
              "approximate.", size=7, colour="#444444")
    page.done()


def _hotspot_map(ax, b: Briefing, boundaries) -> None:
    """The patch (thick outline), hot cells, wards with names, street context, focus
    places numbered and kits, in British National Grid metres (true distances)."""
    x0, y0, x1, y1 = b.map_bounds_m
    wards, npa = boundaries.get("ward").gdf, boundaries.get("npa").gdf
    if b.streets is not None:
        for line, kind in zip(b.streets.lines_m, b.streets.classes):
            ax.plot(line[:, 0], line[:, 1], color="#bbbbbb",
                    linewidth=1.2 if kind in ("primary", "secondary", "trunk") else 0.5,
                    zorder=1)
    wards.boundary.plot(ax=ax, color="#888888", linewidth=0.6, zorder=2)
    if b.hot_spots:
        cells = gpd.GeoDataFrame(
            {"label": [s.label for s in b.hot_spots]},
            geometry=h3_polygons_lonlat(np.array([int(s.id, 16) for s in b.hot_spots],
                                                 dtype=np.uint64)), crs=4326
        ).to_crs(METRIC_EPSG)
        cells.plot(ax=ax, color=cells["label"].map(GI_COLOURS), edgecolor="white",
                   linewidth=0.3, alpha=0.9, zorder=3)
    npa.boundary.plot(ax=ax, color="#333333", linewidth=1.0, zorder=4)
    gpd.GeoSeries([b.patch.geometry_m], crs=METRIC_EPSG).boundary.plot(
        ax=ax, color="black", linewidth=2.4, zorder=5)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box", anchor="N")
    for name, pt in zip(wards["name"], wards.geometry.representative_point()):
        if x0 < pt.x < x1 and y0 < pt.y < y1:
            ax.annotate(name, (pt.x, pt.y), ha="center", va="center", fontsize=7,
                        color="#555555", style="italic", zorder=6, parse_math=False,
                        path_effects=[halo()], annotation_clip=True)
    _street_labels(ax, b)
    for place in b.focus or []:
        (px,), (py,) = lonlat_to_metric(np.array([place.lon]), np.array([place.lat]))
        ax.annotate(str(place.rank), (px, py), ha="center", va="center", fontsize=7,
                    color="white", weight="bold", zorder=8, annotation_clip=True,
                    bbox={"boxstyle": "circle,pad=0.25", "fc": "#d95f02", "ec": "white"})
    for kit in (b.kits.kits if b.kits else []):
        ax.plot(kit.x_m, kit.y_m, marker="^", color="#762a83", markersize=5,
                markeredgecolor="white", markeredgewidth=0.5, zorder=7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    scale_bar(ax)
    handles = [LegendPatch(facecolor=GI_COLOURS[k], label=PLAIN[k]) for k in GI_COLOURS
               if k.startswith("hot")]
    handles += [LegendPatch(facecolor="none", edgecolor="black", linewidth=2.4,
                            label=f"{b.patch.label}"),
                LegendPatch(facecolor="none", edgecolor="#888888", label="Ward")]
    if b.focus:
        handles.append(LegendPatch(facecolor="#d95f02", label="Focus place (number)"))
    if b.kits:
        handles.append(LegendPatch(facecolor="#762a83", label=f"Kit ({b.kits.site_set})"))
    ax.legend(handles=handles, loc="upper left", fontsize=6.5, framealpha=0.9)


def _street_labels(ax, b: Briefing) -> None:
    """Street names from the OSM file (the longest named streets on the map), else the
    police.uk location names of the patch's strongest hot spots."""
    x0, y0, x1, y1 = b.map_bounds_m
    if b.streets is not None:
        best: dict[str, tuple[float, np.ndarray]] = {}
        for line, name in zip(b.streets.lines_m, b.streets.names):
            inside = line[(line[:, 0] > x0) & (line[:, 0] < x1) & (line[:, 1] > y0)
                          & (line[:, 1] < y1)]
            if not name or len(inside) < 2:
                continue
            length = float(np.hypot(*np.diff(inside, axis=0).T).sum())
            if length > best.get(name, (0.0, inside))[0]:
                best[name] = (length, inside)
        for name, (_, pts) in sorted(best.items(), key=lambda kv: -kv[1][0])[:MAX_STREET_LABELS]:
            mid = pts[len(pts) // 2]
            ax.annotate(name, (mid[0], mid[1]), fontsize=6, color="#333333", ha="center",
                        zorder=6, parse_math=False, path_effects=[halo()])
        return
    order = {"hot 99%": 0, "hot 95%": 1, "hot 90%": 2}
    named = sorted((s for s in b.hot_spots if s.in_patch and s.place),
                   key=lambda s: order.get(s.label, 3))
    seen: set[str] = set()
    for spot in named:
        name = spot.place.split("; ")[0]
        if name in seen or len(seen) >= MAX_PLACE_LABELS:
            continue
        seen.add(name)
        ax.annotate(name, (spot.x_m, spot.y_m), xytext=(0, 7), textcoords="offset points",
                    fontsize=6, color="#222222", ha="center", zorder=7, parse_math=False,
                    path_effects=[halo()], annotation_clip=True)


def _page_two(pdf, b: Briefing) -> None:
    page = Page(pdf, b, 2)
    page.heading("Month by month")
    page.text(f"{b.group_words.capitalize()} in {b.patch.label} each month; the briefing's "
              "months are darker.", size=8, colour="#444444")
    _trend_chart(page.axes(0.22, left=0.1), b)
    page.y -= 0.02
    page.heading(f"Focus places for {month_words(b.focus_next_month)}"
                 if b.focus_next_month else "Focus places")
    if b.focus is None:
        page.text("Left out: the focus places need a partner key.")
    elif not b.focus:
        page.text(f"None of the city's {30} focus places for next month is in "
                  f"{b.patch.label}.")
    else:
        page.text("Where to go next month: the city's focus list (the places most likely to "
                  "see violence next month, judged by how well each way of choosing them "
                  "did on the loaded months) - those in the patch, by city rank.", size=8,
                  colour="#444444")
        for place in b.focus[:12]:
            trend = {"rising": "rising clearly", "falling": "falling clearly"}.get(
                place.trend, place.trend)
            page.text(f"#{place.rank}  {place.name} ({place.ward} ward): "
                      f"{place.count_last_3_months} offences in the last 3 months, "
                      f"{place.count_last_12_months} in the loaded months; {trend}.",
                      size=8.5, gap=0.002)
        if len(b.focus) > 12:
            page.text(f"... and {len(b.focus) - 12} more (GET /focus).", size=8)
    page.heading("People Zones")
    page.text(b.people_zone.sentence if b.people_zone else
              ("Left out: the People Zone rank needs a partner key." if b.left_out else
               "No People Zone rank: too few loaded months."))
    page.done()


def _trend_chart(ax, b: Briefing) -> None:
    values = [0 if v is None else v for v in b.trend_counts]
    colours = ["#b2182b" if m in b.months else "#f4a582" for m in b.trend_months]
    xs = np.arange(len(values))
    ax.bar(xs, values, color=colours)
    for x, v in zip(xs, b.trend_counts):
        ax.annotate("<5" if v is None else f"{v:,}", (x, v or 0), xytext=(0, 2),
                    textcoords="offset points", ha="center", fontsize=6.5)
    ax.set_xticks(xs, [f"{m[5:]}/{m[2:4]}" for m in b.trend_months], fontsize=7)
    ax.set_ylabel("offences", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylim(0, max(values + [1]) * 1.18)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _page_three(pdf, b: Briefing) -> None:
    page = Page(pdf, b, 3)
    page.heading("Kits and their reach")
    if b.kits is not None:
        page.text(b.kits.sentence)
        page.text(f"Site set: {b.kits.site_set} ({b.kits.description}). Offences within "
                  f"{b.kits.radius_m:g} m of each kit, {b.period}:", size=8, colour="#444444")
        for kit in sorted(b.kits.kits, key=lambda k: -k.offences_within)[:20]:
            where = "in the patch" if kit.in_patch else "near the patch"
            page.text(f"{kit.name} ({kit.kind}, {where}): {kit.offences_within}", size=8,
                      gap=0.001)
        if len(b.kits.kits) > 20:
            page.text(f"... and {len(b.kits.kits) - 20} more.", size=8)
    elif b.left_out:
        page.text("Left out: kits need a partner key.")
    else:
        page.text("No kit set was named. Upload your kits as a site set (POST "
                  "/sites/{name}) and ask for the briefing with kits=<name>.")
    page.heading("How this was made")
    for line in b.methods:
        page.text(line, size=7.5, colour="#333333", gap=0.002)
    page.text("Counts are offences police.uk publishes at approximate map points; a change "
              "called clear is one unlikely to be chance alone. Hot spot: many more "
              "offences in a small area and the areas around it than chance would give.",
              size=7.5, colour="#333333")
    page.done()
