"""XYZ GeoJSON tiles (Web Mercator tile grid, z/x/y with y counted from the north).

Features are clipped to the tile's lon/lat bounds and written as RFC 7946 GeoJSON with
6-decimal coordinates. Whole-layer results (boundaries, Gi* cells, KDE cells for a filter)
are computed once per (dataset version, boundaries version, parameters) and cached; tiles
are cached in-process too (LRU).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict

import geopandas as gpd
import numpy as np
import shapely

from geo_api.crs import to_io
from geo_api.errors import InvalidParameter

MAX_ZOOM = 20


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


class LRU:
    """Tiny thread-safe LRU cache."""

    def __init__(self, size: int):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key, value):
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


def clip_tile(gdf: gpd.GeoDataFrame, z: int, x: int, y: int) -> bytes:
    """GeoJSON bytes of ``gdf`` (EPSG:4326) clipped to the tile."""
    w, s, e, n = tile_bounds(z, x, y)
    cand = gdf.iloc[gdf.sindex.query(shapely.box(w, s, e, n), predicate="intersects")]
    geoms = shapely.clip_by_rect(cand.geometry.values, w, s, e, n)
    keep = ~shapely.is_empty(geoms)
    geoms = shapely.set_precision(geoms[keep], 1e-6)
    props = cand.drop(columns="geometry")[keep].to_dict("records")
    features = [{"type": "Feature", "geometry": json.loads(shapely.to_geojson(g)),
                 "properties": {k: (None if isinstance(v, float) and np.isnan(v) else v)
                                for k, v in p.items()}}
                for g, p in zip(geoms, props) if not g.is_empty]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":")).encode()


def etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest() + '"'


def boundary_frame(layer) -> gpd.GeoDataFrame:
    cols = [c for c in ("code", "name", "population") if c in layer.gdf.columns]
    return to_io(layer.gdf[cols + ["geometry"]])
