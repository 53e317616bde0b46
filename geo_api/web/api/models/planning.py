"""Planning responses: kit coverage, siting (MCLP, set covering, p-curve), People Zones."""

from __future__ import annotations

from pydantic import BaseModel, Field

from geo_api.web.api.models.meta import Meta, Strict

__all__ = [
    "ChosenSite",
    "CoverageCurvePoint",
    "CoverageCurveResponse",
    "CoverageTotals",
    "KitCoverageResponse",
    "KitSite",
    "PCurvePoint",
    "PCurveResponse",
    "PeopleZoneArea",
    "PeopleZonesMeta",
    "PeopleZonesResponse",
    "PlanningMeta",
    "SitingResponse",
    "SitingSummary",
    "UncoveredHotSpot",
]


class SolverInfo(Strict):
    status: str = Field(..., description="optimal, time_limit (best found; see gap and bound) "
                                         "or infeasible", examples=["optimal"])
    gap: float = Field(..., description="(bound - found) / bound; 0 when proven optimal")
    bound_share: float = Field(..., description="Proven upper bound on the covered share")
    solve_s: float
    n_pairs_within_radius: int | None = None
    n_demand_rows: int | None = Field(None, description="Demand rows after merging points "
                                                        "reached by the same candidates")
    n_candidate_columns: int | None = Field(None, description="Candidates that reach some "
                                                              "demand not already covered")
    solver: str | None = None
    lagrangian_bound: float | None = None
    heuristic_value: float | None = None
    n_columns_to_solver: int | None = None
    n_columns_fixed_open: int | None = None
    threshold: float | None = None
    target_share: float | None = None
    sites_lower_bound: int | None = None
    method: str | None = None
    total_s: float | None = Field(None, description="p-curve (bounds): seconds for all p")


class PlanningMeta(Meta):
    """Parameters of a planning result (fields that do not apply are null)."""

    study_area: str = Field(..., examples=["city"])
    distance: str = Field(..., description="straight or walking", examples=["straight"])
    distance_source: str
    demand_definition: str = Field(..., examples=[("8,899 offences at 2,092 distinct "
                                                   "locations; each offence counts 1")])
    half_life_months: float | None = Field(None, description="Recency weighting half-life")
    radius_m: float | None = Field(None, examples=[200])
    sites: str | None = None
    sites_description: str | None = None
    n_sites: int | None = None
    hot_spot_definition: str | None = None
    candidates: str | None = None
    candidates_description: str | None = None
    n_candidates: int | None = None
    existing: str | None = None
    n_existing: int | None = None
    solver: SolverInfo | None = None
    formulation: str | None = None
    p: int | None = None
    max_p: int | None = None
    target_share: float | None = None
    time_limit_s: float | None = None
    curve_method: str | None = Field(None, description="p-curve: exact or bounds")


class KitSite(Strict):
    name: str = Field(..., examples=["Haymarket bus station"])
    kind: str = Field(..., examples=["bleed kit"])
    lon: float
    lat: float
    offences_within: int = Field(..., description="Offences within radius_m of the site")
    demand_within: float = Field(..., description="Demand weight within radius_m (= offences "
                                                  "without recency weighting)")
    share_of_demand: float
    demand_only_this_site: float = Field(..., description="Demand no other site in the set "
                                                          "reaches")


class CoverageTotals(Strict):
    n_offences: int
    n_locations: int
    demand_total: float
    offences_covered: int
    offences_not_covered: int
    demand_covered: float
    covered_share: float = Field(..., description="Share of demand within radius_m of a site")
    n_hot_cells: int
    n_hot_cells_uncovered: int


class UncoveredHotSpot(Strict):
    id: str = Field(..., description="H3 cell (resolution 9)")
    count: int
    label: str
    distance_to_nearest_site_m: float
    lon: float
    lat: float


class KitCoverageResponse(BaseModel):
    meta: PlanningMeta
    sites: list[KitSite]
    totals: CoverageTotals
    uncovered_hot_spots: list[UncoveredHotSpot] = Field(
        ..., description="Gi* hot cells whose centre is farther than radius_m from every site")


class CoverageCurvePoint(Strict):
    radius_m: float
    covered_share: float
    offences_covered: int


class CoverageCurveResponse(BaseModel):
    meta: PlanningMeta
    curve: list[CoverageCurvePoint]


class ChosenSite(Strict):
    rank: int = Field(..., description="Order of marginal gain: 1 adds the most")
    name: str = Field(..., examples=["Humberstone Gate"])
    kind: str
    lon: float
    lat: float
    added_offences: int = Field(..., description="Offences this site covers that no existing "
                                                 "or earlier-ranked site covers")
    added_demand: float
    added_share: float
    cumulative_share: float = Field(..., description="Covered share with existing sites and "
                                                     "sites up to this rank")


