"""Service, boundary, offence, area-statistics and site-set responses, and the error body."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from geo_api.analysis.defaults import DEFAULT_GROUP
from geo_api.web.api.models.disclosure import COUNT, KEEP, RANK, RATE, SHARE, WITHHOLD
from geo_api.web.api.models.meta import Meta, OffencesMeta


class Health(BaseModel):
    status: str = Field(..., examples=["ok"])
    data_loaded: bool = Field(..., description="False until data has been ingested")
    message: str = Field(..., description="What is loaded, in words",
                         examples=["offences loaded for 2019-12 to 2020-09"])
    api_version: str = Field(..., examples=["0.1.0"])
    dataset_version: str | None = Field(None, description="Changes with every ingest that changes data",
                                        examples=["v-9b1c2d3e4f50"])
    boundaries_version: str = Field(..., examples=["18149f3c4cc8"])
    n_offences: int = Field(0, examples=[82912])
    first_month: str | None = Field(None, examples=["2019-12"])
    last_month: str | None = Field(None, examples=["2020-09"])
    months_loaded: list[str] = Field(default_factory=list, examples=[["2019-12", "2020-01"]])
    n_crime_id_other_month: int | None = Field(
        None, description="police.uk rows whose Crime ID is also published in another month "
                          "(kept once per month)", examples=[0])
    __disclosure__: ClassVar[dict[str, str]] = {"n_offences": COUNT,
        "n_crime_id_other_month": COUNT}


class LayerInfo(BaseModel):
    name: str = Field(..., examples=["ward"])
    title: str = Field(..., examples=["Leicester wards (2015-, ONS Dec 2022 BGC)"])
    approximate: bool = Field(..., description="True for derived/approximate layers (NPA, sectors)")
    source: str
    coverage: str = Field(..., examples=["Leicester city"])
    n_features: int = Field(..., examples=[21])
    has_population: bool
    population_method: str
    __disclosure__: ClassVar[dict[str, str]] = {"n_features": KEEP}


class LayerList(BaseModel):
    layers: list[LayerInfo]


class ErrorBody(BaseModel):
    code: str = Field(..., examples=["invalid_parameter"])
    message: str = Field(..., examples=["bbox: expected 4 numbers minlon,minlat,maxlon,maxlat, got 3"])
    detail: Any | None = None


class GroupList(BaseModel):
    groups: dict[str, str] = Field(..., examples=[{DEFAULT_GROUP: "police.uk proxy"}])


class FeatureCollection(BaseModel):
    """GeoJSON FeatureCollection (RFC 7946, EPSG:4326 lon/lat)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "example": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-1.1332, 52.6349]},
             "properties": {"offence_key": "puk:2020-04:6e13...", "month": "2020-04"}}],
            "numberMatched": 1, "numberReturned": 1}})
    type: str = "FeatureCollection"
    features: list[dict]


class OffenceCollection(FeatureCollection):
    """Offences as GeoJSON points (OGC API Features paging)."""

    model_config = ConfigDict(extra="forbid")
    numberMatched: int = Field(..., description="Offences matching the filter")
    numberReturned: int = Field(..., description="Features in this page")
    meta: OffencesMeta


class AreaProperties(BaseModel):
    """An area's open attributes in GeoJSON answers, OGC features and tiles (boundary
    layers: ONS populations, IoD 2019 deprivation, postcodes per derived sector)."""

    code: str
    name: str | None = None
    population: float | None = None
    population_0_15: int | None = None
    pct_population_imd_decile_1: float | None = None
    imd_rank: int | None = None
    imd_decile: int | None = None
    n_postcodes: int | None = None
    __disclosure__: ClassVar[dict[str, str]] = {"population": KEEP, "population_0_15": KEEP,
        "pct_population_imd_decile_1": KEEP, "imd_rank": KEEP, "imd_decile": KEEP,
        "n_postcodes": KEEP}


class AreaStat(BaseModel):
    rank: int = Field(..., examples=[1])
    code: str = Field(..., examples=["E05010463"])
    name: str = Field(..., examples=["Castle"])
    count: int = Field(..., description="Offences located in the area", examples=[512])
    share: float | None = Field(None, description="count / offences located in any area of the layer",
                                examples=[0.21])
    share_ci95_low: float | None = Field(None, description="Wilson 95% lower bound")
    share_ci95_high: float | None = Field(None, description="Wilson 95% upper bound")
    population: float | None = Field(None, description="Residents (see meta.population_method)")
    rate_per_1000: float | None = Field(None, description="Offences per 1,000 residents")
    rate_ci95_low: float | None = Field(None, description="Exact Poisson 95% lower bound, per 1,000")
    rate_ci95_high: float | None = Field(None, description="Exact Poisson 95% upper bound, per 1,000")
    __disclosure__: ClassVar[dict[str, str]] = {"rank": RANK, "count": COUNT, "share": SHARE,
        "share_ci95_low": WITHHOLD, "share_ci95_high": WITHHOLD, "population": KEEP,
        "rate_per_1000": RATE, "rate_ci95_low": WITHHOLD, "rate_ci95_high": WITHHOLD}


class AreaStatsMeta(Meta):
    layer: str = Field(..., examples=["ward"])
    layer_approximate: bool
    population_method: str
    share_denominator: str
    ci_method: str
    n_matched: int = Field(..., description="Offences matching the filter (with or without location)")
    n_no_location: int = Field(..., description="Matching offences published without a location")
    n_outside_layer: int = Field(..., description="Matching offences located outside every area")
    n_in_layer: int = Field(..., description="Matching offences located in an area (share denominator)")
    __disclosure__: ClassVar[dict[str, str]] = {"n_matched": COUNT, "n_no_location": COUNT,
        "n_outside_layer": COUNT, "n_in_layer": COUNT}


class AreaStatsResponse(BaseModel):
    meta: AreaStatsMeta
    areas: list[AreaStat]


class SiteSetInfo(BaseModel):
    name: str = Field(..., examples=["bleed-kits-2020"])
    n_sites: int = Field(..., examples=[12])
    owner: str | None = Field(..., description="Who created it (key:<id>, oidc:<subject> or "
                              "anonymous); only they or an admin may change it",
                              examples=["key:3f9a1c2e"])
    updated: str = Field(..., description="When the set was last uploaded (server local time)",
                         examples=["2026-11-24T13:02:11"])


class SiteSetList(BaseModel):
    site_sets: list[SiteSetInfo]
