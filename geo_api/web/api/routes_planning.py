"""Planning endpoints: where bleed-control kits reach, where the next ones go, how many are
needed, and which neighbourhoods to talk to about People Zones."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo_api.errors import GeoApiError, InvalidParameter
from geo_api.services import planning
from geo_api.services.planning import (
    DEFAULT_SOLVER_S,
    MAX_SOLVER_S,
    CoverageCurve,
    KitCoverage,
    KitsForTarget,
    NextKits,
    people_zones_geojson,
    planning_view,
)
from geo_api.web.api.csv_safe import csv_response
from geo_api.web.api.downloads import CsvBom, named
from geo_api.web.api.models import (
    CoverageCurveResponse,
    KitCoverageResponse,
    PCurveResponse,
    PeopleZonesResponse,
    SitingResponse,
)
from geo_api.web.api.params import (
    HeavySlot,
    PlanningFilterDep,
    ServiceDep,
    SignificanceAtDep,
    StudyArea,
)
from geo_api.web.api.shared import (
    ERRORS,
    FORMATS,
    HTML_200,
    message_page,
    page_controls,
    points_geojson,
)
from geo_api.web.auth import PARTNER, PrincipalDep
from geo_api.web.maps.layers import period_label
from geo_api.web.maps.planning import SetChoice, render_planning_map

router = APIRouter(tags=["planning"], dependencies=[HeavySlot])

SiteSet = Annotated[str, Query(description="police_points, postcodes, schools or the name of "
                                           "an uploaded site set (POST /sites/{name})",
                               pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Radius = Annotated[float, Query(ge=50, le=1000, description="Service radius, metres (British "
                                "Heart Foundation: ~200 m, '2 minutes there, 2 back')")]
Distance = Annotated[Literal["straight", "walking"], Query(
    description="straight: EPSG:27700 straight line; walking: street network from "
                "GEO_API_OSM_FILE")]
HalfLife = Annotated[float | None, Query(ge=0.1, le=120, description="Recency weighting: an "
                                         "offence this many months before the period's last "
                                         "month counts half")]
TimeLimit = Annotated[float, Query(gt=0, le=MAX_SOLVER_S, description=(
    "Solver time limit, seconds (the best solution and its bound are returned if hit; at "
    f"most {MAX_SOLVER_S:g} s so the answer comes within the request time cap - for longer "
    "solves use the command line, `geo_api plan`)"))]
Existing = Annotated[str | None, Query(description="Site set kept as it is (existing kits)",
                                       pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Fmt = Annotated[Literal["json", "geojson", "csv"], Query(description="Output format")]


def _shape(request: Request, answer: KitCoverage | NextKits | KitsForTarget, f: str,
           rows_key: str, subject: str, *about: object):
    """The answer as asked: JSON, or its sites as a named CSV or GeoJSON download."""
    if f == "csv":
        return csv_response(request, getattr(answer, rows_key), subject, answer.meta, *about)
    if f == "geojson":
        return named(points_geojson(getattr(answer, rows_key), answer.meta), subject,
                     answer.meta, *about)
    return answer


@router.get("/plan/kits/coverage", dependencies=[PARTNER, CsvBom], response_model=KitCoverageResponse, responses={
            **ERRORS, **FORMATS}, operation_id="getKitCoverage",
            summary="How much violence is within reach of a set of kits (and which hot spots "
                    "are not)")
def kit_coverage(request: Request, svc: ServiceDep, flt: PlanningFilterDep, sig: SignificanceAtDep,
                 sites: SiteSet = "schools", radius_m: Radius = 200,
                 distance: Distance = "straight", half_life_months: HalfLife = None,
                 study_area: StudyArea = "city", f: Fmt = "json"):
    """Per site: offences within `radius_m`; the share of all demand any site reaches; demand
    no site reaches; and Gi* hot cells (H3 r9, 95%, FDR) farther than `radius_m` from every
    site ("uncovered hot spots"). Demand = offences matching the filter (default
    violence_robbery_weapons), one point per distinct location. f=csv/geojson: the sites."""

    return _shape(request, planning.kit_coverage(svc, flt, sites=sites, radius_m=radius_m,
                                        distance=distance, half_life_months=half_life_months,
                                        study_area=study_area, sig=sig),
                  f, "sites", "kit-coverage", sites, f"{radius_m:g}m")


@router.get("/plan/kits/coverage-curve", dependencies=[PARTNER], response_model=CoverageCurveResponse,
            responses=ERRORS, operation_id="getKitCoverageCurve",
            summary="Share of violence within each distance of the nearest kit")
def coverage_curve(svc: ServiceDep, flt: PlanningFilterDep, sites: SiteSet = "schools",
                   radii_m: Annotated[list[float] | None, Query(
                       max_length=40, description="Radii, metres (50-1,000; repeat the "
                       "parameter); default 50, 100, 150, ... 1,000")] = None,
                   distance: Distance = "straight", half_life_months: HalfLife = None,
                   study_area: StudyArea = "city") -> CoverageCurve:
    """For each radius, the share of demand whose nearest site is within it: how far a
    kit's reach has to stretch to cover a given share."""

    radii = radii_m or [50.0 * i for i in range(1, 21)]
    bad = [r for r in radii if not 50 <= r <= 1000]
    if bad:
        raise InvalidParameter(f"radii_m: {bad[0]} is outside 50-1,000 m")
    return planning.coverage_curve(svc, flt, sites=sites, radii_m=sorted(set(radii)),
                                   distance=distance, half_life_months=half_life_months,
                                   study_area=study_area)


