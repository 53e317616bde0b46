"""The partner map: a partner indicator and violence by area as a bivariate choropleth
(3 x 3 classes by tertiles, a colour-blind-safe blue/pink scheme), the violence hot spot
areas outlined, the needs assessment's sentence in the legend, both values on hover.
Printable (A4 landscape). Aggregates only."""

from __future__ import annotations

import html

import folium
import numpy as np

from geo_api.web.maps.base import Raw, legend, new_map, tooltip_text

# Joshua Stevens' 3x3 bivariate scheme: rows = violence (low..high), columns = indicator
BIVARIATE = [["#e8e8e8", "#ace4e4", "#5ac8c8"],
             ["#dfb0d6", "#a5add3", "#5698b9"],
             ["#be64ac", "#8c62aa", "#3b4994"]]
WITHHELD = "#ffffff"
WORDS = ("low", "middle", "high")


def tertile(values: np.ndarray) -> np.ndarray:
    """0/1/2 by tertile of the finite values (-1 where missing)."""
    out = np.full(len(values), -1)
    ok = np.isfinite(values)
    if ok.sum() >= 3:
        cuts = np.quantile(values[ok], [1 / 3, 2 / 3])
        out[ok] = np.searchsorted(cuts, values[ok], side="right")
    return out


def render_partner_map(boundaries, ov: dict, title: str, controls=None) -> str:
    """HTML of the partner map (``ov``: services.indicators.overlay answer)."""
    from geo_api.web.maps.hotspots import AreaLabels, label_points, outline_features

    layer = ov["layer"]
    areas = ov["areas"]
    x = np.array([np.nan if a["indicator_rate_per_1000"] is None and a["count"] is None
                  else (a["indicator_rate_per_1000"] if a["indicator_rate_per_1000"]
                        is not None else a["count"]) for a in areas], float)
    y = np.array([np.nan if a["violence_rate_per_1000"] is None else
                  a["violence_rate_per_1000"] for a in areas], float)
    tx, ty = tertile(x), tertile(y)
    measure = ov["about"].get("measure") or ov["name"]
    by_code = {}
    for a, i, j in zip(areas, tx, ty):
        cls = (f"{WORDS[j]} violence, {WORDS[i]} {measure}" if i >= 0 and j >= 0
               else "withheld or no data")
        by_code[a["code"]] = {
            "colour": BIVARIATE[j][i] if i >= 0 and j >= 0 else WITHHELD,
            "class": tooltip_text(cls),
            "indicator": "withheld" if a["count"] is None else a["count"],
            "indicator_rate": _r(a["indicator_rate_per_1000"]),
            "violence": a["violence"], "violence_rate": _r(a["violence_rate_per_1000"]),
            "hot": "yes" if a["in_hot_spot_area"] else "no"}
    feats = [{**f, "properties": {**f["properties"], **by_code[f["properties"]["code"]]}}
             for f in outline_features(boundaries, layer) if f["properties"]["code"] in by_code]
    m = new_map(title=title)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats},
        name=f"{html.escape(measure)} x violence",
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "fillOpacity": 0.85,
                                  "color": "#666", "weight": 0.6},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "class", "indicator", "indicator_rate", "violence", "violence_rate",
                    "hot"],
            aliases=["Area", "Class", tooltip_text(measure), "per 1,000", "Violence",
                     "per 1,000 residents", "In a hot spot area"])).add_to(m)
    hot = [f for f in feats if f["properties"]["hot"] == "yes"]
    if hot:
        folium.GeoJson({"type": "FeatureCollection", "features": hot},
                       name="Violence hot spot areas (outlined)",
                       style_function=lambda f: {"fill": False, "color": "#000",
                                                 "weight": 3}).add_to(m)
    bv = (ov["association"].get("local_moran_bv") or {}).get("areas", [])
    clusters = {b["code"] for b in bv if b["quadrant"] == "high-high" and b["p_sim"] < 0.05}
    hh = [f for f in feats if f["properties"]["code"] in clusters]
    if hh:
        folium.GeoJson({"type": "FeatureCollection", "features": hh},
                       name="High-high clusters (bivariate local Moran, p < 0.05)",
                       style_function=lambda f: {"fill": False, "color": "#d95f02",
                                                 "weight": 3, "dashArray": "6 4"}).add_to(m)
    AreaLabels(label_points(boundaries, "ward"), "Ward names").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    grid = "".join(
        "<tr>" + "".join(f'<td style="background:{BIVARIATE[j][i]};width:18px;height:18px">'
                         "</td>" for i in range(3)) + "</tr>" for j in (2, 1, 0))
    a = ov["association"]
    rho = (f"Rank correlation across areas: {a['spearman_rho']:.2f} (95% CI "
           f"{a['ci95'][0]:.2f} to {a['ci95'][1]:.2f}, {a['n_areas']} areas). "
           if a.get("spearman_rho") is not None else "")
    synthetic = ("<b>SYNTHETIC example data, not real.</b> " if ov["about"].get("synthetic")
                 else "")
    listed = ", ".join(ov["hot_spot_areas"])
    note = (f"{synthetic}<b>{tooltip_text(ov['sentence'])}</b>"
            + (f" ({tooltip_text(listed)})" if listed else "") + ".<br>"
            f'<table style="border-collapse:collapse;margin:4px 0">{grid}</table>'
            f"Up: more violence per 1,000 residents; right: more {tooltip_text(measure)} "
            f"(thirds of the areas). Black outline: violence hot spot area. "
            f"{len(hh)} high-high cluster{'s' if len(hh) != 1 else ''} (orange dashes: high "
            f"{tooltip_text(measure)} beside high violence, bivariate local Moran p < 0.05). "
            f"{rho}"
            f"{tooltip_text(a['note'][0].upper() + a['note'][1:])}.")
    technical = (f"{tooltip_text(ov['hot_spot_area_rule'])}. Indicator: "
                 f"{tooltip_text(ov['about'].get('source_org') or '')}, "
                 f"{tooltip_text(ov['about'].get('licence') or '')}; "
                 f"{tooltip_text(ov['disclosure'])}. Dataset {ov['dataset_version']}.")
    legend(m, tooltip_text(title), {}, note + concentration_svg(ov["concentration"], measure),
           technical=technical)
    if controls is not None:
        m.get_root().html.add_child(Raw(controls(m.get_name())))
    return m.get_root().render()


def concentration_svg(curve: list[dict], measure: str, w: int = 220, h: int = 90) -> str:
    """Inline SVG: the share of the indicator in the top k areas ranked by violence (the
    diagonal: no concentration)."""
    pts = [(0.0, 0.0)] + [(s["k"] / len(curve), s["cumulative_share"] or 0.0) for s in curve]
    if len(curve) < 2:
        return ""
    path = " ".join(f"{4 + x * (w - 8):.1f},{h - 14 - y * (h - 20):.1f}" for x, y in pts)
    return (f'<div id="concentration"><small>Share of {tooltip_text(measure)} in the top '
            f"areas by violence</small><br>"
            f'<svg width="{w}" height="{h}" role="img" aria-label="concentration curve">'
            f'<line x1="4" y1="{h - 14}" x2="{w - 4}" y2="6" stroke="#bbb" '
            'stroke-dasharray="3 3"/>'
            f'<polyline fill="none" stroke="#3b4994" stroke-width="2" points="{path}"/>'
            f'<text x="4" y="{h - 2}" font-size="9">areas, most violence first</text>'
            f'<text x="{w - 4}" y="10" font-size="9" text-anchor="end">100%</text></svg>'
            "</div>")


def _r(v):
    return None if v is None else round(float(v), 1)
