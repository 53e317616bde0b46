"""XYZ GeoJSON tiles for boundary layers and hotspot results."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import geopandas as gpd
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from geo_api.services.lru import LRU
from geo_api.web.api.models import ErrorBody
from geo_api.web.api.params import FilterDep, ServiceDep
from geo_api.web.auth import PUBLIC
from geo_api.web.tiles import boundary_frame, clip_tile, etag, mvt_tile

router = APIRouter(tags=["tiles"])
TILES = LRU(20_000, max_bytes=256 * 2**20, weigh=lambda v: len(v[0]))  # (body, etag)
LAYERS = LRU(64)
TileLayer = Literal["npa", "ward", "sector", "lsoa", "lad", "oa", "gi", "kde"]


TILE_PROPS = {"gi": ("id", "label", "count", "gi_z"), "kde": ("density_per_km2", "share_of_max")}


def layer_frame(svc, layer: str, flt, epsg: int = 4326) -> gpd.GeoDataFrame:
    """Whole layer for a filter in EPSG:4326 (GeoJSON tiles) or EPSG:3857 (MVT), cached:
    boundary layers (code, name, population), the Gi* collection's hot and cold cells and
    the KDE collection's cells (``services.feature_collections``)."""
    from geo_api.services.disclosure import min_records

    key = (layer, epsg, svc.store.dataset_version(), svc.boundaries.version,
           repr(sorted(dataclasses.asdict(flt).items())), min_records())  # (and its policy)
    hit = LAYERS.get(key)
    if hit is not None:
        return hit
    if epsg != 4326:
        return LAYERS.put(key, layer_frame(svc, layer, flt).to_crs(epsg))
    if layer in TILE_PROPS:
        from geo_api.services import feature_collections as collections

        c = collections.catalog(svc)["hotspots-" + layer]
        cells, _ = collections.frame(svc, c, flt)
        if layer == "gi":
            cells = cells[cells["label"].str.startswith(("hot", "cold"))]
        gdf = cells[[*TILE_PROPS[layer], "geometry"]].to_crs(4326).reset_index(drop=True)
        if layer == "gi":
            gdf["gi_z"] = gdf["gi_z"].round(3)
    else:
        gdf = boundary_frame(svc.boundaries.get(layer))
    return LAYERS.put(key, gdf)


ZPath = Annotated[int, Path(ge=0, le=20, description="Zoom level 0..20")]
XPath = Annotated[int, Path(ge=0, description="Column, 0..2^z-1 from the west (180 W)")]
YPath = Annotated[int, Path(ge=0, description="Row, 0..2^z-1 from the north (XYZ/Google "
                                              "scheme, not TMS)")]
TILE_ERRORS = {304: {"description": "Not modified (ETag matched)"},
               404: {"model": ErrorBody}, 422: {"model": ErrorBody}}


def _serve(request: Request, svc, flt, layer: str, z: int, x: int, y: int, fmt: str) -> Response:
    from geo_api.web.auth import disclosure

    policy = disclosure(request)
    key = (fmt, layer, z, x, y, svc.store.dataset_version(), svc.boundaries.version,
           str(request.query_params), policy)
    cached = TILES.get(key)
    if cached is None:
        frame = layer_frame(svc, layer, flt, 3857 if fmt == "mvt" else 4326)
        if policy is not None:  # the public role's tiles: the disclosure policy's counts
            props = [c for c in frame.columns if c != frame.geometry.name]
            frame = frame.copy()
            frame[props] = policy.protect_frame(frame[props])
        if fmt == "mvt":
            body = mvt_tile(frame, layer, z, x, y)
        else:
            body = clip_tile(frame, z, x, y)
        cached = TILES.put(key, (body, etag(body)))
    body, tag = cached
    # answers depend on the caller's role: browsers may cache them, shared caches may not
    headers = {"ETag": tag, "Cache-Control": "private, max-age=300",
               "Vary": "Authorization, X-API-Key"}
    if policy is not None:  # protected above: the access middleware leaves it as it is
        headers["X-Disclosure-Control"] = policy.label
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA[fmt], headers=headers)


MEDIA = {"geojson": "application/geo+json", "mvt": "application/vnd.mapbox-vector-tile"}
LAYER_DOC = ("gi = Gi* hot/cold H3 r9 cells (label, count, gi_z), kde = quartic KDE cells "
             "(share_of_max), others = boundary layers (code, name, population); gi and kde "
             "follow the offence filter parameters.")


@router.get("/tiles/{layer}/{z}/{x}/{y}.geojson", dependencies=[PUBLIC], operation_id="getTile",
            response_class=Response,
            responses={200: {"content": {"application/geo+json": {}},
                             "description": "GeoJSON FeatureCollection clipped to the tile"},
                       **TILE_ERRORS},
            summary="XYZ tile as GeoJSON (z/x/y, y from the north, Web Mercator grid)",
            description=LAYER_DOC + " Coordinates lon/lat (EPSG:4326), 6 decimals.")
def tile(request: Request, svc: ServiceDep, flt: FilterDep, layer: TileLayer, z: ZPath,
         x: XPath, y: YPath) -> Response:
    return _serve(request, svc, flt, layer, z, x, y, "geojson")


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", dependencies=[PUBLIC], operation_id="getVectorTile",
            response_class=Response,
            responses={200: {"content": {"application/vnd.mapbox-vector-tile": {
                "schema": {"type": "string", "format": "binary"},
                "example": "(binary: Mapbox Vector Tile protobuf)"}},
                             "description": "Mapbox Vector Tile (v2.1, extent 4096, one layer "
                                            "named after {layer})"},
                       **TILE_ERRORS},
            summary="XYZ tile as a Mapbox Vector Tile (z/x/y, y from the north)",
            description=LAYER_DOC + " For MapLibre/Mapbox GL, QGIS and other MVT clients.")
def vector_tile(request: Request, svc: ServiceDep, flt: FilterDep, layer: TileLayer, z: ZPath,
                x: XPath, y: YPath) -> Response:
    return _serve(request, svc, flt, layer, z, x, y, "mvt")
