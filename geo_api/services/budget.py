"""Work budgets: estimate an analysis's work before doing it and refuse (422) what would
exhaust the machine, naming the limit and a cheaper request.

Estimates (all before any large allocation):
- units: H3 cells = study area / mean cell area; fishnet cells = study area / cell^2;
  polygons = features in the layer;
- neighbour pairs: units x neighbours per unit (H3: 3k(k+1)+1; fishnet: pi band^2 / cell^2
  + 1; polygons: ~7);
- permutation work (Gi*, emerging): neighbour pairs x permutations x periods;
- KDE work: points x kernel footprint in cells ((2 bandwidth / cell)^2) + grid cells.
Limits are settings (``GEO_API_MAX_*``), defaults sized for a 2-core, few-GB server.
"""

from __future__ import annotations

import math

import h3

from geo_api.errors import InvalidParameter
from geo_api.services.study_areas import study_area_m

CHEAPER_GI = ("fewer permutations (e.g. 999), a coarser grid (H3 resolution 9 or 8, larger "
              "fishnet cells), a smaller k or fishnet_band_m, or study_area=city")


def units_estimate(svc, spec) -> tuple[int, float]:
    """(units, neighbour pairs) a UnitSpec would create, from areas and counts only."""

    if spec.grid == "h3":
        area_km2 = study_area_m(svc, spec.study_area).area / 1e6
        n = area_km2 / h3.average_hexagon_area(spec.resolution, unit="km^2")
        return math.ceil(n), n * (3 * spec.k * (spec.k + 1) + 1)
    if spec.grid == "fishnet":
        size = spec.fishnet_cell_size_m
        band = spec.fishnet_band_m or 1.5 * size
        n = study_area_m(svc, spec.study_area).area / size**2
        return math.ceil(n), n * (math.pi * band**2 / size**2 + 1)
    n = len(svc.boundaries.get(spec.grid).gdf)
    return n, 7.0 * n


def check_units(svc, spec) -> None:
    s = svc.settings
    n, pairs = units_estimate(svc, spec)
    if n > s.max_units:
        raise InvalidParameter(
            f"work budget: about {n:,} {spec.grid} units in study_area={spec.study_area}; the "
            f"limit is {s.max_units:,} (GEO_API_MAX_UNITS). Cheaper: {CHEAPER_GI}")
    if pairs > s.max_neighbour_pairs:
        raise InvalidParameter(
            f"work budget: about {pairs:,.0f} neighbour pairs; the limit is "
            f"{s.max_neighbour_pairs:,} (GEO_API_MAX_NEIGHBOUR_PAIRS). Cheaper: {CHEAPER_GI}")


def check_permutations(svc, n_pairs: float, permutations: int, periods: int = 1,
                       what: str = "Gi*") -> None:
    s = svc.settings
    work = n_pairs * max(permutations, 1) * max(periods, 1)
    if work > s.max_permutation_work:
        raise InvalidParameter(
            f"work budget: {what} would draw about {work:.2g} neighbour values "
            f"({n_pairs:,.0f} pairs x {permutations:,} permutations x {periods} period(s)); "
            f"the limit is {s.max_permutation_work:.2g} (GEO_API_MAX_PERMUTATION_WORK). "
            f"Cheaper: {CHEAPER_GI}")


def check_kde(svc, n_points: int, bandwidth_m: float, cell_size_m: float,
              n_cells: float) -> None:
    s = svc.settings
    footprint = (2 * bandwidth_m / cell_size_m + 1) ** 2
    work = n_points * footprint + n_cells
    if work > s.max_kde_work:
        raise InvalidParameter(
            f"work budget: this kernel density would touch about {work:.2g} cells "
            f"({n_points:,} points x {footprint:,.0f} cells under each kernel); the limit is "
            f"{s.max_kde_work:.2g} (GEO_API_MAX_KDE_WORK). Cheaper: a smaller bandwidth_m, "
            "a larger cell_size_m, a shorter period or a narrower offence group")


