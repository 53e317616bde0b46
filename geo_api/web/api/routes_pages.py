"""HTML pages for people who do not call the API: landing page and maps."""

from __future__ import annotations

import dataclasses
import datetime
import html
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from geo_api.data.store.base import OffenceFilter
from geo_api.errors import GeoApiError, InvalidParameter
from geo_api.services.access import require
from geo_api.services.filters import filter_query, with_period
from geo_api.web.api.models import OgcLandingPage
from geo_api.web.api.params import (
    FORM_FIELDS,
    FilterDep,
    HeavySlot,
    MapAfter,
    MapBefore,
    RawFilterDep,
    ServiceDep,
)
from geo_api.web.api.shared import HTML_200, HTML_EXAMPLE, PNG_200
from geo_api.web.auth import ANYONE, PUBLIC, caller, disclosure
from geo_api.web.exception_handlers import message_page as page
from geo_api.web.maps.base import ERROR_PROBE
from geo_api.web.maps.layers import (
    TIME_WINDOWS,
    hotspot_layers,
    protected_layers,
    query_without_hours,
    site_layers,
    window_count,
)

router = APIRouter(tags=["pages"], dependencies=[HeavySlot])
Resolution = Annotated[int, Query(ge=7, le=10, description="H3 resolution of the Gi* cells")]
SiteSets = Annotated[list[str] | None, Query(description="Uploaded candidate-site sets to show "
                                                         "(see POST /sites/{name})")]
TIME_HINT = ("police.uk data has no times of day, so time-window maps (for example after "
             "school, 15:00-19:00) need a force export with offence times.")


LANDING_200 = {200: {"content": {"text/html": {"example": HTML_EXAMPLE}},
                     "description": "The OGC API landing page as JSON (f=json or Accept: "
                                    "application/json), else the page for people (HTML)"}}


@router.get("/", dependencies=[ANYONE], response_class=JSONResponse,
            response_model=OgcLandingPage, operation_id="landingPage", responses=LANDING_200,
            summary="Landing page: the maps for people (HTML), the OGC API landing page for "
                    "clients (JSON)")
