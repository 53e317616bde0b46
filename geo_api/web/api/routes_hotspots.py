"""Hotspot endpoints: KDE surfaces and Gi* on H3 cells."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from geo_api.web.api.models import (
    ConcentrationResponse,
    ErrorBody,
    GiResponse,
    KDEResponse,
    TimeProfileResponse,
    TopResponse,
)
from geo_api.web.api.routes import FilterDep, ServiceDep

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
        study_area: StudyArea = "city",
        f: Annotated[Literal["grid", "geojson"], Query(description="grid: raster-like JSON; "
                                                       "geojson: cell polygons (lon/lat)")] = "grid",
        min_share_of_max: Annotated[float, Query(ge=0, le=1, description="geojson: only cells "
                                                 "at or above this share of the maximum")] = 0.01,
        ) -> JSONResponse:
    """Kernel density of matching offences in offences per km^2 on an EPSG:27700 grid
    (quartic: exact; gaussian: FFT with linear binning). `f=geojson` returns the cells at or
    above `min_share_of_max` as lon/lat polygons for maps."""
    from geo_api.services.hotspots import kde as run

    body, meta = run(svc, flt, bandwidth_m, cell_size_m, kernel, study_area, f == "geojson",
                     min_share_of_max)
    if f == "geojson":
        return JSONResponse({**body, "meta": meta}, media_type="application/geo+json")
    return JSONResponse({"meta": meta, "grid": body})


Grid = Annotated[Literal["h3", "fishnet", "npa", "ward", "sector", "lsoa", "lad", "oa"],
                 Query(description="h3 (k-ring), fishnet (distance band) or a polygon layer "
                                   "(queen contiguity)")]
Resolution = Annotated[int, Query(ge=7, le=10, description="H3 resolution (grid=h3)")]
CellSize = Annotated[float, Query(ge=50, le=5000, description="Fishnet cell size, metres")]


def grid_args(resolution: Resolution = 9,
              k: Annotated[int, Query(ge=1, le=3, description="H3 k-ring neighbours")] = 1,
              cell_size_m: CellSize = 250,
              band_m: Annotated[float | None, Query(gt=0, le=10000, description="Fishnet distance "
                                                    "band, metres (default 1.5 x cell)")] = None) -> dict:
    return {"resolution": resolution, "k": k, "cell_size_m": cell_size_m, "band_m": band_m}


GridArgs = Annotated[dict, Depends(grid_args)]


@router.get("/hotspots/gi", response_model=GiResponse, operation_id="getGiStar", responses=ERRORS,
            summary="Getis-Ord Gi* hot and cold spots on H3 cells, a fishnet or polygons")
def gi(svc: ServiceDep, flt: FilterDep, args: GridArgs, grid: Grid = "h3",
       permutations: Annotated[int, Query(ge=0, le=9999, description="0 = analytic")] = 999,
       seed: int = 12345,
       fdr: Annotated[float | None, Query(gt=0, lt=1, description="Benjamini-Hochberg alpha")] = None,
       study_area: StudyArea = "city",
       only_significant: bool = False) -> JSONResponse:
    """Getis-Ord Gi* (binary weights, the unit itself included) on H3 cells, a fishnet or a
    polygon layer, with conditional-randomisation p-values (`permutations`, `seed`) or
    analytic ones, optional Benjamini-Hochberg FDR, and labels hot/cold 90/95/99%."""
    from geo_api.services.hotspots import gi as run

    rows, meta = run(svc, flt, grid, permutations, seed, fdr, study_area, **args)
    if only_significant:
        rows = [r for r in rows if r["label"] != "not significant"]
    return JSONResponse({"meta": meta, "cells": rows})


@router.get("/profiles/time", response_model=TimeProfileResponse, operation_id="getTimeProfile",
            responses=ERRORS, summary="Hour x weekday counts, night-time economy and after-school "
                                      "shares (force-export rows with times)")
def time_profile(svc: ServiceDep, flt: FilterDep) -> JSONResponse:
    """Hour-of-day by weekday counts, and the night-time economy (22:00-05:00) and
    after-school (15:00-19:00) shares. Needs force-export rows: police.uk has no times."""
    from geo_api.services.hotspots import time_profile as run

    return JSONResponse(run(svc, flt))


@router.get("/stats/top", response_model=TopResponse, operation_id="getTopAreas",
            responses=ERRORS, summary="The N areas or cells with most offences, ranked")
def top(svc: ServiceDep, flt: FilterDep, args: GridArgs,
        grid: Annotated[Literal["location", "h3", "fishnet", "npa", "ward", "sector", "lsoa", "lad",
                                "oa"], Query(description="location = police.uk map points")] = "ward",
        n: Annotated[int, Query(ge=1, le=500)] = 8, study_area: StudyArea = "city") -> JSONResponse:
    """The `n` areas, cells or police.uk map points with most matching offences, with share
    and cumulative share."""
    from geo_api.services.hotspots import top as run

    return JSONResponse(run(svc, flt, grid, n, study_area, **args))


@router.get("/stats/concentration", response_model=ConcentrationResponse,
            operation_id="getConcentration", responses=ERRORS,
            summary="How concentrated offences are: Lorenz curve, Gini, share in top x% of area")
def concentration(svc: ServiceDep, flt: FilterDep, args: GridArgs, grid: Grid = "h3",
                  study_area: StudyArea = "city") -> JSONResponse:
    """How concentrated offences are in space: units ranked by density, Lorenz curve, Gini,
    and the share of offences in the densest 1/5/10/25% of the study area."""
    from geo_api.services.hotspots import concentration_of as run

    return JSONResponse(run(svc, flt, grid, study_area, **args))
