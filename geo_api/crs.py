"""The one CRS rule: metric work in EPSG:27700, GeoJSON I/O in EPSG:4326 (lon, lat).

Every transform in the project goes through this module so axis order is fixed
(``always_xy=True``) and a CRS mismatch is an error, never a silent guess.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

METRIC_EPSG = 27700  # British National Grid: metres
IO_EPSG = 4326  # WGS84 lon/lat for GeoJSON (RFC 7946)
METRIC_CRS = CRS.from_epsg(METRIC_EPSG)
IO_CRS = CRS.from_epsg(IO_EPSG)


class CRSMismatchError(ValueError):
    """Raised when data arrives in a CRS other than the one the rule requires."""


@lru_cache(maxsize=4)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def lonlat_to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 lon/lat (degrees) to BNG easting/northing (metres)."""
    x, y = _transformer(IO_EPSG, METRIC_EPSG).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def metric_to_lonlat(x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unproject BNG easting/northing (metres) to WGS84 lon/lat (degrees)."""
    lon, lat = _transformer(METRIC_EPSG, IO_EPSG).transform(np.asarray(x_m, float), np.asarray(y_m, float))
    return np.asarray(lon), np.asarray(lat)


def to_metric(gdf):
    """Return a GeoDataFrame in EPSG:27700; a frame without a CRS is an error."""
    if gdf.crs is None:
        raise CRSMismatchError("geometry has no CRS; expected EPSG:4326 or EPSG:27700")
    return gdf if gdf.crs.equals(METRIC_CRS) else gdf.to_crs(METRIC_EPSG)


def to_io(gdf):
    """Return a GeoDataFrame in EPSG:4326 for GeoJSON output."""
    if gdf.crs is None:
        raise CRSMismatchError("geometry has no CRS; expected EPSG:27700")
    return gdf if gdf.crs.equals(IO_CRS) else gdf.to_crs(IO_EPSG)
