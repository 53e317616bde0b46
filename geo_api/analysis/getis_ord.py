"""Getis-Ord Gi* (local, star, binary weights) with analytic and permutation inference.

Matches ``esda.G_Local(y, w, transform="B", star=True)``: the focal unit is its own
neighbour with weight 1, ``G_i = sum_j w_ij y_j / sum_j y_j``, expectation ``k_i / n`` and
variance ``k_i (n - k_i) / (n - 1) / n^2 * s^2 / ybar^2`` (``k_i`` = neighbours incl. self,
``s^2`` the population variance of y). z is ``(G_i - E) / sqrt(V)``.

Inference
---------
- analytic: two-sided normal p-value ``2 * sf(|z|)``.
- permutation (conditional randomisation, as esda): ``y_i`` stays, its ``k_i - 1``
  neighbours are drawn without replacement from the other ``n - 1`` values; one draw of
  random index sets is shared by all units (as esda does). ``p_sim_folded`` is esda's
  pseudo p-value ``(min(larger, permutations - larger) + 1) / (permutations + 1)`` (one
  tail, the observed one); the two-sided p-value reported is ``min(1, 2 * p_sim_folded)``.
- FDR: Benjamini-Hochberg over all units at the chosen alpha (optional).
Labels: "hot 99%", "hot 95%", "hot 90%", "cold ..." or "not significant" from the
two-sided p-value in use and the sign of z.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

CONFIDENCE_LEVELS = ((0.01, "99%"), (0.05, "95%"), (0.10, "90%"))


@dataclass(frozen=True)
class GiStarResult:
    """Per-unit Gi* results (arrays aligned with the input ``y``)."""

    g: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p_norm_two_sided: np.ndarray
    p_sim_folded: np.ndarray | None
    p_sim_two_sided: np.ndarray | None
    p_used: np.ndarray
    significant: np.ndarray
    label: np.ndarray
    params: dict = field(default_factory=dict)


def with_self_weights(adjacency: sp.spmatrix) -> sp.csr_matrix:
    """Binary CSR with the diagonal set to 1 (Gi* includes the focal unit)."""
    a = sp.csr_matrix(adjacency, dtype=float)
    a.data[:] = 1.0
    a = a.tolil()
    a.setdiag(1.0)
    return a.tocsr()


def analytic(y: np.ndarray, w_star: sp.csr_matrix) -> tuple[np.ndarray, ...]:
    """Gi* statistic, expectation, variance and z (esda's formulas, star, binary)."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    ysum = y.sum()
    if ysum <= 0:
        raise ValueError("Gi* needs at least one non-zero count")
    g = (w_star @ y) / ysum
    mean = ysum / n
    var_y = (y**2).sum() / n - mean**2
    card = np.asarray(w_star.sum(axis=1)).ravel()
    expected = card / n
    variance = card * (n - card) / (n - 1) / n**2 * var_y / mean**2
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (g - expected) / np.sqrt(variance)
    return g, expected, variance, z


@numba.njit(cache=True)
def _draw_index_sets(n_minus_1: int, permutations: int, k: int, seed: int) -> np.ndarray:
    """``permutations`` rows of ``k`` distinct indices in [0, n-1) (partial Fisher-Yates)."""
    np.random.seed(seed)
    out = np.empty((permutations, k), dtype=np.int64)
    pool = np.arange(n_minus_1)
    for p in range(permutations):
        for j in range(k):
            r = j + np.random.randint(0, n_minus_1 - j)
            pool[j], pool[r] = pool[r], pool[j]
            out[p, j] = pool[j]
    return out


@numba.njit(cache=True, parallel=True)
def _crand_larger(y, g_obs, n_neigh, ysum, rids):
    n = y.shape[0]
    perms = rids.shape[0]
    larger = np.zeros(n, dtype=np.int64)
    for i in numba.prange(n):
        k = n_neigh[i]
        cnt = 0
        for p in range(perms):
            s = y[i]
            for j in range(k):
                r = rids[p, j]
                s += y[r + 1] if r >= i else y[r]
            if s / ysum >= g_obs[i]:
                cnt += 1
        larger[i] = cnt
    return larger


def permutation_p(y: np.ndarray, w_star: sp.csr_matrix, g: np.ndarray, permutations: int,
                  seed: int) -> np.ndarray:
    """esda-style folded pseudo p-values by conditional randomisation."""
    y = np.asarray(y, dtype=float)
    n_neigh = np.asarray(w_star.sum(axis=1)).ravel().astype(np.int64) - 1
    kmax = int(n_neigh.max())
    if kmax > len(y) - 1:
        raise ValueError("a unit has more neighbours than there are other units")
    rids = _draw_index_sets(len(y) - 1, permutations, kmax, seed)
    larger = _crand_larger(y, g, n_neigh, y.sum(), rids)
    larger = np.minimum(larger, permutations - larger)
    return (larger + 1) / (permutations + 1)


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Boolean mask of discoveries at FDR ``alpha`` (Benjamini-Hochberg step-up)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    passed = p[order] <= alpha * np.arange(1, m + 1) / m
    out = np.zeros(m, dtype=bool)
    if passed.any():
        out[order[: np.flatnonzero(passed).max() + 1]] = True
    return out


def labels(z: np.ndarray, p: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """'hot 99%' ... 'cold 90%' or 'not significant'."""
    out = np.full(len(z), "not significant", dtype=object)
    for alpha, name in reversed(CONFIDENCE_LEVELS):  # strongest level written last
        m = keep & (p <= alpha)
        out[m & (z > 0)] = f"hot {name}"
        out[m & (z < 0)] = f"cold {name}"
    return out


def gi_star(y: np.ndarray, adjacency: sp.spmatrix, permutations: int = 999, seed: int = 12345,
            fdr: float | None = None, inference: str = "permutation") -> GiStarResult:
    """Local Gi* for counts ``y`` on binary ``adjacency`` (no self-loops needed).

    Parameters
    ----------
    y : counts per unit (zeros included for units in the study area without offences).
    adjacency : (n, n) binary neighbour matrix; the diagonal is set to 1.
    permutations : conditional randomisations (0 = analytic only).
    seed : random seed for the permutations.
    fdr : Benjamini-Hochberg alpha (e.g. 0.05) or None for per-unit thresholds.
    inference : "permutation" or "analytic": which two-sided p-value labels use.
    """
    if inference not in ("permutation", "analytic"):
        raise ValueError("inference must be 'permutation' or 'analytic'")
    if inference == "permutation" and permutations < 1:
        raise ValueError("permutation inference needs permutations >= 1")
    w_star = with_self_weights(adjacency)
    g, expected, variance, z = analytic(y, w_star)
    p_norm = 2 * ndtr(-np.abs(z))
    p_fold = p_two = None
    if permutations:
        p_fold = permutation_p(y, w_star, g, permutations, seed)
        p_two = np.minimum(1.0, 2 * p_fold)
    p_used = p_two if inference == "permutation" else p_norm
    keep = benjamini_hochberg(p_used, fdr) if fdr else np.ones(len(z), dtype=bool)
    return GiStarResult(g=g, expected=expected, variance=variance, z=z,
                        p_norm_two_sided=p_norm, p_sim_folded=p_fold, p_sim_two_sided=p_two,
                        p_used=p_used, significant=keep & (p_used <= 0.10),
                        label=labels(z, p_used, keep),
                        params={"statistic": "Gi* (star=True, binary weights)",
                                "permutations": permutations, "seed": seed, "fdr_alpha": fdr,
                                "inference": inference, "p_value": "two-sided",
                                "n_units": len(z)})
