"""Partner indicators (counts by postcode sector, LSOA or ward): upload, list, delete, and
set beside violence hot spots. Partners and above; each indicator's own disclosure rule
applies to everyone but its owner and admins."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from geo_api.errors import NotFound
from geo_api.services import indicators
from geo_api.services.planning import kit_coverage
from geo_api.web.api.models import (
    ErrorBody,
    IndicatorInfo,
    IndicatorList,
    IndicatorOverlay,
    SchoolsNearViolence,
)
from geo_api.web.api.params import FilterDep, HeavySlot, PlanningFilterDep, ServiceDep
from geo_api.web.api.shared import ERRORS, HTML_200, csv_body, page_controls, read_csv_body
from geo_api.web.auth import PARTNER, PrincipalDep
from geo_api.web.maps.layers import GROUP_WORDS, TIME_WINDOWS, period_label, window_count
from geo_api.web.maps.partners import render_partner_map

router = APIRouter(tags=["indicators"])
Name = Annotated[str, Path(description="Indicator name: 1-40 characters a-z, 0-9, '-' or '_'",
                           examples=["exclusions-2019"])]
CSV_BODY = csv_body("sector,count,denominator,period\nLE1 1,12,1716,2019/20\n"
                    "LE2 0,31,5120,2019/20\n")


@router.post("/indicators/{name}", dependencies=[PARTNER], response_model=IndicatorInfo,
             operation_id="uploadIndicator", openapi_extra=CSV_BODY, status_code=201,
             responses={413: {"model": ErrorBody}, 415: {"model": ErrorBody},
                        422: {"model": ErrorBody}},
             summary="Upload (or replace) a partner indicator: counts by postcode sector, "
                     "postcode, LSOA or ward")
async def upload(name: Name, request: Request, svc: ServiceDep, who: PrincipalDep,
                 source_org: Annotated[str, Query(min_length=1, max_length=200, description=(
                     "Organisation the data come from"))],
                 licence: Annotated[str, Query(min_length=1, max_length=200, description=(
                     "Licence or data-sharing agreement reference"))],
                 measure: Annotated[str, Query(min_length=1, max_length=200, description=(
                     "What the count is, in words (used in sentences)"))],
                 period: Annotated[str | None, Query(max_length=40, description=(
                     "Period of rows without a period column"))] = None,
                 synthetic: Annotated[bool, Query(description="Invented example data")] = False,
                 suppress_below: Annotated[int, Query(ge=0, le=100, description=(
                     "Withhold counts 1..suppress_below-1 from everyone but you and admins "
                     "(NHS practice: 8)"))] = 8,
                 round_to: Annotated[int, Query(ge=1, le=100, description=(
                     "Round other counts to this (5)"))] = 5,
                 unknown_postcodes: Annotated[Literal["reject", "by_sector"], Query(
                     description="A full postcode not in Code-Point Open (July 2018): refuse "
                                 "the file naming the line, or count it in its sector")
                 ] = "reject") -> indicators.SavedIndicator:
    """CSV with one area column - `sector` (`LE1 1`; any spacing), `postcode` (counted in
    its sector), `lsoa` (2011), `lsoa21` (Leicester city, through the APPROXIMATE crosswalk)
    or `ward` - and `count`, optional `denominator` and `period`. A file with any fault is
    rejected whole (422 naming line and field) and the previous indicator of that name is
    kept. The indicator belongs to its uploader: only they or an admin may replace or delete
    it, and only they and admins see its counts unrounded."""
    is_admin = who.at_least("admin")
    indicators.indicator_store(svc).check_may_change(name, who.owner, is_admin)  # before the body
    data = await read_csv_body(request)
    return await run_in_threadpool(
        indicators.save_indicator, svc, name, data, who.owner, is_admin, source_org=source_org,
        licence=licence, measure=measure, period=period, synthetic=synthetic,
        suppress_below=suppress_below, round_to=round_to,
        unknown_postcodes=unknown_postcodes)


@router.get("/indicators", dependencies=[PARTNER], response_model=IndicatorList,
            operation_id="listIndicators", summary="Partner indicators loaded")
def list_all(svc: ServiceDep) -> IndicatorList:
    """Name, what is counted, source, areas, owner and whether it is SYNTHETIC example data."""
    return IndicatorList(indicators=[dataclasses.asdict(listed)
                                     for listed in indicators.list_indicators(svc)])


@router.delete("/indicators/{name}", dependencies=[PARTNER], status_code=204,
               operation_id="deleteIndicator", responses={404: {"model": ErrorBody}},
               summary="Delete a partner indicator (its owner or an admin)")
def delete(name: Name, svc: ServiceDep, who: PrincipalDep) -> Response:
    """Removes the indicator and its description; 403 for anyone but its owner or an admin."""
    indicators.indicator_store(svc).delete(name, who.owner, who.at_least("admin"))
    return Response(status_code=204)


@router.get("/indicators/{name}/overlay", dependencies=[PARTNER, HeavySlot],
            response_model=IndicatorOverlay, operation_id="indicatorOverlay",
            responses={404: {"model": ErrorBody}},
            summary="A partner indicator beside violence hot spots: per area, the sentence, "
                    "concentration, association")
def overlay(name: Name, svc: ServiceDep, flt: FilterDep, who: PrincipalDep,
            period: Annotated[str | None, Query(max_length=40, description=(
                "One of the indicator's periods (default: all summed)"))] = None,
            layer: Annotated[Literal["sector", "lsoa", "ward"] | None, Query(description=(
                "Areas to show it by (default: its own; others by overlapping land area, "
                "approximate where they do not nest)"))] = None
            ) -> indicators.Overlay:
    """Per area of the indicator's layer: its count and rate per 1,000 of its denominator,
    violence count and rate per 1,000 residents for the filter, the share of the area in
    Gi* hot cells (H3 r9, 95%, FDR) and whether that makes it "in a hot spot area" (>= 25%).
    Then the needs assessment's sentence computed ("N% of <measure> are in the K postcode
    sectors that are in violence hot spot areas") with the K areas, the share of the
    indicator in the top k areas ranked by violence, and the association: Spearman's rho
    with a 95% CI and esda's bivariate local Moran (indicator vs neighbours' violence).
    Association, not cause. Counts go through the indicator's disclosure rule unless you
    own it."""
    return indicators.overlay(svc, name, flt, who, period, layer)


@router.get("/maps/partners", dependencies=[PARTNER, HeavySlot], response_class=HTMLResponse,
            operation_id="partnerMap", responses={**ERRORS, **HTML_200},
            summary="A partner indicator and violence as a bivariate map, with the hot spot "
                    "areas outlined (printable)")
def partner_map(request: Request, svc: ServiceDep, flt: FilterDep, who: PrincipalDep,
                indicator: Annotated[str | None, Query(
                    max_length=40, description="Indicator name (default: the first loaded)")
                                     ] = None,
                period: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    """Areas coloured by thirds of the indicator (across) and of violence per 1,000
    residents (up) - a 3 x 3 colour-blind-safe scheme - with violence hot spot areas
    outlined, the needs assessment's sentence and the rank correlation in the legend, both
    values on hover, controls for the offences and period, and a Print button. Violence
    covers every loaded month unless a period is chosen."""
    if indicator is None:
        names = [listed.name for listed in indicators.list_indicators(svc)]
        if not names:
            raise NotFound("indicators: none loaded yet (POST /indicators/{name})")
        indicator = names[0]
    answer = indicators.overlay(svc, indicator, flt, who, period)
    title = (f"{answer.about.get('measure') or indicator} and "
             f"{GROUP_WORDS.get(flt.group, flt.group)}, {period_label(flt)}")
    return HTMLResponse(render_partner_map(svc.boundaries, answer, title,
                                           controls=page_controls(request, svc, flt)))


@router.get("/partners/schools", dependencies=[PARTNER, HeavySlot],
            response_model=SchoolsNearViolence, operation_id="schoolsNearViolence",
            responses=ERRORS,
            summary="Schools ranked by offences within a radius in the after-school window")
def schools(svc: ServiceDep, flt: PlanningFilterDep,
            radius_m: Annotated[float, Query(ge=50, le=1000, description=(
                "Radius, metres (straight line)"))] = 400,
            window: Annotated[Literal["after-school", "evening", "night-time-economy", "all"],
                              Query(description="Time-of-day window")] = "after-school",
            sites: Annotated[str, Query(description="schools (the shipped register) or an "
                                                    "uploaded site set")] = "schools"
            ) -> SchoolsNearViolence:
    """For school-based and detached youth work: each school (or site of an uploaded set)
    with the offences within `radius_m` in the window, ranked. Uses the kit-coverage
    computation (/plan/kits/coverage), not a second one. police.uk has no times: on such
    data every hour is counted and `window.applied` is false."""

    n_timed = window_count(svc, dataclasses.replace(flt, hours=None), 0, 24)[1]
    hours = None if window == "all" else TIME_WINDOWS[window][:2]
    applied = hours if n_timed > 0 else None  # (a window needs offences with a time)
    if applied is not None:
        flt = dataclasses.replace(flt, hours=applied)
        note = f"{TIME_WINDOWS[window][2]}; {n_timed:,} loaded offences have a time"
    elif hours is None:
        note = "all hours"
    else:
        note = ("all hours: the loaded offences have no time of day (police.uk); load a force "
                "export for the window")
    coverage = kit_coverage(svc, flt, sites=sites, radius_m=radius_m)
    ranked = sorted(coverage.sites, key=lambda s: (-s["offences_within"], s["name"]))
    return SchoolsNearViolence(
        meta=coverage.meta, window={"name": window,
                                  "hours": None if applied is None else list(applied),
                                  "applied": applied is not None, "note": note},
        schools=[{"rank": i + 1, **{k: s[k] for k in ("name", "kind", "lon", "lat",
                                                      "offences_within", "share_of_demand")}}
                 for i, s in enumerate(ranked)])
