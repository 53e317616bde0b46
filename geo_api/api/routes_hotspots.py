"""Hotspot endpoints: KDE surfaces and Gi* on H3 cells."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from geo_api.api.models import ErrorBody, GiResponse, KDEResponse
from geo_api.api.routes import FilterDep, ServiceDep

router = APIRouter(tags=["hotspots"])
ERRORS = {409: {"model": ErrorBody}, 422: {"model": ErrorBody}}
StudyArea = Annotated[Literal["city", "force"], Query(description="city: Leicester district; "
                                                      "force: all nine districts")]


@router.get("/hotspots/kde", response_model=KDEResponse, operation_id="getKde", responses=ERRORS,
            summary="Kernel density surface (offences per km^2) on a metric grid")
def kde(svc: ServiceDep, flt: FilterDep,
        bandwidth_m: Annotated[float | None, Query(gt=0, le=5000, description="Bandwidth, metres; "
                                                   "default: ArcGIS rule")] = None,
        cell_size_m: Annotated[float, Query(ge=10, le=2000, description="Cell size, metres")] = 50,
        kernel: Literal["quartic", "gaussian"] = "quartic",
        study_area: StudyArea = "city") -> JSONResponse:
    from geo_api.hotspots import kde as run

    grid, meta = run(svc, flt, bandwidth_m, cell_size_m, kernel, study_area)
    return JSONResponse({"meta": meta, "grid": grid})


@router.get("/hotspots/gi", response_model=GiResponse, operation_id="getGiStar", responses=ERRORS,
            summary="Getis-Ord Gi* hot and cold spots on H3 cells")
def gi(svc: ServiceDep, flt: FilterDep,
       resolution: Annotated[int, Query(ge=7, le=10, description="H3 resolution")] = 9,
       k: Annotated[int, Query(ge=1, le=3, description="k-ring neighbours")] = 1,
       permutations: Annotated[int, Query(ge=0, le=9999, description="0 = analytic")] = 999,
       seed: int = 12345,
       fdr: Annotated[float | None, Query(gt=0, lt=1, description="Benjamini-Hochberg alpha")] = None,
       study_area: StudyArea = "city",
       only_significant: bool = False) -> JSONResponse:
    from geo_api.hotspots import gi_h3

    rows, meta, _ = gi_h3(svc, flt, resolution, k, permutations, seed, fdr, study_area)
    if only_significant:
        rows = [r for r in rows if r["label"] != "not significant"]
    return JSONResponse({"meta": meta, "cells": rows})
