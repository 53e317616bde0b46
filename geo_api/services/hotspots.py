"""Hotspot use cases: fetch points/cells from the store, run the pure core, shape results."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo_api.analysis.defaults import DEFAULT_PERMUTATIONS, DEFAULT_SEED
from geo_api.analysis.getis_ord import GiStarResult, gi_star
from geo_api.analysis.kde import arcgis_bandwidth_m, kde_grid
from geo_api.analysis.places import name_places, place_label
from geo_api.analysis.profiles import concentration, hour_day_matrix, top_n, window_share
from geo_api.crs import metric_to_lonlat
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter
from geo_api.services.budget import check_gi_request, check_kde, check_permutations
from geo_api.services.disclosure import ACTIVE, min_records, published_order
from geo_api.services.service import Service
from geo_api.services.study_areas import STUDY_AREAS, study_area_m
from geo_api.services.units import UnitSpec, analysis_units, points_in, streets_in_units

MAX_KDE_CELLS = 1_000_000


@dataclass(frozen=True)
class Significance:
    """How Gi* decides significance: conditional randomisation (``permutations``, ``seed``;
    0 = analytic normal p-values), Benjamini-Hochberg ``fdr`` at each level, and the level
    ``alpha`` where a single yes/no is needed (hot spot change, emerging hot spots)."""

    permutations: int = DEFAULT_PERMUTATIONS  # BH across ~800 cells needs p-values below what 999 can give
    seed: int = DEFAULT_SEED
    fdr: bool = True
    alpha: float = 0.05

    @property
    def inference(self) -> str:
        return "permutation" if self.permutations else "analytic"


def run_gi(y: np.ndarray, adjacency, sig: Significance, svc=None) -> GiStarResult:
    """Gi* on counts with the given significance settings (within ``svc``'s work budget)."""
    if svc is not None:
        check_permutations(svc, adjacency.nnz + adjacency.shape[0], sig.permutations)
    return gi_star(y, adjacency, permutations=sig.permutations, seed=sig.seed, fdr=sig.fdr,
                   inference=sig.inference)


def gi_params(r: GiStarResult) -> dict[str, Any]:
    """Gi* parameters for ``meta`` (what ``GiParams`` in the web models declares)."""
    return {k: r.params[k] for k in ("statistic", "permutations", "seed", "fdr", "inference",
                                     "p_value", "min_attainable_p", "n_undefined")}


@dataclass(frozen=True)
class KdeGrid:
    """How dense are offences at each cell of the study area's grid (offences per km^2)?"""

    crs: str
    x0_m: float
    y0_m: float
    cell_size_m: float
    nx: int
    ny: int
    row_order: str
    units: str
    max: float
    values: list[list[float]]


def kde(svc: Service, flt: OffenceFilter, *, bandwidth_m: float | None, cell_size_m: float,
        kernel: str, study_area: str, as_geojson: bool = False, as_cells: bool = False,
        min_share_of_max: float = 0.01, min_bandwidth_m: float = 0.0
        ) -> tuple[Any, dict[str, Any]]:
    """KDE surface over the study area's bounding box; returns (grid or cells, meta): the
    grid (a ``KdeGrid``), cells of at least ``min_share_of_max`` of the peak as lon/lat
    GeoJSON (``as_geojson``) or as a GeoDataFrame in EPSG:27700 (``as_cells``).
    ``min_bandwidth_m``: a floor for the default (ArcGIS-rule) bandwidth (disclosure
    control)."""
    area = study_area_m(svc, study_area)
    x, y = points_in(svc, flt, study_area)
    if len(x) < 2:
        raise InvalidParameter("fewer than two offences match the filter in the study area")
    rule = "explicit"
    if bandwidth_m is None:
        bandwidth_m, rule = round(arcgis_bandwidth_m(x, y), 1), "ArcGIS default (spatial Silverman)"
        if bandwidth_m < min_bandwidth_m:
            bandwidth_m, rule = min_bandwidth_m, "disclosure floor (the ArcGIS default was smaller)"
    xmin, ymin, xmax, ymax = area.bounds
    n_cells = (xmax - xmin) * (ymax - ymin) / cell_size_m**2
    if n_cells > MAX_KDE_CELLS:
        raise InvalidParameter(f"cell_size_m too small for this study area (over "
                               f"{MAX_KDE_CELLS:,} cells)")

    check_kde(svc, len(x), bandwidth_m, cell_size_m, n_cells)
    try:
        surface = kde_grid(x, y, bandwidth_m, cell_size_m, kernel, extent_m=area.bounds)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    least = min_records()
    if least > 1:  # disclosure control: no surface a few records shape
        surface = _only_where_many(surface, x, y, least)
    meta = svc.meta(flt, analysis="kde", kernel=surface.kernel,
                    bandwidth_m=surface.bandwidth_m, bandwidth_rule=rule,
                    cell_size_m=surface.cell_size_m, study_area=study_area,
                    study_area_definition=STUDY_AREAS[study_area], n_points=len(x),
                    method=surface.params["method"], units="offences per km^2")
    if as_geojson:
        return kde_geojson(surface, min_share_of_max), meta
    if as_cells:
        return kde_cells(surface, min_share_of_max), meta
    density = surface.density_per_km2
    grid = KdeGrid(crs="EPSG:27700", x0_m=surface.x0_m, y0_m=surface.y0_m,
                   cell_size_m=surface.cell_size_m, nx=density.shape[1], ny=density.shape[0],
                   row_order="south to north", units="offences per km^2",
                   max=float(density.max()), values=np.round(density, 4).tolist())
    return grid, meta


def _only_where_many(g, x: np.ndarray, y: np.ndarray, k: int):
    """The surface with every cell that fewer than ``k`` offences lie within one bandwidth
    of set to 0 (disclosure control): an isolated offence, or a few, make a peak centred on
    them whatever the bandwidth, so only density resting on at least ``k`` offences near a
    cell is shown; a selection of fewer than ``k`` is refused like any small count."""

    from scipy.spatial import cKDTree  # noqa: PLC0415 - lazy: heavy import (scipy)

    if len(x) < k:
        raise InvalidParameter("too few offences match this selection to show it (disclosure "
                               "control); choose a longer period, a wider area or a broader "
                               "group")
    cx, cy = g.centres()
    near = cKDTree(np.column_stack([x, y])).query_ball_point(
        np.column_stack([cx.ravel(), cy.ravel()]), g.bandwidth_m, return_length=True)
    dens = np.where(near.reshape(cx.shape) >= k, g.density_per_km2, 0.0)
    return dataclasses.replace(g, density_per_km2=dens, params={
        **g.params, "disclosure": f"cells with fewer than {k} offences within one bandwidth "
                                  "set to 0"})


def _top_cells(g, min_share_of_max: float):
    """(column, row, density) of the cells at or above ``min_share_of_max`` of the peak."""
    dens = g.density_per_km2
    top = dens.max()
    iy, ix = np.nonzero(dens >= min_share_of_max * top) if top > 0 else (np.array([], int),) * 2
    return ix, iy, dens[iy, ix], top


def kde_cells(g, min_share_of_max: float):
    """Cells at or above ``min_share_of_max`` of the peak as a GeoDataFrame (EPSG:27700):
    ``id`` 'c{column}_{row}' (from the grid's south-west corner), density, share of the
    peak."""
    import geopandas as gpd  # noqa: PLC0415 - lazy: heavy import (geopandas)

    ix, iy, vals, top = _top_cells(g, min_share_of_max)
    x0 = g.x0_m + ix * g.cell_size_m
    y0 = g.y0_m + iy * g.cell_size_m
    return gpd.GeoDataFrame(
        {"id": [f"c{i}_{j}" for i, j in zip(ix.tolist(), iy.tolist())],
         "density_per_km2": np.round(vals, 3), "share_of_max": np.round(vals / top, 4)
         if len(vals) else np.array([], float)},
        geometry=shapely.box(x0, y0, x0 + g.cell_size_m, y0 + g.cell_size_m), crs=27700)


def kde_geojson(g, min_share_of_max: float) -> dict:
    """Cells with density >= ``min_share_of_max`` x max as lon/lat polygons (RFC 7946)."""
    ix, iy, vals, top = _top_cells(g, min_share_of_max)
    x0 = g.x0_m + ix * g.cell_size_m
    y0 = g.y0_m + iy * g.cell_size_m
    boxes = shapely.box(x0, y0, x0 + g.cell_size_m, y0 + g.cell_size_m)
    coords = shapely.get_coordinates(boxes)
    lon, lat = metric_to_lonlat(coords[:, 0], coords[:, 1])
    rings = np.round(np.column_stack([lon, lat]), 6).reshape(len(boxes), 5, 2).tolist()
    feats = [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
              "properties": {"density_per_km2": d, "share_of_max": s}}
             for ring, d, s in zip(rings, np.round(vals, 3).tolist(),
                                   np.round(vals / top, 4).tolist() if len(vals) else [])]
    return {"type": "FeatureCollection", "features": feats}


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def gi(svc: Service, flt: OffenceFilter, units: UnitSpec, sig: Significance
       ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Gi* on a grid or polygon layer (zeros included); returns (rows, meta): one row per
    unit (the open table ``GiCell`` in the web models declares), and ``meta``.

    Undefined statistics come back as None with ``undefined_reason`` (never NaN)."""

    check_gi_request(svc, units, sig.permutations)
    spatial_units = analysis_units(svc, units)
    counts = spatial_units.counts(flt)
    if counts.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    result = run_gi(counts, spatial_units.adjacency, sig, svc)
    rows = [{"id": i, "count": int(n), "gi_z": _finite(z), "p_two_sided": _finite(p),
             "p_norm_two_sided": _finite(pn), "label": lab, "undefined_reason": why}
            for i, n, z, p, pn, lab, why in zip(spatial_units.ids, counts, result.z,
                                                result.p_used, result.p_norm_two_sided,
                                                result.label, result.undefined_reason)]
    meta = svc.meta(flt, analysis="gi_star", n_offences_in_units=int(counts.sum()),
                    n_significant=n_labelled(result.label),
                    **spatial_units.definition, **gi_params(result))
    return rows, meta


def n_labelled(labels: np.ndarray) -> dict[str, int]:
    """Units labelled at each confidence level or stronger (read off the labels, which
    already carry the per-level decision, FDR included)."""
    level = pd.Series(labels, dtype=str).str.extract(r"(\d+)%$")[0].astype(float)
    return {f"{c}%": int((level >= c).sum()) for c in (90, 95, 99)}


@dataclass(frozen=True)
class HourByWeekday:
    """How many offences fell in each hour of each weekday?"""

    hours: list[int]
    days: list[str]
    counts: list[list[int]]  # 24 rows (hours) x 7 columns (days)


@dataclass(frozen=True)
class TimeWindow:
    """How many offences (and what share of those with a time) fell in a daily window?"""

    window: str
    count: int
    share: float | None  # None when no offence has a time


@dataclass(frozen=True)
class TimeProfile:
    """When in the day and week do offences happen (rows with a time of day only)?"""

    meta: dict[str, Any]
    hour_by_weekday: HourByWeekday
    night_time_economy: TimeWindow
    after_school: TimeWindow


def _time_window(times: pd.Series, start_hour: int, end_hour: int, window: str) -> TimeWindow:
    count, n_timed, share = window_share(times, start_hour, end_hour)
    return TimeWindow(window=window, count=count, share=share if n_timed else None)


def time_profile(svc: Service, flt: OffenceFilter) -> TimeProfile:
    """Hour x weekday matrix, night-time economy and after-school shares (timed rows only)."""
    times = svc.store.values(("occurred_at",), flt)["occurred_at"]
    n_matched = len(times)
    times = times.dropna()
    matrix = hour_day_matrix(times)
    warnings = [] if len(times) else [("no matching offences have a time of day: police.uk "
                                       "rows are dated to the month; load a force export for "
                                       "time profiles")]
    return TimeProfile(
        meta=svc.meta(flt, analysis="time_profile", n_matched=n_matched,
                      n_with_time=len(times), extra_warnings=warnings),
        hour_by_weekday=HourByWeekday(hours=list(range(24)), days=list(matrix.columns),
                                      counts=matrix.values.tolist()),
        night_time_economy=_time_window(times, 22, 5, "22:00-05:00"),
        after_school=_time_window(times, 15, 19, "15:00-19:00"))


def _point_names(svc: Service, flt: OffenceFilter, t: pd.DataFrame) -> list[str]:
    """The map points of ``t`` (name = police.uk location text, lon, lat) named as places
    (``analysis.places``): the street, or a stock label beside its nearest street."""

    pts = svc.store.located_values(("location_text", "x_m", "y_m", "lon", "lat"), flt)
    key = pd.MultiIndex.from_arrays([t["name"], t["lon"].round(6), t["lat"].round(6)])
    unit = key.get_indexer(pd.MultiIndex.from_arrays(
        [pts["location_text"].fillna("unnamed point"), pts["lon"].round(6),
         pts["lat"].round(6)])) if len(pts) else np.array([], dtype=np.int64)
    named = name_places(unit, pts["location_text"].tolist(), pts["x_m"].to_numpy(float),
                        pts["y_m"].to_numpy(float), range(len(t)), 1)
    return [named[i][0][0] if named[i] else "unnamed map point" for i in range(len(t))]


@dataclass(frozen=True)
class TopUnits:
    """Which units (or police.uk map points) have the most offences?"""

    meta: dict[str, Any]
    top: list[dict[str, Any]]  # ranked rows (``TopItem`` in the web models)


def top(svc: Service, flt: OffenceFilter, units: UnitSpec | None, limit: int) -> TopUnits:
    """Top units by count for any layer or grid, or police.uk map points (``units=None``)."""
    if units is None:
        table = svc.store.top_locations(flt, limit)
        table["name"] = _point_names(svc, flt, table)
        totals = svc.store.area_counts("lad", flt)[1]
        total = totals["n_matched"] - totals["n_no_location"]
        table["code"] = (table["lon"].map("{:.6f}".format) + ","
                         + table["lat"].map("{:.6f}".format))
        table["rank"] = np.arange(1, len(table) + 1)
        table["share"] = table["count"] / total if total else None
        table["cumulative_share"] = table["share"].cumsum() if total else None
        meta = svc.meta(flt, analysis="top_n", limit=limit, grid="location",
                        definition="offences at the same location text and point (police.uk "
                                   "anonymised map points); share of all located offences "
                                   "matching the filter")
        return TopUnits(meta=meta, top=table.to_dict("records"))

    spatial_units = analysis_units(svc, units)
    counts = pd.DataFrame({"code": spatial_units.ids,
                           "count": spatial_units.counts(flt).astype(int)})
    policy = ACTIVE.get()
    # disclosure control: ranked by the published counts (suppressed ones by code) and
    # always `limit` rows, empty units too - neither the order nor the rows tell a count
    table = top_n(counts, limit, None if policy is None else counts["count"].map(
        lambda c: published_order(policy.count(int(c)))))
    names = {}
    if units.grid in svc.boundaries.layers:
        names = svc.boundaries.get(units.grid).gdf.set_index("code")["name"].to_dict()
    index = {c: i for i, c in enumerate(spatial_units.ids)}
    rows = [index[c] for c in table["code"]]
    streets = streets_in_units(svc, flt, spatial_units, rows)
    x, y = (np.asarray(v)[rows] for v in spatial_units.centres_m)
    lon, lat = metric_to_lonlat(x, y)
    table["streets"] = [streets[i] for i in rows]
    # cells are named by their streets; areas by their own name
    table["name"] = [names.get(c) or place_label(streets[i]) or c
                     for c, i in zip(table["code"], rows)]
    table["lon"], table["lat"] = np.round(lon, 6), np.round(lat, 6)
    meta = svc.meta(flt, analysis="top_n", limit=limit,
                    definition="units ranked by offences; share of offences in all units; "
                               "streets: the unit's most common places (real streets, a "
                               "police.uk stock label only beside its nearest street); "
                               "lon/lat: its centre",
                    **spatial_units.definition)
    return TopUnits(meta=meta, top=table.to_dict("records"))


@dataclass(frozen=True)
class Concentration:
    """How concentrated in space are offences (Lorenz curve, Gini, densest x% of area)?"""

    meta: dict[str, Any]
    gini: float
    share_of_offences_in_top_area: dict[str, float]
    lorenz: dict[str, list[float]]  # cum_area_share, cum_offence_share
    ranking: str


def concentration_of(svc: Service, flt: OffenceFilter, units: UnitSpec) -> Concentration:
    """Lorenz curve / Gini and share of offences in the densest x% of area."""
    spatial_units = analysis_units(svc, units)
    counts = spatial_units.counts(flt)
    if counts.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    curve = concentration(counts, spatial_units.area_km2)
    return Concentration(meta=svc.meta(flt, analysis="concentration",
                                       **spatial_units.definition),
                         gini=curve["gini"],
                         share_of_offences_in_top_area=curve["share_of_offences_in_top_area"],
                         lorenz=curve["lorenz"], ranking=curve["ranking"])
