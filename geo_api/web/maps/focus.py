"""The focus map: where to go next month, numbered, with the table beside it and how well
each method predicted on the loaded months (an inline SVG chart). Prints on A4 landscape."""

from __future__ import annotations

import datetime
import html
import math

import folium
import numpy as np

from geo_api.web.maps.base import Raw, new_map, safe_geojson, tooltip_text
from geo_api.web.maps.planning import PRINT_CSS, with_form

COLOURS = {"naive": "#000000", "long_run": "#1b9e77", "recency": "#d95f02", "kde": "#7570b3",
           "gi": "#e7298a", "emerging": "#66a61e", "ensemble": "#e6ab02"}


def render_focus_map(focus: dict, evaluation: dict, shapes, boundaries=None,
                     query: str = "", zoom_to: int | None = None, controls=None) -> str:
    """HTML of the focus map (``focus``/``evaluation``: services.forecast answers;
    ``shapes``: the places' polygons in EPSG:4326; ``boundaries``: for ward outlines and
    names, for orientation when the base map cannot load)."""
    from geo_api.web.maps.hotspots import AreaLabels, label_points, outline_features

    meta = focus["meta"]
    title = f"Where to go in {_month_words(meta['next_period'])}"
    m = new_map(title=title, print_button=False, zoom_start=13)
    root = m.get_root()
    root.header.add_child(Raw(PRINT_CSS))
    if boundaries is not None:
        AreaLabels(label_points(boundaries, "ward"), "Ward names").add_to(m)
        folium.GeoJson({"type": "FeatureCollection",
                        "features": outline_features(boundaries, "ward")}, name="Wards",
                       style_function=lambda f: {"fill": False, "color": "#777",
                                                 "weight": 1},
                       tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["Ward"])
                       ).add_to(m)
    by_id = {p["id"]: p for p in focus["places"]}
    g = shapes.copy()
    g["rank"] = [by_id[i]["rank"] for i in g["id"]]
    g["place"] = [by_id[i]["name"] for i in g["id"]]
    g["last_3_months"] = [by_id[i]["count_last_3_months"] for i in g["id"]]
    folium.GeoJson(safe_geojson(g), name="Focus places",
                   style_function=lambda f: {"fillColor": "#d95f02", "color": "#7f2704",
                                             "weight": 2, "fillOpacity": 0.35},
                   tooltip=folium.GeoJsonTooltip(fields=["rank", "place", "last_3_months"],
                                                 aliases=["#", "Place",
                                                          "Offences, last 3 months"])
                   ).add_to(m)
    fg = folium.FeatureGroup(name="Numbers")
    for p in focus["places"]:
        folium.Marker([p["lat"], p["lon"]], tooltip=tooltip_text(f"#{p['rank']} {p['name']}"),
                      icon=folium.DivIcon(html=f'<div class="kit-no">{p["rank"]}</div>',
                                          icon_size=(26, 26), icon_anchor=(13, 13))).add_to(fg)
    fg.add_to(m)
    chosen = [p for p in focus["places"] if zoom_to is None or p["rank"] == zoom_to]
    if chosen:
        lats = [p["lat"] for p in chosen]
        lons = [p["lon"] for p in chosen]
        m.fit_bounds([[min(lats) - 0.004, min(lons) - 0.006],
                      [max(lats) + 0.004, max(lons) + 0.006]], padding_bottom_right=(380, 10))
    folium.LayerControl(collapsed=False, position="topleft").add_to(m)
    root.html.add_child(Raw(with_form(_panel(focus, evaluation, title, query), controls,
                                      m.get_name())))
    return root.render()


def _month_words(month: str) -> str:
    return datetime.date.fromisoformat(month + "-01").strftime("%B %Y")


def _walk_text(meta: dict) -> str:
    """Why the table's best row flatters (the walk-forward figure is in the reading)."""
    if not meta.get("walk_forward_folds"):
        return "The table's figures are in-sample."
    return ("The table is over all folds, which also chose the method: its best row is "
            "in-sample and flatters it; the walk-forward figure above is the one to expect.")


