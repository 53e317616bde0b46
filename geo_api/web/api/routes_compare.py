"""Period comparison endpoints: areas, WDQ, hotspot change, dual KDE, centre shift, report."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from geo_api.web.api.models import (
    CentreShiftResponse,
    CompareAreasResponse,
    DisplacementReport,
    EmergingResponse,
    ErrorBody,
    HotspotChangeResponse,
    KDEDifferenceResponse,
    WdqResponse,
)
from geo_api.web.api.routes import HTML_200, FilterDep, ServiceDep
from geo_api.web.api.routes_hotspots import Grid, GridArgs, StudyArea

router = APIRouter(tags=["comparison"])
ERRORS = {409: {"model": ErrorBody}, 422: {"model": ErrorBody}}
Before = Annotated[str, Query(description="Before period, e.g. 2019-12/2020-02",
                              examples=["2019-12/2020-02"])]
After = Annotated[str, Query(description="After period, e.g. 2020-04/2020-06",
                             examples=["2020-04/2020-06"])]
Fdr = Annotated[float, Query(gt=0, lt=1, description="Benjamini-Hochberg alpha")]


@router.get("/compare/areas", response_model=CompareAreasResponse, operation_id="compareAreas",
            responses=ERRORS, summary="Per-area change between two periods, adjusted for the "
                                      "overall change (exact test, FDR)")
def areas(svc: ServiceDep, flt: FilterDep, before: Before, after: After, args: GridArgs,
          grid: Grid = "npa", study_area: StudyArea = "city", fdr: Fdr = 0.05) -> JSONResponse:
    """Counts in each area (NPA, ward, sector, LSOA, H3 cell or fishnet cell) in both periods,
    each period's share with a Wilson 95% CI, the share change with a Newcombe 95% CI, and the
    change relative to the overall change with an exact conditional binomial test
    (Benjamini-Hochberg across areas). `direction` says in words whether an area rose or fell
    beyond the overall trend."""
    from geo_api.services.comparison import compare_areas

    table, meta = compare_areas(svc, flt, before, after, grid, study_area, fdr, **args)
    return JSONResponse({"meta": meta, "areas": json.loads(table.to_json(orient="records"))})


@router.get("/compare/wdq", response_model=WdqResponse, operation_id="compareWdq",
            responses=ERRORS, summary="Weighted displacement quotient (Bowers & Johnson 2003)")
def wdq(svc: ServiceDep, flt: FilterDep, before: Before, after: After,
        layer: Annotated[str, Query(description="Polygon layer of the named areas")] = "npa",
        target: Annotated[list[str], Query(description="Target area codes")] = ["NC"],  # noqa: B006
        displacement: Annotated[list[str], Query(description="Displacement area codes")] = ["NE", "NW"],  # noqa: B006
        control: Annotated[list[str], Query(description="Control area codes")] = ["NS"],  # noqa: B006
        ) -> JSONResponse:
    """Weighted displacement quotient for named areas of one polygon layer (default: the
    city centre NC as target, East and West NE+NW as displacement areas, South NS as control).
    The inputs are returned so the quotient can be checked by hand; read `interpretation`
    together with the control area's own change."""
    from geo_api.services.comparison import displacement as run

    return JSONResponse(run(svc, flt, before, after, layer, target, displacement, control))


@router.get("/compare/hotspots", response_model=HotspotChangeResponse, operation_id="compareHotspots",
            responses=ERRORS, summary="Gi* in both periods: new, persistent, no longer hot")
def hotspots(svc: ServiceDep, flt: FilterDep, before: Before, after: After, args: GridArgs,
             grid: Grid = "h3", study_area: StudyArea = "city",
             permutations: Annotated[int, Query(ge=0, le=9999)] = 999, seed: int = 12345,
             fdr: Annotated[float | None, Query(gt=0, lt=1)] = None) -> JSONResponse:
    """Gi* in the before and after periods on the same units and weights; each unit is
    classed new / persistent / no longer hot / not hot, with the Jaccard similarity of the hot
    sets. Parameters, seed and dataset version are in `meta`."""
    from geo_api.services.comparison import hotspots_change

    return JSONResponse(hotspots_change(svc, flt, before, after, grid, study_area, permutations,
                                        seed, fdr, **args))


@router.get("/compare/kde", response_model=KDEDifferenceResponse, operation_id="compareKde",
            responses=ERRORS, summary="Dual KDE: difference surface after - before")