@router.get("/plan/kits/next", dependencies=[PARTNER, CsvBom], response_model=SitingResponse, responses={**ERRORS, **FORMATS},
            operation_id="getNextKits",
            summary="Where the next p kits go: maximal covering, existing kits kept")
def next_kits(request: Request, svc: ServiceDep, flt: PlanningFilterDep,
              p: Annotated[int, Query(ge=1, le=100, description="New kits to place")] = 5,
              candidates: SiteSet = "police_points", existing: Existing = None,
              radius_m: Radius = 200, distance: Distance = "straight",
              half_life_months: HalfLife = None, study_area: StudyArea = "city",
              time_limit_s: TimeLimit = DEFAULT_SOLVER_S, f: Fmt = "json"):
    """The `p` candidate sites that together bring the most violence within `radius_m`,
    given the `existing` kits (kept, as spopt's predefined facilities). Solved exactly
    (sparse integer programme; Lagrangian bound and reduction, then HiGHS). Sites come in
    order of marginal gain, each with what it adds; `summary.covered_share_bound` is the
    proven best possible. Candidates default to police.uk map points (public places)."""

    return _shape(request, planning.next_kits(svc, flt, p=p, candidates=candidates, existing=existing,
                                     radius_m=radius_m, distance=distance,
                                     half_life_months=half_life_months, study_area=study_area,
                                     time_limit_s=time_limit_s),
                  f, "sites", "next-kits", f"{p}-kits", candidates, f"{radius_m:g}m")


@router.get("/plan/kits/how-many", dependencies=[PARTNER, CsvBom], response_model=SitingResponse,
            responses={**ERRORS, **FORMATS}, operation_id="getKitsForTarget",
            summary="How many kits to cover a target share: the fewest sites (set covering)")
def how_many(request: Request, svc: ServiceDep, flt: PlanningFilterDep,
             target_share: Annotated[float, Query(gt=0, le=1, description="Share of demand "
                                                  "to bring within radius_m")] = 0.5,
             candidates: SiteSet = "police_points", existing: Existing = None,
             radius_m: Radius = 200, distance: Distance = "straight",
             half_life_months: HalfLife = None, study_area: StudyArea = "city",
             time_limit_s: TimeLimit = DEFAULT_SOLVER_S, f: Fmt = "json"):
    """The fewest new sites (with `existing` kept) that bring `target_share` of demand within
    `radius_m`, proven minimal (`summary.sites_lower_bound`). When the target is out of
    reach, says how much can be covered at most."""

    return _shape(request, planning.how_many(svc, flt, target_share=target_share, candidates=candidates,
                                    existing=existing, radius_m=radius_m, distance=distance,
                                    half_life_months=half_life_months, study_area=study_area,
                                    time_limit_s=time_limit_s), f, "sites", "kits-for-target",
                  f"{target_share:.0%}".replace("%", "pc"), candidates, f"{radius_m:g}m")


