"""Hotspot endpoints: KDE surfaces, Gi*, top-N, concentration and time profiles."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from geo_api.services import hotspots
from geo_api.services.access import require
from geo_api.services.units import UnitSpec, rows_geojson
from geo_api.web.api.csv_safe import table_csv
from geo_api.web.api.downloads import CsvBom, named, unit_words
from geo_api.web.api.models import (
    ConcentrationResponse,
    ErrorBody,
    GiResponse,
    KDECells,
    KDEResponse,
    TimeProfileResponse,
    TopResponse,
)
from geo_api.web.api.params import (
    FilterDep,
    HeavySlot,
    Limit,
    ServiceDep,
    SignificanceDep,
    StudyArea,
    units_param,
)
from geo_api.web.api.shared import (
    GEOJSON_FORMAT,
    TABLE_FORMATS,
    CellFormat,
    GeoJSONResponse,
    Responses,
    TableFormat,
    declare_properties,
)
from geo_api.web.auth import PUBLIC, audit_note, caller, disclosure

router = APIRouter(tags=["hotspots"], dependencies=[HeavySlot])
ERRORS: Responses = {422: {"model": ErrorBody}}
H3Units = Annotated[UnitSpec, Depends(units_param("h3"))]


@router.get("/hotspots/kde", dependencies=[PUBLIC], response_model=KDEResponse | KDECells,
            operation_id="getKde",
            responses={**ERRORS, 200: {"content": {"application/json": {},
                                                   "application/geo+json": {}},
                                       "description": "grid (JSON) or cells (GeoJSON, "
                                                      "f=geojson)"}},
            summary="Kernel density surface (offences per km^2) on a metric grid")
def kde(request: Request, svc: ServiceDep, flt: FilterDep,
        bandwidth_m: Annotated[float | None, Query(ge=10, le=5000, description="Bandwidth, "
                                                   "metres; default: ArcGIS rule")] = None,
        cell_size_m: Annotated[float, Query(ge=10, le=2000, description="Raster cell size, "
                                            "metres")] = 50,
        kernel: Literal["quartic", "gaussian"] = "quartic",
        study_area: StudyArea = "city",
        f: Annotated[Literal["grid", "geojson"], Query(description="grid: raster-like JSON; "
                                                       "geojson: cell polygons (lon/lat)")] = "grid",
        min_share_of_max: Annotated[float, Query(ge=0, le=1, description="geojson: only cells "
                                                 "at or above this share of the maximum")] = 0.01,
        ):
    """Kernel density of matching offences in offences per km^2 on an EPSG:27700 grid
    (quartic: exact; gaussian: FFT with linear binning). `f=geojson` returns the cells at or
    above `min_share_of_max` as lon/lat polygons for maps."""
    policy = disclosure(request)  # public: defaults raised to the floors (explicit values
    if policy is not None and "cell_size_m" not in request.query_params:  # below: 403)
        cell_size_m = max(cell_size_m, policy.min_kde_cell_m)
    surface, meta = hotspots.kde(svc, flt, bandwidth_m=bandwidth_m, cell_size_m=cell_size_m,
                                 kernel=kernel, study_area=study_area,
                                 as_geojson=f == "geojson", min_share_of_max=min_share_of_max,
                                 min_bandwidth_m=policy.min_bandwidth_m if policy else 0.0)
    if f == "geojson":  # a FeatureCollection (a format: a dict) with the meta
        declare_properties(request, "kde")
        return named(GeoJSONResponse(KDECells(**surface, meta=meta).model_dump(mode="json")),
                     "hotspots_kde", meta, f"{kernel}-{cell_size_m:g}m")
    return {"meta": meta, "grid": surface}  # the grid: a KdeGrid


@router.get("/hotspots/gi", dependencies=[PUBLIC], response_model=GiResponse, operation_id="getGiStar",
            responses={**ERRORS, **GEOJSON_FORMAT},
            summary="Getis-Ord Gi* hot and cold spots on H3 cells, a fishnet or polygons")
def gi(svc: ServiceDep, flt: FilterDep, units: H3Units, sig: SignificanceDep,
       only_significant: bool = False, f: CellFormat = "json"):
    """Getis-Ord Gi* (binary weights, the unit itself included) on H3 cells, a fishnet or a
    polygon layer, with conditional-randomisation p-values (`permutations`, `seed`) or
    analytic ones, Benjamini-Hochberg FDR at each level (default), and labels hot/cold
    90/95/99%. `meta.min_attainable_p` says how small a p-value the permutations can give.
    Undefined z (e.g. four mutually adjacent NPAs) comes back as null with a reason.
    `f=geojson`: the cells as lon/lat polygons with their label, count and z (for QGIS)."""
    rows, meta = hotspots.gi(svc, flt, units, sig)
    if only_significant:
        rows = [r for r in rows if r["label"].startswith(("hot", "cold"))]
    if f == "geojson":
        return named(GeoJSONResponse(rows_geojson(svc, units, rows, meta)), "hotspots_gi",
                     meta, unit_words(units))
    return {"meta": meta, "cells": rows}


@router.get("/profiles/time", dependencies=[PUBLIC], response_model=TimeProfileResponse, operation_id="getTimeProfile",
            responses=ERRORS, summary="Hour x weekday counts, night-time economy and after-school "
                                      "shares (force-export rows with times)")
def time_profile(svc: ServiceDep, flt: FilterDep) -> hotspots.TimeProfile:
    """Hour-of-day by weekday counts, and the night-time economy (22:00-05:00) and
    after-school (15:00-19:00) shares. Needs force-export rows: police.uk has no times."""
    return hotspots.time_profile(svc, flt)


@router.get("/stats/top", dependencies=[PUBLIC, CsvBom], response_model=TopResponse, operation_id="getTopAreas",
            responses={**ERRORS, **TABLE_FORMATS}, summary="The areas, cells or map points with most offences, ranked")
def top(request: Request, svc: ServiceDep, flt: FilterDep,
        units: Annotated[UnitSpec | None, Depends(units_param("ward", with_location=True))],
        limit: Limit = 8, f: TableFormat = "json"):
    """The `limit` areas, cells or police.uk map points (`grid=location`) with most matching
    offences, with share and cumulative share. `grid=location` is a list of offence
    locations: analysts only (audited as point-level). `f=csv`: the table as a download."""
    if units is None:
        require(caller(request), "analyst")
    ranked = hotspots.top(svc, flt, units, limit)
    audit_note(request, rows=len(ranked.top),
               point_level=units is None)
    if f == "csv":
        what = f"top-{'locations' if units is None else units.grid}"
        return table_csv(request, ranked.top, "top", what, ranked.meta)
    return ranked


@router.get("/stats/concentration", dependencies=[PUBLIC], response_model=ConcentrationResponse,
            operation_id="getConcentration", responses=ERRORS,
            summary="How concentrated offences are: Lorenz curve, Gini, share in top x% of area")
def concentration(svc: ServiceDep, flt: FilterDep, units: H3Units) -> hotspots.Concentration:
    """How concentrated offences are in space: units ranked by density, Lorenz curve, Gini,
    and the share of offences in the densest 1/5/10/25% of the study area."""
    return hotspots.concentration_of(svc, flt, units)
