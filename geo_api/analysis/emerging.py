"""Emerging hot spots over a monthly series (after ArcGIS Emerging Hot Spot Analysis).

Space-time Gi*: each (cell, month) bin is a unit; its neighbours are the spatial
neighbours in the same month and the cell plus its spatial neighbours in the previous
``time_steps`` months. A bin is a hot (cold) spot when its Gi* two-sided p is significant
at ``alpha`` (Benjamini-Hochberg over all bins when ``fdr``) with the upper (lower) tail
the extreme one. The Mann-Kendall test on each cell's z series (two-sided p <= ``alpha``)
gives the trend. ``alpha`` is used as given (any value in (0, 0.5)), not rounded to the
90/95/99% label levels.

Rules implemented (n = number of months; "most" = at least 90% of months):
- new: hot in the final month only.
- consecutive: an uninterrupted run of >= 2 hot months ending in the final month, never
  hot before the run, and hot in fewer than 90% of months.
- intensifying: hot in most months incl. the final one; z trend significantly upward.
- persistent: hot in most months incl. the final one; no significant trend.
- diminishing: hot in most months incl. the final one; z trend significantly downward.
- sporadic: hot in the final month, hot in < 90% of months, never cold, not new or
  consecutive.
- oscillating: hot in the final month, cold in some earlier month, hot in < 90%.
- historical: not hot in the final month but hot in most months.
- no pattern detected: none of the above. (Cold-spot categories are the mirror images,
  prefixed "cold:"; hot takes precedence.)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

from geo_api.analysis.defaults import DEFAULT_SEED
from geo_api.analysis.getis_ord import gi_star


def space_time_adjacency(adjacency: sp.spmatrix, n_steps: int, time_steps: int = 1) -> sp.csr_matrix:
    """Binary adjacency of (cell, month) bins, months as outer blocks (bin = t * n + i).

    Row ``t * n + i`` (cell i in month t) has the spatial neighbours of i in month t and i
    with its spatial neighbours in months t-1 .. t-time_steps: it looks back only, so a
    later month never makes an earlier bin hot (the matrix is not symmetric).
    """
    a = sp.csr_matrix(adjacency, dtype=float)
    a.data[:] = 1
    n = a.shape[0]
    ring = (a + sp.identity(n, format="csr")).tocsr()  # cell and its neighbours
    blocks = [[None] * n_steps for _ in range(n_steps)]
    for t in range(n_steps):
        blocks[t][t] = a
        for lag in range(1, time_steps + 1):
            if t - lag >= 0:
                blocks[t][t - lag] = ring
    for t in range(n_steps):
        for u in range(n_steps):
            if blocks[t][u] is None:
                blocks[t][u] = sp.csr_matrix((n, n))
    return sp.bmat(blocks, format="csr")


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall per row of ``series`` (units x time): S, z, two-sided p (tie-corrected)."""
    x = np.asarray(series, dtype=float)
    n = x.shape[1]
    s = np.zeros(x.shape[0])
    for i in range(n - 1):
        s += np.sign(x[:, i + 1:] - x[:, i:i + 1]).sum(axis=1)
    var = np.full(x.shape[0], n * (n - 1) * (2 * n + 5) / 18.0)
    # ties correction: the length t of every run of equal values in each sorted row
    srt = np.sort(x, axis=1)
    starts = np.ones(srt.shape, dtype=bool)
    starts[:, 1:] = srt[:, 1:] != srt[:, :-1]
    run = np.cumsum(starts, axis=1) - 1 + n * np.arange(x.shape[0])[:, None]
    t = np.bincount(run.ravel(), minlength=x.size).reshape(x.shape).astype(float)
    var -= (t * (t - 1) * (2 * t + 5)).sum(axis=1) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.nan_to_num(z)
    return s, z, 2 * ndtr(-np.abs(z))


def categories(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
               alpha: float) -> np.ndarray:
    """The hot-side category of every cell (rows of the cells x months ``hot``/``cold``
    masks) by the rules in the module docstring; "no pattern detected" where none applies.
    Cold-side categories: call with ``cold``, ``hot`` and ``-trend_z``."""
    hot, cold = np.asarray(hot, dtype=bool), np.asarray(cold, dtype=bool)
    n = hot.shape[1]
    n_hot = hot.sum(axis=1)
    most = n_hot >= 0.9 * n
    last = hot[:, -1]
    # the trailing run of hot months, and whether any month before it was hot
    not_hot = ~hot[:, ::-1]
    run = np.where(not_hot.any(axis=1), np.argmax(not_hot, axis=1), n)
    hot_before_run = n_hot > run
    out = np.full(hot.shape[0], "no pattern detected", dtype=object)
    out[~last & most] = "historical"
    out[last & ~most] = np.where(cold[last & ~most, :-1].any(axis=1), "oscillating",
                                 "sporadic")
    out[last & ~most & (run >= 2) & ~hot_before_run] = "consecutive"
    out[last & ~most & (n_hot == 1)] = "new"
    significant = np.asarray(trend_p) <= alpha
    out[last & most] = "persistent"
    out[last & most & significant & (np.asarray(trend_z) > 0)] = "intensifying"
    out[last & most & significant & ~(np.asarray(trend_z) > 0)] = "diminishing"
    return out


def emerging_hotspots(counts: np.ndarray, adjacency: sp.spmatrix, time_steps: int = 1,
                      alpha: float = 0.05, permutations: int = 999, seed: int = DEFAULT_SEED,
                      fdr: bool = True, st_adjacency: sp.spmatrix | None = None) -> dict:
    """Categories per cell from a (cells x months) count matrix on a spatial adjacency
    (``st_adjacency``: its ``space_time_adjacency`` for these months, when already built)."""
    y = np.asarray(counts, dtype=float)
    n_cells, n_steps = y.shape
    if n_steps < 3:
        raise ValueError("need at least three time steps")
    st_adj = (space_time_adjacency(adjacency, n_steps, time_steps) if st_adjacency is None
              else st_adjacency)
    flat = y.T.ravel()  # month-major to match the block layout
    inference = "permutation" if permutations else "analytic"
    r = gi_star(flat, st_adj, permutations=permutations, seed=seed, fdr=fdr, inference=inference)
    z = r.z.reshape(n_steps, n_cells).T
    p = r.p_used.reshape(n_steps, n_cells).T
    sig = r.significant(alpha).reshape(n_steps, n_cells).T
    direction = r.direction.reshape(n_steps, n_cells).T  # as gi_star decides it
    hot, cold = sig & (direction > 0), sig & (direction < 0)
    _, tz, tp = mann_kendall(np.nan_to_num(z))
    cats = categories(hot, cold, tz, tp, alpha)
    cold_cats = categories(cold, hot, -tz, tp, alpha)
    none = "no pattern detected"
    use_cold = (cats == none) & (cold_cats != none)  # hot takes precedence
    cats[use_cold] = "cold: " + cold_cats[use_cold]
    return {"category": cats, "z": z, "p": p, "trend_z": tz,
            "trend_p": tp,
            "params": {"time_steps": time_steps, "alpha": alpha, "fdr": fdr,
                       "permutations": permutations, "seed": seed,
                       "p_value": r.params["p_value"],
                       "min_attainable_p": r.params["min_attainable_p"],
                       "n_significant_bins": int(sig.sum()), "n_steps": n_steps,
                       "trend": "Mann-Kendall on Gi* z, two-sided"}}