@router.get("/plan/kits/p-curve", dependencies=[PARTNER, CsvBom], response_model=PCurveResponse,
            responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
            operation_id="getKitsCurve",
            summary="Covered share for 1..max_p new kits (how many to buy)")
def p_curve(request: Request, svc: ServiceDep, flt: PlanningFilterDep,
            max_p: Annotated[int, Query(ge=1, le=50, description="Largest number of new kits")
                                      ] = 20,
            candidates: SiteSet = "police_points", existing: Existing = None,
            radius_m: Radius = 200, distance: Distance = "straight",
            half_life_months: HalfLife = None, study_area: StudyArea = "city",
            time_limit_s: TimeLimit = DEFAULT_SOLVER_S,
            method: Annotated[Literal["bounds", "exact"], Query(
                description="bounds: seconds, a real choice per p plus a proven upper bound; "
                                     "exact: each p solved to optimality within time_limit_s overall")
                                       ] = "bounds",
            f: Annotated[Literal["json", "csv"], Query(description="Output format")] = "json"):
    """The covered share for each number of new kits from 1 to `max_p`, and what each
    extra kit adds: where the curve flattens, more kits buy little. `method=bounds` (default,
    fast) gives for each p a real choice of sites and a proven bound on what any choice
    could cover; `method=exact` solves each p to optimality."""

    curve = planning.p_curve(svc, flt, max_p=max_p, candidates=candidates, existing=existing,
                             radius_m=radius_m, distance=distance,
                             half_life_months=half_life_months, study_area=study_area,
                             time_limit_s=time_limit_s, method=method)
    if f == "csv":
        return csv_response(request, curve.curve, "kits-curve", curve.meta,
                            f"1-to-{max_p}-kits", candidates, f"{radius_m:g}m")
    return curve


@router.get("/plan/people-zones", dependencies=[PARTNER, CsvBom], response_model=PeopleZonesResponse,
            responses={**ERRORS, **FORMATS}, operation_id="getPeopleZones",
            summary="Which neighbourhoods to talk to first about People Zones (ranked, with "
                    "every component and how robust each rank is)")
