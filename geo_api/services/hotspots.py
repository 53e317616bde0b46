"""Hotspot adapters: fetch points/cells from the store, run the pure core, shape results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
import shapely.geometry

from geo_api.analysis.getis_ord import gi_star
from geo_api.analysis.grids import (
    distance_band,
    fishnet,
    fishnet_counts,
    h3_adjacency,
    h3_counts,
    h3_study_cells,
)
from geo_api.analysis.kde import arcgis_bandwidth_m, kde_grid
from geo_api.analysis.profiles import concentration, hour_day_matrix, top_n, window_share
from geo_api.crs import metric_to_lonlat
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter
from geo_api.services.service import Service

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
        kernel: str, study_area: str, as_geojson: bool = False,
        min_share_of_max: float = 0.01) -> tuple[dict, dict]:
    """KDE surface over the study area's bounding box; returns (grid dict, meta)."""
    area = study_area_m(svc, study_area)
    x, y = points_in(svc, flt, area)
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
    if as_geojson:
        return kde_geojson(g, min_share_of_max), meta_for(svc, flt, g, rule, study_area, len(x))
    grid = {"crs": "EPSG:27700", "x0_m": g.x0_m, "y0_m": g.y0_m, "cell_size_m": g.cell_size_m,
            "nx": dens.shape[1], "ny": dens.shape[0], "row_order": "south to north",
            "units": "offences per km^2", "max": float(dens.max()),
            "values": np.round(dens, 4).tolist()}
    return grid, meta_for(svc, flt, g, rule, study_area, len(x))


def meta_for(svc: Service, flt: OffenceFilter, g, rule: str, study_area: str, n: int) -> dict:
    return svc.meta(flt, analysis="kde", kernel=g.kernel, bandwidth_m=g.bandwidth_m,
                    bandwidth_rule=rule, cell_size_m=g.cell_size_m, study_area=study_area,
                    study_area_definition=STUDY_AREAS[study_area], n_points=n,
                    method=g.params["method"], units="offences per km^2")


def kde_geojson(g, min_share_of_max: float) -> dict:
    """Cells with density >= ``min_share_of_max`` x max as lon/lat polygons (RFC 7946)."""
    dens = g.density_per_km2
    top = dens.max()
    iy, ix = np.nonzero(dens >= min_share_of_max * top) if top > 0 else (np.array([], int),) * 2
    x0 = g.x0_m + ix * g.cell_size_m
    y0 = g.y0_m + iy * g.cell_size_m
    boxes = shapely.box(x0, y0, x0 + g.cell_size_m, y0 + g.cell_size_m)
    coords = shapely.get_coordinates(boxes)
    lon, lat = metric_to_lonlat(coords[:, 0], coords[:, 1])
    boxes = shapely.set_coordinates(boxes, np.round(np.column_stack([lon, lat]), 6))
    feats = [{"type": "Feature", "geometry": shapely.geometry.mapping(b),
              "properties": {"density_per_km2": round(float(d), 3),
                             "share_of_max": round(float(d / top), 4)}}
             for b, d in zip(boxes, dens[iy, ix])]
    return {"type": "FeatureCollection", "features": feats}


@dataclass
class Units:
    """Analysis units of a grid or layer: ids, areas and a counter; adjacency built lazily.

    Build once per request and count per filter, so comparisons and monthly series do not
    rebuild cells or weights for every period.
    """

    ids: list[str]
    area_km2: np.ndarray
    definition: dict
    _count: Callable[[OffenceFilter], np.ndarray]
    _adjacency: Callable[[], sp.csr_matrix]

    def counts(self, flt: OffenceFilter) -> np.ndarray:
        """Offences per unit for ``flt`` (zeros included)."""
        return self._count(flt)

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        return self._adjacency()


def analysis_units(svc: Service, grid: str, study_area: str, resolution: int = 9, k: int = 1,
                   cell_size_m: float = 250, band_m: float | None = None) -> Units:
    """Units for ``grid``: "h3" (k-ring), "fishnet" (distance band, default 1.5 x cell: 8
    neighbours) or a polygon layer name (queen contiguity; the layer's extent is the study
    area)."""
    if grid == "h3":
        if resolution not in (7, 8, 9, 10):
            raise InvalidParameter("resolution must be 7, 8, 9 or 10 (the stored H3 resolutions)")
        cells = h3_study_cells(_to_lonlat(study_area_m(svc, study_area)), resolution)
        return Units(
            ids=[f"{int(c):x}" for c in cells.tolist()],
            area_km2=np.full(len(cells), h3.average_hexagon_area(resolution, unit="km^2")),
            definition={"grid": "h3", "resolution": resolution, "k_ring": k,
                        "study_area_definition": f"H3 cells whose centre lies in "
                                                 f"{STUDY_AREAS[study_area]}; cells without "
                                                 "offences count as zeros"},
            _count=lambda f: h3_counts(cells, svc.store.h3_cells(resolution, f)),
            _adjacency=lambda: h3_adjacency(cells, k))
    if grid == "fishnet":
        band = band_m or 1.5 * cell_size_m
        cx, cy = fishnet(study_area_m(svc, study_area), cell_size_m)
        if len(cx) > 200_000:
            raise InvalidParameter("cell_size_m too small for this study area (over 200,000 cells)")

        def count(f):
            pts = svc.store.points(f)
            return fishnet_counts(cx, cy, cell_size_m, pts["x_m"].to_numpy(), pts["y_m"].to_numpy())

        return Units(
            ids=[f"{int(a)}_{int(b)}" for a, b in zip(cx, cy)],
            area_km2=np.full(len(cx), (cell_size_m / 1000) ** 2),
            definition={"grid": "fishnet", "cell_size_m": cell_size_m, "band_m": band,
                        "study_area_definition": f"square cells whose centre lies in "
                                                 f"{STUDY_AREAS[study_area]} (ids are centre "
                                                 "easting_northing); zeros included"},
            _count=count, _adjacency=lambda: distance_band(cx, cy, band))
    layer = svc.boundaries.get(grid)
    codes = layer.gdf["code"]

    def count(f):
        c, _ = svc.store.area_counts(grid, f)
        return codes.map(c.set_index("code")["count"]).fillna(0).to_numpy(float)

    def queen():
        from libpysal.weights import Queen

        return Queen.from_dataframe(layer.gdf, use_index=False, silence_warnings=True).sparse

    return Units(ids=codes.tolist(), area_km2=layer.gdf.area.to_numpy() / 1e6,
                 definition={"grid": grid, "contiguity": "queen",
                             "study_area_definition": f"all {len(codes)} areas of layer {grid}; "
                                                      "areas without offences count as zeros"},
                 _count=count, _adjacency=queen)


