"""The partner map: a partner indicator and violence by area as a bivariate choropleth
(3 x 3 classes by tertiles, a colour-blind-safe blue/pink scheme), the violence hot spot
areas outlined, the needs assessment's sentence in the legend, both values on hover.
Printable (A4 landscape). Aggregates only."""

from __future__ import annotations

import folium
import numpy as np
from markupsafe import Markup

from geo_api.services.indicators import Association, ConcentrationStep, Overlay
from geo_api.web.maps.base import Raw, legend, new_map, root_of, tooltip_text
from geo_api.web.maps.hotspots import AreaLabels, label_points, outline_features
from geo_api.web.templating import render

# Joshua Stevens' 3x3 bivariate scheme: rows = violence (low..high), columns = indicator
BIVARIATE = [["#e8e8e8", "#ace4e4", "#5ac8c8"],
             ["#dfb0d6", "#a5add3", "#5698b9"],
             ["#be64ac", "#8c62aa", "#3b4994"]]
WITHHELD = "#ffffff"
WORDS = ("low", "middle", "high")
HOT_OUTLINE = {"fill": False, "color": "#000", "weight": 3}
CLUSTER_OUTLINE = {"fill": False, "color": "#d95f02", "weight": 3, "dashArray": "6 4"}


def tertile(values: np.ndarray) -> np.ndarray:
    """0/1/2 by tertile of the finite values (-1 where missing)."""
    out = np.full(len(values), -1)
    ok = np.isfinite(values)
    if ok.sum() >= 3:
        cuts = np.quantile(values[ok], [1 / 3, 2 / 3])
        out[ok] = np.searchsorted(cuts, values[ok], side="right")
    return out


def render_partner_map(boundaries, overlay: Overlay, title: str, controls=None) -> str:
    """HTML of the partner map (``overlay``: services.indicators.overlay answer; ``title``:
    text)."""
    measure = overlay.about.get("measure") or overlay.name
    feats = _features(boundaries, overlay, measure)
    m = new_map(title=title)
    _choropleth(feats, measure).add_to(m)
    n_high_high = _add_outlines(m, overlay, feats)
    AreaLabels(label_points(boundaries, "ward"), "Ward names").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    legend(m, title, {}, [_note(overlay, measure, n_high_high)], technical=_technical(overlay))
    root = root_of(m)
    if controls is not None:
        root.html.add_child(Raw(controls(m.get_name())))
    return root.render()


def _indicator_value(area: dict) -> float:
    """The indicator's rate per 1,000 if known, else its count (NaN if withheld)."""
    rate, count = area["indicator_rate_per_1000"], area["count"]
    value = rate if rate is not None else count
    return np.nan if value is None else float(value)


def _violence_value(area: dict) -> float:
    rate = area["violence_rate_per_1000"]
    return np.nan if rate is None else float(rate)


def _area_properties(area: dict, i: int, j: int, measure: str) -> dict:
    """The map's properties of one area in indicator class ``i`` and violence class ``j``
    (-1: withheld or no data); text escaped for the tooltip."""
    known = i >= 0 and j >= 0
    words = (f"{WORDS[j]} violence, {WORDS[i]} {measure}" if known
             else "withheld or no data")
    return {"colour": BIVARIATE[j][i] if known else WITHHELD,
            "class": tooltip_text(words),
            "indicator": "withheld" if area["count"] is None else area["count"],
            "indicator_rate": _r(area["indicator_rate_per_1000"]),
            "violence": area["violence"], "violence_rate": _r(area["violence_rate_per_1000"]),
            "hot": "yes" if area["in_hot_spot_area"] else "no"}


def _features(boundaries, overlay: Overlay, measure: str) -> list[dict]:
    """The overlay's areas as GeoJSON features with their classes and values."""
    areas = overlay.areas
    tx = tertile(np.array([_indicator_value(a) for a in areas], float))
    ty = tertile(np.array([_violence_value(a) for a in areas], float))
    by_code = {a["code"]: _area_properties(a, int(i), int(j), measure)
               for a, i, j in zip(areas, tx, ty)}
    return [{**f, "properties": {**f["properties"], **by_code[f["properties"]["code"]]}}
            for f in outline_features(boundaries, overlay.layer)
            if f["properties"]["code"] in by_code]


