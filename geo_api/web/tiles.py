"""XYZ tiles (Web Mercator tile grid, z/x/y with y counted from the north): GeoJSON and MVT.

GeoJSON tiles: features clipped to the tile's lon/lat bounds, written as RFC 7946 GeoJSON with
6-decimal coordinates. Mapbox Vector Tiles (``.mvt``, spec v2.1): the same features in
EPSG:3857 (the tile grid's own CRS, used only for encoding), clipped to the tile plus a
small buffer, quantised to a 4096 extent by the ``mapbox-vector-tile`` library; one MVT layer
named after the tile layer. Whole-layer results (boundaries, Gi* cells, KDE cells for a filter)
are computed once per (dataset version, boundaries version, parameters) and cached; tiles
are cached in-process too (LRU).
"""

from __future__ import annotations

import hashlib
import json
import math

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import shapely

from geo_api.crs import to_io
from geo_api.errors import InvalidParameter

MAX_ZOOM = 20
MERCATOR_HALF_M = 20037508.342789244  # half the EPSG:3857 world width, metres
MVT_EXTENT = 4096
MVT_BUFFER = 64  # tile units of overlap so polygon edges do not show at tile seams


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of XYZ tile z/x/y; raises for out-of-range."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidParameter(f"z={z} out of range 0..{MAX_ZOOM}")
    n = 2 ** z
    if not (0 <= x < n and 0 <= y < n):
        raise InvalidParameter(f"tile {z}/{x}/{y} out of range: x and y must be in 0..{n - 1}")

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def tile_bounds_mercator(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of XYZ tile z/x/y in EPSG:3857 metres."""
    tile_bounds(z, x, y)  # range check
    size = 2 * MERCATOR_HALF_M / 2 ** z
    minx, maxy = -MERCATOR_HALF_M + x * size, MERCATOR_HALF_M - y * size
    return minx, maxy - size, minx + size, maxy


def _clipped(gdf: gpd.GeoDataFrame, bounds) -> tuple[np.ndarray, list[dict]]:
    """Geometries of ``gdf`` clipped to ``bounds`` (non-empty ones) and their properties."""
    cand = gdf.iloc[gdf.sindex.query(shapely.box(*bounds), predicate="intersects")]
    geoms = shapely.clip_by_rect(cand.geometry.values, *bounds)
    keep = ~shapely.is_empty(geoms)
    props = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in p.items()}
             for p in cand.drop(columns="geometry")[keep].to_dict("records")]
    return geoms[keep], props


def clip_tile(gdf: gpd.GeoDataFrame, z: int, x: int, y: int) -> bytes:
    """GeoJSON bytes of ``gdf`` (EPSG:4326) clipped to the tile."""
    geoms, props = _clipped(gdf, tile_bounds(z, x, y))
    geoms = shapely.set_precision(geoms, 1e-6)
    features = [{"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)), "properties": p}
                for g, p in zip(geoms, props) if not g.is_empty]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":")).encode()


def mvt_tile(gdf_mercator: gpd.GeoDataFrame, layer: str, z: int, x: int, y: int) -> bytes:
    """Mapbox Vector Tile bytes of ``gdf_mercator`` (EPSG:3857) for tile z/x/y."""
    minx, miny, maxx, maxy = bounds = tile_bounds_mercator(z, x, y)
    pad = (maxx - minx) * MVT_BUFFER / MVT_EXTENT
    geoms, props = _clipped(gdf_mercator, (minx - pad, miny - pad, maxx + pad, maxy + pad))
    features = [{"geometry": g, "properties": {k: v for k, v in p.items() if v is not None}}
                for g, p in zip(geoms, props)]
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": features}],
        default_options={"quantize_bounds": bounds, "extents": MVT_EXTENT,
                         "on_invalid_geometry": mapbox_vector_tile.encoder.on_invalid_geometry_make_valid})


def etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest() + '"'


def boundary_frame(layer) -> gpd.GeoDataFrame:
    cols = [c for c in ("code", "name", "population") if c in layer.gdf.columns]
    return to_io(layer.gdf[cols + ["geometry"]])
