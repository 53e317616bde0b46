"""Controls on map pages for people who do not edit URLs: a small form above the map to
choose the period (presets: latest month, latest 3 months, the same 3 months a year
earlier, or custom from/to months), the offence group, and to zoom to an NPA or ward. The
form reloads the page with the new selection (a plain GET form; no JS framework); zooming
happens in the page."""

from __future__ import annotations

from markupsafe import Markup

from geo_api.analysis.defaults import DEFAULT_GROUP
from geo_api.crs import to_io
from geo_api.services.filters import latest_period
from geo_api.services.report_words import npa_name
from geo_api.services.service import FORCE_ONLY_GROUPS
from geo_api.web.maps.layers import GROUP_WORDS
from geo_api.web.templating import render

GROUPS = (DEFAULT_GROUP, "all", "vrn_serious_violence",
          "knife_enabled_serious_violence")
NEEDS_FORCE_EXPORT = ("needs a force export: police.uk records have no knife flag or Home "
                      "Office code")


def group_options(sources: set[str] | None) -> list[tuple[str, str, str]]:
    """(value, label, why it cannot be chosen - '' when it can) for each offence group:
    groups only force-export records can answer are offered only when a force export is
    loaded (``sources``: the loaded data's sources; None: not known, all offered)."""
    timed = sources is None or "force_export" in sources
    return [(g, GROUP_WORDS.get(g, g),
             "" if timed or g not in FORCE_ONLY_GROUPS else NEEDS_FORCE_EXPORT)
            for g in GROUPS]


def _shift(month: str, n: int) -> str:
    y, m = map(int, month.split("-"))
    k = y * 12 + (m - 1) + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def presets(months: list[str]) -> dict[str, str]:
    """Period presets (label -> 'YYYY-MM/YYYY-MM') available in the loaded months."""
    if not months:
        return {}
    last = months[-1]
    out = {"Latest month": f"{last}/{last}",
           "Latest 3 months": f"{_shift(last, -2)}/{last}"}
    a, b = _shift(last, -14), _shift(last, -12)
    if a in months and b in months:
        out["Same 3 months a year earlier"] = f"{a}/{b}"
    return out


def latest_3(months: list[str]) -> str | None:
    """The latest 3 loaded months as 'YYYY-MM/YYYY-MM' (None if none are loaded)."""
    return latest_period(months, 3)


def _months(value: str | None) -> tuple[str, str]:
    """('from', 'to') months of a 'YYYY-MM/YYYY-MM' period ('', '' for none)."""
    a, _, b = (value or "/").partition("/")
    return a, b or a


def controls_html(*, path: str, months: list[str], group: str | None, period: str | None,
                  extra: list[tuple[str, str]], areas: dict[str, list[float]] | None = None,
                  map_name: str | None = None, pair: tuple[str, str] | None = None,
                  with_period: bool = True, inline: bool = False,
                  sources: set[str] | None = None) -> Markup:
    """The form. ``period``: the current 'from/to' (single-period pages) or ``pair``: the
    current (before, after) periods; ``extra``: other query parameters (name, value) kept
    as they are (a name may repeat);
    ``areas``: label -> [south, west, north, east] for zooming ``map_name``;
    ``with_period``: False on pages whose period is not chosen here (the focus map learns
    from every loaded month); ``inline``: in the flow of a side panel, not over the map;
    ``sources``: the loaded data's sources (groups it cannot answer are shown disabled,
    with why)."""
    pre = presets(months)
    zoom = bool(areas) and bool(map_name)
    if zoom and not str(map_name).isidentifier():  # it is written into the script
        raise ValueError(f"map_name must be a JavaScript name: {map_name!r}")
    lo, hi = (months[0], months[-1]) if months else ("", "")
    return render(
        "maps/controls.html", path=path, extra=extra, lo=lo, hi=hi, group=group,
        groups=group_options(sources),
        period_pair=(_months(pair[0]), _months(pair[1])) if with_period and pair else None,
        period_one=_months(period) if with_period and pair is None else None,
        presets=[("", "Period…")] + [(v, k) for k, v in pre.items()],
        preset=period if period in pre.values() else "",
        zoom_options=([("", "Zoom to…")] + [(str(i), k) for i, k in enumerate(areas or {})]
                      if zoom else None),
        bounds=list((areas or {}).values()), map_name=map_name,
        where=("margin:0 0 6px" if inline else
               "position:fixed;top:10px;left:60px;right:360px;z-index:9999"))


def area_bounds(boundaries) -> dict[str, list[float]]:
    """'Policing area: Central (NC)' / 'Ward: Castle' -> [south, west, north, east]
    (lat/lon)."""
    out = {}
    for layer, word in (("npa", "Policing area"), ("ward", "Ward")):
        g = to_io(boundaries.get(layer).gdf)
        for code, name, geom in zip(g["code"], g["name"], g.geometry):
            w, s, e, n = geom.bounds
            label = npa_name(code, name) if layer == "npa" else name
            out[f"{word}: {label}"] = [round(s, 5), round(w, 5), round(n, 5), round(e, 5)]
    return out
