"""Response models (pydantic) with field descriptions and examples."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: str = Field(..., examples=["ok"])
    api_version: str = Field(..., examples=["0.1.0"])
    dataset_version: str | None = Field(None, description="Changes with every ingest that changes data",
                                        examples=["v1-b9485667ce"])
    boundaries_version: str = Field(..., examples=["18149f3c4cc8"])
    n_offences: int = Field(0, examples=[82912])
    first_month: str | None = Field(None, examples=["2019-12"])
    last_month: str | None = Field(None, examples=["2020-09"])


class LayerInfo(BaseModel):
    name: str = Field(..., examples=["ward"])
    title: str = Field(..., examples=["Leicester wards (2015-, ONS Dec 2022 BGC)"])
    approximate: bool = Field(..., description="True for derived/approximate layers (NPA, sectors)")
    source: str
    coverage: str = Field(..., examples=["Leicester city"])
    n_features: int = Field(..., examples=[21])
    has_population: bool
    population_method: str


class LayerList(BaseModel):
    layers: list[LayerInfo]


class ErrorBody(BaseModel):
    code: str = Field(..., examples=["invalid_parameter"])
    message: str = Field(..., examples=["bbox: expected 4 numbers minlon,minlat,maxlon,maxlat, got 3"])
    detail: Any | None = None


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")
    filters: dict = Field(..., description="The filter applied, echoed")
    dataset_version: str | None
    boundaries_version: str
    api_version: str
    caveats: list[str] = Field(default_factory=list, description="Data caveats for this result")


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


class AreaStatsResponse(BaseModel):
    meta: AreaStatsMeta
    areas: list[AreaStat]


class GroupList(BaseModel):
    groups: dict[str, str] = Field(..., examples=[{"violence_robbery_weapons": "police.uk proxy"}])


class FeatureCollection(BaseModel):
    """GeoJSON FeatureCollection (RFC 7946, EPSG:4326 lon/lat)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={
        "example": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-1.1332, 52.6349]},
             "properties": {"offence_key": "puk:6e13...", "month": "2020-04"}}],
            "numberMatched": 1, "numberReturned": 1}})
    type: str = "FeatureCollection"
    features: list[dict]


class KDEGridBody(BaseModel):
    crs: str = Field("EPSG:27700")
    x0_m: float = Field(..., description="West edge, metres")
    y0_m: float = Field(..., description="South edge, metres")
    cell_size_m: float = Field(..., examples=[50])
    nx: int
    ny: int
    row_order: str = Field("south to north")
    units: str = Field("offences per km^2")
    max: float
    values: list[list[float]] = Field(..., description="Density at cell centres, rows south to north")


class KDEResponse(BaseModel):
    meta: dict = Field(..., description="kernel, bandwidth_m, cell_size_m, filters, dataset version")
    grid: KDEGridBody


class GiCell(BaseModel):
    id: str = Field(..., description="H3 cell (hex), fishnet centre 'easting_northing' or area code",
                    examples=["89195da49afffff"])
    count: int
    gi_z: float
    p_two_sided: float = Field(..., description="Two-sided p-value used for the label")
    p_norm_two_sided: float
    label: str = Field(..., examples=["hot 99%"])


class GiResponse(BaseModel):
    meta: dict = Field(..., description="resolution, k_ring, permutations, seed, fdr_alpha, "
                                        "study area, filters, dataset version")
    cells: list[GiCell]


class TimeWindow(BaseModel):
    window: str = Field(..., examples=["22:00-05:00"])
    count: int
    share: float | None = Field(None, description="Share of matching offences with a time")


