"""Partner indicators by area, and their overlay with violence hot spots."""

from __future__ import annotations

from pydantic import Field

from geo_api.web.api.models.meta import Strict

__all__ = ["IndicatorInfo", "IndicatorList", "IndicatorOverlay", "SchoolsNearViolence"]


class Disclosure(Strict):
    suppress_below: int = Field(..., description="Counts 1..suppress_below-1 are withheld")
    round_to: int = Field(..., description="Other counts are rounded to this")


class IndicatorInfo(Strict):
    name: str
    measure: str = Field(..., description="What is counted", examples=["school exclusions"])
    source_org: str = Field(..., examples=["Leicester City Council"])
    licence: str = Field(..., description="Licence or data-sharing agreement reference")
    period: str | None
    synthetic: bool = Field(..., description="True for invented example data")
    layer: str = Field(..., description="sector, lsoa or ward")
    n_areas: int
    approximate: str | None = Field(None, description="Why the areas are approximate, if so")
    disclosure: Disclosure
    uploaded: str
    warnings: list[str] = Field(default_factory=list, description="Lines accepted with a "
                                                                  "caveat")


class IndicatorListItem(Strict):
    name: str
    owner: str | None
    updated: str
    measure: str | None
    source_org: str | None
    layer: str | None
    synthetic: bool
    n_areas: int | None


class IndicatorList(Strict):
    indicators: list[IndicatorListItem]


class OverlayArea(Strict):
    code: str
    name: str
    population: float | None
    count: float | None = Field(..., description="The indicator (withheld: null); whole "
                                                 "numbers on its own layer, apportioned "
                                                 "shares on another")
    denominator: float | None = Field(None, description="Owner only")
    violence: int = Field(..., description="Offences for the chosen filter")
    hot_share: float = Field(..., description="Share of the area in Gi* hot cells")
    in_hot_spot_area: bool
    indicator_rate_per_1000: float | None
    violence_rate_per_1000: float | None


class ConcentrationStep(Strict):
    k: int
    code: str
    violence: int
    cumulative_share: float | None = Field(..., description="Share of the indicator in the "
                                                            "top k areas ranked by violence")


class LocalBV(Strict):
    code: str
    Is: float
    p_sim: float
    quadrant: str


class MoranBV(Strict):
    permutations: int
    seed: int
    weights: str
    areas: list[LocalBV]


class Association(Strict):
    n_areas: int
    note: str
    spearman_rho: float | None
    ci95: list[float] | None = None
    local_moran_bv: MoranBV | None = None


class IndicatorOverlay(Strict):
    name: str
    about: dict
    layer: str
    mapped: str = Field(..., description="'as given', or how the counts were moved onto "
                                         "another layer")
    periods: list[str]
    disclosure: str
    hot_spot_area_rule: str
    sentence: str = Field(..., examples=[("61% of school exclusions (SYNTHETIC) are in the 12 "
                                         "postcode sectors that are in violence hot spot areas")])
    share_in_hot_spot_areas: float | None
    hot_spot_areas: list[str]
    concentration: list[ConcentrationStep]
    association: Association
    areas: list[OverlayArea]
    filter: dict
    dataset_version: str | None


class SchoolWindow(Strict):
    name: str = Field(..., examples=["after-school"])
    hours: list[int] | None = Field(..., description="[from, to) hours applied; null: all "
                                                     "hours (no offence times loaded)")
    applied: bool
    note: str


class RankedSchool(Strict):
    rank: int
    name: str
    kind: str
    lon: float
    lat: float
    offences_within: int = Field(..., description="Offences within radius_m in the window")
    share_of_demand: float


class SchoolsNearViolence(Strict):
    meta: dict = Field(..., description="The site-coverage parameters (radius, filter, "
                                        "dataset version)")
    window: SchoolWindow
    schools: list[RankedSchool]