def _choropleth(feats: list[dict], measure: str) -> folium.GeoJson:
    """The bivariate choropleth with both values on hover."""
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": feats},
        name=tooltip_text(f"{measure} x violence"),  # Leaflet shows layer names as HTML
        style_function=lambda f: {"fillColor": f["properties"]["colour"], "fillOpacity": 0.85,
                                  "color": "#666", "weight": 0.6},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "class", "indicator", "indicator_rate", "violence", "violence_rate",
                    "hot"],
            aliases=["Area", "Class", tooltip_text(measure), "per 1,000", "Violence",
                     "per 1,000 residents", "In a hot spot area"]))


def _high_high(overlay: Overlay) -> set[str]:
    """Codes of the areas in a significant high-high cluster (bivariate local Moran)."""
    moran = overlay.association.local_moran_bv
    local = moran.areas if moran is not None else []
    return {area.code for area in local if area.quadrant == "high-high" and area.p_sim < 0.05}


def _add_outlines(m: folium.Map, overlay: Overlay, feats: list[dict]) -> int:
    """Outline the violence hot spot areas and the high-high clusters (layers only where
    there are some); the number of high-high areas."""
    clusters = _high_high(overlay)
    hot = [f for f in feats if f["properties"]["hot"] == "yes"]
    high_high = [f for f in feats if f["properties"]["code"] in clusters]
    for name, shown, style in (
            ("Violence hot spot areas (outlined)", hot, HOT_OUTLINE),
            ("Clusters: high on both (orange dashes)", high_high, CLUSTER_OUTLINE)):
        if shown:
            folium.GeoJson({"type": "FeatureCollection", "features": shown}, name=name,
                           style_function=lambda f, style=style: style).add_to(m)
    return len(high_high)


def _correlation(association: Association) -> str:
    """The rank correlation with its interval, in words ('' if not computed)."""
    if association.spearman_rho is None or association.ci95 is None:
        return ""
    low, high = association.ci95
    return (f"Rank correlation across areas: {association.spearman_rho:.2f} (95% range "
            f"{low:.2f} to {high:.2f}, {association.n_areas} areas; 1: same order, 0: "
            "none). ")


def _note(overlay: Overlay, measure: str, n_high_high: int) -> Markup:
    """The legend's body: sentence, key, outlines, correlation, concentration curve."""
    association = overlay.association
    return render(
        "maps/partner_note.html", synthetic=bool(overlay.about.get("synthetic")),
        sentence=overlay.sentence, listed=", ".join(overlay.hot_spot_areas), measure=measure,
        grid=[BIVARIATE[j] for j in (2, 1, 0)], n_high_high=n_high_high,
        correlation=_correlation(association),
        caveat=association.note[0].upper() + association.note[1:],
        **_concentration(overlay.concentration))


def _technical(overlay: Overlay) -> str:
    """How the map was made, as text."""
    about = overlay.about
    return (f"{overlay.hot_spot_area_rule}. Clusters: bivariate local Moran's I, "
            "p < 0.05. Rank correlation: Spearman, 95% interval by Fisher's z. "
            f"Indicator: {about.get('source_org') or ''}, "
            f"{about.get('licence') or ''}; {overlay.disclosure}. "
            f"Dataset {overlay.dataset_version}.")


def _concentration(curve: list[ConcentrationStep], w: int = 220, h: int = 90) -> dict:
    """The concentration curve's SVG points (the share of the indicator in the top k areas
    ranked by violence; the diagonal: no concentration) and size; no curve for < 2 areas."""
    if len(curve) < 2:
        return {"curve": "", "w": w, "h": h}
    pts = [(0.0, 0.0)] + [(step.k / len(curve), step.cumulative_share or 0.0)
                          for step in curve]
    path = " ".join(f"{4 + x * (w - 8):.1f},{h - 14 - y * (h - 20):.1f}" for x, y in pts)
    return {"curve": path, "w": w, "h": h}


def _r(v):
    return None if v is None else round(float(v), 1)
