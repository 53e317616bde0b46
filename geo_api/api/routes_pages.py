"""HTML pages for people who do not call the API: landing page and maps."""

from __future__ import annotations

import dataclasses
import datetime
import html
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from geo_api.api.routes import HTML_200, FilterDep, ServiceDep
from geo_api.api.routes_compare import After, Before
from geo_api.errors import GeoApiError
from geo_api.maps.base import ERROR_PROBE

router = APIRouter(tags=["pages"])
Resolution = Annotated[int, Query(ge=7, le=10, description="H3 resolution of the Gi* cells")]
SiteSets = Annotated[list[str] | None, Query(description="Uploaded candidate-site sets to show "
                                                         "(see POST /sites/{name})")]
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
        (("/maps/compare?before=2019-12/2020-02&after=2020-04/2020-06"
         "&group=violence_robbery_weapons"), "Before and during lockdown, side by side",
         "Winter 2019/20 next to April–June 2020: move or zoom one map and the other follows."),
        (("/compare/report/map?before=2019-12/2020-02&after=2020-04/2020-06"
         "&group=violence_robbery_weapons"), "Did it move in lockdown?",
         ("Which areas' share of offences rose or fell between winter and the first lockdown, "
         "and which hot spots are new, persistent or gone.")),
        ("/maps/time-window?window=after-school", "After-school hot spots (15:00–19:00)",
         ("For youth-work teams: hot spots in the hours you work, next to all other hours. "
          "Also for the evening (19:00–22:00) and the night-time economy (22:00–05:00). "
          "Needs a force export with offence times (police.uk has none).")),
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
teams. Data loaded: {html.escape(loaded)}.</p><ul>{items}</ul>
{UPLOAD_FORM}
<p><small>police.uk data is published by month, with locations moved to the nearest of a set
of anonymous map points, and its categories are broad: "violence, robbery and weapons" is
wider than the Violence Reduction Network's definition of serious violence. Policing-area
boundaries are approximate. Contains public sector information licensed under the Open
Government Licence v3.0. Contains OS data © Crown copyright and database right.</small></p>
</body></html>""")


@router.get("/maps/hotspots", response_class=HTMLResponse, operation_id="hotspotMap",
            responses=HTML_200, summary="Hot spot map (Gi* hexagons, KDE, boundaries, sites)")
def hotspot_map(svc: ServiceDep, flt: FilterDep, resolution: Resolution = 9,
                sites: SiteSets = None) -> HTMLResponse:
    """Folium (Leaflet) map: Gi* hot and cold H3 cells with a legend, a KDE layer, wards
    with their counts on hover, approximate NPAs and schools / candidate sites, with a layer
    control. Filters are the usual query parameters. Leaflet is served locally; base tiles
    are optional. Aggregates only: no offence points are drawn."""
    from geo_api.maps.hotspots import render_hotspot_map

    try:
        layers = _layers(svc, flt, resolution)
        site_rows = _sites(svc, sites)
    except GeoApiError as exc:
        return message_page(exc, timed=flt.hours is not None)
    return HTMLResponse(render_hotspot_map(svc.boundaries, layers, site_rows))


@router.get("/maps/compare", response_class=HTMLResponse, operation_id="sideBySideMap",
            responses=HTML_200, summary="Two periods side by side (synchronised hot spot maps)")
def side_by_side_map(svc: ServiceDep, flt: FilterDep, before: Before, after: After,
                     resolution: Resolution = 9) -> HTMLResponse:
    """Two synchronised maps in one page: the before period on the left and the after period
    on the right (Gi* hexagons, KDE, wards with counts), so a team can see where hot spots
    appeared or went. Pan or zoom one map and the other follows. For the statistics of the
    change use /compare/report/map or the /compare endpoints."""
    from geo_api.comparison import periods
    from geo_api.maps.hotspots import render_side_by_side

    try:
        fb, fa = periods(flt, before, after)
        left, right = _layers(svc, fb, resolution), _layers(svc, fa, resolution)
    except GeoApiError as exc:
        return message_page(exc)
    return HTMLResponse(render_side_by_side(svc.boundaries, left, right))


TIME_WINDOWS = {"after-school": (15, 19, "after school, 15:00-19:00"),
                "evening": (19, 22, "evening, 19:00-22:00"),
                "night-time-economy": (22, 5, "night-time economy, 22:00-05:00")}


@router.get("/maps/time-window", response_class=HTMLResponse, operation_id="timeWindowMap",
            responses=HTML_200, summary="Hot spots in a time-of-day window vs the other hours "
                                        "(after school, evening, night-time economy)")
def time_window_map(svc: ServiceDep, flt: FilterDep,
                    window: Annotated[Literal["after-school", "evening", "night-time-economy"],
                                      Query(description="Preset time-of-day window")]
                    = "after-school",
                    resolution: Resolution = 9) -> HTMLResponse:
    """For youth-work teams: hot spots in the hours they work (left) next to hot spots in
    all other hours (right), with how many offences fall in the window. Needs offences with
    a time of day (a force export): police.uk data has none, and the page says so. The
    `hours` parameter is ignored here; choose `window` instead."""
    from geo_api.hotspots import time_profile
    from geo_api.maps.hotspots import render_side_by_side

    start, end, label = TIME_WINDOWS[window]
    inside = dataclasses.replace(flt, hours=(start, end))
    outside = dataclasses.replace(flt, hours=(end, start))
    try:
        left = _layers(svc, inside, resolution, f"In the window: {label}")
        right = _layers(svc, outside, resolution, "All other hours")
    except GeoApiError as exc:
        return message_page(exc, timed=True)
    prof = time_profile(svc, dataclasses.replace(flt, hours=None))
    n_in = sum(c for h, row in enumerate(prof["hour_by_weekday"]["counts"]) for c in row
               if (start <= h < end if start < end else (h >= start or h < end)))
    n_timed = prof["meta"]["n_with_time"]
    links = " | ".join(f'<a href="?window={k}&{_query_without(flt)}">{v[2]}</a>'
                       for k, v in TIME_WINDOWS.items())
    note = (f"{n_in:,} of {n_timed:,} offences with a time ({n_in / n_timed:.0%}) fall in "
            f"this window.<br>Other windows: {links}")
    return HTMLResponse(render_side_by_side(svc.boundaries, left, right, note))


def _query_without(flt) -> str:
    """The filter's datetime and group as query parameters (for the window links)."""
    parts = [f"group={flt.group}"]
    if flt.start is not None and flt.end is not None:
        last = flt.end - datetime.timedelta(days=1)
        parts.append(f"datetime={flt.start:%Y-%m-%d}/{last:%Y-%m-%d}")
    return "&amp;".join(parts)