def _panel(focus: dict, ev: dict, title: str, query: str = "") -> str:
    e = tooltip_text
    meta = focus["meta"]
    rows = "".join(
        f"<tr><td>{p['rank']}</td><td>{e(p['name'])}<br><small>{e(p['ward'] or '')}"
        f"{' · ' + e(p['npa']) if p['npa'] else ''}</small></td>"
        f"<td class=num>{p['count_last_3_months']}</td><td class=num>"
        f"{p['count_last_12_months']}</td><td>{e(p['trend'])}</td></tr>"
        for p in focus["places"])
    summary = "".join(
        f"<tr><td><span class=sw style=\"background:{COLOURS.get(s['method'], '#999')}\">"
        f"</span>{e(s['method'])}</td><td class=num>{_f(s['mean_pai'])}</td><td class=num>"
        f"{_pct(s['mean_hit_rate'])}</td><td class=num>{_f(s['mean_pei'])}</td></tr>"
        for s in sorted(ev["summary"], key=lambda s: -(s["mean_pai"] or 0)))
    months = meta["months"]
    period = f"data {months[0]} to {months[-1]}" if months else ""
    made = datetime.date.today().isoformat()
    return f"""<div id="plan-panel">
<h1>{e(title)}</h1><div>{e(meta['filters']['group'].replace('_', ' '))} · {e(period)}</div>
<button id="print-btn" onclick="window.print()">Print (A4 landscape)</button>
<h2>The {len(focus['places'])} places</h2>
<table><tr><th>#</th><th>Place</th><th class=num>last 3 months</th><th class=num>12 months</th>
<th>trend</th></tr>{rows}</table>
<div>{e(focus['reading'])}</div>
<div id="downloads">Download: <a href="/focus?{html.escape(query)}&amp;f=csv">CSV</a> ·
<a href="/focus?{html.escape(query)}&amp;f=geojson">GeoJSON</a> ·
<a href="/evaluate/hotspots?{html.escape(query)}">the backtest (JSON)</a></div>
<h2>How well each method predicted the next month</h2>
<div>Chosen: <b>{e(meta['method'])}</b> — {e(meta['method_definition'])}.
{_walk_text(meta)}</div>
<table><tr><th>method</th><th class=num>PAI</th><th class=num>hit rate</th>
<th class=num>PEI</th></tr>{summary}</table>
{curve_svg(ev)}
<details><summary>How this was made</summary><div>{e(ev['reading'])} Backtest:
{ev['meta']['n_folds']} monthly folds, {ev['meta']['window_months']}-month training window,
{meta['coverage']:.0%} of the area ({e(str(meta['grid']))}{' r' + str(meta['resolution'])
if meta.get('resolution') else ''}). PAI = share of offences / share of area (Chainey et al.
2008); PEI = PAI / best possible PAI (Hunt 2016). {e(ev['meta']['tie_rule'])}. Dataset
{e(str(meta['dataset_version']))}, boundaries {e(meta['boundaries_version'])}.</div></details>
<div style="margin-top:6px;color:#555">Made {made}. Contains public sector information
licensed under the Open Government Licence v3.0; contains OS data © Crown copyright and
database right. Base map © OpenStreetMap contributors.</div>
</div>"""


def _f(v) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.2f}"


def _pct(v) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.0%}"


def curve_svg(ev: dict, width: int = 330, height: int = 170) -> str:
    """Hit rate against coverage for every method, as an inline SVG line chart."""
    cov = ev["curves"]["coverage"]
    curves = ev["curves"]["hit_rate"]
    top = max([max((v for v in c if v is not None), default=0) for c in curves.values()]
              + [0.05])
    x0, y0, w, h = 34, 8, width - 44, height - 36

    def px(c, v):
        return x0 + (c - cov[0]) / (cov[-1] - cov[0]) * w, y0 + h - v / top * h

    lines = []
    for name, c in curves.items():
        pts = " ".join(f"{px(a, b)[0]:.1f},{px(a, b)[1]:.1f}" for a, b in zip(cov, c)
                       if b is not None)
        lines.append(f'<polyline fill="none" stroke="{COLOURS.get(name, "#999")}" '
                     f'stroke-width="{2.5 if name == "naive" else 1.5}" points="{pts}">'
                     f"<title>{html.escape(name)}</title></polyline>")
    step = 0.1 if top > 0.3 else 0.05
    ticks = "".join(
        f'<text x="{x0 - 4}" y="{px(cov[0], t)[1] + 3:.1f}" text-anchor="end">{t:.0%}</text>'
        f'<line x1="{x0}" x2="{x0 + w}" y1="{px(cov[0], t)[1]:.1f}" '
        f'y2="{px(cov[0], t)[1]:.1f}" stroke="#eee"/>'
        for t in np.arange(step, top + 1e-9, step))
    xt = "".join(f'<text x="{px(c, 0)[0]:.1f}" y="{y0 + h + 12}" text-anchor="middle">'
                 f"{c:.0%}</text>" for c in (cov[0], 0.05, 0.1, 0.15, cov[-1]))
    return (f'<svg role="img" aria-label="Hit rate against coverage per method" '
            f'width="{width}" height="{height}" style="font:9px sans-serif">'
            f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>'
            f"{ticks}{xt}{''.join(lines)}"
            f'<text x="{x0 + w / 2}" y="{height - 4}" text-anchor="middle">share of the area '
            f"selected (coverage)</text></svg><div><small>Share of next month's offences "
            "caught (hit rate) against the share of the area selected; higher is better. "
            "Black: naive.</small></div>")
