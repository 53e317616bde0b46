"""HTML pages for people who do not call the API: landing page and maps."""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from geo_api.analysis.defaults import DEFAULT_GROUP
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import GeoApiError
from geo_api.services.access import require
from geo_api.services.comparison import periods
from geo_api.services.filters import filter_query, with_period
from geo_api.web.api import ogc
from geo_api.web.api.downloads import named
from geo_api.web.api.models import OgcLandingPage
from geo_api.web.api.params import (
    FilterDep,
    HeavySlot,
    MapAfter,
    MapBefore,
    RawFilterDep,
    ServiceDep,
)
from geo_api.web.api.shared import (
    HTML_200,
    HTML_EXAMPLE,
    PNG_200,
    as_period,
    map_pair,
    message_page,
    months_period,
    page_controls,
)
from geo_api.web.auth import ANYONE, PUBLIC, ROLE_SEES, caller, current_principal, disclosure
from geo_api.web.glossary import GLOSSARY
from geo_api.web.maps import hotspots as hotspot_maps
from geo_api.web.maps.controls import latest_3
from geo_api.web.maps.layers import (
    TIME_WINDOWS,
    hotspot_layers,
    months_words,
    protected_layers,
    query_without_hours,
    site_layers,
    window_count,
)
from geo_api.web.templating import render

router = APIRouter(tags=["pages"], dependencies=[HeavySlot])
Resolution = Annotated[int, Query(ge=7, le=10, description="H3 resolution of the Gi* cells")]
SiteSets = Annotated[list[str] | None, Query(description="Uploaded candidate-site sets to show "
                                                         "(see POST /sites/{name})")]


