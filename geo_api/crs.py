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


def _transform(src: int, dst: int, a, b) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays; a point with a missing (non-finite) coordinate stays
    missing (NaN, never the infinity PROJ returns), so no location means no geometry."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    u, v = _transformer(src, dst).transform(a, b)
    u, v = np.array(u, dtype=float), np.array(v, dtype=float)
    missing = ~(np.isfinite(a) & np.isfinite(b))
    if missing.any():
        u[missing] = v[missing] = np.nan
    return u, v


def lonlat_to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 lon/lat (degrees) to BNG easting/northing (metres); NaN stays NaN."""
    return _transform(IO_EPSG, METRIC_EPSG, lon, lat)


def metric_to_lonlat(x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unproject BNG easting/northing (metres) to WGS84 lon/lat (degrees); NaN stays NaN."""
    return _transform(METRIC_EPSG, IO_EPSG, x_m, y_m)


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
