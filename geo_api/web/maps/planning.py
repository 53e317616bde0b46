"""The planner's map: kits and their reach, proposed kits in order, covered and uncovered
demand (H3 cells, aggregates only), uncovered hot spots, and the People Zone ranking as a
choropleth with the ranked table beside it. Prints on A4 landscape."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import folium
import geopandas as gpd
import h3
import numpy as np
import pandas as pd
from markupsafe import Markup

from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import metric_to_lonlat, to_io
from geo_api.services.planning import PeopleZones, PlanningView
from geo_api.web.maps.base import Raw, new_map, root_of, safe_geojson, tooltip_text
from geo_api.web.maps.layers import GROUP_WORDS
from geo_api.web.templating import render

RANK_COLOURS = [(5, "#54278f"), (10, "#9e9ac8"), (15, "#dadaeb")]  # top 5 / 6-10 / 11-15


def _rank_colour(rank: int) -> str:
    return next((c for top, c in RANK_COLOURS if rank <= top), "#f7f7f7")


# the built-in site sets in the panel's choices, in plain words
BUILT_IN_CANDIDATES = (("police_points", "police.uk map points (streets, public places)"),
                       ("schools", "schools"), ("postcodes", "postcode points"))
BUILT_IN_EXISTING = (("", "none"), ("schools", "a kit at every school"))
SET_FIELDS = frozenset({"existing", "candidates", "p", "radius_m"})


@dataclass(frozen=True)
class SetChoice:
    """What the panel's form offers and has chosen: the saved site sets' names (user
    text, escaped by the template), the chosen sets and number of kits, and the page's
    query (``keep``: its other parameters go along as hidden fields)."""

    saved: list[str]
    p: int
    candidates: str
    existing: str
    keep: list[tuple[str, str]]


def render_planning_map(boundaries, view: PlanningView, *, title: str, period: str,
                        radius_m: float, controls=None, choice: SetChoice | None = None
                        ) -> str:
    """HTML page of the planner's map (``view``: services.planning.planning_view;
    ``choice``: the panel's site set form). Layers a planner can switch: the People Zone
    ranking, the kits, their reach and the hot spots they miss on; offences per small
    hexagon (noisy over the ranking) off at first."""
    m = new_map(title=title, print_button=False, zoom_start=12)
    root = root_of(m)
    root.header.add_child(Raw(render("maps/panel_style.html")))
    _zones_layer(m, boundaries, view.zones)
    _demand_layer(m, view)
    existing = view.existing
    reach = folium.FeatureGroup(name=f"Reach of every kit ({radius_m:g} m)")
    if existing is not None and len(existing):
        _existing_layer(existing, radius_m, reach).add_to(m)
    _proposed_layer(view.siting.sites, radius_m, reach).add_to(m)
    reach.add_to(m)
    _hot_layer(m, view)
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    form = controls(m.get_name()) if controls is not None else ""
    root.html.add_child(Raw(_panel(view, title, period, radius_m, form, choice)))
    return root.render()


def _existing_layer(existing: pd.DataFrame, radius_m: float, reach: folium.FeatureGroup
                    ) -> folium.FeatureGroup:
    """The kits already in place (a site set); their reach goes in ``reach``."""
    fg = folium.FeatureGroup(name=f"Existing kits ({len(existing)})")
    for r in existing.itertuples():
        folium.Circle([r.lat, r.lon], radius=radius_m, color="#1b9e77", weight=1,
                      fill=True, fill_opacity=0.08).add_to(reach)
        folium.CircleMarker([r.lat, r.lon], radius=5, color="#1b9e77", fill=True,
                            fill_opacity=1, tooltip=tooltip_text(f"{r.name} ({r.kind})")
                            ).add_to(fg)
    return fg


def _proposed_layer(sites: list[dict], radius_m: float, reach: folium.FeatureGroup
                    ) -> folium.FeatureGroup:
    """The proposed kits, numbered by what each adds; their reach goes in ``reach``."""
    fg = folium.FeatureGroup(name=f"Proposed kits ({len(sites)}), numbered by what each adds")
    for s in sites:
        tip = (f"#{s['rank']} {s['name']}: adds {s['added_offences']} offences "
               f"({s['added_share']:.1%}); {s['cumulative_share']:.1%} covered so far")
        folium.Circle([s["lat"], s["lon"]], radius=radius_m, color="#d95f02", weight=1.5,
                      dash_array="4", fill=True, fill_opacity=0.06).add_to(reach)
        folium.Marker([s["lat"], s["lon"]], tooltip=tooltip_text(tip),
                      icon=folium.DivIcon(html=render("maps/kit_number.html", rank=s["rank"]),
                                          icon_size=(26, 26), icon_anchor=(13, 13))).add_to(fg)
    return fg


def _zones_layer(m, boundaries, zones: PeopleZones) -> None:
    layer = zones.meta["layer"]
    g = to_io(boundaries.get(layer).gdf[["code", "geometry"]])
    t = pd.DataFrame(zones.areas)
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
            aliases=["Area", "Rank", "Score", "Rank with other weights",
                     "Rank allowing for chance", "Offences"])).add_to(m)


def _demand_layer(m, view: PlanningView) -> None:
    """Offences per H3 resolution-10 cell (about 0.015 km^2), split covered / not covered;
    off at first (a dense pattern over the ranking)."""
    d, covered = view.demand.demand, view.covered
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
        safe_geojson(g), name="Offences within reach of a kit (green) or not (pink), small "
                              "hexagons", show=False,
        style_function=lambda f: {
            "fillColor": "#1b9e77" if f["properties"]["not_covered"] == 0 else "#e7298a",
            "fillOpacity": 0.25 + 0.6 * min(1.0, f["properties"]["not_covered"] / top) ** 0.5
            if f["properties"]["not_covered"] else 0.35, "color": "#444", "weight": 0.3},
        tooltip=folium.GeoJsonTooltip(fields=["n", "covered", "not_covered"],
                                      aliases=["Offences", "Within reach", "Not within reach"])
    ).add_to(m)


def _hot_layer(m, view: PlanningView) -> None:
    """Hot spots no kit reaches (black dashed) and those only the proposed kits reach
    (orange dashed), each a layer."""
    for cells, name, colour in (
            (view.hot_out_of_reach, "Hot spots no kit reaches", "#000"),
            (view.hot_reached_by_proposed, "Hot spots only the proposed kits reach",
             "#d95f02")):
        fg = folium.FeatureGroup(name=f"{name} ({len(cells)} of {view.n_hot_cells})")
        if cells:
            ids = np.array([int(u["id"], 16) for u in cells], dtype=np.uint64)
            g = gpd.GeoDataFrame(pd.DataFrame(cells)[["count", "label"]],
                                 geometry=h3_polygons_lonlat(ids), crs=4326)
            folium.GeoJson(safe_geojson(g), style_function=lambda f, c=colour: {
                "fill": False, "color": c, "weight": 3, "dashArray": "2,3"},
                tooltip=folium.GeoJsonTooltip(fields=["label", "count"],
                                              aliases=["Hot spot", "Offences"])
            ).add_to(fg)
        fg.add_to(m)


def _options(built_in: tuple[tuple[str, str], ...], saved: list[str], current: str
             ) -> list[tuple[str, str]]:
    """(value, label) of a site set select: the built-in sets, then the saved ones (and the
    current value if it is neither)."""
    options = [*built_in, *((name, f"{name} (saved set)") for name in saved)]
    if current not in {value for value, _ in options}:
        options.append((current, current))
    return options


def _choice_form(choice: SetChoice | None, radius_m: float) -> dict | None:
    if choice is None:
        return None
    return {"existing": _options(BUILT_IN_EXISTING, choice.saved, choice.existing),
            "candidates": _options(BUILT_IN_CANDIDATES, choice.saved, choice.candidates),
            "chosen": {"existing": choice.existing, "candidates": choice.candidates},
            "p": choice.p, "radius": f"{radius_m:g}",
            "keep": [(k, v) for k, v in choice.keep if k not in SET_FIELDS]}


def _kits_words(n: int, noun: str) -> str:
    """'3 proposed kits', '1 proposed kit'."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _panel(view: PlanningView, title: str, period: str, radius_m: float, controls: str = "",
           choice: SetChoice | None = None) -> Markup:
    """The side panel (``controls``: the period form at its top, finished HTML; ``choice``:
    the site set form)."""
    siting, zones = view.siting, view.zones
    siting_summary, siting_meta, zones_meta = siting.summary, siting.meta, zones.meta
    group = siting_meta["filters"]["group"]
    existing = siting_meta.get("existing")
    return render(
        "maps/planning_panel.html", controls=controls, title=title, period=period,
        group_words=GROUP_WORDS.get(group, group), siting_summary=siting_summary,
        siting_meta=siting_meta, zones_meta=zones_meta, existing=existing,
        radius=f"{radius_m:g}", form=_choice_form(choice, radius_m),
        proposed=_kits_words(len(siting.sites), "proposed kit"),
        new_kits=_kits_words(len(siting.sites), "new kit"),
        next_kits=_kits_words(len(siting.sites), "kit"),
        pct={"existing": f"{siting_summary.covered_share_existing:.1%}" if existing else "",
             "covered": f"{siting_summary.covered_share:.1%}",
             "bound": f"{siting_summary.covered_share_bound:.1%}"},
        hot={"all": view.n_hot_cells, "existing": view.hot_out_of_reach_existing,
             "every": len(view.hot_out_of_reach),
             "by_proposed": len(view.hot_reached_by_proposed)},
        kits=[{**s, "covered": f"{s['cumulative_share']:.1%}"} for s in siting.sites],
        areas=[{**a, "rate": f"{a['violence_rate']:.1f}"} for a in zones.areas[:10]],
        weights=", ".join(f"{k.replace('_', ' ')} {v:g}"
                          for k, v in zones_meta["weights"].items()),
        swatches=[("top 5", RANK_COLOURS[0][1]), ("6–10", RANK_COLOURS[1][1]),
                  ("11–15", RANK_COLOURS[2][1])],
        hot_spot_definition=view.hot_spot_definition,
        made=datetime.date.today().isoformat())