# FastAPI's type for ``responses=`` (routes.py's dicts are inferred narrower)
Responses = dict[int | str, dict[str, Any]]
HTML_PAGE, PNG = cast(Responses, HTML_200), cast(Responses, PNG_200)
LANDING_200: Responses = {
    200: {"content": {"text/html": {"example": HTML_EXAMPLE}},
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
    if ogc.wants_json(f, request.headers.get("accept")):
        return JSONResponse(ogc.landing(str(request.base_url).rstrip("/"),
                                        "geo_api: knife crime and serious violence in "
                                        "Leicester"))
    who = current_principal(request)
    s = svc.store.summary() if svc.store.dataset_version() else {}
    months = list(svc.store.months_loaded()) if s else []
    latest = months_period(months[-3:])
    return HTMLResponse(render(
        "landing.html", who=who, role_sees=ROLE_SEES[who.role] if who else "",
        loaded=(f"{s['n_offences']:,} offences, {s['first_month']} to {s['last_month']}"
                if s else "no data loaded yet"),
        links=landing_links(months, window_count(svc, OffenceFilter(), 0, 24)[1] if s else 0),
        latest=_checked_period(latest), group=DEFAULT_GROUP,
        site_sets=_site_sets(svc, who)))


@router.get("/glossary", dependencies=[ANYONE], response_class=HTMLResponse,
            operation_id="glossaryPage", responses=HTML_PAGE,
            summary="What the words on the maps mean, in plain words (HTML)")
def glossary() -> HTMLResponse:
    """One page defining the words the maps use (hot spot, confidence, Gi*, H3, KDE, PAI,
    PEI, share, percentage point, NPA, ward, LSOA, postcode sector, WDQ, People Zone,
    bleed-control kit, reach, focus places, withheld), each with an anchor id
    (`/glossary#hot-spot`); every map page links here."""
    return HTMLResponse(render("glossary.html", terms=GLOSSARY))


def landing_links(months: list[str], n_timed: int) -> list[tuple[str, str, str]]:
    """(url, title, what it shows) of each map on the landing page, for the loaded months
    (``n_timed``: offences with a time of day)."""
    latest, previous = months_period(months[-3:]), months_period(months[-6:-3])
    g = f"group={DEFAULT_GROUP}"
    links = [
        (f"/maps/hotspots?{'datetime=' + latest + '&' if latest else ''}{g}",
         "Hot spot map, latest 3 months",
         (f"Where violence, robbery and weapons offences cluster ({_words(latest)}). Red "
          "hexagons are hot spots: many more offences than chance would give. Hover over a "
          "ward to see its count.")),
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
             (f"Which policing areas' share of offences rose or fell from {_words(previous)} "
              f"to {_words(latest)}, said in words with how sure it is, and which hot spots "
              "are new, lasting or gone.")),
        ]
    if {"2019-12", "2020-02", "2020-04", "2020-06"} <= set(months):
        links.append(((f"/compare/report/map?before=2019-12/2020-02&after=2020-04/2020-06"
                       f"&{g}"), "Case study: did violence move in the 2020 lockdown?",
                      ("Winter 2019/20 against April–June 2020 (the first lockdown): did "
                      "violence move out of the city centre, Central (NC), to East (NE) and "
                      "West (NW)? The map gives the answer in words.")))
    return links + [
        ("/maps/time-window?window=after-school", "After-school hot spots (15:00–19:00)",
         "For youth-work teams: hot spots in the hours you work, next to all other hours. "
         "Also for the evening (19:00–22:00) and the night-time economy (22:00–05:00). "
         + (f"{n_timed:,} loaded offences have a time of day." if n_timed else
            "Not available for the data loaded now: it needs a force export with offence "
            "times (police.uk has none).")),
        ("/maps/planning?p=5", "Planning: bleed-control kits and People Zones",
         ("For planners: where the next five kits would reach the most violence (numbered by "
          "what each adds), which hot spots no kit reaches, and a ranked shortlist of wards for "
          "People Zone conversations with how robust each position is. Upload your existing kits "
          "or candidate places (below), then choose them in the map's panel.")),
        ("/maps/partners", "Partner data beside the hot spots",
         ("For the Violence Reduction Network and partners: an indicator partners share by "
          "postcode sector (school exclusions, A&E assaults...) against violence, with the "
          "share of it in violence hot spot areas. The loaded example is SYNTHETIC "
          "(partners).")),
        ("/glossary", "What the words mean",
         ("Hot spot, confidence, policing areas (NPAs), the WDQ and the other words the maps "
         "use, in plain words.")),
        ("/docs", "API documentation", "For analysts: every endpoint, with examples."),
    ]


@router.get("/maps/hotspots", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="hotspotMap",
            responses=HTML_PAGE, summary="Hot spot map (Gi* hexagons, KDE, boundaries, sites)")
def hotspot_map(request: Request, svc: ServiceDep, flt: FilterDep,
                resolution: Resolution = 9, sites: SiteSets = None) -> HTMLResponse:
    """Folium (Leaflet) map: Gi* hot and cold H3 cells with a legend, a KDE layer, wards
    with their counts on hover, approximate NPAs and schools / candidate sites, with a layer
    control. Filters are the usual query parameters. Leaflet is served locally; base tiles
    are optional. Aggregates only: no offence points are drawn."""
    try:
        if sites:  # site sets are for partners and above
            require(caller(request), "partner")
        flt = latest_unless_given(request, svc, flt)
        layers = protected_layers(hotspot_layers(svc, flt, resolution), disclosure(request))
        site_rows = site_layers(svc, sites)
    except GeoApiError as exc:
        return message_page(exc, timed=flt.hours is not None)
    png = "/maps/hotspots.png?" + urlencode(filter_query(flt) + [("resolution", resolution)])
    return HTMLResponse(hotspot_maps.render_hotspot_map(
        svc.boundaries, layers, site_rows, controls=page_controls(request, svc, flt),
        png_url=png))


@router.get("/maps/hotspots.png", dependencies=[PUBLIC], response_class=Response,
            operation_id="hotspotMapPng",
            responses=PNG,
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
    from geo_api.web.maps import static_png  # noqa: PLC0415 - lazy: matplotlib, only for this picture

    flt = latest_unless_given(request, svc, flt)
    layers = protected_layers(hotspot_layers(svc, flt, resolution), disclosure(request))
    return named(Response(static_png.render_hotspot_png(svc.boundaries, layers, layout, cold),
                          media_type="image/png"), "hotspots", svc.meta(flt),
                 f"h3-r{resolution}", inline=True)


@router.get("/maps/compare", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="sideBySideMap",
            responses=HTML_PAGE, summary="Two periods side by side (synchronised hot spot maps)")
def side_by_side_map(request: Request, svc: ServiceDep, flt: RawFilterDep,
                     before: MapBefore = None, after: MapAfter = None,
                     resolution: Resolution = 9) -> HTMLResponse:
    """Two synchronised maps in one page: the before period on the left and the after period
    on the right (Gi* hexagons, KDE, wards with counts), so a team can see where hot spots
    appeared or went. Pan or zoom one map and the other follows. For the statistics of the
    change use /compare/report/map or the /compare endpoints."""
    try:
        fb, fa = periods(svc, flt, *map_pair(request, svc, before, after))
        left, right = (protected_layers(hotspot_layers(svc, f, resolution), disclosure(request))
                       for f in (fb, fa))
    except GeoApiError as exc:
        return message_page(exc)
    return HTMLResponse(hotspot_maps.render_side_by_side(
        svc.boundaries, left, right,
        controls=page_controls(request, svc, flt, pair=(as_period(fb), as_period(fa)))))


@router.get("/maps/time-window", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="timeWindowMap",
            responses=HTML_PAGE, summary="Hot spots in a time-of-day window vs the other hours "
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
    if n_in is not None and n_timed:
        share = f"{n_in:,} of {n_timed:,} offences with a time ({n_in / n_timed:.0%})"
    else:  # suppressed for the public role (or nothing timed)
        share = f"Fewer than {policy.k} offences" if policy else "No offences"
    note = render("maps/window_note.html", share=share, query=query_without_hours(flt),
                  windows=[(k, v[2]) for k, v in TIME_WINDOWS.items()])
    return HTMLResponse(hotspot_maps.render_side_by_side(
        svc.boundaries, left, right, note, controls=page_controls(request, svc, flt)))


def latest_unless_given(request: Request, svc, flt):
    """The filter's period: the controls form's fields when it was sent without JavaScript
    (``preset``, else ``period_from``/``period_to``), else the latest 3 loaded months when
    the page was opened without a period (a map of every month ever loaded is rarely what a
    team wants)."""
    q = request.query_params
    form = q.get("preset") or (f"{q['period_from']}/{q.get('period_to') or q['period_from']}"
                               if q.get("period_from") else None)
    if form is None and ("datetime" in q or flt.start is not None):
        return flt
    period = form or latest_3(list(svc.store.months_loaded()))
    if period is None:
        return flt
    return with_period(flt, period)


def _checked_period(period: str) -> str:
    """``period`` ('YYYY-MM/YYYY-MM' or '') unchanged; anything else is refused (it is
    written into a script's string on the landing page)."""
    if not re.fullmatch(r"(\d{4}-\d{2}/\d{4}-\d{2})?", period):
        raise ValueError(f"not a period of months: {period!r}")
    return period


def _words(period: str) -> str:
    """'Jul–Sep 2020' for '2020-07/2020-09' ('no data loaded yet' for none)."""
    if not period:
        return "no data loaded yet"
    return months_words(*(datetime.date.fromisoformat(p + "-01") for p in period.split("/")))


def _site_sets(svc, who) -> list[dict] | None:
    """The saved site sets with their sizes and whether this caller may delete each (the
    server checks ownership again); None for callers below partner."""
    if who is None or not who.at_least("partner"):
        return None
    return [{"name": x["name"], "n_sites": f"{x['n_sites']:,}",
             "yours": x.get("owner") == who.owner,
             "may_delete": who.at_least("admin") or x.get("owner") == who.owner}
            for x in svc.site_sets.list()]


