"""Two-period comparison responses: area change, WDQ, hot spot change, dual KDE, centre
shift and the one-call report."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from geo_api.web.api.models.disclosure import CENTRE, COUNT, KEEP, SHARE, WITHHOLD
from geo_api.web.api.models.meta import CompareMeta, GiParams, Strict, UnitsEcho


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
    __disclosure__: ClassVar[dict[str, str]] = {"before": COUNT, "after": COUNT,
        "share_before": SHARE, "share_after": SHARE, "share_before_ci95_low": WITHHOLD,
        "share_before_ci95_high": WITHHOLD, "share_after_ci95_low": WITHHOLD,
        "share_after_ci95_high": WITHHOLD, "share_change": SHARE,
        "share_change_ci95_low": WITHHOLD, "share_change_ci95_high": WITHHOLD,
        "relative_change": WITHHOLD, "relative_change_ci95_low": WITHHOLD,
        "relative_change_ci95_high": WITHHOLD, "p_two_sided": WITHHOLD}


class CompareAreasMeta(CompareMeta, UnitsEcho):
    alpha: float = Field(..., examples=[0.05])
    fdr: bool
    total_before: int
    total_after: int
    overall_ratio: float = Field(..., description="total_after / total_before")
    test: str
    __disclosure__: ClassVar[dict[str, str]] = {"alpha": KEEP, "total_before": COUNT,
        "total_after": COUNT, "overall_ratio": WITHHOLD}


class CompareAreasResponse(BaseModel):
    meta: CompareAreasMeta
    areas: list[AreaChange]


class PeriodCounts(BaseModel):
    before: int
    after: int
    __disclosure__: ClassVar[dict[str, str]] = {"before": COUNT, "after": COUNT}


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
    __disclosure__: ClassVar[dict[str, str]] = {"p_two_sided": WITHHOLD, "ratio": WITHHOLD}


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
    __disclosure__: ClassVar[dict[str, str]] = {"wdq": WITHHOLD, "success_measure": WITHHOLD,
        "buffer_measure": WITHHOLD, "alpha": KEEP}


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
    __disclosure__: ClassVar[dict[str, str]] = {"count_before": COUNT, "count_after": COUNT}


class HotspotChangeSummary(BaseModel):
    jaccard_hot: float | None = Field(..., description="|hot in both| / |hot in either|",
                                      examples=[0.43])
    counts: dict[str, int] = Field(..., examples=[{"persistent": 44, "new": 47,
                                                   "no longer hot": 12, "not hot": 671}])
    __disclosure__: ClassVar[dict[str, str]] = {"jaccard_hot": KEEP, "counts": KEEP}


class HotspotChangeMeta(CompareMeta, UnitsEcho, GiParams):
    alpha: float = Field(..., examples=[0.05])
    hot_definition: str = Field(..., examples=[("hot = Gi* hot spot at 95% confidence after "
                                               "Benjamini-Hochberg FDR across units")])
    __disclosure__: ClassVar[dict[str, str]] = {"alpha": KEEP}


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
    __disclosure__: ClassVar[dict[str, str]] = {"x0_m": KEEP, "y0_m": KEEP, "cell_size_m": KEEP,
        "nx": KEEP, "ny": KEEP, "difference_per_km2": WITHHOLD,
        "share_difference_pct_points_per_km2": WITHHOLD}


class KDEDifferenceMeta(CompareMeta):
    kernel: str
    bandwidth_m: float
    cell_size_m: float
    study_area: str
    n_before: int
    n_after: int
    __disclosure__: ClassVar[dict[str, str]] = {"bandwidth_m": KEEP, "cell_size_m": KEEP,
        "n_before": COUNT, "n_after": COUNT}


class KDEDifferenceResponse(BaseModel):
    meta: KDEDifferenceMeta
    grid: KDEDifferenceGrid
    scale: dict = Field(..., description="Units of each surface and its extremes")


class Ellipse(BaseModel):
    """Null below three offences (and, for the public role, below the disclosure policy's
    count; its positions and lengths are then rounded to its grid)."""

    mean_x_m: float | None = Field(..., description="Mean centre easting (EPSG:27700)")
    mean_y_m: float | None
    sd_major_m: float | None = Field(..., description="Standard deviational ellipse, major "
                                                      "semi-axis")
    sd_minor_m: float | None
    major_axis_bearing_deg: float | None = Field(..., description="Clockwise from grid north")
    standard_distance_m: float | None
    n: int | None
    __disclosure__: ClassVar[dict[str, str]] = {"__model__": CENTRE}


class Shift(BaseModel):
    distance_m: float | None = Field(..., examples=[160.0])
    dx_m: float | None
    dy_m: float | None
    bearing_deg: float | None = Field(..., description="Direction of the move, clockwise from "
                                                       "grid north", examples=[255.3])
    __disclosure__: ClassVar[dict[str, str]] = {"distance_m": WITHHOLD, "dx_m": WITHHOLD,
        "dy_m": WITHHOLD, "bearing_deg": WITHHOLD}


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
    summary_words: list[str] | None = Field(
        None, description="The answer in plain words, as the report map states it: each "
        "NPA's share change with its certainty (\"clear\" when `direction` says it rose or "
        "fell beyond the overall change at `meta.alpha`, BH across the NPAs when "
        "`meta.fdr`; else \"too close to call\"), what that means, then the WDQ reading and "
        "its caveat. Numbers in it are those of this answer as published to the caller "
        "(for the public role no withheld number appears).",
        examples=[["Central (NC)'s share fell from 23% to 14% (a clear fall).",
                   "East (NE)'s share did not change (34%)."]])
