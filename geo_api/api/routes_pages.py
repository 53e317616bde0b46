"""HTML pages for people who do not call the API: landing page and maps."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from geo_api.api.routes import FilterDep, ServiceDep
from geo_api.errors import GeoApiError

router = APIRouter(tags=["pages"])
HTML_EXAMPLE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">..."
                "</head><body>...</body></html>")
HTML_200 = {200: {"content": {"text/html": {"example": HTML_EXAMPLE}},
                  "description": "An HTML page"}}
DEFAULT_Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"


@router.get("/", response_class=HTMLResponse, operation_id="landingPage", responses=HTML_200,
            summary="Landing page listing the maps and the API docs")
def landing(svc: ServiceDep) -> HTMLResponse:
    """A page for people who do not call the API: what data is loaded, links to each map
    with a sentence on what it shows, and the API documentation."""
    s = svc.store.summary() if svc.store.dataset_version() else {}
    loaded = (f"{s['n_offences']:,} offences, {s['first_month']} to {s['last_month']}"
              if s else "no data loaded yet")
    links = [
        (f"/maps/hotspots?{DEFAULT_Q}", "Hot spot map",
         ("Where violence, robbery and weapons offences cluster (April–June 2020). Red hexagons "
         "are statistically significant hot spots; hover over a ward to see its count.")),
        ("/maps/hotspots?datetime=2019-12/2020-02&group=violence_robbery_weapons",
         "Hot spot map, winter 2019/20", "The same map before the first lockdown."),
        (("/compare/report/map?before=2019-12/2020-02&after=2020-04/2020-06"
         "&group=violence_robbery_weapons"), "Did it move in lockdown?",
         ("Which areas' share of offences rose or fell between winter and the first lockdown, "
         "and which hot spots are new, persistent or gone.")),
        ("/maps/hotspots?hours=15-19&group=vrn_serious_violence",
         "After-school hot spots (15:00-19:00)",
         ("For youth-work teams: hot spots in the hours you work. Needs a force export with "
         "offence times (police.uk has none).")),
        ("/docs", "API documentation", "For analysts: every endpoint, with examples."),
    ]
    items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(t)}</a><br>{html.escape(d)}</li>'
                    for u, t, d in links)
    return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Leicester violence hot spots</title><meta name="viewport" content="width=device-width">
<style>body{{font:16px/1.5 sans-serif;max-width:760px;margin:2em auto;padding:0 1em}}
li{{margin:0 0 1em}}small{{color:#555}}</style></head><body>
<h1>Leicester violence hot spots</h1>
<p>Maps of where violence happens in Leicester, for neighbourhood, youth-work and planning
teams. Data loaded: {html.escape(loaded)}.</p><ul>{items}</ul>
<p><small>police.uk data is published by month, with locations moved to the nearest of a set
of anonymous map points, and its categories are broad: "violence, robbery and weapons" is
wider than the Violence Reduction Network's definition of serious violence. Policing-area
boundaries are approximate. Contains public sector information licensed under the Open
Government Licence v3.0. Contains OS data © Crown copyright and database right.</small></p>
</body></html>""")


@router.get("/maps/hotspots", response_class=HTMLResponse, operation_id="hotspotMap",
            responses=HTML_200, summary="Hot spot map (Gi* hexagons, KDE, boundaries)")
def hotspot_map(svc: ServiceDep, flt: FilterDep,
                resolution: Annotated[int, Query(ge=7, le=10)] = 9) -> HTMLResponse:
    """Folium (Leaflet) map: Gi* hot and cold H3 cells with a legend, a KDE layer, wards
    with their counts on hover, approximate NPAs and schools / candidate sites, with a layer
    control. Filters are the usual query parameters. Leaflet is served locally; base tiles
    are optional. Aggregates only: no offence points are drawn."""
    from geo_api import hotspots as h
    from geo_api.maps.hotspots import render_hotspot_map
    from geo_api.sites import sites_in

    try:
        rows, meta = h.gi(svc, flt, "h3", 999, 12345, None, "city", resolution=resolution, k=1)
        kde, _ = h.kde(svc, flt, 300, 100, "quartic", "city", as_geojson=True,
                       min_share_of_max=0.05)
    except GeoApiError as exc:
        return message_page(exc)
    counts, _ = svc.store.area_counts("ward", flt)
    f = meta["filters"]
    period = f"{(f['start'] or '')[:10]} to {(f['end_exclusive'] or '')[:10]}"
    hours = f" hours {f['hours'][0]}:00-{f['hours'][1]}:00" if f["hours"] else ""
    sites = sites_in(svc.settings.sites_file, h.study_area_m(svc, "city"))
    return HTMLResponse(render_hotspot_map(svc.boundaries, rows, kde, counts,
                                           f"Hot spots {period}{hours} ({flt.group})", sites))


def message_page(exc: GeoApiError) -> HTMLResponse:
    """A plain page explaining why a map cannot be drawn (instead of a JSON error)."""
    return HTMLResponse(status_code=exc.status_code, content=f"""<!doctype html><html lang="en">
<head><meta charset="utf-8"><title>No map for this selection</title></head>
<body style="font:16px/1.5 sans-serif;max-width:700px;margin:2em auto">
<h1>No map for this selection</h1><p>{html.escape(exc.user_msg)}</p>
<p>police.uk data has no times of day, so time-window maps (for example after school,
15:00-19:00) need a force export with offence times.</p><p><a href="/">Back to the maps</a></p>
</body></html>""")
