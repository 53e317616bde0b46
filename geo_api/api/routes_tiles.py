"""XYZ GeoJSON tiles for boundary layers and hotspot results."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

import geopandas as gpd
import numpy as np
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from geo_api.api.models import ErrorBody
from geo_api.api.routes import FilterDep, ServiceDep
from geo_api.tiles import LRU, boundary_frame, clip_tile, etag

router = APIRouter(tags=["tiles"])
TILES = LRU(20_000)
LAYERS = LRU(64)
TileLayer = Literal["npa", "ward", "sector", "lsoa", "lad", "oa", "gi", "kde"]


def _layer_frame(svc, layer: str, flt) -> gpd.GeoDataFrame:
    key = (layer, svc.store.dataset_version(), svc.boundaries.version,
           repr(sorted(dataclasses.asdict(flt).items())))
    hit = LAYERS.get(key)
    if hit is not None:
        return hit
    if layer == "gi":
        from geo_api import hotspots
        from geo_api.analysis.grids import h3_polygons_lonlat

        rows, _ = hotspots.gi(svc, flt, "h3", 999, 12345, None, "city", resolution=9, k=1)
        rows = [r for r in rows if r["label"] != "not significant"]
        ids = [int(r["id"], 16) for r in rows]
        gdf = gpd.GeoDataFrame(
            [{"id": r["id"], "label": r["label"], "count": r["count"], "gi_z": round(r["gi_z"], 3)}
             for r in rows], geometry=h3_polygons_lonlat(np.array(ids, dtype=np.uint64)), crs=4326)
    elif layer == "kde":
        from geo_api import hotspots

        fc, _ = hotspots.kde(svc, flt, 300, 100, "quartic", "city", as_geojson=True,
                             min_share_of_max=0.05)
        gdf = gpd.GeoDataFrame.from_features(fc["features"], crs=4326)
    else:
        gdf = boundary_frame(svc.boundaries.get(layer))
    return LAYERS.put(key, gdf)


@router.get("/tiles/{layer}/{z}/{x}/{y}.geojson", operation_id="getTile",
            responses={200: {"content": {"application/geo+json": {}},
                             "description": "GeoJSON FeatureCollection clipped to the tile"},
                       304: {"description": "Not modified (ETag matched)"},
                       404: {"model": ErrorBody}, 422: {"model": ErrorBody}},
            summary="XYZ tile (z/x/y, y from the north, Web Mercator grid) as GeoJSON; "
                    "gi = Gi* hot/cold H3 cells, kde = KDE cells, others = boundary layers")
def tile(request: Request, svc: ServiceDep, flt: FilterDep, layer: TileLayer,
         z: Annotated[int, Path(ge=0, le=20)], x: Annotated[int, Path(ge=0)],
         y: Annotated[int, Path(ge=0)]) -> Response:
    key = (layer, z, x, y, svc.store.dataset_version(), svc.boundaries.version,
           str(request.query_params))
    cached = TILES.get(key)
    if cached is None:
        body = clip_tile(_layer_frame(svc, layer, flt), z, x, y)
        cached = TILES.put(key, (body, etag(body)))
    body, tag = cached
    headers = {"ETag": tag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/geo+json", headers=headers)
