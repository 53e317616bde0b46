"""Hotspot adapters: fetch points/cells from the store, run the pure core, shape results."""

from __future__ import annotations

import numpy as np
import shapely

from geo_api.analysis.getis_ord import gi_star
from geo_api.analysis.grids import h3_adjacency, h3_counts, h3_polygons_lonlat, h3_study_cells
from geo_api.analysis.kde import arcgis_bandwidth_m, kde_grid
from geo_api.crs import metric_to_lonlat
from geo_api.errors import InvalidParameter
from geo_api.service import Service
from geo_api.store.base import OffenceFilter

CITY_LAD = "E06000016"
STUDY_AREAS = {"city": "Leicester city (district E06000016)", "force": "the force area (9 districts)"}


def study_area_m(svc: Service, name: str) -> shapely.Geometry:
    """Study area polygon in EPSG:27700."""
    lad = svc.boundaries.get("lad").gdf
    if name == "city":
        return shapely.union_all(lad.loc[lad["code"] == CITY_LAD].geometry.values)
    if name == "force":
        return shapely.union_all(lad.geometry.values)
    raise InvalidParameter(f"study_area must be one of {sorted(STUDY_AREAS)}")


def _to_lonlat(geom_m: shapely.Geometry) -> shapely.Geometry:
    coords = shapely.get_coordinates(geom_m)
    lon, lat = metric_to_lonlat(coords[:, 0], coords[:, 1])
    return shapely.set_coordinates(geom_m, np.column_stack([lon, lat]))


def kde(svc: Service, flt: OffenceFilter, bandwidth_m: float | None, cell_size_m: float,
        kernel: str, study_area: str) -> tuple[dict, dict]:
    """KDE surface over the study area's bounding box; returns (grid dict, meta)."""
    area = study_area_m(svc, study_area)
    pts = svc.store.points(flt)
    x, y = pts["x_m"].to_numpy(), pts["y_m"].to_numpy()
    inside = shapely.contains_xy(area, x, y)
    x, y = x[inside], y[inside]
    if len(x) < 2:
        raise InvalidParameter("fewer than two offences match the filter in the study area")
    rule = "explicit"
    if bandwidth_m is None:
        bandwidth_m, rule = round(arcgis_bandwidth_m(x, y), 1), "ArcGIS default (spatial Silverman)"
    xmin, ymin, xmax, ymax = area.bounds
    if (xmax - xmin) * (ymax - ymin) / cell_size_m**2 > 1_000_000:
        raise InvalidParameter("cell_size_m too small for this study area (over 1,000,000 cells)")
    try:
        g = kde_grid(x, y, bandwidth_m, cell_size_m, kernel, extent_m=area.bounds)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    dens = g.density_per_km2
    grid = {"crs": "EPSG:27700", "x0_m": g.x0_m, "y0_m": g.y0_m, "cell_size_m": g.cell_size_m,
            "nx": dens.shape[1], "ny": dens.shape[0], "row_order": "south to north",
            "units": "offences per km^2", "max": float(dens.max()),
            "values": np.round(dens, 4).tolist()}
    meta = svc.meta(flt, analysis="kde", kernel=kernel, bandwidth_m=bandwidth_m,
                    bandwidth_rule=rule, cell_size_m=cell_size_m, study_area=study_area,
                    study_area_definition=STUDY_AREAS[study_area], n_points=len(x),
                    method=g.params["method"])
    return grid, meta


def gi_h3(svc: Service, flt: OffenceFilter, resolution: int, k: int, permutations: int,
          seed: int, fdr: float | None, study_area: str) -> tuple[list[dict], dict, list]:
    """Gi* on H3 cells covering the study area (zeros included); returns (rows, meta, polys)."""
    if resolution not in (7, 8, 9, 10):
        raise InvalidParameter("resolution must be 7, 8, 9 or 10 (the stored H3 resolutions)")
    cells = h3_study_cells(_to_lonlat(study_area_m(svc, study_area)), resolution)
    y = h3_counts(cells, svc.store.h3_cells(resolution, flt))
    if y.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    r = gi_star(y, h3_adjacency(cells, k), permutations=permutations, seed=seed, fdr=fdr,
                inference="permutation" if permutations else "analytic")
    rows = [{"h3": f"{int(c):x}", "count": int(n), "gi_z": float(z), "p_two_sided": float(p),
             "p_norm_two_sided": float(pn), "label": lab}
            for c, n, z, p, pn, lab in zip(cells.tolist(), y, r.z, r.p_used, r.p_norm_two_sided,
                                           r.label)]
    meta = svc.meta(flt, analysis="gi_star", grid="h3", resolution=resolution, k_ring=k,
                    study_area=study_area,
                    study_area_definition=f"H3 cells whose centre lies in {STUDY_AREAS[study_area]}; "
                                          "cells without offences count as zeros",
                    n_cells=len(cells), n_offences_in_cells=int(y.sum()), **r.params)
    return rows, meta, h3_polygons_lonlat(cells)
