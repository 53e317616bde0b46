"""OGC API - Features and - Tiles over the service's collections (thin routers).

Landing page JSON is served by ``GET /`` (``?f=json`` or ``Accept: application/json``; see
``routes_pages.landing``). Offences have their own routes (analysts); every other collection
is read through the generic ``/collections/{collectionId}`` routes (the public role and up,
under the disclosure policy applied by the access middleware)."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter, NotFound
from geo_api.services import feature_collections
from geo_api.services.filters import filter_query
from geo_api.web.api import ogc
from geo_api.web.api.models import (
    ErrorBody,
    OgcCollection,
    OgcCollections,
    OgcConformance,
    OgcFeature,
    OgcFeatureCollection,
    TileJson,
    TileMatrixSetDoc,
    TileMatrixSetList,
    TileSetDoc,
    TileSetList,
)
from geo_api.web.api.params import ExportSlotDep, HeavySlot, ServiceDep, filter_param
from geo_api.web.api.shared import Responses, declare_properties, layer_frame, serve_tile
from geo_api.web.auth import ANALYST, ANYONE, PUBLIC, audit_note, current_principal, disclosure

router = APIRouter(tags=["OGC API"])
ERRORS: Responses = {403: {"model": ErrorBody}, 404: {"model": ErrorBody},
                     422: {"model": ErrorBody}}
CollectionId = Annotated[str, Path(description="Collection id (GET /collections lists them)",
                                   examples=["ward"])]
FeatureId = Annotated[str, Path(description="Feature id: an area code, an H3 cell, a KDE "
                                            "cell or an offence key")]
Limit = Annotated[int, Query(ge=1, le=ogc.MAX_ITEMS, description="Features per page (at "
                             "most 10,000); follow the 'next' link for more")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="Features to skip (the 'next' link "
                              "sets it)")]
Crs = Annotated[str | None, Query(description=f"Output CRS: {ogc.CRS84} (lon/lat, default) "
                                  f"or {ogc.BNG} (British National Grid, metres)")]
BboxCrs = Annotated[str | None, Query(alias="bbox-crs", description=f"CRS of bbox: "
                                      f"{ogc.CRS84} only")]
TileF = Annotated[Literal["mvt", "geojson"], Query(description="mvt (Mapbox Vector Tile) "
                                                   "or geojson")]
JSON_200: Responses = {200: {"content": {"application/json": {}},
                             "description": "A JSON document"}}
GEOJSON_200: Responses = {200: {"content": {"application/geo+json": {}},
                                "description": "A GeoJSON FeatureCollection (OGC API Features)"}}
OgcFilter = Annotated[OffenceFilter, Depends(filter_param(None))]
FEATURE_CACHE = "private, max-age=60"


class OgcJSON(JSONResponse):
    media_type = "application/json"


class GeoJSON(JSONResponse):
    media_type = "application/geo+json"




def metadata_only(request: Request, response: Response) -> None:
    """Mark a document that carries no offence numbers (landing, conformance, collection,
    tile matrix set, tile set and TileJSON documents: extents, zooms, tile limits) as
    already safe for the public role, so the disclosure policy does not treat its integers
    as counts."""
    policy = disclosure(request)
    if policy is not None:
        response.headers["X-Disclosure-Control"] = f"{policy.label} (no offence numbers " \
                                                   "in this document)"


Metadata = Depends(metadata_only)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _role(request: Request) -> str | None:
    p = current_principal(request)
    return p.role if p else None


def _selection_query(c, flt: OffenceFilter) -> str:
    """The resolved selection as query text for links (derived collections: their period
    and group spelled out, so a link keeps meaning the same selection)."""
    return urlencode(filter_query(flt)) if c.temporal else ""


def _check_bbox_crs(bbox_crs: str | None) -> None:
    if bbox_crs is not None and ogc.parse_crs(bbox_crs, "bbox-crs") != 4326:
        raise InvalidParameter(f"bbox-crs: only {ogc.CRS84} is supported; give bbox in "
                               "lon/lat")


def _geojson(body: bytes, epsg: int) -> Response:
    return Response(body, media_type="application/geo+json", headers={
        "Content-Crs": f"<{ogc.crs_uri(epsg)}>", "Cache-Control": FEATURE_CACHE,
        "Vary": "Authorization, X-API-Key"})


@router.get("/conformance", dependencies=[ANYONE, Metadata], response_class=OgcJSON,
            operation_id="getConformance", response_model=OgcConformance,
            response_model_exclude_none=True, responses=JSON_200,
            summary="OGC API conformance classes this service implements")
def conformance() -> dict:
    """OGC API - Common, Features (Core, GeoJSON, OpenAPI 3.0) and Tiles (core, tile sets,
    MVT, GeoJSON) conformance classes."""
    return {"conformsTo": ogc.CONFORMANCE}


@router.get("/collections", dependencies=[PUBLIC, Metadata], response_class=OgcJSON,
            operation_id="getCollections", response_model=OgcCollections,
            response_model_exclude_none=True, responses=JSON_200,
            summary="The feature collections you may read (OGC API Features)")
def list_collections(request: Request, svc: ServiceDep) -> dict:
    """Boundary layers, area statistics per layer, Gi* and KDE cells, and offence records
    (analysts only), each with its extent, CRS list and links to items and tiles."""
    base = base_url(request)
    cols = [ogc.collection_doc(base, c, feature_collections.extent(svc, c))
            for c in feature_collections.visible(svc, _role(request))]
    return {"links": [ogc.link(f"{base}/collections", "self", ogc.JSON, "This document")],
            "collections": cols}


# ------------------------------------------------------------- offences (analysts) ------
def _offence_collection(request: Request, svc):
    return feature_collections.get(svc, "offences", _role(request))


@router.get("/collections/offences", dependencies=[ANALYST, Metadata], response_class=OgcJSON,
            operation_id="describeOffenceCollection", response_model=OgcCollection,
            response_model_exclude_none=True, responses={**JSON_200, **ERRORS},
            summary="The offence records collection (analysts)")
def describe_offences(request: Request, svc: ServiceDep, flt: OgcFilter) -> dict:
    """The offence records collection: extent (force area, loaded months), CRS list, links.
    It takes its items' filter parameters (datetime, group, ...: GDAL sends its
    connection's query with every request, this one included), checks them and describes
    the whole collection; the items apply them. Refused (403) where the deployment serves
    aggregates only."""
    c = _offence_collection(request, svc)
    feature_collections.selection(svc, c, flt)  # a bad or empty selection is refused here too
    return ogc.collection_doc(base_url(request), c, feature_collections.extent(svc, c))


@router.get("/collections/offences/items", dependencies=[ANALYST], response_class=GeoJSON,
            operation_id="getOffenceFeatures", response_model=OgcFeatureCollection,
            responses={**GEOJSON_200, **ERRORS},
            summary="Offence records as GeoJSON points, paged (analysts)")
def offence_items(request: Request, svc: ServiceDep, flt: OgcFilter, slot: ExportSlotDep,
                  limit: Limit = 10, offset: Offset = 0, crs: Crs = None,
                  bbox_crs: BboxCrs = None) -> Response:
    """Offence records matching the filter (datetime, bbox, group, crime_category, source,
    flags, hours - the API's filter vocabulary), ordered by month and key; `numberMatched`
    is the total, the 'next' link the following page. Every page is audited. Pages of
    more than 1,000 take an export slot (503 with Retry-After when all stay busy)."""
    c = _offence_collection(request, svc)
    _check_bbox_crs(bbox_crs)
    epsg = ogc.parse_crs(crs)
    flt = feature_collections.selection(svc, c, flt)
    slot.take(limit)
    df, n = feature_collections.offence_page(svc, flt, limit, offset, with_metric=epsg != 4326)
    feats = ogc.offence_features_json(df, epsg)
    audit_note(request, rows=len(feats), point_level=True)
    url = f"{base_url(request)}/collections/offences/items"
    links = ogc.page_links(url, request.url.query, limit, offset,
                           len(feats), n)
    return _geojson(ogc.feature_collection(feats, n, links, None), epsg)


@router.get("/collections/offences/items/{featureId}", dependencies=[ANALYST],
            response_class=GeoJSON, operation_id="getOffenceFeature", response_model=OgcFeature,
            responses={**GEOJSON_200, **ERRORS}, summary="One offence record (analysts)")
def offence_item(request: Request, svc: ServiceDep, featureId: FeatureId,
                 crs: Crs = None) -> Response:
    """One offence record by its key, as a GeoJSON Feature."""
    _offence_collection(request, svc)
    epsg = ogc.parse_crs(crs)
    feat = ogc.offence_features_json(feature_collections.offence(svc, featureId, epsg != 4326),
                                     epsg)[0]
    audit_note(request, rows=1, point_level=True)
    return _feature(request, feat, "offences", epsg)


def _feature(request: Request, feat: str, cid: str, epsg: int) -> Response:
    base = base_url(request)
    links = [ogc.link(str(request.url), "self", ogc.GEOJSON, "This feature"),
             ogc.link(f"{base}/collections/{cid}", "collection", ogc.JSON, "Its collection")]
    body = feat[:-1] + ',"links":' + json.dumps(links) + "}"
    return _geojson(body.encode(), epsg)


# ------------------------------------------------------------------ other collections ---
@router.get("/collections/{collectionId}", dependencies=[PUBLIC, Metadata], response_class=OgcJSON,
            operation_id="describeCollection", response_model=OgcCollection,
            response_model_exclude_none=True, responses={**JSON_200, **ERRORS},
            summary="One collection: extent, CRS list, parameters, links")
def describe_collection(request: Request, svc: ServiceDep, collectionId: CollectionId,
                        flt: OgcFilter) -> dict:
    """A collection's description. For derived collections (stats-*, hotspots-*) the links
    carry the selection (default: latest 3 loaded months, violence_robbery_weapons)."""
    c = feature_collections.get(svc, collectionId, _role(request))
    query = _selection_query(c, feature_collections.selection(svc, c, flt)) if c.derived else ""
    return ogc.collection_doc(base_url(request), c, feature_collections.extent(svc, c), query)


@router.get("/collections/{collectionId}/items", dependencies=[PUBLIC, HeavySlot],
            response_class=GeoJSON, operation_id="getFeatures", response_model=OgcFeatureCollection,
            responses={**GEOJSON_200, **ERRORS},
            summary="A collection's features as GeoJSON, paged (OGC API Features)")
def items(request: Request, svc: ServiceDep, collectionId: CollectionId,
          flt: OgcFilter, limit: Limit = 10, offset: Offset = 0, crs: Crs = None,
          bbox_crs: BboxCrs = None) -> Response:
    """Features intersecting `bbox`, paged with `limit`/`offset` ('next' links);
    `numberMatched` is the total. Area statistics and hot spot cells are computed for
    `datetime` (default: the latest 3 loaded months) and `group` (default:
    violence_robbery_weapons); their parameters are in `meta`."""
    c = feature_collections.get(svc, collectionId, _role(request))
    declare_properties(request, c.kind)
    _check_bbox_crs(bbox_crs)
    epsg = ogc.parse_crs(crs)
    sel = feature_collections.selection(svc, c, flt)
    gdf, params = feature_collections.frame(svc, c, sel)
    gdf = feature_collections.in_bbox(gdf, sel.bbox_lonlat)
    page = gdf.iloc[offset:offset + limit]
    props = [k for k in page.columns if k not in ("id", "geometry")]
    feats = ogc.features_json(page, epsg, props)
    url = f"{base_url(request)}/collections/{c.id}/items"
    links = ogc.page_links(url, request.url.query, limit, offset,
                           len(feats), len(gdf))
    meta = params if c.derived else None
    return _geojson(ogc.feature_collection(feats, len(gdf), links, meta), epsg)


@router.get("/collections/{collectionId}/items/{featureId}", dependencies=[PUBLIC, HeavySlot],
            response_class=GeoJSON, operation_id="getFeature", response_model=OgcFeature,
            responses={**GEOJSON_200, **ERRORS},
            summary="One feature of a collection (OGC API Features)")
def item(request: Request, svc: ServiceDep, collectionId: CollectionId,
         featureId: FeatureId, flt: OgcFilter, crs: Crs = None) -> Response:
    """One area, cell or boundary by its id (derived collections: for the selection)."""
    c = feature_collections.get(svc, collectionId, _role(request))
    declare_properties(request, c.kind, single=True)
    epsg = ogc.parse_crs(crs)
    gdf, _ = feature_collections.frame(svc, c, feature_collections.selection(svc, c, flt))
    one = gdf[gdf["id"] == featureId]
    if one.empty:
        raise NotFound(f"no feature {featureId!r} in collection {c.id!r}")
    props = [k for k in one.columns if k not in ("id", "geometry")]
    return _feature(request, ogc.features_json(one, epsg, props)[0], c.id, epsg)


# ------------------------------------------------------------------ tiles ---------------
TmsId = Annotated[Literal["WebMercatorQuad"], Path(description="Tile matrix set (only "
                                                                "WebMercatorQuad)")]


@router.get("/tileMatrixSets", dependencies=[ANYONE, Metadata], response_class=OgcJSON,
            operation_id="getTileMatrixSets", response_model=TileMatrixSetList,
            response_model_exclude_none=True, responses=JSON_200,
            summary="Tile matrix sets (OGC API Tiles)")
def tile_matrix_sets(request: Request) -> dict:
    """The one tile matrix set: WebMercatorQuad (the XYZ grid of web maps)."""
    base = base_url(request)
    return {"tileMatrixSets": [{
        "id": ogc.TMS_ID, "title": "Google Maps Compatible for the World",
        "uri": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "links": [ogc.link(f"{base}/tileMatrixSets/{ogc.TMS_ID}", "self", ogc.JSON)]}]}


@router.get("/tileMatrixSets/{tileMatrixSetId}", dependencies=[ANYONE, Metadata],
            response_class=OgcJSON, operation_id="getTileMatrixSet",
            response_model=TileMatrixSetDoc, response_model_exclude_none=True,
            responses={**JSON_200, **ERRORS},
            summary="The WebMercatorQuad tile matrix set (OGC TMS 2.0 JSON)")
def tile_matrix_set(tileMatrixSetId: TmsId) -> dict:
    """Zoom levels 0-24 of the Web Mercator grid (from ``morecantile``)."""
    return ogc.tile_matrix_set()


def _tiled(request: Request, svc, collection_id: str):
    c = feature_collections.get(svc, collection_id, _role(request))
    if not c.tile_layer:
        raise NotFound(f"collection {c.id!r} has no tiles; read its items")
    return c


def _tile_fields(svc, c, flt) -> dict[str, str]:
    frame = layer_frame(svc, c.tile_layer, flt)
    kinds = {"i": "integer", "u": "integer", "f": "number", "b": "boolean"}
    return {k: kinds.get(frame[k].dtype.kind, "string") for k in frame.columns
            if k != frame.geometry.name}


@router.get("/collections/{collectionId}/tiles", dependencies=[PUBLIC, Metadata],
            response_class=OgcJSON, operation_id="getCollectionTilesets",
            response_model=TileSetList, response_model_exclude_none=True,
            responses={**JSON_200, **ERRORS}, summary="A collection's vector tile sets")
def tilesets(request: Request, svc: ServiceDep, collectionId: CollectionId,
             flt: OgcFilter) -> dict:
    """The collection's tile sets (one: WebMercatorQuad, MVT and GeoJSON tiles)."""
    c = _tiled(request, svc, collectionId)
    sel = feature_collections.selection(svc, c, flt)
    return ogc.tilesets_doc(base_url(request), c, _selection_query(c, sel))


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}",
            dependencies=[PUBLIC, HeavySlot, Metadata], response_class=OgcJSON,
            operation_id="getCollectionTileset", response_model=TileSetDoc,
            response_model_exclude_none=True, responses={**JSON_200, **ERRORS},
            summary="A collection's tile set: limits, layers, tile URL templates")