def kde(svc: ServiceDep, flt: FilterDep, before: Before, after: After,
        bandwidth_m: Annotated[float, Query(gt=0, le=5000)] = 300,
        cell_size_m: Annotated[float, Query(ge=10, le=2000)] = 100,
        study_area: StudyArea = "city") -> JSONResponse:
    """Quartic KDE for both periods on the same EPSG:27700 grid and the difference surface,
    as offences per km^2 and as share of each period's offences per km^2 (which adjusts for an
    overall rise or fall)."""
    from geo_api.services.comparison import kde_difference

    return JSONResponse(kde_difference(svc, flt, before, after, bandwidth_m, cell_size_m,
                                       study_area))


@router.get("/compare/centre", response_model=CentreShiftResponse, operation_id="compareCentre",
            responses=ERRORS, summary="Mean centre and standard deviational ellipse per period, "
                                      "and the shift")
def centre(svc: ServiceDep, flt: FilterDep, before: Before, after: After,
           study_area: StudyArea = "city") -> JSONResponse:
    """Mean centre and standard deviational ellipse of each period's offences (EPSG:27700
    metres) and how far, and in which direction, the centre moved."""
    from geo_api.services.comparison import centre_shift

    return JSONResponse(centre_shift(svc, flt, before, after, study_area))


@router.get("/compare/report", response_model=DisplacementReport, operation_id="displacementReport",
            responses=ERRORS, summary="One-call displacement report: NPA change, WDQ centre -> "
                                      "East/West, centre shift, H3 hotspot change")
def report(svc: ServiceDep, flt: FilterDep, before: Before, after: After,
           permutations: Annotated[int, Query(ge=0, le=9999)] = 999,
           seed: int = 12345) -> JSONResponse:
    """One call for the lockdown question: NPA share change, WDQ centre -> East/West with
    South as control, centre shift, and the H3 r9 hotspot change summary."""
    from geo_api.services import comparison as c

    table, meta = c.compare_areas(svc, flt, before, after, "npa", "city", 0.05)
    hs = c.hotspots_change(svc, flt, before, after, "h3", "city", permutations, seed, None,
                           resolution=9, k=1)
    return JSONResponse({
        "meta": meta,
        "npa_change": json.loads(table.to_json(orient="records")),
        "wdq_centre_to_east_west": c.displacement(svc, flt, before, after, "npa", ["NC"],
                                                  ["NE", "NW"], ["NS"]),
        "centre_shift": c.centre_shift(svc, flt, before, after, "city"),
        "hotspot_change_h3_r9": {k: hs[k] for k in ("jaccard_hot", "counts")},
    })


@router.get("/hotspots/emerging", response_model=EmergingResponse, operation_id="emergingHotspots",
            responses=ERRORS, summary="Emerging hot spots: monthly space-time Gi* + Mann-Kendall "
                                      "trend, ArcGIS-style categories")
def emerging(svc: ServiceDep, flt: FilterDep, args: GridArgs, grid: Grid = "h3",
             study_area: StudyArea = "city",
             time_steps: Annotated[int, Query(ge=0, le=3, description="Months of temporal "
                                              "neighbourhood")] = 1,
             alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
             permutations: Annotated[int, Query(ge=0, le=9999)] = 199,
             seed: int = 12345) -> JSONResponse:
    """Monthly space-time Gi* (neighbours in space and `time_steps` months either side)
    and a Mann-Kendall trend per unit, classed as new, consecutive, intensifying, persistent,
    diminishing, sporadic, oscillating or historical hot/cold spots (rules in
    `geo_api/analysis/emerging.py`)."""
    from geo_api.services.comparison import emerging as run

    return JSONResponse(run(svc, flt, grid, study_area, time_steps, alpha, permutations, seed,
                            **args))


@router.get("/compare/report/map", response_class=HTMLResponse, operation_id="displacementMap",
            responses={**ERRORS, **HTML_200},
            summary="Displacement report as a map: NPA/ward share change, hotspot change, "
                    "centre shift (aggregates only)")
def report_map(svc: ServiceDep, flt: FilterDep, before: Before, after: After,
               permutations: Annotated[int, Query(ge=0, le=9999)] = 999,
               seed: int = 12345) -> HTMLResponse:
    """A map of the displacement report for non-analysts: NPA and ward share change, hot
    spots new / persistent / no longer hot, and both mean centres. Aggregates only: no offence
    points are drawn."""
    from geo_api.services import comparison as c
    from geo_api.web.maps.report import render_report_map

    npa, _ = c.compare_areas(svc, flt, before, after, "npa", "city", 0.05)
    wards, _ = c.compare_areas(svc, flt, before, after, "ward", "city", 0.05)
    hs = c.hotspots_change(svc, flt, before, after, "h3", "city", permutations, seed, None,
                           resolution=9, k=1)
    centres = c.centre_shift(svc, flt, before, after, "city")
    return HTMLResponse(render_report_map(svc.boundaries, npa, wards, hs, centres,
                                          f"{before} vs {after}"))