class HourByWeekday(BaseModel):
    hours: list[int]
    days: list[str] = Field(..., examples=[["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]])
    counts: list[list[int]] = Field(..., description="24 rows (hours) x 7 columns (days)")


class TimeProfileResponse(BaseModel):
    meta: dict
    hour_by_weekday: HourByWeekday
    night_time_economy: TimeWindow
    after_school: TimeWindow


class TopItem(BaseModel):
    rank: int
    code: str
    name: str
    count: int
    share: float = Field(..., description="Share of offences in all units of the grid/layer")
    cumulative_share: float


class TopResponse(BaseModel):
    meta: dict
    top: list[TopItem]


class ConcentrationResponse(BaseModel):
    meta: dict
    gini: float = Field(..., description="Gini of the area-offence Lorenz curve (0 = even)")
    share_of_offences_in_top_area: dict[str, float] = Field(
        ..., examples=[{"1%": 0.12, "5%": 0.35, "10%": 0.5, "25%": 0.75}])
    lorenz: dict
    ranking: str


class CompareMeta(BaseModel):
    """Parameters of a two-period analysis: both filters, grid/test settings, versions."""

    model_config = ConfigDict(extra="allow")
    analysis: str = Field(..., examples=["compare_areas"])
    filters_before: dict = Field(..., description="The before filter, echoed")
    filters_after: dict = Field(..., description="The after filter, echoed")
    dataset_version: str | None
    boundaries_version: str
    api_version: str
    caveats: list[str] = Field(default_factory=list)


class AreaChange(BaseModel):
    code: str = Field(..., examples=["NC"])
    name: str | None = Field(None, examples=["Central"])
    before: int = Field(..., description="Offences in the before period", examples=[922])
    after: int = Field(..., description="Offences in the after period", examples=[568])
    share_before: float | None = Field(None, description="Share of the before period's offences")
    share_after: float | None = None
    share_before_ci95_low: float | None = Field(None, description="Wilson 95% bounds")
    share_before_ci95_high: float | None = None
    share_after_ci95_low: float | None = None
    share_after_ci95_high: float | None = None
    share_change: float | None = Field(None, description="share_after - share_before",
                                       examples=[-0.092])
    share_change_ci95_low: float | None = Field(None, description="Newcombe hybrid score 95% CI")
    share_change_ci95_high: float | None = None
    relative_change: float | None = Field(
        None, description="(after/before) / (total after/total before); 1 = moved with the "
                          "overall trend", examples=[0.60])
    relative_change_ci95_low: float | None = None
    relative_change_ci95_high: float | None = None
    p_two_sided: float | None = Field(None, description="Exact conditional binomial test")
    significant_fdr: bool = Field(..., description="Benjamini-Hochberg at meta.fdr_alpha")
    direction: str = Field(..., examples=["fell relative to overall"])


class CompareAreasResponse(BaseModel):
    meta: CompareMeta
    areas: list[AreaChange]


class PeriodCounts(BaseModel):
    before: int
    after: int


class WdqAreas(BaseModel):
    layer: str = Field(..., examples=["npa"])
    target: list[str] = Field(..., examples=[["NC"]])
    displacement: list[str] = Field(..., examples=[["NE", "NW"]])
    control: list[str] = Field(..., examples=[["NS"]])


class WdqResult(BaseModel):
    wdq: float | None = Field(..., description="Weighted displacement quotient; None when the "
                                               "success measure is 0", examples=[0.64])
    success_measure: float = Field(..., description="Ra/Ca - Rb/Cb: target change relative "
                                                       "to control (negative = improved)")
    buffer_measure: float = Field(..., description="Da/Ca - Db/Cb: displacement-area "
                                                      "change relative to control")
    inputs: dict[str, PeriodCounts] = Field(..., description="target, displacement, control counts")
    interpretation: str = Field(..., examples=["diffusion of benefits"])
    method: str


class WdqResponse(WdqResult):
    areas: WdqAreas
    meta: CompareMeta


class HotspotChangeCell(BaseModel):
    id: str = Field(..., examples=["89195da49afffff"])
    count_before: int
    count_after: int
    label_before: str = Field(..., examples=["hot 99%"])
    label_after: str = Field(..., examples=["not significant"])
    change: str = Field(..., description="new, persistent, no longer hot or not hot",
                        examples=["no longer hot"])


class HotspotChangeSummary(BaseModel):
    jaccard_hot: float | None = Field(..., description="|hot in both| / |hot in either|",
                                      examples=[0.43])
    counts: dict[str, int] = Field(..., examples=[{"persistent": 44, "new": 47,
                                                   "no longer hot": 12, "not hot": 671}])


class HotspotChangeResponse(HotspotChangeSummary):
    meta: CompareMeta
    cells: list[HotspotChangeCell]


class KDEDifferenceGrid(BaseModel):
    crs: str = Field("EPSG:27700")
    x0_m: float = Field(..., description="West edge, metres")
    y0_m: float = Field(..., description="South edge, metres")
    cell_size_m: float
    nx: int
    ny: int
    row_order: str = Field("south to north")
    difference_per_km2: list[list[float]] = Field(..., description="After minus before, "
                                                                   "offences per km^2")
    share_difference_pct_points_per_km2: list[list[float]] = Field(
        ..., description="After minus before, % of each period's offences per km^2")


class KDEDifferenceResponse(BaseModel):
    meta: CompareMeta
    grid: KDEDifferenceGrid
    scale: dict = Field(..., description="Units of each surface and its extremes")


class Ellipse(BaseModel):
    mean_x_m: float = Field(..., description="Mean centre easting (EPSG:27700)")
    mean_y_m: float
    sd_major_m: float = Field(..., description="Standard deviational ellipse, major semi-axis")
    sd_minor_m: float
    major_axis_bearing_deg: float = Field(..., description="Clockwise from grid north")
    standard_distance_m: float
    n: int


class Shift(BaseModel):
    distance_m: float = Field(..., examples=[160.0])
    dx_m: float
    dy_m: float
    bearing_deg: float | None = Field(..., description="Direction of the move, clockwise from "
                                                       "grid north", examples=[255.3])


class CentreShiftResponse(BaseModel):
    meta: CompareMeta
    before: Ellipse
    after: Ellipse
    shift: Shift


class DisplacementReport(BaseModel):
    meta: CompareMeta
    npa_change: list[AreaChange]
    wdq_centre_to_east_west: WdqResponse
    centre_shift: CentreShiftResponse
    hotspot_change_h3_r9: HotspotChangeSummary


class EmergingUnit(BaseModel):
    id: str = Field(..., examples=["89195da49afffff"])
    category: str = Field(..., examples=["intensifying hot spot"])
    trend_z: float = Field(..., description="Mann-Kendall z of the unit's Gi* z over time")
    trend_p: float
    counts: list[int] = Field(..., description="Offences per month (meta.months)")


class EmergingMeta(Meta):
    months: list[str] = Field(..., examples=[["2019-12", "2020-01", "2020-02"]])


class EmergingResponse(BaseModel):
    meta: EmergingMeta
    category_counts: dict[str, int] = Field(..., examples=[{"no pattern detected": 700,
                                                            "new hot spot": 3}])
    units: list[EmergingUnit]


class SiteSetInfo(BaseModel):
    name: str = Field(..., examples=["bleed-kits-2020"])
    n_sites: int = Field(..., examples=[12])
    updated: str = Field(..., description="When the set was last uploaded (server local time)",
                         examples=["2026-11-24T13:02:11"])


class SiteSetList(BaseModel):
    site_sets: list[SiteSetInfo]
