"""Controls on map pages for people who do not edit URLs: a small form above the map to
choose the period (presets: latest month, latest 3 months, the same 3 months a year
earlier, or custom from/to months), the offence group, and to zoom to an NPA or ward. The
form reloads the page with the new selection (a plain GET form; no JS framework); zooming
happens in the page."""

from __future__ import annotations

import html
import json

from geo_api.web.maps.layers import GROUP_WORDS

GROUPS = ("violence_robbery_weapons", "all", "vrn_serious_violence",
          "knife_enabled_serious_violence")


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
    from geo_api.services.filters import latest_period

    return latest_period(months, 3)


def _select(name: str, options: list[tuple[str, str]], current: str | None) -> str:
    from geo_api.web.maps.base import tooltip_text  # escapes ` $ \\ too, as everywhere

    opts = "".join(f'<option value="{html.escape(v)}"{" selected" if v == current else ""}>'
                   f"{tooltip_text(label)}</option>" for v, label in options)
    return f'<select name="{name}" id="ctl-{name}">{opts}</select>'


def controls_html(*, path: str, months: list[str], group: str | None, period: str | None,
                  extra: list[tuple[str, str]], areas: dict[str, list[float]] | None = None,
                  map_name: str | None = None, pair: tuple[str, str] | None = None,
                  with_period: bool = True, inline: bool = False) -> str:
    """The form. ``period``: the current 'from/to' (single-period pages) or ``pair``: the
    current (before, after) periods; ``extra``: other query parameters (name, value) kept
    as they are (a name may repeat);
    ``areas``: label -> [south, west, north, east] for zooming ``map_name``;
    ``with_period``: False on pages whose period is not chosen here (the focus map learns
    from every loaded month); ``inline``: in the flow of a side panel, not over the map."""
    hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in extra)
    groups = _select("group", [(g, GROUP_WORDS.get(g, g)) for g in GROUPS], group)
    lo, hi = (months[0], months[-1]) if months else ("", "")

    def month_range(prefix: str, value: str | None, label: str) -> str:
        a, _, b = (value or "/").partition("/")
        return (f'<label>{label} <input type="month" name="{prefix}_from" value="{a}" '
                f'min="{lo}" max="{hi}"></label> <label>to <input type="month" '
                f'name="{prefix}_to" value="{b or a}" min="{lo}" max="{hi}"></label>')

    if not with_period:
        period_ui = ""
    elif pair is None:
        pre = presets(months)
        period_ui = (_select("preset", [("", "Period…")] + [(v, k) for k, v in pre.items()],
                             period if period in pre.values() else "")
                     + " " + month_range("period", period, "or from"))
    else:
        period_ui = (month_range("before", pair[0], "Before: from") + " · "
                     + month_range("after", pair[1], "After: from"))
    zoom = ""
    if areas and map_name:  # names only in escaped option labels; the script gets numbers
        options = [("", "Zoom to…")] + [(str(i), k) for i, k in enumerate(areas)]
        zoom = (" " + _select("zoom", options, None)
                + f"""<script>(function(){{var b={_json(list(areas.values()))};
document.getElementById('ctl-zoom').addEventListener('change',function(e){{
var x=b[e.target.value];if(x){{{map_name}.fitBounds([[x[0],x[1]],[x[2],x[3]]]);}}}});}})();
</script>""")
    where = ("margin:0 0 6px" if inline else
             "position:fixed;top:10px;left:60px;right:360px;z-index:9999")
    return f"""<form id="map-controls" method="get" action="{html.escape(path)}"
 style="{where};background:#fff;
 border:1px solid #999;padding:4px 8px;font:12px sans-serif">{hidden}{period_ui} {groups}
 <button type="submit">Show</button>{zoom}</form>
<script>(function(){{var f=document.getElementById('map-controls');
f.addEventListener('submit',function(ev){{var q=new URLSearchParams();
function v(n){{var e=f.elements[n];return e?e.value:'';}}
f.querySelectorAll('input[type=hidden]').forEach(function(h){{q.append(h.name,h.value);}});
q.set('group',v('group'));
if(f.elements['preset']&&v('preset')){{q.set('datetime',v('preset'));}}
else if(f.elements['period_from']){{q.set('datetime',v('period_from')+'/'+v('period_to'));}}
if(f.elements['before_from']){{q.set('before',v('before_from')+'/'+v('before_to'));
q.set('after',v('after_from')+'/'+v('after_to'));}}
ev.preventDefault();window.location.search=q.toString();}});}})();</script>"""


def _json(obj) -> str:
    """JSON safe inside a <script> (no '</' can close it)."""
    return json.dumps(obj).replace("</", "<\\/")


def area_bounds(boundaries) -> dict[str, list[float]]:
    """'NPA: Central' / 'Ward: Castle' -> [south, west, north, east] (lat/lon)."""
    from geo_api.crs import to_io

    out = {}
    for layer, word in (("npa", "NPA"), ("ward", "Ward")):
        g = to_io(boundaries.get(layer).gdf)
        for name, geom in zip(g["name"], g.geometry):
            w, s, e, n = geom.bounds
            out[f"{word}: {name}"] = [round(s, 5), round(w, 5), round(n, 5), round(e, 5)]
    return out