def tileset(request: Request, svc: ServiceDep, collectionId: CollectionId,
            tileMatrixSetId: TmsId, flt: OgcFilter) -> dict:
    """Tile set metadata (OGC API Tiles): tile matrix limits for zoom 8-16 over the
    collection's extent, the layer and its fields, and the MVT/GeoJSON tile templates."""
    c = _tiled(request, svc, collectionId)
    sel = feature_collections.selection(svc, c, flt)
    bbox = feature_collections.extent(svc, c)["spatial"]["bbox"][0]
    return ogc.tileset_doc(base_url(request), c, _selection_query(c, sel), bbox,
                           _tile_fields(svc, c, sel))


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}/tilejson",
            dependencies=[PUBLIC, HeavySlot, Metadata], response_class=OgcJSON,
            operation_id="getTileJson", response_model=TileJson, response_model_exclude_none=True,
            responses={**JSON_200, **ERRORS},
            summary="TileJSON 3.0.0 of a collection's vector tiles (MapLibre, QGIS)")
def tilejson(request: Request, svc: ServiceDep, collectionId: CollectionId,
             tileMatrixSetId: TmsId, flt: OgcFilter) -> dict:
    """TileJSON for MapLibre / Mapbox GL and QGIS vector tile connections: the MVT URL
    template (with the selection spelled out), zoom range, bounds and the layer's fields."""
    c = _tiled(request, svc, collectionId)
    sel = feature_collections.selection(svc, c, flt)
    bbox = feature_collections.extent(svc, c)["spatial"]["bbox"][0]
    what = (f"{c.title}: {sel.group}, {sel.describe()['start'][:7]} to "
            f"{sel.describe()['end_exclusive'][:7]} (exclusive)" if c.derived
            else c.description)
    return ogc.tilejson(base_url(request), c, _selection_query(c, sel), bbox,
                        _tile_fields(svc, c, sel), what)