def check_gi_request(svc, spec, permutations: int, periods: int = 1,
                     what: str = "Gi*") -> None:
    """Refuse a Gi*-type request from estimates alone, before any cells are built."""
    check_units(svc, spec)
    check_permutations(svc, units_estimate(svc, spec)[1], permutations, periods, what)


def check_backtest(svc, n_units: int, mean_area_km2: float, max_bandwidth_m: float,
                   n_months: int) -> None:
    """Kernel pairs of the backtest's KDE/ensemble (units x units within the bandwidth) and
    its unit-months, against GEO_API_MAX_NEIGHBOUR_PAIRS and GEO_API_MAX_UNITS x 12."""

    s = svc.settings
    per_unit = min(n_units, 1 + math.pi * (max_bandwidth_m / 1000) ** 2 / max(mean_area_km2,
                                                                             1e-9))
    pairs = n_units * per_unit
    if pairs > s.max_neighbour_pairs:
        raise InvalidParameter(
            f"work budget: the backtest's kernel would pair about {pairs:,.0f} units; the "
            f"limit is {s.max_neighbour_pairs:,} (GEO_API_MAX_NEIGHBOUR_PAIRS). Cheaper: a "
            "coarser grid (resolution 9, fishnet >= 200 m), study_area=city or a smaller "
            "bandwidth_m")
    if n_units * n_months > s.max_units * 12:
        raise InvalidParameter(
            f"work budget: {n_units:,} units x {n_months} months; the limit is "
            f"{s.max_units * 12:,} unit-months (GEO_API_MAX_UNITS x 12). Cheaper: a shorter "
            "datetime period or a coarser grid")


def check_backtest_estimate(svc, spec, max_bandwidth_m: float, n_months: int) -> None:
    """``check_backtest`` from the estimated units of a grid (H3, fishnet) before any unit is
    built (building 190,000 H3 r10 cells over the force takes seconds); the exact check
    follows on the built units. ``max_bandwidth_m``: a lower bound of the largest."""
    if spec is None or spec.grid not in ("h3", "fishnet"):
        return  # (map points and polygon layers: cheap to build, checked exactly)
    n_units, _ = units_estimate(svc, spec)
    mean_area_km2 = (h3.average_hexagon_area(spec.resolution, unit="km^2")
                     if spec.grid == "h3" else (spec.fishnet_cell_size_m / 1000) ** 2)
    check_backtest(svc, n_units, mean_area_km2, max_bandwidth_m, n_months)


def check_backtest_scores(svc, n_units: int, n_months: int, window: int, horizon: int,
                          scores_per_fold: int) -> None:
    """The backtest's scoring work (units x folds x method scores per fold, the ensemble's
    candidates included) against GEO_API_MAX_BACKTEST_SCORES."""
    folds = max(n_months - window - horizon + 1, 0)
    work = n_units * folds * scores_per_fold
    if work > svc.settings.max_backtest_scores:
        raise InvalidParameter(
            f"work budget: this backtest would score about {work:,.0f} unit-months "
            f"({n_units:,} units x {folds} folds x {scores_per_fold} scores each); the limit "
            f"is {svc.settings.max_backtest_scores:,.0f} (GEO_API_MAX_BACKTEST_SCORES). "
            "Cheaper: study_area=city, grid=lsoa or ward, H3 resolution 8, a shorter datetime "
            "period, or methods without ensemble (e.g. methods=naive&methods=kde&methods=gi); "
            "or run `geo_api evaluate` on the command line")


def estimated_units(svc, spec) -> int | None:
    """Units a spec would create, from areas and layer sizes alone (None: units located by
    the offences themselves, counted when built)."""
    if spec is None or (spec.grid not in ("h3", "fishnet")
                        and spec.grid not in svc.boundaries.layers):
        return None
    return units_estimate(svc, spec)[0]
