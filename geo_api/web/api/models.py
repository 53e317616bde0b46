"""Response models (pydantic) with field descriptions and examples."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: str = Field(..., examples=["ok"])
    data_loaded: bool = Field(..., description="False until data has been ingested")
    message: str = Field(..., description="What is loaded, in words",
                         examples=["82,912 offences loaded, 2019-12 to 2020-09"])
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


# -- meta: what every result says about how it was made ---------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterEcho(Strict):
    """The offence filter applied, echoed (times naive Europe/London)."""

    start: str | None = Field(None, examples=["2020-04-01T00:00:00"])
    end_exclusive: str | None = Field(None, examples=["2020-07-01T00:00:00"])
    group: str = Field(..., examples=["violence_robbery_weapons"])
    crime_categories: list[str] = Field(default_factory=list)
    flags: dict[str, bool] = Field(default_factory=dict)
    source: str | None = None
    bbox_lonlat: list[float] | None = None
    hours: list[int] | None = None


class Coverage(Strict):
    dataset_version: str | None = Field(..., examples=["v-9b1c2d3e4f50"])
    boundaries_version: str = Field(..., examples=["18149f3c4cc8"])
    api_version: str = Field(..., examples=["0.1.0"])
    caveats: list[str] = Field(default_factory=list, description="Data caveats for this result")
    warnings: list[str] = Field(default_factory=list, description="Things to know about this "
                                "result, e.g. requested months without data")
    months_loaded: list[str] = Field(..., description="Months with data in the store",
                                     examples=[["2019-12", "2020-01"]])
    months_requested_missing: list[str] = Field(
        ..., description="Requested months without loaded data (the result leaves them out)")


class Meta(Coverage):
    analysis: str = Field(..., examples=["gi_star"])
    filters: FilterEcho


class CompareMeta(Coverage):
    """Parameters of a two-period analysis: both filters, grid/test settings, versions."""

    analysis: str = Field(..., examples=["compare_areas"])
    filters_before: FilterEcho
    filters_after: FilterEcho


class UnitsEcho(Strict):
    """The analysis units (None where a field does not apply to the grid)."""

    grid: str = Field(..., examples=["h3"])
    study_area: str | None = Field(None, examples=["city"])
    study_area_definition: str | None = None
    resolution: int | None = Field(None, description="H3 resolution (grid=h3)")
    k_ring: int | None = Field(None, description="H3 k-ring neighbours (grid=h3)")
    fishnet_cell_size_m: float | None = Field(None, description="Fishnet cell size (grid=fishnet)")
    fishnet_band_m: float | None = Field(None, description="Fishnet distance band (grid=fishnet)")
    contiguity: str | None = Field(None, description="Polygon layers: queen")
    n_units: int | None = Field(None, description="Units in the study area")


class GiParams(Strict):
    statistic: str = Field(..., examples=["Gi* (star=True, binary weights)"])
    permutations: int = Field(..., examples=[999])
    seed: int = Field(..., examples=[12345])
    fdr: bool = Field(..., description="Benjamini-Hochberg at each confidence level")
    inference: str = Field(..., examples=["permutation"])
    p_value: str
    min_attainable_p: float | None = Field(
        ..., description="Smallest two-sided permutation p-value possible: 2/(permutations+1). "
                         "BH at level a over n units keeps nothing unless at least "
                         "n*min_attainable_p/a units reach it", examples=[0.002])
    n_undefined: int = Field(0, description="Units whose z is undefined (see undefined_reason)")


class OffencesMeta(Meta):
    limit: int
    offset: int


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


class OffenceCollection(FeatureCollection):
    """Offences as GeoJSON points (OGC API Features paging)."""

    model_config = ConfigDict(extra="forbid")
    numberMatched: int = Field(..., description="Offences matching the filter")
    numberReturned: int = Field(..., description="Features in this page")
    meta: OffencesMeta


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


class KDEMeta(Meta):
    kernel: str = Field(..., examples=["quartic"])
    bandwidth_m: float = Field(..., examples=[300])
    bandwidth_rule: str = Field(..., examples=["explicit"])
    cell_size_m: float = Field(..., examples=[100])
    study_area: str
    study_area_definition: str
    n_points: int
    method: str
    units: str = Field("offences per km^2")


class KDEResponse(BaseModel):
    meta: KDEMeta
    grid: KDEGridBody


class KDECells(BaseModel):
    """KDE cells at or above a share of the maximum, as lon/lat polygons (f=geojson)."""

    type: str = "FeatureCollection"
    features: list[dict]
    meta: KDEMeta


class GiCell(BaseModel):
    id: str = Field(..., description="H3 cell (hex), fishnet centre 'easting_northing' or area code",
                    examples=["89195da49afffff"])
    count: int
    gi_z: float | None = Field(..., description="Gi* z; null when undefined (undefined_reason)")
    p_two_sided: float | None = Field(..., description="Two-sided p-value used for the label")
    p_norm_two_sided: float | None
    label: str = Field(..., description="hot/cold 99/95/90%, not significant, or undefined",
                       examples=["hot 99%"])
    undefined_reason: str | None = Field(None, description="Why z is undefined for this unit")


class GiMeta(Meta, UnitsEcho, GiParams):
    n_offences_in_units: int
    n_significant: dict[str, int] = Field(..., description="Units labelled at each confidence "
                                                            "level or stronger",
                                          examples=[{"90%": 80, "95%": 60, "99%": 30}])


class GiResponse(BaseModel):
    meta: GiMeta
    cells: list[GiCell]


class TimeWindow(BaseModel):
    window: str = Field(..., examples=["22:00-05:00"])
    count: int
    share: float | None = Field(None, description="Share of matching offences with a time")


class HourByWeekday(BaseModel):
    hours: list[int]
    days: list[str] = Field(..., examples=[["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]])
    counts: list[list[int]] = Field(..., description="24 rows (hours) x 7 columns (days)")


class TimeProfileMeta(Meta):
    n_matched: int = Field(..., description="Offences matching the filter")
    n_with_time: int = Field(..., description="Of which with a time of day")


class TimeProfileResponse(BaseModel):
    meta: TimeProfileMeta
    hour_by_weekday: HourByWeekday
    night_time_economy: TimeWindow
    after_school: TimeWindow


class TopItem(BaseModel):
    rank: int
    code: str
    name: str
    count: int
    share: float | None = Field(..., description="Share of offences in all units of the "
                                                 "grid/layer")
    cumulative_share: float | None


class TopMeta(Meta, UnitsEcho):
    limit: int
    definition: str


class TopResponse(BaseModel):
    meta: TopMeta
    top: list[TopItem]


class ConcentrationMeta(Meta, UnitsEcho):
    pass


class ConcentrationResponse(BaseModel):
    meta: ConcentrationMeta
    gini: float = Field(..., description="Gini of the area-offence Lorenz curve (0 = even)")
    share_of_offences_in_top_area: dict[str, float] = Field(
        ..., examples=[{"1%": 0.12, "5%": 0.35, "10%": 0.5, "25%": 0.75}])
    lorenz: dict
    ranking: str


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
    significant: bool = Field(..., description="At meta.alpha, Benjamini-Hochberg across areas "
                                               "when meta.fdr")
    direction: str = Field(..., examples=["fell relative to overall"])


class CompareAreasMeta(CompareMeta, UnitsEcho):
    alpha: float = Field(..., examples=[0.05])
    fdr: bool
    total_before: int
    total_after: int
    overall_ratio: float = Field(..., description="total_after / total_before")
    test: str


class CompareAreasResponse(BaseModel):
    meta: CompareAreasMeta
    areas: list[AreaChange]


class PeriodCounts(BaseModel):
    before: int
    after: int


class WdqAreas(BaseModel):
    layer: str = Field(..., examples=["npa"])
    target: list[str] = Field(..., examples=[["NC"]])
    displacement: list[str] = Field(..., examples=[["NE", "NW"]])
    control: list[str] = Field(..., examples=[["NS"]])


class WdqTest(Strict):
    p_two_sided: float = Field(..., description="Exact test (see WdqResult.method)")
    ratio: float | None = Field(..., description="(after/before) of the first area over the "
                                                 "same ratio of the second", examples=[0.48])
    significant: bool = Field(..., description="p_two_sided <= alpha")


class WdqResult(BaseModel):
    wdq: float | None = Field(..., description="Weighted displacement quotient; None when the "
                                               "success measure is 0", examples=[0.64])
    success_measure: float = Field(..., description="Ra/Ca - Rb/Cb: target change relative "
                                                       "to control (negative = improved)")
    buffer_measure: float = Field(..., description="Da/Ca - Db/Cb: displacement-area "
                                                      "change relative to control")
    interpretable: bool = Field(..., description="False when the target did not improve "
                                                 "measurably relative to the control")
    interpretation: str = Field(..., examples=["diffusion of benefits"])
    reading_rule: str = Field(..., description="Which row of the interpretation table applied",
                              examples=["wdq_positive"])
    flags: list[str] = Field(..., description="Warnings, e.g. 'control area not stable'")
    alpha: float
    tests: dict[str, WdqTest] = Field(..., description="target_vs_control, "
                                      "displacement_vs_control (Fisher's exact), control_vs_city "
                                      "(exact conditional binomial, as /compare/areas)")
    inputs: dict[str, PeriodCounts] = Field(..., description="target, displacement, control counts")
    method: str


class WdqMeta(CompareMeta):
    layer: str
    layer_approximate: bool
    city_definition: str


class WdqResponse(WdqResult):
    areas: WdqAreas
    meta: WdqMeta


class HotspotChangeCell(BaseModel):
    id: str = Field(..., examples=["89195da49afffff"])
    count_before: int
    count_after: int
    label_before: str = Field(..., examples=["hot 99%"])
    label_after: str = Field(..., examples=["not significant"])
    hot_before: bool = Field(..., description="Hot by meta.hot_definition")
    hot_after: bool
    change: str = Field(..., description="new, persistent, no longer hot or not hot",
                        examples=["no longer hot"])


class HotspotChangeSummary(BaseModel):
    jaccard_hot: float | None = Field(..., description="|hot in both| / |hot in either|",
                                      examples=[0.43])
    counts: dict[str, int] = Field(..., examples=[{"persistent": 44, "new": 47,
                                                   "no longer hot": 12, "not hot": 671}])


class HotspotChangeMeta(CompareMeta, UnitsEcho, GiParams):
    alpha: float = Field(..., examples=[0.05])
    hot_definition: str = Field(..., examples=[("hot = Gi* hot spot at 95% confidence after "
                                               "Benjamini-Hochberg FDR across units")])


class HotspotChangeResponse(HotspotChangeSummary):
    meta: HotspotChangeMeta
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


class KDEDifferenceMeta(CompareMeta):
    kernel: str
    bandwidth_m: float
    cell_size_m: float
    study_area: str
    n_before: int
    n_after: int


class KDEDifferenceResponse(BaseModel):
    meta: KDEDifferenceMeta
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


class CentreMeta(CompareMeta):
    study_area: str
    crs: str = Field("EPSG:27700")


class CentreShiftResponse(BaseModel):
    meta: CentreMeta
    before: Ellipse
    after: Ellipse
    shift: Shift


class DisplacementReport(BaseModel):
    meta: CompareAreasMeta
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


class EmergingMeta(Meta, UnitsEcho):
    months: list[str] = Field(..., description="Months analysed (loaded months of the window)",
                              examples=[["2019-12", "2020-01", "2020-02"]])
    time_steps: int
    alpha: float
    fdr: bool
    permutations: int
    seed: int
    p_value: str
    min_attainable_p: float | None
    n_significant_bins: int = Field(..., description="(unit, month) bins significant at alpha")
    n_steps: int
    trend: str


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
