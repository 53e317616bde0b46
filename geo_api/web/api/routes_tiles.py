"""XYZ GeoJSON tiles for boundary layers and hotspot results."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from geo_api.web.api.models import ErrorBody
from geo_api.web.api.params import FilterDep, ServiceDep
from geo_api.web.api.shared import Responses, serve_tile
from geo_api.web.auth import PUBLIC

router = APIRouter(tags=["tiles"])
TileLayer = Literal["npa", "ward", "sector", "lsoa", "lad", "oa", "gi", "kde"]
ZPath = Annotated[int, Path(ge=0, le=20, description="Zoom level 0..20")]
XPath = Annotated[int, Path(ge=0, description="Column, 0..2^z-1 from the west (180 W)")]
YPath = Annotated[int, Path(ge=0, description="Row, 0..2^z-1 from the north (XYZ/Google "
                                              "scheme, not TMS)")]
TILE_ERRORS: Responses = {304: {"description": "Not modified (ETag matched)"},
                          404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
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
    return serve_tile(request, svc, flt, layer, z, x, y, "geojson")


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
    return serve_tile(request, svc, flt, layer, z, x, y, "mvt")
