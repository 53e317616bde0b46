"""Coverage of demand by sites within a radius (pure: numpy/scipy only).

Demand is a set of distinct locations with a weight each (offences, optionally
recency-weighted). A site *covers* a demand location when the distance between them is at
most ``radius_m`` (inclusive). Distances are straight-line in EPSG:27700 metres unless a
:class:`~geo_api.analysis.network.WalkingNetwork` supplies walking distances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Demand:
    """Distinct demand locations: ``x_m``, ``y_m``, ``weight`` (float) and ``n`` (offences)."""

    x_m: np.ndarray
    y_m: np.ndarray
    weight: np.ndarray
    n: np.ndarray

    @property
    def xy(self) -> np.ndarray:
        return np.column_stack([self.x_m, self.y_m])

    @property
    def total(self) -> float:
        return float(self.weight.sum())

    def __len__(self) -> int:
        return len(self.x_m)


def recency_weights(age_months: np.ndarray, half_life_months: float | None) -> np.ndarray:
    """Weight of an offence ``age_months`` before the period's last month: 0.5^(age/half-life);
    all ones without a half-life."""
    age = np.asarray(age_months, dtype=float)
    if half_life_months is None:
        return np.ones(len(age))
    if half_life_months <= 0:
        raise ValueError("half_life_months must be positive")
    with np.errstate(over="ignore"):  # a very short half-life gives weights of 0
        return 0.5 ** (age / half_life_months)


def aggregate_demand(x_m: np.ndarray, y_m: np.ndarray, weight: np.ndarray | None = None
                     ) -> Demand:
    """One demand point per distinct location (coordinates to the centimetre), with the sum
    of weights and the number of offences there. police.uk points are already snapped to
    map points, so this is their count per map point."""
    x_m = np.asarray(x_m, dtype=float)
    y_m = np.asarray(y_m, dtype=float)
    w = np.ones(len(x_m)) if weight is None else np.asarray(weight, dtype=float)
    if len(x_m) == 0:
        e = np.array([], dtype=float)
        return Demand(e, e, e, np.array([], dtype=np.int64))
    key = np.round(np.column_stack([x_m, y_m]) * 100).astype(np.int64)
    uniq, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return Demand(x_m=uniq[:, 0] / 100.0, y_m=uniq[:, 1] / 100.0,
                  weight=np.bincount(inverse, weights=w, minlength=len(uniq)),
                  n=np.bincount(inverse, minlength=len(uniq)).astype(np.int64))


def within_radius(demand_xy: np.ndarray, site_xy: np.ndarray, radius_m: float) -> sp.csr_matrix:
    """Sparse boolean (demand x sites): True where straight-line distance <= ``radius_m``.

    Built from a KD-tree query, so the work grows with the number of covering pairs rather
    than with demand x sites."""
    n_d, n_s = len(demand_xy), len(site_xy)
    if n_d == 0 or n_s == 0:
        return sp.csr_matrix((n_d, n_s), dtype=bool)
    tree = cKDTree(site_xy)
    lists = tree.query_ball_point(demand_xy, r=radius_m * (1 + 1e-12))
    lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=n_d)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = (np.concatenate([np.asarray(v, dtype=np.int64) for v in lists])
               if indptr[-1] else np.array([], dtype=np.int64))
    data = np.ones(len(indices), dtype=bool)
    m = sp.csr_matrix((data, indices, indptr), shape=(n_d, n_s))
    m.sort_indices()
    return m


@dataclass(frozen=True)
class SiteCoverage:
    """Coverage of demand by one site set."""

    per_site_weight: np.ndarray  # demand within radius of each site
    per_site_n: np.ndarray  # offences within radius of each site
    per_site_exclusive_weight: np.ndarray  # demand covered by this site and no other
    covered: np.ndarray  # bool per demand point
    covered_weight: float
    total_weight: float

    @property
    def covered_share(self) -> float:
        return self.covered_weight / self.total_weight if self.total_weight else float("nan")


def site_coverage(cover: sp.csr_matrix, demand: Demand) -> SiteCoverage:
    """Per-site and total coverage from a (demand x sites) coverage matrix."""
    c = cover.astype(np.float64).tocsc()
    n_cov = np.asarray(cover.sum(axis=1)).ravel()
    covered = n_cov > 0
    only = sp.diags((n_cov == 1).astype(float)) @ c
    return SiteCoverage(per_site_weight=np.asarray(c.T @ demand.weight).ravel(),
                        per_site_n=np.asarray(c.T @ demand.n.astype(float)).ravel().astype(int),
                        per_site_exclusive_weight=np.asarray(only.T @ demand.weight).ravel(),
                        covered=covered, covered_weight=float(demand.weight[covered].sum()),
                        total_weight=demand.total)


def nearest_site_distance_m(demand_xy: np.ndarray, site_xy: np.ndarray) -> np.ndarray:
    """Straight-line distance from each demand point to its nearest site (inf without sites)."""
    if len(site_xy) == 0:
        return np.full(len(demand_xy), np.inf)
    d, _ = cKDTree(site_xy).query(demand_xy, k=1)
    return np.asarray(d, dtype=float)


def coverage_curve(nearest_m: np.ndarray, weight: np.ndarray, radii_m: np.ndarray) -> np.ndarray:
    """Share of demand weight whose nearest site is within each radius (inclusive)."""
    total = float(np.sum(weight))
    order = np.argsort(nearest_m, kind="stable")
    d, cw = nearest_m[order], np.cumsum(weight[order])
    idx = np.searchsorted(d, np.asarray(radii_m, dtype=float) * (1 + 1e-12), side="right")
    covered = np.where(idx > 0, cw[np.maximum(idx - 1, 0)], 0.0)
    return covered / total if total else np.full(len(idx), np.nan)
