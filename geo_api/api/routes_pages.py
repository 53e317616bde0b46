"""HTML pages for people who do not call the API: landing page and maps."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from geo_api.api.routes import FilterDep, ServiceDep

router = APIRouter(tags=["pages"])
HTML_200 = {200: {"content": {"text/html": {}}, "description": "An HTML page"}}
DEFAULT_Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"


@router.get("/", response_class=HTMLResponse, operation_id="landingPage", responses=HTML_200,
            summary="Landing page listing the maps and the API docs")
def landing(svc: ServiceDep) -> HTMLResponse:
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
    from geo_api import hotspots as h
    from geo_api.maps.hotspots import render_hotspot_map

    rows, meta = h.gi(svc, flt, "h3", 999, 12345, None, "city", resolution=resolution, k=1)
    kde, _ = h.kde(svc, flt, 300, 100, "quartic", "city", as_geojson=True, min_share_of_max=0.05)
    counts, _ = svc.store.area_counts("ward", flt)
    period = meta["filters"]["start"][:7] if meta["filters"]["start"] else "all months"
    return HTMLResponse(render_hotspot_map(svc.boundaries, rows, kde, counts,
                                           f"Hot spots from {period} ({flt.group})"))