def people_zones(request: Request, svc: ServiceDep, flt: PlanningFilterDep, sig: SignificanceAtDep, who: PrincipalDep,
                 layer: Annotated[Literal["ward", "lsoa", "npa"], Query(
                     description="Areas to rank (Leicester city)")] = "ward",
                 weight_violence_rate: Annotated[float, Query(ge=0, le=10)] = 0.35,
                 weight_hot_spot_share: Annotated[float, Query(ge=0, le=10)] = 0.20,
                 weight_trend: Annotated[float, Query(ge=0, le=10)] = 0.10,
                 weight_deprivation: Annotated[float, Query(ge=0, le=10)] = 0.20,
                 weight_young_people: Annotated[float, Query(ge=0, le=10)] = 0.15,
                 indicator: Annotated[str | None, Query(max_length=40, description=(
                     "A partner indicator (GET /indicators) to add as a component"))] = None,
                 weight_partner_indicator: Annotated[float | None, Query(ge=0, le=10, description=(
                     "Its weight (default 0.2 when an indicator is named)"))] = None,
                 method: Annotated[Literal["z", "rank_exp"], Query(
                     description="Standardisation: z-scores or the IMD's rank-exponential")
                                            ] = "z",
                 trend_months: Annotated[int, Query(ge=1, le=12, description="Recent months "
                                                             "compared with the earlier ones")] = 3,
                 n_sim: Annotated[int, Query(ge=100, le=2000, description="Poisson redraws for "
                                                      "rank uncertainty")] = 500,
                 top_k: Annotated[int, Query(ge=1, le=20)] = 5, f: Fmt = "json"):
    """A transparent composite for a shortlist of People Zone neighbourhoods: violence per
    1,000 residents (empirical-Bayes smoothed), the share of the area in Gi* hot cells, the
    recent trend, IMD 2019 deprivation and the share of young residents, each standardised
    and weighted (weights are parameters). Every component is returned; rank ranges show
    how robust a position is to the weights (±50%) and to chance in the counts (Poisson).
    A shortlist for community engagement, not a decision. f=geojson adds area polygons.
    `indicator` adds a partner indicator (its rate per 1,000, moved onto the areas by land
    area where the layers differ; through its disclosure rule unless you own it) with
    `weight_partner_indicator`; it appears in the sensitivity table like the others."""

    weights = {"violence_rate": weight_violence_rate, "hot_spot_share": weight_hot_spot_share,
               "trend": weight_trend, "deprivation": weight_deprivation,
               "young_people": weight_young_people}
    if weight_partner_indicator is not None:
        weights["partner_indicator"] = weight_partner_indicator
    zones = planning.people_zones(svc, flt, layer=layer, weights=weights, method=method,
                                  trend_months=trend_months, n_sim=n_sim, top_k=top_k, sig=sig,
                                  partner=(indicator, who) if indicator else None)
    if f == "csv":
        rows = [{**{k: v for k, v in area.items() if k != "sensitivity"},
                 **{f"rank_{name}_x{factor:g}": rank
                    for name, pair in area["sensitivity"].items()
                    for factor, rank in zip((0.5, 1.5), pair)}} for area in zones.areas]
        return csv_response(request, rows, "people-zones", zones.meta, layer)
    if f == "geojson":
        return named(Response(json.dumps(people_zones_geojson(svc, zones), default=str),
                              media_type="application/geo+json"), "people-zones", zones.meta,
                     layer)
    return zones


MapExisting = Annotated[str | None, Query(
    description="Site set kept as it is (existing kits); empty: none (the panel's form "
                "sends it empty)", pattern=r"^([a-z0-9][a-z0-9_-]{0,39})?$")]


@router.get("/maps/planning", dependencies=[PARTNER], response_class=HTMLResponse, operation_id="planningMap",
            responses=HTML_200, tags=["maps"],
            summary="The planner's map: kits, proposed kits, reach, and the People Zone ranking")
def planning_map(request: Request, svc: ServiceDep, flt: PlanningFilterDep,
                 sig: SignificanceAtDep,
                 p: Annotated[int, Query(ge=1, le=30, description="Proposed new kits")] = 5,
                 candidates: SiteSet = "police_points", existing: MapExisting = None,
                 radius_m: Radius = 200, distance: Distance = "straight",
                 layer: Annotated[Literal["ward", "lsoa", "npa"], Query(
                     description="People Zone areas")] = "ward") -> HTMLResponse:
    """For planners: existing kits (`existing`) and the `p` proposed ones (numbered by what
    they add) with their reach, hot spots out of reach of the existing kits (the count GET
    /plan/kits/coverage?sites=<existing> gives) and of every kit, offences within reach or
    not (a layer off at first), and the People Zone ranking as a choropleth with the ranked
    table and rank ranges beside it. The panel's form chooses the existing and candidate
    site sets; prints on A4 landscape."""

    try:
        view = planning_view(svc, flt, p=p, candidates=candidates, existing=existing or None,
                             radius_m=radius_m, distance=distance, layer=layer, sig=sig)
    except GeoApiError as exc:
        return message_page(exc)
    return HTMLResponse(render_planning_map(
        svc.boundaries, view, title="Bleed-control kits and People Zones", radius_m=radius_m,
        period=period_label(flt), controls=page_controls(request, svc, flt, inline=True),
        choice=SetChoice(saved=[s["name"] for s in svc.site_sets.list()], p=p,
                         candidates=candidates, existing=existing or "",
                         keep=list(request.query_params.multi_items()))))
