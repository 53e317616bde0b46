"""Period comparison endpoints: areas, WDQ, hotspot change, dual KDE, centre shift, report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from geo_api.data.store.base import OffenceFilter
from geo_api.services import comparison
from geo_api.services.comparison import (
    CentreShift,
    Displacement,
    EmergingHotspots,
    KdeDifference,
    centre_shift,
    compare_areas,
    hotspots_change,
    kde_difference,
    periods,
)
from geo_api.services.frames import records
from geo_api.services.report import DisplacementFindings, displacement_report, report_map_layers
from geo_api.services.service import Service
from geo_api.services.units import UnitSpec, rows_geojson
from geo_api.web.api.csv_safe import table_csv
from geo_api.web.api.downloads import CsvBom, named, unit_words
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
from geo_api.web.api.params import (
    After,
    Alpha,
    Before,
    Fdr,
    FilterDep,
    HeavySlot,
    Layer,
    MapAfter,
    MapBefore,
    RawFilterDep,
    ServiceDep,
    SignificanceAtDep,
    StudyArea,
    units_param,
)
from geo_api.web.api.shared import (
    GEOJSON_FORMAT,
    HTML_200,
    TABLE_FORMATS,
    CellFormat,
    GeoJSONResponse,
    Responses,
    TableFormat,
    as_period,
    map_pair,
    page_controls,
)
from geo_api.web.auth import PUBLIC, disclosure
from geo_api.web.maps.layers import GROUP_WORDS, period_label, protected_report, protected_words
from geo_api.web.maps.report import render_report_map

router = APIRouter(tags=["comparison"], dependencies=[HeavySlot])
ERRORS: Responses = {422: {"model": ErrorBody}}
Codes = Annotated[list[str], Query(description="Area codes of `layer`; repeatable")]


def _periods(svc: Service, flt: OffenceFilter, before: str, after: str
             ) -> tuple[OffenceFilter, OffenceFilter]:
    return periods(svc, flt, before, after)


@router.get("/compare/areas", dependencies=[PUBLIC, CsvBom], response_model=CompareAreasResponse, operation_id="compareAreas",
            responses={**ERRORS, **TABLE_FORMATS}, summary="Per-area change between two periods, adjusted for the "
                                      "overall change (exact test, FDR)")
def areas(request: Request, svc: ServiceDep, flt: RawFilterDep, before: Before, after: After,
          units: Annotated[UnitSpec, Depends(units_param("npa"))], alpha: Alpha = 0.05,
          fdr: Fdr = True, f: TableFormat = "json"):
    """Counts in each area (NPA, ward, sector, LSOA, H3 cell or fishnet cell) in both periods,
    each period's share with a Wilson 95% CI, the share change with a Newcombe 95% CI, and the
    change relative to the overall change with an exact conditional binomial test
    (Benjamini-Hochberg across areas by default). `direction` says in words whether an area
    rose or fell beyond the overall trend. `f=csv`: the table as a download."""

    table, meta = compare_areas(svc, *_periods(svc, flt, before, after), units, alpha, fdr)
    if f == "csv":
        return table_csv(request, records(table), "areas", f"change-by-{units.grid}", meta)
    return {"meta": meta, "areas": records(table)}


@router.get("/compare/wdq", dependencies=[PUBLIC], response_model=WdqResponse, operation_id="compareWdq",
            responses=ERRORS, summary="Weighted displacement quotient (Bowers & Johnson 2003), "
                                      "read only when the target changed measurably")
def wdq(svc: ServiceDep, flt: RawFilterDep, before: Before, after: After, layer: Layer = "npa",
        target: Codes = ["NC"], displacement: Codes = ["NE", "NW"],  # noqa: B006
        control: Codes = ["NS"], alpha: Alpha = 0.05) -> Displacement:  # noqa: B006
    """Weighted displacement quotient for named areas of one polygon layer (default: the
    city centre NC as target, East and West NE+NW as displacement areas, South NS as control).
    The WDQ is only interpretable when the target changed measurably relative to the control
    (Fisher's exact test at `alpha`) and improved; otherwise `interpretation` says "not
    interpretable". `flags` warns when the control itself moved against the city. Inputs and
    tests are returned so the quotient can be checked by hand."""

    return comparison.displacement(svc, *_periods(svc, flt, before, after), layer=layer,
               target=target, displacement_areas=displacement, control=control, alpha=alpha)


@router.get("/compare/hotspots", dependencies=[PUBLIC], response_model=HotspotChangeResponse, operation_id="compareHotspots",
            responses={**ERRORS, **GEOJSON_FORMAT},
            summary="Gi* in both periods: new, persistent, no longer hot")
def hotspots(svc: ServiceDep, flt: RawFilterDep, before: Before, after: After,
             units: Annotated[UnitSpec, Depends(units_param("h3"))],
             sig: SignificanceAtDep, f: CellFormat = "json"):
    """Gi* in the before and after periods on the same units and weights; a unit is hot when
    it is a Gi* hot spot at `alpha` (default 95% confidence) after Benjamini-Hochberg FDR
    (default; `fdr=false` for per-unit p-values). Each unit is classed new / persistent / no
    longer hot / not hot, with the Jaccard similarity of the hot sets. `meta.hot_definition`
    says which rule was used. `f=geojson`: the cells as lon/lat polygons with their class
    and counts."""

    change = hotspots_change(svc, *_periods(svc, flt, before, after), units, sig)
    if f == "geojson":
        return named(GeoJSONResponse(rows_geojson(svc, units, change.cells, change.meta)),
                     "hotspot-change_gi", change.meta, unit_words(units))
    return change


@router.get("/compare/kde", dependencies=[PUBLIC], response_model=KDEDifferenceResponse, operation_id="compareKde",
            responses=ERRORS, summary="Dual KDE: difference surface after - before")
def kde(svc: ServiceDep, flt: RawFilterDep, before: Before, after: After,
        bandwidth_m: Annotated[float, Query(ge=10, le=5000)] = 300,
        cell_size_m: Annotated[float, Query(ge=10, le=2000)] = 100,
        study_area: StudyArea = "city") -> KdeDifference:
    """Quartic KDE for both periods on the same EPSG:27700 grid and the difference surface,
    as offences per km^2 and as share of each period's offences per km^2 (which adjusts for an
    overall rise or fall)."""

    return kde_difference(svc, *_periods(svc, flt, before, after), bandwidth_m=bandwidth_m,
                          cell_size_m=cell_size_m, study_area=study_area)


@router.get("/compare/centre", dependencies=[PUBLIC], response_model=CentreShiftResponse, operation_id="compareCentre",
            responses=ERRORS, summary="Mean centre and standard deviational ellipse per period, "
                                      "and the shift")
def centre(svc: ServiceDep, flt: RawFilterDep, before: Before, after: After,
           study_area: StudyArea = "city") -> CentreShift:
    """Mean centre and standard deviational ellipse of each period's offences (EPSG:27700
    metres) and how far, and in which direction, the centre moved."""

    return centre_shift(svc, *_periods(svc, flt, before, after), study_area)


@router.get("/compare/report", dependencies=[PUBLIC], response_model=DisplacementReport, operation_id="displacementReport",
            responses=ERRORS, summary="One-call displacement report: NPA change, WDQ centre -> "
                                      "East/West, centre shift, H3 hotspot change")
def report(request: Request, svc: ServiceDep, flt: RawFilterDep, before: Before, after: After,
           sig: SignificanceAtDep) -> DisplacementFindings:
    """One call for the lockdown question: NPA share change, WDQ centre -> East/West with
    South as control (with its readability tests and flags), centre shift, the H3 r9
    hotspot change summary (hot at `alpha`, FDR by default), and `summary_words`: the
    answer in plain words, as the report map states it."""

    return protected_words(displacement_report(svc, *_periods(svc, flt, before, after), sig),
                           disclosure(request))


@router.get("/hotspots/emerging", dependencies=[PUBLIC], response_model=EmergingResponse, operation_id="emergingHotspots",
            responses=ERRORS, summary="Emerging hot spots: monthly space-time Gi* + Mann-Kendall "
                                      "trend, ArcGIS-style categories")
def emerging(svc: ServiceDep, flt: FilterDep,
             units: Annotated[UnitSpec, Depends(units_param("h3"))], sig: SignificanceAtDep,
             time_steps: Annotated[int, Query(ge=0, le=3, description="Months of temporal "
                                              "neighbourhood (looking back)")] = 1
             ) -> EmergingHotspots:
    """Monthly space-time Gi* (neighbours in space and `time_steps` earlier months) and a
    Mann-Kendall trend per unit, classed as new, consecutive, intensifying, persistent,
    diminishing, sporadic, oscillating or historical hot/cold spots (rules in
    `geo_api/analysis/emerging.py`). Bins are significant at `alpha` (any value below 0.5),
    Benjamini-Hochberg across bins by default. Requested months without data are left out
    and named in `meta.warnings`."""

    return comparison.emerging(svc, flt, units, sig, time_steps)


@router.get("/compare/report/map", dependencies=[PUBLIC], response_class=HTMLResponse, operation_id="displacementMap",
            responses={**ERRORS, **HTML_200},
            summary="Displacement report as a map: NPA/ward share change, hotspot change, "
                    "centre shift (aggregates only)")
def report_map(request: Request, svc: ServiceDep, flt: RawFilterDep, sig: SignificanceAtDep,
               before: MapBefore = None, after: MapAfter = None) -> HTMLResponse:
    """A map of the displacement report for non-analysts: NPA and ward share change, hot
    spots new / persistent / no longer hot, and both mean centres. Aggregates only: no offence
    points are drawn."""

    fb, fa = _periods(svc, flt, *map_pair(request, svc, before, after))
    title = f"{period_label(fb)} vs {period_label(fa)}"

    layers = protected_report(report_map_layers(svc, fb, fa, sig), disclosure(request))
    return HTMLResponse(render_report_map(
        svc.boundaries, layers, title=title, group_words=GROUP_WORDS.get(fb.group, fb.group),
        controls=page_controls(request, svc, flt, pair=(as_period(fb), as_period(fa)))))
