"""Forecast evaluation and the focus list: which hot spot method predicted next month best on
the loaded data, and the places to go next month chosen by it."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from geo_api.analysis.forecast import METHODS
from geo_api.services.access import require
from geo_api.services.forecast import Evaluation, evaluate, focus
from geo_api.services.patches import parse_patch, patch_choices
from geo_api.services.units import UnitSpec, unit_shapes_lonlat
from geo_api.web.api.csv_safe import csv_response
from geo_api.web.api.downloads import CsvBom, named, unit_words
from geo_api.web.api.models import ErrorBody, EvaluationResponse, FocusResponse
from geo_api.web.api.params import HeavySlot, PlanningFilterDep, ServiceDep, units_param
from geo_api.web.api.shared import (
    FORMATS,
    HTML_200,
    Responses,
    page_controls,
    points_geojson,
)
from geo_api.web.auth import PARTNER, audit_note, caller
from geo_api.web.maps.focus import PatchChoice, render_focus_map

router = APIRouter(tags=["forecast"], dependencies=[HeavySlot])
ERRORS: Responses = {422: {"model": ErrorBody}}
UnitsDep = Annotated[UnitSpec | None, Depends(units_param("h3", with_location=True))]


def location_needs_analyst(request: Request, units: UnitsDep) -> UnitSpec | None:
    """grid=location ranks offence locations (map points; exact points on a force export):
    analysts only, like /stats/top?grid=location."""
    if units is None:
        require(caller(request), "analyst")
        audit_note(request, point_level=True)
    return units


ForecastUnits = Annotated[UnitSpec | None, Depends(location_needs_analyst)]
Method = Literal["naive", "long_run", "recency", "kde", "gi", "emerging", "ensemble"]
Methods = Annotated[list[Method] | None, Query(description="Methods to compare (repeatable; "
                                               "default all). naive is always included as "
                                               "the baseline")]
Window = Annotated[int, Query(ge=1, le=12, description="Training window, months")]
Horizon = Annotated[int, Query(ge=1, le=3, description="Months predicted after each cut-off")]
Coverage = Annotated[float, Query(ge=0.01, le=0.2, description="Share of the study area "
                                  "selected (0.01-0.2)")]
HalfLifeQ = Annotated[float, Query(ge=0.5, le=120, description="Recency half-life, months")]
Bandwidth = Annotated[float, Query(ge=100, le=3000, description="KDE bandwidth, metres")]
Area = Annotated[str | None, Query(max_length=40, description=(
    "A team's patch: npa:<code> (e.g. npa:NC, Central) or ward:<code> (e.g. "
    "ward:E05010464, Castle); only places in it are listed (a place is in the ward or NPA "
    "most of its offences fall in). Empty or absent: the whole city"), examples=["npa:NC"])]


@router.get("/evaluate/hotspots", dependencies=[PARTNER], response_model=EvaluationResponse,
            operation_id="evaluateHotspots", responses=ERRORS,
            summary="Which hot spot method predicted next month's offences best (backtest)")
def evaluate_hotspots(svc: ServiceDep, flt: PlanningFilterDep, units: ForecastUnits,
                      methods: Methods = None, window: Window = 3, horizon: Horizon = 1,
                      coverage: Coverage = 0.05, half_life: HalfLifeQ = 2.0,
                      bandwidth_m: Bandwidth = 400.0) -> Evaluation:
    """Rolling-origin backtest over the loaded months: train on `window` months (long-run
    and recency methods on all months before the cut-off), predict the next `horizon`,
    step one month. Per method: mean hit rate, PAI, PEI and RRI at `coverage` of the study
    area, hit rate vs coverage (1-20%), and a paired comparison with the naive method
    (last-period counts). Ties at the cut share the remaining area in proportion. Cached
    per dataset version."""
    return evaluate(svc, flt, units, methods or list(METHODS), window, horizon, coverage,
                    half_life, bandwidth_m)


@router.get("/focus", dependencies=[PARTNER, CsvBom], response_model=FocusResponse,
            operation_id="focusList", responses={**ERRORS, **FORMATS},
            summary="Where to go next month: the top places by the best-predicting method")
def focus_list(request: Request, svc: ServiceDep, flt: PlanningFilterDep, units: ForecastUnits,
               n: Annotated[int, Query(ge=1, le=30, description="How many places")] = 8,
               window: Window = 3, coverage: Coverage = 0.05,
               area: Area = None, f: Annotated[Literal["json", "geojson", "csv"], Query(
                   description="Output format")] = "json"):
    """The focus list for the month after the loaded data: the `n` places (default 8) the
    method that backtests best (one-month horizon) ranks highest, each named by its most
    common police.uk locations, with ward, NPA, counts for the last 3 and 12 months and the
    trend. With `hours=` on force exports, the list for the hours a team works; with
    `area=`, for a team's ward or NPA. Map: `/maps/focus`."""
    focus_list = focus(svc, flt, units, n, window, coverage, patch=parse_patch(svc, area))
    query = own_query(request, drop=("f", "bom"))
    focus_list = dataclasses.replace(focus_list, places=[
        dataclasses.replace(place, map_url=f"/maps/focus?{query}&zoom_to={place.rank}")
        for place in focus_list.places])
    rows = [{field: value for field, value in dataclasses.asdict(place).items()
             if field != "streets"} for place in focus_list.places]
    about = ("focus-list", focus_list.meta, "locations" if units is None else unit_words(units))
    if f == "csv":
        return csv_response(request, rows, *about)
    if f == "geojson":
        return named(points_geojson(rows, focus_list.meta), *about)
    return focus_list


@router.get("/maps/focus", dependencies=[PARTNER], response_class=HTMLResponse,
            operation_id="focusMap", responses={**ERRORS, **HTML_200},
            summary="The focus list on a map, numbered, with the table and how well the "
                    "method predicted (printable A4)")
def focus_map(request: Request, svc: ServiceDep, flt: PlanningFilterDep, units: ForecastUnits,
              n: Annotated[int, Query(ge=1, le=30, description="How many places")] = 8,
              window: Window = 3, coverage: Coverage = 0.05,
              zoom_to: Annotated[int | None, Query(ge=1, le=30, description="Zoom to the "
                                                   "place with this rank")] = None,
              area: Area = None) -> HTMLResponse:
    """Numbered places on the map with the table beside it, the hit-rate-vs-coverage curve of
    every method, and a print button (A4 landscape: title, period, method, date made); a
    drop-down in the panel chooses the patch (`area`)."""
    patch = parse_patch(svc, area)
    focus_list = focus(svc, flt, units, n, window, coverage, patch=patch)
    evaluation = evaluate(svc, flt, units, list(METHODS), window, 1, coverage)
    shapes = unit_shapes_lonlat(svc, units, [place.id for place in focus_list.places])
    query = own_query(request, drop=("f", "zoom_to"))  # for the page's downloads
    controls = page_controls(request, svc, flt, with_period=False, inline=True)
    return HTMLResponse(render_focus_map(focus_list, evaluation, shapes, svc.boundaries, query,
                                         zoom_to, controls, patch_form(request, svc, patch)))


def patch_form(request: Request, svc, patch) -> PatchChoice:
    """The panel's patch drop-down: every NPA and ward, the chosen one, the other
    parameters kept."""
    return PatchChoice(options=patch_choices(svc), chosen=patch.key if patch else "",
                       keep=[(k, v) for k, v in request.query_params.multi_items()
                             if k not in ("area", "zoom_to", "zoom")])


def own_query(request: Request, drop: tuple[str, ...]) -> str:
    """The request's query string without ``drop`` (re-encoded)."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in drop])
