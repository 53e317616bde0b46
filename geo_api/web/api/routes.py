"""Thin routers: parse parameters, call the service, shape the response."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from geo_api.crs import to_io
from geo_api.errors import Forbidden, InvalidParameter
from geo_api.services.frames import records
from geo_api.services.lru import LRU
from geo_api.web.api.csv_safe import table_csv
from geo_api.web.api.downloads import PARQUET, CsvBom, named, with_bom
from geo_api.web.api.features import (
    file_chunks,
    offences_csv_stream,
    offences_geojson,
    offences_geoparquet,
)
from geo_api.web.api.models import (
    AreaStatsResponse,
    ErrorBody,
    FeatureCollection,
    GroupList,
    Health,
    LayerList,
    OffenceCollection,
)
from geo_api.web.api.params import ExportSlotDep, FilterDep, Layer, ServiceDep
from geo_api.web.api.shared import (
    ERRORS,
    TABLE_FORMATS,
    GeoJSONResponse,
    TableFormat,
    declare_properties,
    revalidated,
)
from geo_api.web.auth import ANALYST, ANYONE, PUBLIC, audit_note
from geo_api.web.tiles import etag

router = APIRouter()
MAX_PAGE_SIZE = 10_000
MAX_CSV_ROWS = 1_000_000
CSV_EXAMPLE = ("offence_key,source,month,occurred_at,crime_category,...,lon,lat\n"
               "puk:2020-04:6e13...,police_uk,2020-04,,Violence and sexual offences,...,"
               "-1.133200,52.634900\n")


@router.get("/health", dependencies=[ANYONE], response_model=Health, operation_id="health", tags=["service"],
            summary="Service health, versions and what data is loaded")
def health(svc: ServiceDep) -> Health:
    """Liveness and what is loaded: API, dataset and boundaries versions, number of offences
    and the months they cover. Answers 200 with "no data loaded" on an empty store."""
    return Health(**svc.health())


@router.get("/groups", dependencies=[PUBLIC], response_model=GroupList, operation_id="listGroups", tags=["offences"],
            summary="Named offence groups and what they mean")
def groups(svc: ServiceDep) -> GroupList:
    """The named offence groups accepted by `group=`, with their definitions and caveats."""
    return GroupList(groups=svc.groups())


@router.get("/layers", dependencies=[PUBLIC], response_model=LayerList, operation_id="listLayers", tags=["boundaries"],
            summary="Boundary layers, their sources and whether they are approximate")
def layers(svc: ServiceDep) -> LayerList:
    """The boundary layers offences are joined to, their sources and licences, and whether
    they are approximate (NPAs, postcode sectors) and replaceable by your own file."""
    return LayerList(layers=[
        {"name": n, "n_features": len(lyr.gdf), "has_population": lyr.has_population,
         **{k: lyr.meta[k] for k in ("title", "approximate", "source", "coverage", "population_method")}}
        for n, lyr in svc.boundaries.layers.items()])


LAYER_BYTES = LRU(16)  # boundary layers as sent, per boundaries version


@router.get("/layers/{layer}", dependencies=[PUBLIC], response_model=FeatureCollection, operation_id="getLayer",
            response_class=GeoJSONResponse, tags=["boundaries"], responses=ERRORS,
            summary="A boundary layer as GeoJSON (EPSG:4326, 6 decimals)")
def layer_geojson(layer: Annotated[str, Path(description="Boundary layer: npa, ward, sector, "
                                                      "lsoa, lad or oa (404 for others)")],
                  svc: ServiceDep, request: Request) -> Response:
    """A whole boundary layer as an RFC 7946 FeatureCollection (code, name, population).
    For maps, the tile endpoints are faster. Built once per boundaries version and sent
    with an ETag (304 when the client has it)."""
    key = (layer, svc.boundaries.version)
    built = LAYER_BYTES.get(key)
    if built is None:
        body = json.dumps(to_io(svc.boundaries.get(layer).gdf).to_geo_dict(drop_id=True),
                          ensure_ascii=False, separators=(",", ":"), allow_nan=False
                          ).encode()
        built = LAYER_BYTES.put(key, (body, etag(body)))
    return layer_response(request, built)


def layer_response(request: Request, built: tuple[bytes, str]) -> Response:
    """A boundary layer as sent, from its (body, etag) - also by ``web.prebuilt`` for a
    layer already built."""
    declare_properties(request, "boundary")
    body, tag = built
    layer = request.url.path.rsplit("/", 1)[-1]  # (a loaded layer's name: it was built)
    return named(revalidated(request, body, tag, "application/geo+json", max_age_s=3600),
                 "boundaries", None, layer, ext="geojson", inline=True)



@router.get("/offences", dependencies=[ANALYST, CsvBom], response_model=OffenceCollection, operation_id="getOffences",
            response_class=GeoJSONResponse, tags=["offences"],
            responses={**ERRORS, 403: {"model": ErrorBody},
                       200: {"content": {"text/csv": {"example": CSV_EXAMPLE},
                                         PARQUET: {
                                             "schema": {"type": "string", "format": "binary"}}},
                             "description": "GeoJSON (default), CSV (f=csv) or GeoParquet "
                                            "(f=parquet)"}},
            summary="Offences as GeoJSON points or CSV (OGC API Features paging)")
def offences(request: Request, response: Response, svc: ServiceDep, flt: FilterDep,
             slot: ExportSlotDep,
             limit: Annotated[int, Query(ge=1, le=MAX_CSV_ROWS, description=(
                 "Rows to return: at most 10,000 as GeoJSON; CSV streams up to 1,000,000"))
                 ] = 100,
             offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
             f: Annotated[Literal["geojson", "csv", "parquet"], Query(
                 description="geojson, csv (streamed) or parquet (GeoParquet, up to "
                             "1,000,000 rows)")] = "geojson",
             ):
    """Offence records matching the filter as GeoJSON points (lon/lat; at most 10,000 per
    page) or CSV (streamed, up to 1,000,000 rows), paged with `limit`/`offset`;
    `numberMatched` (or the X-Number-Matched header) gives the total. More than 1,000 rows
    take one of a few export slots (`GEO_API_MAX_EXPORT_REQUESTS`) until sent: 503 with
    Retry-After when all stay busy.
    Refused (403) when the deployment serves aggregates only."""
    if svc.settings.aggregates_only:
        raise Forbidden("this deployment serves aggregates only; use /stats/areas")
    if f == "geojson" and limit > MAX_PAGE_SIZE:
        raise InvalidParameter(f"limit: at most {MAX_PAGE_SIZE:,} as GeoJSON; use f=csv (it "
                               "streams) or page with offset")
    slot.take(limit)
    if f == "geojson":
        fc = offences_geojson(svc, flt, limit, offset)[0]
        audit_note(request, rows=len(fc["features"]), point_level=True)
        named(response, "offences", fc["meta"], ext="geojson", inline=True)
        return fc
    n = svc.store.query_offences(flt, 0, 0, ("offence_key",))[1]
    rows, length = max(0, min(limit, n - offset)), {}
    body: Iterator[str] | Iterator[bytes]
    if f == "csv":
        body = with_bom(request, offences_csv_stream(svc, flt, limit, offset))
    else:
        parquet, rows = offences_geoparquet(svc, flt, limit, offset)
        slot.hold(parquet)  # deleted when sent
        length = {"Content-Length": str(parquet.seek(0, 2))}
        parquet.seek(0)
        body = file_chunks(parquet)
    headers = {"X-Number-Matched": str(n), "X-Number-Returned": str(rows), **length}
    audit_note(request, rows=rows, point_level=True)
    media = "text/csv" if f == "csv" else PARQUET
    return named(StreamingResponse(body, media_type=media, headers=headers), "offences",
                 svc.meta(flt))


@router.get("/stats/areas", dependencies=[PUBLIC, CsvBom], response_model=AreaStatsResponse, operation_id="getAreaStats",
            tags=["statistics"], responses={**ERRORS, **TABLE_FORMATS},
            summary="Counts, shares (95% CI) and rates per 1,000 residents per area")
def area_stats(request: Request, svc: ServiceDep, flt: FilterDep, layer: Layer = "ward",
               f: TableFormat = "json"):
    """Offences per area of a boundary layer: count, share of offences located in the layer
    (Wilson 95% CI), residents and rate per 1,000 residents (exact Poisson 95% CI).
    `meta` counts offences without a location or outside the layer. `f=csv`: the table as
    a download."""
    table, meta = svc.area_stats(layer, flt)
    if f == "csv":
        return table_csv(request, records(table), "areas", f"offences-by-{layer}", meta)
    return {"meta": meta, "areas": records(table)}
