"""Thin routers: parse parameters, call the service, shape the response."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from geo_api.data.store.base import OffenceFilter
from geo_api.errors import Forbidden, GeoApiError
from geo_api.services.filters import build_filter
from geo_api.services.service import Service
from geo_api.web.api.models import (
    AreaStatsResponse,
    ErrorBody,
    FeatureCollection,
    GroupList,
    Health,
    LayerList,
)

ERRORS = {404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}
router = APIRouter()
HTML_EXAMPLE = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">..."
                "</head><body>...</body></html>")
HTML_200 = {200: {"content": {"text/html": {"example": HTML_EXAMPLE}},
                  "description": "An HTML page"}}


def get_service(request: Request) -> Iterator[Service]:
    """The service with one store snapshot pinned for the whole request."""
    with request.app.state.service.pinned() as svc:
        yield svc


ServiceDep = Annotated[Service, Depends(get_service)]


def offence_filter(
    datetime: Annotated[str | None, Query(description="OGC datetime: instant or interval "
                                          "'start/end' ('..' open); YYYY-MM, YYYY-MM-DD or RFC 3339. "
                                          "Month-dated rows match if their month overlaps.",
                                          examples=["2020-04/2020-06"])] = None,
    group: Annotated[Literal["all", "violence_robbery_weapons", "vrn_serious_violence",
                             "knife_enabled_serious_violence"],
                     Query(description="Named offence group (see /groups)")] = "all",
    crime_category: Annotated[list[str] | None, Query(description="police.uk category; repeatable",
                                                      examples=["Robbery"])] = None,
    knife_enabled: bool | None = None,
    under_25: bool | None = None,
    night_time_economy: Annotated[bool | None, Query(description="22:00-05:00")] = None,
    source: Literal["police_uk", "force_export"] | None = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (EPSG:4326)",
                                      examples=["-1.16,52.62,-1.11,52.65"])] = None,
    hours: Annotated[str | None, Query(description="Time-of-day window 'HH-HH' (timed rows only)",
                                       examples=["15-19"])] = None,
) -> OffenceFilter:
    return build_filter(datetime, group, crime_category,
                        {"knife_enabled": knife_enabled, "under_25": under_25,
                         "night_time_economy": night_time_economy}, source, bbox, hours)


FilterDep = Annotated[OffenceFilter, Depends(offence_filter)]


@router.get("/health", response_model=Health, operation_id="health", tags=["service"],
            summary="Service health, versions and what data is loaded")
def health(svc: ServiceDep) -> Health:
    """Liveness and what is loaded: API, dataset and boundaries versions, number of offences
    and the months they cover."""
    try:
        s = svc.store.summary()
    except GeoApiError:
        s = {}
    return Health(status="ok", api_version=svc.meta(OffenceFilter())["api_version"],
                  dataset_version=s.get("dataset_version"), boundaries_version=svc.boundaries.version,
                  n_offences=s.get("n_offences", 0), first_month=s.get("first_month"),
                  last_month=s.get("last_month"))


@router.get("/groups", response_model=GroupList, operation_id="listGroups", tags=["offences"],
            summary="Named offence groups and what they mean")
def groups(svc: ServiceDep) -> GroupList:
    """The named offence groups accepted by `group=`, with their definitions and caveats."""
    return GroupList(groups=svc.groups())


@router.get("/layers", response_model=LayerList, operation_id="listLayers", tags=["boundaries"],
            summary="Boundary layers, their sources and whether they are approximate")
def layers(svc: ServiceDep) -> LayerList:
    """The boundary layers offences are joined to, their sources and licences, and whether
    they are approximate (NPAs, postcode sectors) and replaceable by your own file."""
    return LayerList(layers=[
        {"name": n, "n_features": len(lyr.gdf), "has_population": lyr.has_population,
         **{k: lyr.meta[k] for k in ("title", "approximate", "source", "coverage", "population_method")}}
        for n, lyr in svc.boundaries.layers.items()])


@router.get("/layers/{layer}", response_model=FeatureCollection, operation_id="getLayer",
            tags=["boundaries"], responses=ERRORS,
            summary="A boundary layer as GeoJSON (EPSG:4326, 6 decimals)")
def layer_geojson(layer: str, svc: ServiceDep) -> Response:
    """A whole boundary layer as an RFC 7946 FeatureCollection (code, name, population).
    For maps, the tile endpoints are faster."""
    from geo_api.crs import to_io

    gdf = to_io(svc.boundaries.get(layer).gdf)
    return Response(gdf.to_json(drop_id=True, to_wgs84=False), media_type="application/geo+json")


@router.get("/offences", response_model=FeatureCollection, operation_id="getOffences",
            tags=["offences"], responses={**ERRORS, 403: {"model": ErrorBody}},
            summary="Offences as GeoJSON points or CSV (OGC API Features paging)")
def offences(svc: ServiceDep, flt: FilterDep,
             limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
             offset: Annotated[int, Query(ge=0)] = 0,
             f: Annotated[Literal["geojson", "csv"], Query(description="Output format")] = "geojson",
             ) -> Response:
    """Offence records matching the filter as GeoJSON points (lon/lat) or CSV, paged with
    `limit`/`offset`; `numberMatched` (or the X-Number-Matched header) gives the total.
    Refused (403) when the deployment serves aggregates only."""
    from geo_api.web.api.features import offences_csv, offences_geojson

    if svc.settings.aggregates_only:
        raise Forbidden("this deployment serves aggregates only; use /stats/areas")
    body, n = offences_geojson(svc, flt, limit, offset) if f == "geojson" else offences_csv(svc, flt, limit, offset)
    if f == "csv":
        return Response(body, media_type="text/csv", headers={"X-Number-Matched": str(n)})
    return Response(json.dumps(body), media_type="application/geo+json")


@router.get("/stats/areas", response_model=AreaStatsResponse, operation_id="getAreaStats",
            tags=["statistics"], responses=ERRORS,
            summary="Counts, shares (95% CI) and rates per 1,000 residents per area")
def area_stats(svc: ServiceDep, flt: FilterDep,
               layer: Annotated[Literal["npa", "ward", "sector", "lsoa", "lad", "oa"],
                                Query(description="Boundary layer")] = "ward") -> JSONResponse:
    """Offences per area of a boundary layer: count, share of offences located in the layer
    (Wilson 95% CI), residents and rate per 1,000 residents (exact Poisson 95% CI).
    `meta` counts offences without a location or outside the layer."""
    table, meta = svc.area_stats(layer, flt)
    areas = json.loads(table.to_json(orient="records"))
    return JSONResponse(AreaStatsResponse(meta=meta, areas=areas).model_dump(mode="json"))