def points_in(svc: Service, flt: OffenceFilter, area_m: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """x_m, y_m (EPSG:27700) of matching offences inside ``area_m``."""
    pts = svc.store.points(flt)
    x, y = pts["x_m"].to_numpy(), pts["y_m"].to_numpy()
    inside = shapely.contains_xy(area_m, x, y)
    return x[inside], y[inside]


def gi(svc: Service, flt: OffenceFilter, grid: str, permutations: int, seed: int,
       fdr: float | None, study_area: str, **grid_args) -> tuple[list[dict], dict]:
    """Gi* on a grid or polygon layer (zeros included); returns (rows, meta)."""
    u = analysis_units(svc, grid, study_area, **grid_args)
    ids, y, definition = u.ids, u.counts(flt), u.definition
    if y.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    r = gi_star(y, u.adjacency, permutations=permutations, seed=seed, fdr=fdr,
                inference="permutation" if permutations else "analytic")
    rows = [{"id": i, "count": int(n), "gi_z": float(z), "p_two_sided": float(p),
             "p_norm_two_sided": float(pn), "label": lab}
            for i, n, z, p, pn, lab in zip(ids, y, r.z, r.p_used, r.p_norm_two_sided, r.label)]
    meta = svc.meta(flt, analysis="gi_star", study_area=study_area,
                    n_offences_in_units=int(y.sum()), **definition, **r.params)
    return rows, meta


def time_profile(svc: Service, flt: OffenceFilter) -> dict:
    """Hour x weekday matrix, night-time economy and after-school shares (timed rows only)."""
    t = svc.store.values(("occurred_at",), flt)["occurred_at"]
    n_all = len(t)
    t = t.dropna()
    nte = window_share(t, 22, 5)
    school = window_share(t, 15, 19)
    m = hour_day_matrix(t)
    caveats = [] if len(t) else [("no matching offences have a time of day: police.uk rows are "
                                  "dated to the month; load a force export for time profiles")]
    return {"meta": svc.meta(flt, analysis="time_profile", n_matched=n_all, n_with_time=len(t),
                             extra_caveats=caveats),
            "hour_by_weekday": {"hours": list(range(24)), "days": list(m.columns),
                                "counts": m.values.tolist()},
            "night_time_economy": {"window": "22:00-05:00", "count": nte[0],
                                   "share": nte[2] if nte[1] else None},
            "after_school": {"window": "15:00-19:00", "count": school[0],
                             "share": school[2] if school[1] else None}}


def top(svc: Service, flt: OffenceFilter, grid: str, n: int, study_area: str, **grid_args) -> dict:
    """Top-N units by count for any layer or grid, or ``grid="location"`` (map points)."""
    if grid == "location":
        t = svc.store.top_locations(flt, n)
        totals = svc.store.area_counts("lad", flt)[1]
        total = totals["n_matched"] - totals["n_no_location"]
        t["code"] = t["lon"].map("{:.6f}".format) + "," + t["lat"].map("{:.6f}".format)
        t["rank"] = np.arange(1, len(t) + 1)
        t["share"] = t["count"] / total if total else np.nan
        t["cumulative_share"] = t["share"].cumsum()
        return {"meta": svc.meta(flt, analysis="top_n", n=n, grid="location",
                                 definition="offences at the same location text and point "
                                            "(police.uk anonymised map points); share of all "
                                            "located offences matching the filter"),
                "top": t.drop(columns=["lon", "lat"]).to_dict("records")}
    u = analysis_units(svc, grid, study_area, **grid_args)
    definition = u.definition
    t = top_n(pd.DataFrame({"code": u.ids, "count": u.counts(flt).astype(int)}), n)
    names = {}
    if grid in svc.boundaries.layers:
        names = svc.boundaries.get(grid).gdf.set_index("code")["name"].to_dict()
    t["name"] = t["code"].map(names).fillna(t["code"])
    return {"meta": svc.meta(flt, analysis="top_n", n=n, study_area=study_area, **definition),
            "top": t.to_dict("records")}


def concentration_of(svc: Service, flt: OffenceFilter, grid: str, study_area: str,
                     **grid_args) -> dict:
    """Lorenz curve / Gini and share of offences in the densest x% of area."""
    u = analysis_units(svc, grid, study_area, **grid_args)
    y = u.counts(flt)
    if y.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    return {"meta": svc.meta(flt, analysis="concentration", study_area=study_area,
                             **u.definition), **concentration(y, u.area_km2)}