@router.get("/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/"
            "{tileCol}", dependencies=[PUBLIC], response_class=Response,
            operation_id="getCollectionTile",
            responses={200: {"content": {ogc.MVT: {"schema": {"type": "string",
                                                              "format": "binary"},
                                                   "example": "(binary: Mapbox Vector "
                                                              "Tile protobuf)"},
                                         "application/geo+json": {}},
                             "description": "A Mapbox Vector Tile (f=mvt, default) or a "
                                            "GeoJSON tile (f=geojson)"},
                       304: {"description": "Not modified (ETag matched)"}, **ERRORS},
            summary="A vector tile of a collection (OGC API Tiles; row from the north)")
def collection_tile(request: Request, svc: ServiceDep, collectionId: CollectionId,
                    tileMatrixSetId: TmsId,
                    tileMatrix: Annotated[int, Path(ge=0, le=20, description="Zoom")],
                    tileRow: Annotated[int, Path(ge=0, description="Row (y) from the north")],
                    tileCol: Annotated[int, Path(ge=0, description="Column (x) from the west")],
                    flt: OgcFilter, f: TileF = "mvt") -> Response:
    """The same tiles as /tiles/{layer}/{z}/{x}/{y}, addressed the OGC way; the selection
    of derived collections defaults as for their items."""
    c = _tiled(request, svc, collectionId)
    sel = feature_collections.selection(svc, c, flt)
    return serve_tile(request, svc, sel, c.tile_layer, tileMatrix, tileCol, tileRow, f)
