"""OGC API documents: landing page, conformance, collections, feature collections, tile
matrix sets, tile sets and TileJSON."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from geo_api.web.api.models.disclosure import KEEP
from geo_api.web.api.models.meta import Strict

__all__ = [
    "OgcCollection",
    "OgcCollections",
    "OgcConformance",
    "OgcFeature",
    "OgcFeatureCollection",
    "OgcLandingPage",
    "TileJson",
    "TileMatrixSetDoc",
    "TileMatrixSetList",
    "TileSetDoc",
    "TileSetList",
]


class OgcLink(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. templated
    href: str
    rel: str = Field(..., description="Link relation (IANA or OGC URI)")
    type: str | None = Field(None, description="Media type of the target")
    title: str | None = None


class OgcLandingPage(Strict):
    title: str
    description: str
    links: list[OgcLink]


class OgcConformance(Strict):
    conformsTo: list[str] = Field(..., description="Conformance class URIs")


class Extent(BaseModel):
    model_config = ConfigDict(extra="allow")
    spatial: dict = Field(..., description="bbox: [[minlon, minlat, maxlon, maxlat]] (CRS84)")
    temporal: dict | None = Field(None, description="interval: [[start, end]] of the loaded "
                                                    "months (none for boundaries)")


class OgcCollection(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)  # x-geo_api-* members
    id: str = Field(..., examples=["ward"])
    title: str
    description: str
    itemType: str = "feature"
    extent: Extent
    crs: list[str] = Field(..., description="CRSs features can be returned in (crs=)")
    storageCrs: str = Field(..., description="The CRS the service computes in")
    links: list[OgcLink]


class OgcCollections(Strict):
    links: list[OgcLink]
    collections: list[OgcCollection]


class OgcFeature(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "Feature"
    id: str | int
    geometry: dict | None = Field(..., description="GeoJSON geometry in the requested crs")
    properties: dict
    links: list[OgcLink] | None = None
    __disclosure__: ClassVar[dict[str, str]] = {"id": KEEP}


class OgcFeatureCollection(Strict):
    type: str = "FeatureCollection"
    numberMatched: int = Field(..., description="Features matching the request")
    numberReturned: int = Field(..., description="Features on this page")
    timeStamp: str
    links: list[OgcLink] = Field(..., description="self, next (more pages), prev")
    meta: dict | None = Field(None, description="Parameters, selection and versions of a "
                                                "derived collection (statistics, hot spots)")
    features: list[OgcFeature]
    __disclosure__: ClassVar[dict[str, str]] = {"numberMatched": KEEP, "numberReturned": KEEP}


class TileMatrixSetList(Strict):
    tileMatrixSets: list[dict]


class TileMatrixSetDoc(BaseModel):
    """OGC Two Dimensional Tile Matrix Set 2.0 JSON (with TMS 1.0 members for older
    clients)."""

    model_config = ConfigDict(extra="allow")
    id: str
    crs: str
    tileMatrices: list[dict]


class TileSetList(Strict):
    links: list[OgcLink]
    tilesets: list[dict]


class TileSetDoc(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str
    dataType: str
    crs: str
    tileMatrixSetURI: str
    tileMatrixSetLimits: list[dict]
    links: list[OgcLink]


class TileJson(BaseModel):
    """TileJSON 3.0.0."""

    model_config = ConfigDict(extra="allow")
    tilejson: str = "3.0.0"
    tiles: list[str] = Field(..., description="Tile URL templates ({z}/{x}/{y})")
    vector_layers: list[dict]
    minzoom: int
    maxzoom: int
    bounds: list[float]
    __disclosure__: ClassVar[dict[str, str]] = {"minzoom": KEEP, "maxzoom": KEEP, "bounds": KEEP}
