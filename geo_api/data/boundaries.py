"""Boundary layers: load the shipped layers (or a user's NPA file) into EPSG:27700."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from geo_api.crs import to_metric
from geo_api.errors import BoundaryError, NotFound

LAYER_ORDER = ("npa", "ward", "sector", "lsoa", "lad", "oa")
# The one definition of the study areas: the city is the district E06000016 of the ``lad``
# layer, the force area its nine districts. An offence is in them by its district code
# (joined at ingest); layers covering the city nest in that district (``JoinIndexes``).
CITY_LAD = "E06000016"
CITY_COVERAGE = "Leicester city"

LAYER_META: dict[str, dict] = {
    "npa": {
        "title": "Neighbourhood policing areas (Central NC, East NE, West NW, South NS)",
        "approximate": True,
        "source": "Wards (ONS Dec 2022) dissolved with an APPROXIMATE ward->NPA grouping matched "
                  "by name (boundaries/sources/police/ward_to_police_area_APPROXIMATE.csv). "
                  "Not official NPA polygons: replace with GEO_API_NPA_FILE.",
        "coverage": CITY_COVERAGE,
        "population_method": "sum of LSOA mid-2015 population by best fit (LSOA point on surface)",
    },
    "ward": {
        "title": "Leicester wards (2015-, ONS Dec 2022 BGC)",
        "approximate": False,
        "source": "ONS Open Geography Portal, Wards (December 2022) UK BGC",
        "coverage": CITY_COVERAGE,
        "population_method": "sum of LSOA mid-2015 population by best fit (LSOA point on surface)",
    },
    "sector": {
        "title": "Postcode sectors (derived)",
        "approximate": True,
        "source": "DERIVED: Voronoi cells of OS Code-Point Open (2018-07) LE unit postcodes, "
                  "dissolved by sector, clipped to the force area. Edge sectors are approximate "
                  "(only LE postcodes are used).",
        "coverage": "force area",
        "population_method": "Census 2011 population by postcode sector (provenance uncertain)",
    },
    "lsoa": {
        "title": "Lower layer super output areas 2011",
        "approximate": False,
        "source": "ONS 2011 LSOAs (generalised, clipped), GeoJSON by Martin Chorley",
        "coverage": "force area",
        "population_method": "IoD2019 population denominators, mid-2015, excluding prisoners",
    },
    "lad": {
        "title": "Local authority districts",
        "approximate": False,
        "source": "Dissolved from the 2011 LSOAs of each district",
        "coverage": "force area",
        "population_method": "sum of LSOA mid-2015 population (exact nesting)",
    },
    "oa": {
        "title": "Output areas 2011 (Leicester)",
        "approximate": False,
        "source": "ONS 2011 output areas (generalised, clipped), GeoJSON by Martin Chorley",
        "coverage": CITY_COVERAGE,
        "population_method": "not available",
    },
}


@dataclass(frozen=True)
class Layer:
    """One boundary layer in EPSG:27700, rows sorted by ``code``."""

    name: str
    gdf: gpd.GeoDataFrame
    meta: dict = field(default_factory=dict)

    @property
    def has_population(self) -> bool:
        return "population" in self.gdf.columns and self.gdf["population"].notna().any()


@dataclass(frozen=True)
class BoundarySet:
    """All layers plus a version hash of their content (stamped on joined data)."""

    layers: dict[str, Layer]
    version: str

    def get(self, name: str) -> Layer:
        try:
            return self.layers[name]
        except KeyError:
            raise NotFound(f"unknown layer {name!r}; choose one of {sorted(self.layers)}") from None


def _prepare(name: str, gdf: gpd.GeoDataFrame, meta: dict) -> Layer:
    gdf = to_metric(gdf)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    gdf = gdf.sort_values("code").reset_index(drop=True)
    if gdf["code"].duplicated().any():
        dup = gdf.loc[gdf["code"].duplicated(), "code"].iloc[0]
        raise BoundaryError(f"layer {name}: duplicate code {dup!r}")
    return Layer(name=name, gdf=gdf, meta=meta)


def load_user_npa(path: Path, code_field: str, name_field: str) -> gpd.GeoDataFrame:
    """Read a user's NPA polygons (any OGR format) with the given code and name fields."""
    try:
        g = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise BoundaryError(f"cannot read NPA file {path}: {exc}") from exc
    missing = [f for f in (code_field, name_field) if f not in g.columns]
    if missing:
        raise BoundaryError(f"NPA file {path}: missing field(s) {missing}; has {list(g.columns)}")
    if g.crs is None:
        raise BoundaryError(f"NPA file {path}: no CRS declared")
    bad = ~g.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if bad.any():
        raise BoundaryError(f"NPA file {path}: feature {int(bad.idxmax())} is not a polygon")
    g = g.rename(columns={code_field: "code", name_field: "name"})[["code", "name", "geometry"]]
    g["code"] = g["code"].astype(str)
    return g


def load_boundaries(boundaries_dir: Path, npa_file: Path | None = None,
                    npa_code_field: str = "code", npa_name_field: str = "name") -> BoundarySet:
    """Load the shipped layers from ``boundaries_dir/layers`` (optionally a user NPA file)."""
    layer_dir = boundaries_dir / "layers"
    digest = hashlib.sha256()
    layers: dict[str, Layer] = {}
    for name in LAYER_ORDER:
        path = layer_dir / f"{name}.geojson"
        meta = dict(LAYER_META[name])
        if name == "npa" and npa_file is not None:
            path = Path(npa_file)
            gdf = load_user_npa(path, npa_code_field, npa_name_field)
            meta.update(approximate=False, source=f"user file {path.name}",
                        population_method="not available for user polygons")
        else:
            gdf = gpd.read_file(path)
        digest.update(name.encode())
        digest.update(path.read_bytes())
        layers[name] = _prepare(name, gdf, meta)
    return BoundarySet(layers=layers, version=digest.hexdigest()[:12])


def layer_table(layer: Layer) -> pd.DataFrame:
    """Attributes without geometry."""
    return pd.DataFrame(layer.gdf.drop(columns="geometry"))
