"""The study areas an analysis covers - the city (Leicester's district) or the force area -
as polygons in EPSG:27700 and EPSG:4326, built once per boundary set, and as a filter."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import shapely

from geo_api.crs import metric_to_lonlat
from geo_api.data.boundaries import CITY_LAD
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter

STUDY_AREAS = {"city": f"Leicester city (offences joined to district {CITY_LAD} at ingest)",
               "force": "the force area (offences joined to any of its 9 districts at ingest)"}

_AREAS: dict[tuple[str, str, int], shapely.Geometry] = {}  # (boundaries version, name, EPSG)


def study_area_m(svc, name: str) -> shapely.Geometry:
    """Study area polygon in EPSG:27700 (built once per boundary set)."""
    if name not in STUDY_AREAS:
        raise InvalidParameter(f"study_area must be one of {sorted(STUDY_AREAS)}")
    key = (svc.boundaries.version, name, 27700)
    if key not in _AREAS:
        lad = svc.boundaries.get("lad").gdf
        parts = lad.loc[lad["code"] == CITY_LAD] if name == "city" else lad
        _AREAS[key] = shapely.union_all(parts.geometry.values)
    return _AREAS[key]


def study_area_lonlat(svc, name: str) -> shapely.Geometry:
    """The same study area in EPSG:4326 (for H3 and bbox checks; built once)."""
    key = (svc.boundaries.version, name, 4326)
    if key not in _AREAS:
        _AREAS[key] = to_lonlat(study_area_m(svc, name))
    return _AREAS[key]


def to_lonlat(geom_m: shapely.Geometry) -> shapely.Geometry:
    """An EPSG:27700 geometry in EPSG:4326 (lon, lat)."""
    coords = shapely.get_coordinates(geom_m)
    lon, lat = metric_to_lonlat(coords[:, 0], coords[:, 1])
    return shapely.set_coordinates(geom_m, np.column_stack([lon, lat]))


def in_study_area(flt: OffenceFilter, study_area: str) -> OffenceFilter:
    """``flt`` for the offences of a study area only (``STUDY_AREAS``: by district code)."""
    if study_area not in STUDY_AREAS:
        raise InvalidParameter(f"study_area must be one of {sorted(STUDY_AREAS)}")
    return replace(flt, study_area=study_area)