def _layers(svc, flt, resolution: int, label: str | None = None):
    """One period's map layers (Gi* on H3, KDE cells, ward counts) for a filter."""
    from geo_api import hotspots as h
    from geo_api.maps.hotspots import HotspotLayers

    rows, meta = h.gi(svc, flt, "h3", 999, 12345, None, "city", resolution=resolution, k=1)
    kde, _ = h.kde(svc, flt, 300, 100, "quartic", "city", as_geojson=True,
                   min_share_of_max=0.05)
    counts, _ = svc.store.area_counts("ward", flt)
    npa_counts, _ = svc.store.area_counts("npa", flt)
    if label is None:
        label = f"{period_label(flt)}: {GROUP_WORDS.get(flt.group, flt.group)}"
        if flt.hours:
            label += f", {flt.hours[0]:02d}:00-{flt.hours[1]:02d}:00"
    provenance = (f"Gi* on H3 r{meta['resolution']}, {meta['permutations']} permutations, seed "
                  f"{meta['seed']}; KDE quartic 300 m; dataset {meta['dataset_version']}")
    return HotspotLayers(rows, kde, counts, npa_counts, html.escape(label), provenance)


GROUP_WORDS = {"all": "all offences", "violence_robbery_weapons": "violence, robbery and weapons",
               "vrn_serious_violence": "serious violence (VRN)",
               "knife_enabled_serious_violence": "knife-enabled serious violence"}


def period_label(flt) -> str:
    """'Dec 2019 to Feb 2020' for whole months, else inclusive dates; 'all months' if open."""
    if flt.start is None or flt.end is None:
        return "all months"
    last = flt.end - datetime.timedelta(days=1)
    if flt.start.day == 1 and flt.end.day == 1 and flt.end.hour == 0:
        a, b = f"{flt.start:%b %Y}", f"{last:%b %Y}"
    else:
        a, b = f"{flt.start:%d %b %Y}", f"{last:%d %b %Y}"
    return a if a == b else f"{a} to {b}"


def _sites(svc, names: list[str] | None) -> list[tuple[str, object, bool]]:
    """(layer name, sites, shown) for the schools (or configured sites file) and each named
    uploaded candidate-site set (shown by default, since the user asked for it)."""
    from geo_api import hotspots as h
    from geo_api.sites import sites_in

    out = [("Schools" if svc.settings.sites_file.name.startswith("gias") else "Sites",
            sites_in(svc.settings.sites_file, h.study_area_m(svc, "city")), False)]
    return out + [(f"Candidate sites: {html.escape(n)}", svc.site_sets.load(n), True)
                  for n in dict.fromkeys(names or [])]


TIME_HINT = ("police.uk data has no times of day, so time-window maps (for example after "
             "school, 15:00-19:00) need a force export with offence times.")


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
    var url = '/maps/hotspots?datetime=2020-04/2020-06&group=violence_robbery_weapons&sites='
              + encodeURIComponent(name);
    out.innerHTML = body.n_sites + ' sites saved. <a href="' + url + '">Open the map</a>';
    window.location.href = url;
  } else {
    out.textContent = 'Not saved: ' + body.message;
  }
});
</script>"""


def message_page(exc: GeoApiError, timed: bool = False) -> HTMLResponse:
    """A plain page explaining why a map cannot be drawn (instead of a JSON error);
    ``timed``: the map needed offences with a time of day."""
    hint = f"<p>{TIME_HINT}</p>" if timed else ""
    return HTMLResponse(status_code=exc.status_code, content=f"""<!doctype html><html lang="en">
<head><meta charset="utf-8"><title>No map for this selection</title></head>
<body style="font:16px/1.5 sans-serif;max-width:700px;margin:2em auto">
<h1>No map for this selection</h1><p>{html.escape(exc.user_msg)}</p>
{hint}<p><a href="/">Back to the maps</a></p>
</body></html>""")