class SitingSummary(Strict):
    covered_share_existing: float = Field(..., description="Covered by the existing sites")
    covered_share: float = Field(..., description="Covered by existing + chosen sites")
    covered_share_bound: float = Field(..., description="No choice of this many sites can "
                                                        "cover more than this")
    n_new_sites: int
    status: str
    offences_total: int
    offences_covered: int
    sites_lower_bound: int | None = Field(None, description="Set covering: proven fewest new "
                                                            "sites for the target")


class SitingResponse(BaseModel):
    meta: PlanningMeta
    summary: SitingSummary
    sites: list[ChosenSite]


class PCurvePoint(Strict):
    p: int
    covered_share: float = Field(..., description="Covered by the best sites found for p")
    covered_share_bound: float = Field(..., description="No p sites can cover more (equal to "
                                                        "covered_share when status is optimal)")
    added_share: float = Field(..., description="What the p-th kit adds to the best p-1")
    status: str = Field(..., description="optimal, bounded (method=bounds) or time_limit")
    gap: float


class PCurveResponse(BaseModel):
    meta: PlanningMeta
    covered_share_existing: float
    curve: list[PCurvePoint]


class PeopleZonesMeta(Meta):
    layer: str
    study_area: str
    weights: dict[str, float]
    method: str = Field(..., description="z (z-scores) or rank_exp (IMD-style exponential "
                                         "transform of ranks)")
    components: dict[str, str]
    trend_months_recent: int
    trend_months_earlier: int
    n_sim: int
    seed: int
    top_k: int
    profile_note: str
    hot_spot_definition: str
    sensitivity: str
    uncertainty: str
    partner_indicator: dict | None = Field(None, description="The partner indicator used as "
                                                             "a component and how it was "
                                                             "mapped onto the areas")


class PeopleZoneArea(Strict):
    code: str
    name: str = Field(..., examples=["Castle"])
    rank: int = Field(..., description="1 = most need by the composite score")
    score: float | None = Field(..., description="Weighted mean of the standardised components")
    rank_best_weights_pm50: int = Field(..., description="Best rank when any one weight "
                                                         "changes by ±50%")
    rank_worst_weights_pm50: int
    sensitivity: dict[str, list[int]] = Field(
        ..., description="Rank with each weight alone x0.5 and x1.5: {weight: [rank at x0.5, "
                         "rank at x1.5]}", examples=[{"violence_rate": [2, 1]}])
    rank_p05_poisson: int = Field(..., description="5th percentile rank over Poisson redraws")
    rank_p95_poisson: int
    p_top_k: float = Field(..., description="Share of Poisson redraws with the area in the top "
                                            "k (meta.top_k)")
    offences: int
    population_2015: int
    rate_per_1000_raw: float
    offences_recent: int
    offences_earlier: int
    trend_p_two_sided: float | None = Field(..., description="Exact test of recent vs earlier "
                                                             "relative to the city")
    trend_significant: bool | None
    violence_rate: float | None = Field(..., description="EB-smoothed offences per 1,000")
    std_violence_rate: float | None
    contribution_violence_rate: float | None
    hot_spot_share: float | None
    std_hot_spot_share: float | None
    contribution_hot_spot_share: float | None
    trend: float | None
    std_trend: float | None
    contribution_trend: float | None
    deprivation: float | None
    std_deprivation: float | None
    contribution_deprivation: float | None
    young_people: float | None
    std_young_people: float | None
    contribution_young_people: float | None
    partner_indicator: float | None = Field(None, description="The named partner indicator "
                                                              "per 1,000 (null: not used, or "
                                                              "withheld)")
    std_partner_indicator: float | None = None
    contribution_partner_indicator: float | None = None
    imd_rank: float | None = Field(..., description="Population-weighted mean IMD 2019 rank "
                                                    "(1 = most deprived in England)")
    income_rank: float | None
    employment_rank: float | None
    education_rank: float | None
    health_rank: float | None
    crime_rank: float | None = Field(..., description="Context only: overlaps the violence rate")
    housing_rank: float | None
    living_environment_rank: float | None
    children_0_15_2015: int
    census21_age_0_24: int | None = Field(..., description="Census 2021 residents aged 0-24 "
                                                           "(approximate crosswalk)")


class PeopleZonesResponse(BaseModel):
    meta: PeopleZonesMeta
    areas: list[PeopleZoneArea]