def landing(svc: ServiceDep, request: Request,
            f: Annotated[Literal["html", "json"] | None, Query(
                description="html (the page) or json (the OGC API landing page); default: "
                            "by the Accept header")] = None) -> Response:
    """A page for people who do not call the API: what data is loaded, links to each map
    with a sentence on what it shows, who the page is serving you as, and the API docs.
    As JSON (`f=json` or `Accept: application/json`): the OGC API landing page, linking the
    API definition, conformance, collections and tile matrix sets (QGIS, ArcGIS Pro and
    GDAL connect here)."""
    from geo_api.web.api import ogc
    from geo_api.web.auth import ROLE_SEES, current_principal

    if ogc.wants_json(f, request.headers.get("accept")):
        return JSONResponse(ogc.landing(str(request.base_url).rstrip("/"),
                                        "geo_api: knife crime and serious violence in "
                                        "Leicester"))

    who = current_principal(request)
    role_line = ("You are not signed in and this service does not serve anonymous users: "
                 "send an API key or sign in through your organisation." if who is None else
                 f"You are using this service as <b>{html.escape(who.role)}</b>"
                 + (" without signing in"
                    if who.method == "anonymous" else f" ({html.escape(who.who)})")
                 + f". {html.escape(ROLE_SEES[who.role])}.")
    s = svc.store.summary() if svc.store.dataset_version() else {}
    n_timed = window_count(svc, OffenceFilter(), 0, 24)[1] if s else 0
    loaded = (f"{s['n_offences']:,} offences, {s['first_month']} to {s['last_month']}"
              if s else "no data loaded yet")
    months = list(svc.store.months_loaded()) if s else []
    latest, previous = _period(months[-3:]), _period(months[-6:-3])
    g = "group=violence_robbery_weapons"
    links = [
        (f"/maps/hotspots?{'datetime=' + latest + '&' if latest else ''}{g}",
         "Hot spot map, latest 3 months",
         (f"Where violence, robbery and weapons offences cluster ({_words(latest)}). Red "
          "hexagons are statistically significant hot spots; hover over a ward to see its "
          "count.")),
        (f"/maps/focus?{g}", "Where to go next month",
         ("For neighbourhood and youth-work teams: the places most likely to see violence next "
         "month, by the method that predicted best on the loaded months, with street names "
         "and a printable list (partners).")),
    ]
    if previous:
        links += [
            (f"/maps/compare?before={previous}&after={latest}&{g}",
             "The last 3 months against the 3 before, side by side",
             (f"{_words(previous)} next to {_words(latest)}: move or zoom one map and the "
             "other follows.")),
            (f"/compare/report/map?before={previous}&after={latest}&{g}", "Did it move?",
             (f"Which areas' share of offences rose or fell from {_words(previous)} to "
             f"{_words(latest)}, and which hot spots are new, persistent or gone.")),
        ]
    if {"2019-12", "2020-02", "2020-04", "2020-06"} <= set(months):
        links.append(((f"/compare/report/map?before=2019-12/2020-02&after=2020-04/2020-06"
                       f"&{g}"), "Case study: did violence move in the 2020 lockdown?",
                      "Winter 2019/20 against April–June 2020 (the first lockdown)."))
    links += [
        ("/maps/time-window?window=after-school", "After-school hot spots (15:00–19:00)",
         "For youth-work teams: hot spots in the hours you work, next to all other hours. "
         "Also for the evening (19:00–22:00) and the night-time economy (22:00–05:00). "
         + (f"{n_timed:,} loaded offences have a time of day." if n_timed else
            "Not available for the data loaded now: it needs a force export with offence "
            "times (police.uk has none).")),
        ("/maps/planning?p=5", "Planning: bleed-control kits and People Zones",
         ("For planners: where the next five kits would reach the most violence (numbered by "
          "what each adds), which hot spots no kit reaches, and a ranked shortlist of wards for "
          "People Zone conversations with how robust each position is. Add your existing kits "
          "as a site set (below) and open the map with &existing=<set name>.")),
        ("/maps/partners", "Partner data beside the hot spots",
         ("For the Violence Reduction Network and partners: an indicator partners share by "
          "postcode sector (school exclusions, A&E assaults...) against violence, with the "
          "share of it in violence hot spot areas. The loaded example is SYNTHETIC "
          "(partners).")),
        ("/docs", "API documentation", "For analysts: every endpoint, with examples."),
    ]
    items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(t)}</a><br>{html.escape(d)}</li>'
                    for u, t, d in links)
    return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
{ERROR_PROBE}<title>Leicester violence hot spots</title><meta name="viewport" content="width=device-width">
<style>body{{font:16px/1.5 sans-serif;max-width:760px;margin:2em auto;padding:0 1em}}
li{{margin:0 0 1em}}small{{color:#555}}fieldset{{margin:1em 0}}#upload-result{{margin-top:.5em}}
</style></head><body>
<h1>Leicester violence hot spots</h1>
<p>Maps of where violence happens in Leicester, for neighbourhood, youth-work and planning
teams. Data loaded: {html.escape(loaded)}.</p><p id="access">{role_line}</p><ul>{items}</ul>
{UPLOAD_FORM.replace("__LATEST__", latest)}
{_site_sets_html(svc, who)}
<p><small>police.uk data is published by month, with locations moved to the nearest of a set
of anonymous map points, and its categories are broad: "violence, robbery and weapons" is
wider than the Violence Reduction Network's definition of serious violence. Policing-area
boundaries are approximate. Contains public sector information licensed under the Open
Government Licence v3.0. Contains OS data © Crown copyright and database right.</small></p>
</body></html>""")


@router.get("/maps/hotspots", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="hotspotMap",
            responses=HTML_200, summary="Hot spot map (Gi* hexagons, KDE, boundaries, sites)")
def hotspot_map(request: Request, svc: ServiceDep, flt: FilterDep,
                resolution: Resolution = 9, sites: SiteSets = None) -> HTMLResponse:
    """Folium (Leaflet) map: Gi* hot and cold H3 cells with a legend, a KDE layer, wards
    with their counts on hover, approximate NPAs and schools / candidate sites, with a layer
    control. Filters are the usual query parameters. Leaflet is served locally; base tiles
    are optional. Aggregates only: no offence points are drawn."""
    from geo_api.web.maps.hotspots import render_hotspot_map

    try:
        if sites:  # site sets are for partners and above
            require(caller(request), "partner")
        flt = latest_unless_given(request, svc, flt)
        layers = protected_layers(hotspot_layers(svc, flt, resolution), disclosure(request))
        site_rows = site_layers(svc, sites)
    except GeoApiError as exc:
        return message_page(exc, timed=flt.hours is not None)
    png = "/maps/hotspots.png?" + urlencode(filter_query(flt) + [("resolution", resolution)])
    return HTMLResponse(render_hotspot_map(svc.boundaries, layers, site_rows,
                                           controls=page_controls(request, svc, flt),
                                           png_url=png))


@router.get("/maps/hotspots.png", dependencies=[PUBLIC], response_class=Response,
            operation_id="hotspotMapPng",
            responses=PNG_200,
            summary="The hot spot map as a static PNG for briefings and slides")
def hotspot_map_png(request: Request, svc: ServiceDep, flt: FilterDep,
                    resolution: Resolution = 9,
                    layout: Annotated[Literal["slide", "a4"], Query(
                        description="slide: 16:9, 1600x900 px; a4: A4 landscape, 1403x992 px")
                    ] = "slide",
                    cold: Annotated[bool, Query(description="Draw cold spots too")] = False
                    ) -> Response:
    """The hot spot map as a picture: Gi* hot spot cells (and cold spots with `cold=true`),
    ward outlines and names, approximate NPAs, the period and offence group in the title, a
    legend, a 1 km scale bar, parameters, dataset version, the date made and the
    attribution. Same filters and default period (the latest 3 loaded months) as
    /maps/hotspots; drawn on the server without base tiles. Aggregates only."""
    from geo_api.web.maps.static_png import render_hotspot_png

    flt = latest_unless_given(request, svc, flt)
    layers = protected_layers(hotspot_layers(svc, flt, resolution), disclosure(request))
    stem = f"hotspots_{_as_period(flt) or 'all-months'}_{flt.group}".replace("/", "-to-")
    return Response(render_hotspot_png(svc.boundaries, layers, layout, cold),
                    media_type="image/png",
                    headers={"Content-Disposition": f'inline; filename="{stem}.png"'})


@router.get("/maps/compare", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="sideBySideMap",
            responses=HTML_200, summary="Two periods side by side (synchronised hot spot maps)")
def side_by_side_map(request: Request, svc: ServiceDep, flt: RawFilterDep,
                     before: MapBefore = None, after: MapAfter = None,
                     resolution: Resolution = 9) -> HTMLResponse:
    """Two synchronised maps in one page: the before period on the left and the after period
    on the right (Gi* hexagons, KDE, wards with counts), so a team can see where hot spots
    appeared or went. Pan or zoom one map and the other follows. For the statistics of the
    change use /compare/report/map or the /compare endpoints."""
    from geo_api.services.comparison import periods
    from geo_api.web.maps.hotspots import render_side_by_side

    try:
        fb, fa = periods(svc, flt, *map_pair(request, svc, before, after))
        left, right = (protected_layers(hotspot_layers(svc, f, resolution), disclosure(request))
                       for f in (fb, fa))
    except GeoApiError as exc:
        return message_page(exc)
    return HTMLResponse(render_side_by_side(
        svc.boundaries, left, right,
        controls=page_controls(request, svc, flt, pair=(_as_period(fb), _as_period(fa)))))


@router.get("/maps/time-window", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="timeWindowMap",
            responses=HTML_200, summary="Hot spots in a time-of-day window vs the other hours "
                                        "(after school, evening, night-time economy)")
def time_window_map(request: Request, svc: ServiceDep, flt: FilterDep,
                    window: Annotated[Literal["after-school", "evening", "night-time-economy"],
                                      Query(description="Preset time-of-day window")]
                    = "after-school",
                    resolution: Resolution = 9) -> HTMLResponse:
    """For youth-work teams: hot spots in the hours they work (left) next to hot spots in
    all other hours (right), with how many offences fall in the window. Needs offences with
    a time of day (a force export): police.uk data has none, and the page says so. The
    `hours` parameter is ignored here; choose `window` instead."""
    from geo_api.web.maps.hotspots import render_side_by_side

    start, end, label = TIME_WINDOWS[window]
    try:
        flt = latest_unless_given(request, svc, flt)
    except GeoApiError as exc:
        return message_page(exc, timed=True)
    inside = dataclasses.replace(flt, hours=(start, end))
    outside = dataclasses.replace(flt, hours=(end, start))
    try:
        policy = disclosure(request)
        left = protected_layers(hotspot_layers(svc, inside, resolution,
                                               f"In the window: {label}"), policy)
        right = protected_layers(hotspot_layers(svc, outside, resolution, "All other hours"),
                                 policy)
    except GeoApiError as exc:
        return message_page(exc, timed=True)
    n_in, n_timed = window_count(svc, dataclasses.replace(flt, hours=None), start, end)
    if policy is not None:
        n_in, n_timed = policy.count(n_in), policy.count(n_timed)
    links = " | ".join(f'<a href="?window={k}&amp;{query_without_hours(flt)}">{v[2]}</a>'
                       for k, v in TIME_WINDOWS.items())
    if n_in is not None and n_timed:
        share = f"{n_in:,} of {n_timed:,} offences with a time ({n_in / n_timed:.0%})"
    else:  # suppressed for the public role (or nothing timed)
        share = f"Fewer than {policy.k} offences" if policy else "No offences"
    note = f"{share} fall in this window.<br>Other windows: {links}"
    return HTMLResponse(render_side_by_side(svc.boundaries, left, right, note,
                                            controls=page_controls(request, svc, flt)))


UPLOAD_FORM = """<h2>Your candidate sites</h2>
<form id="upload"><fieldset><legend>Show your own sites on the hot spot map (for example
possible bleed-control kit locations)</legend>
<p><label>CSV file <input type="file" id="sites-file" accept=".csv,text/csv" required></label></p>
<p><label>Name for this list <input id="sites-name" pattern="[a-z0-9][a-z0-9_-]{0,39}"
 placeholder="bleed-kits" required></label> <small>lower-case letters, digits, - or _</small></p>
<p><small>Columns: <code>name</code>, optional <code>kind</code>, and either
<code>easting,northing</code> (British National Grid) or <code>longitude,latitude</code>.</small></p>
<button type="submit">Upload and open the map</button><div id="upload-result"></div>
</fieldset></form>
<script>
document.getElementById('upload').addEventListener('submit', async function (e) {
  e.preventDefault();
  var name = document.getElementById('sites-name').value;
  var file = document.getElementById('sites-file').files[0];
  var out = document.getElementById('upload-result');
  var r = await fetch('/sites/' + encodeURIComponent(name),
                      {method: 'POST', headers: {'Content-Type': 'text/csv'}, body: file});
  var body = await r.json();
  if (r.ok) {
    var url = '/maps/hotspots?datetime=__LATEST__&group=violence_robbery_weapons&sites='
              + encodeURIComponent(name);
    out.innerHTML = body.n_sites + ' sites saved. <a href="' + url + '">Open the map</a>';
    window.location.href = url;
  } else {
    out.textContent = 'Not saved: ' + body.message;
  }
});
</script>"""


def latest_unless_given(request: Request, svc, flt):
    """The filter's period: the controls form's fields when it was sent without JavaScript
    (``preset``, else ``period_from``/``period_to``), else the latest 3 loaded months when
    the page was opened without a period (a map of every month ever loaded is rarely what a
    team wants)."""
    from geo_api.web.maps.controls import latest_3

    q = request.query_params
    form = q.get("preset") or (f"{q['period_from']}/{q.get('period_to') or q['period_from']}"
                               if q.get("period_from") else None)
    if form is None and ("datetime" in q or flt.start is not None):
        return flt
    period = form or latest_3(list(svc.store.months_loaded()))
    if period is None:
        return flt
    return with_period(flt, period)


def map_pair(request: Request, svc, before: str | None, after: str | None
             ) -> tuple[str, str]:
    """The two periods of a comparison map: the controls form's month fields when it was
    sent without JavaScript (``before_from``/``before_to``, ``after_from``/``after_to``),
    else the parameters, else the latest 3 loaded months against the 3 before them."""
    q = request.query_params
    for name in ("before", "after"):
        if q.get(f"{name}_from"):
            a = q[f"{name}_from"]
            value = f"{a}/{q.get(f'{name}_to') or a}"
            before, after = (value, after) if name == "before" else (before, value)
    if before is None or after is None:
        months = list(svc.store.months_loaded())
        if len(months) < 6 and (before is None and after is None):
            raise InvalidParameter("before/after: give both periods (fewer than 6 months are "
                                   "loaded, so there is no default pair)")
        before = before or _period(months[-6:-3])
        after = after or _period(months[-3:])
    return before, after


def _as_period(flt) -> str | None:
    """'YYYY-MM/YYYY-MM' of a whole-month filter (None otherwise)."""
    if flt.start is None or flt.end is None:
        return None
    last = flt.end - datetime.timedelta(days=1)
    return f"{flt.start:%Y-%m}/{last:%Y-%m}"




def page_controls(request: Request, svc, flt, pair=None, with_period: bool = True,
                  inline: bool = False):
    """The controls form for this page (a function of the map's JavaScript name);
    ``with_period``/``inline``: see ``controls_html``."""
    from geo_api.web.maps.controls import area_bounds, controls_html

    own = FORM_FIELDS if with_period else FORM_FIELDS - {"datetime"}
    keep = [(k, v) for k, v in request.query_params.multi_items() if k not in own]
    months = list(svc.store.months_loaded())
    areas = area_bounds(svc.boundaries)
    return lambda map_name: controls_html(
        path=request.url.path, months=months, group=flt.group, period=_as_period(flt),
        extra=keep, areas=areas, map_name=map_name, pair=pair, with_period=with_period,
        inline=inline)


def _period(months: list[str]) -> str:
    """'2020-07/2020-09' for a run of months ('' for none)."""
    return f"{months[0]}/{months[-1]}" if months else ""


def _words(period: str) -> str:
    """'Jul–Sep 2020' for '2020-07/2020-09' ('no data loaded yet' for none)."""
    from geo_api.web.maps.layers import months_words

    if not period:
        return "no data loaded yet"
    return months_words(*(datetime.date.fromisoformat(p + "-01") for p in period.split("/")))


def _site_sets_html(svc, who) -> str:
    """The saved site sets with their sizes and, for people who may delete them, a button
    (the server checks ownership again)."""
    if who is None or not who.at_least("partner"):
        return ""
    sets = svc.site_sets.list()
    if not sets:
        return "<p>No site sets saved yet.</p>"
    rows = "".join(
        f'<li><a href="/maps/hotspots?sites={html.escape(x["name"])}">'
        f'{html.escape(x["name"])}</a> ({x["n_sites"]:,} sites'
        f'{", yours" if x.get("owner") == who.owner else ""})'
        + (f' <button data-set="{html.escape(x["name"])}" class="del">Delete</button>'
           if who.at_least("admin") or x.get("owner") == who.owner else "") + "</li>"
        for x in sets)
    return f"""<h2>Saved site sets</h2><ul id="site-sets">{rows}</ul>
<script>
document.querySelectorAll('#site-sets .del').forEach(function (b) {{
  b.addEventListener('click', async function () {{
    if (!confirm('Delete ' + b.dataset.set + '?')) return;
    var r = await fetch('/sites/' + encodeURIComponent(b.dataset.set), {{method: 'DELETE'}});
    if (r.ok) b.parentElement.remove(); else alert('Not deleted: ' + r.status);
  }});
}});
</script>"""


def message_page(exc: GeoApiError, timed: bool = False) -> HTMLResponse:
    """The plain page for a selection that cannot be mapped; ``timed``: the map needed
    offences with a time of day."""
    return page(exc.user_msg, exc.status_code, TIME_HINT if timed else "")
