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
  random index sets is shared by all units (as esda does). With ``n_ge`` / ``n_le`` the
  randomisations whose local sum is >= / <= the observed one (ties count in both tails),
  ``p_greater = (n_ge + 1) / (P + 1)``, ``p_lesser = (n_le + 1) / (P + 1)`` (esda's
  "greater" and "lesser") and the two-sided p-value used is
  ``min(1, 2 * min(p_greater, p_lesser))``; the direction (hot/cold) is the smaller tail.
  ``p_sim_folded`` is esda's legacy "directed" value ``(min(n_ge, P - n_ge) + 1) / (P + 1)``,
  kept for comparison only: it counts ties as "larger", so with sparse counts a unit whose
  whole neighbourhood is zero - as are most randomisations - gets p = 1/(P + 1) and would be
  called a 99% cold spot. Crime counts on small cells are full of such ties.
- FDR (default on): Benjamini-Hochberg over all units, applied separately at each
  confidence level (as ArcGIS's FDR option): a unit is "hot 95%" when it is a discovery of
  BH at 0.05. BH discoveries are nested, so the levels stay ordered. With P permutations
  the smallest attainable two-sided p is ``2 / (P + 1)``; BH at level a over m units needs
  at least ``m * 2 / (P + 1) / a`` units at that floor before it can keep any, which is why
  FDR at 199 permutations on ~800 cells keeps nothing (``min_attainable_p`` is reported).
Labels: "hot 99%", "hot 95%", "hot 90%", "cold ..." or "not significant" from the
two-sided p-value in use and the direction; "undefined" where z is undefined (see below).

Undefined statistics: when a unit's neighbourhood is every unit (``k_i = n``), or all
counts are equal, the variance is 0 and z is undefined (0/0). Such units get z = NaN,
p = NaN, label "undefined" and a reason in ``undefined_reason``; callers must turn NaN
into null, never serve it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

from geo_api import deadline
from geo_api.analysis.defaults import DEFAULT_SEED

CHUNK_DRAWS = 2e8  # neighbour values drawn per slice of units (~0.1-0.3 s on one core)
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
    direction: np.ndarray  # > 0: the upper tail is the extreme one (hot), < 0: cold
    label: np.ndarray
    undefined_reason: np.ndarray  # None where z is defined
    params: dict = field(default_factory=dict)

    def significant(self, alpha: float) -> np.ndarray:
        """Units significant at ``alpha`` (BH-adjusted when the result used FDR)."""
        return significant_at(self.p_used, alpha, self.params["fdr"])

    def hot(self, alpha: float) -> np.ndarray:
        """Hot spots at ``alpha``: significant with the upper tail the extreme one."""
        return self.significant(alpha) & (self.direction > 0)


def with_self_weights(adjacency: sp.spmatrix) -> sp.csr_matrix:
    """Binary CSR with the diagonal set to 1 (Gi* includes the focal unit)."""
    a = sp.csr_matrix(adjacency, dtype=float)
    a.data[:] = 1.0
    a = a - sp.diags(a.diagonal()) + sp.identity(a.shape[0], format="csr")
    a.eliminate_zeros()  # (a diagonal of 1 stays; an entry cancelled to 0 goes)
    a.sort_indices()
    return sp.csr_matrix(a)


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
def _crand_tails(y, s_obs, n_neigh, rids, start, stop):
    """Per unit in [start, stop): randomised local sums >= and <= the observed local sum
    (ties in both)."""
    perms = rids.shape[0]
    n_ge = np.zeros(stop - start, dtype=np.int64)
    n_le = np.zeros(stop - start, dtype=np.int64)
    for o in numba.prange(stop - start):
        i = start + o
        k = n_neigh[i]
        eps = 1e-9 * max(1.0, abs(s_obs[i]))
        ge = 0
        le = 0
        for p in range(perms):
            s = y[i]
            for j in range(k):
                r = rids[p, j]
                s += y[r + 1] if r >= i else y[r]
            if s >= s_obs[i] - eps:
                ge += 1
            if s <= s_obs[i] + eps:
                le += 1
        n_ge[o] = ge
        n_le[o] = le
    return n_ge, n_le


@dataclass(frozen=True)
class PermutationP:
    greater: np.ndarray
    lesser: np.ndarray
    two_sided: np.ndarray
    folded: np.ndarray  # esda's legacy "directed" value, for comparison only


def permutation_p(y: np.ndarray, w_star: sp.csr_matrix, permutations: int,
                  seed: int) -> PermutationP:
    """Pseudo p-values by conditional randomisation (see the module docstring)."""
    y = np.asarray(y, dtype=float)
    n_neigh = np.asarray(w_star.sum(axis=1)).ravel().astype(np.int64) - 1
    kmax = int(n_neigh.max())
    if kmax > len(y) - 1:
        raise ValueError("a unit has more neighbours than there are other units")
    rids = _draw_index_sets(len(y) - 1, permutations, kmax, seed)
    s_obs = np.asarray(w_star @ y, dtype=float)
    # in slices of units, so a request's deadline stops the work between slices
    step = max(1, int(CHUNK_DRAWS // max(permutations * max(kmax, 1), 1)))
    tails = []
    for start in range(0, len(y), step):
        deadline.check("the Gi* permutations")
        tails.append(_crand_tails(y, s_obs, n_neigh, rids, start, min(start + step, len(y))))
    n_ge = np.concatenate([t[0] for t in tails])
    n_le = np.concatenate([t[1] for t in tails])
    greater, lesser = (n_ge + 1) / (permutations + 1), (n_le + 1) / (permutations + 1)
    return PermutationP(greater=greater, lesser=lesser,
                        two_sided=np.minimum(1.0, 2 * np.minimum(greater, lesser)),
                        folded=(np.minimum(n_ge, permutations - n_ge) + 1) / (permutations + 1))


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


def significant_at(p: np.ndarray, alpha: float, fdr: bool) -> np.ndarray:
    """Units with p <= ``alpha``, or BH discoveries at ``alpha`` when ``fdr``; NaN never."""
    p = np.asarray(p, dtype=float)
    ok = np.isfinite(p)
    out = np.zeros(len(p), dtype=bool)
    if fdr:
        out[ok] = benjamini_hochberg(p[ok], alpha)
    else:
        out[ok] = p[ok] <= alpha
    return out


def labels(direction: np.ndarray, p: np.ndarray, fdr: bool) -> np.ndarray:
    """'hot 99%' ... 'cold 90%' or 'not significant'; the sign of ``direction`` decides
    hot or cold; each level uses BH at that level when ``fdr``."""
    out = np.full(len(direction), "not significant", dtype=object)
    for alpha, name in reversed(CONFIDENCE_LEVELS):  # strongest level written last
        m = significant_at(p, alpha, fdr)
        out[m & (direction > 0)] = f"hot {name}"
        out[m & (direction < 0)] = f"cold {name}"
    return out


def undefined_reasons(y: np.ndarray, w_star: sp.csr_matrix) -> np.ndarray:
    """Why z is undefined for a unit (None where it is defined)."""
    n = len(y)
    card = np.asarray(w_star.sum(axis=1)).ravel()
    out = np.full(n, None, dtype=object)
    if np.ptp(y) == 0:
        out[:] = "every unit has the same count, so no unit can differ from the mean"
    else:
        out[card >= n] = ("this unit's neighbourhood contains every unit, so its local sum "
                          "always equals the total")
    return out


def gi_star(y: np.ndarray, adjacency: sp.spmatrix, permutations: int = 999, seed: int = DEFAULT_SEED,
            fdr: bool = True, inference: str = "permutation") -> GiStarResult:
    """Local Gi* for counts ``y`` on binary ``adjacency`` (no self-loops needed).

    Parameters
    ----------
    y : counts per unit (zeros included for units in the study area without offences).
    adjacency : (n, n) binary neighbour matrix; the diagonal is set to 1.
    permutations : conditional randomisations (0 = analytic only).
    seed : random seed for the permutations.
    fdr : Benjamini-Hochberg at each confidence level (True) or per-unit thresholds.
    inference : "permutation" or "analytic": which two-sided p-value labels use.
    """
    if inference not in ("permutation", "analytic"):
        raise ValueError("inference must be 'permutation' or 'analytic'")
    if inference == "permutation" and permutations < 1:
        raise ValueError("permutation inference needs permutations >= 1")
    w_star = with_self_weights(adjacency)
    g, expected, variance, z = analytic(y, w_star)
    why = undefined_reasons(np.asarray(y, dtype=float), w_star)
    undefined = why != None
    z[undefined] = np.nan
    p_norm = 2 * ndtr(-np.abs(z))
    p_fold = p_two = None
    direction = np.nan_to_num(z)
    p_used = p_norm  # analytic inference; permutation inference (permutations >= 1) below
    if permutations:
        perm = permutation_p(y, w_star, permutations, seed)
        p_fold, p_two = perm.folded, perm.two_sided
        p_two[undefined] = np.nan
        if inference == "permutation":
            direction = perm.lesser - perm.greater  # > 0: the upper tail is the extreme one
            p_used = p_two
    label = labels(direction, p_used, fdr)
    label[undefined] = "undefined"
    min_p = min(1.0, 2 / (permutations + 1)) if inference == "permutation" else None
    return GiStarResult(g=g, expected=expected, variance=variance, z=z,
                        p_norm_two_sided=p_norm, p_sim_folded=p_fold, p_sim_two_sided=p_two,
                        p_used=p_used, direction=np.sign(direction), label=label,
                        undefined_reason=why,
                        params={"statistic": "Gi* (star=True, binary weights)",
                                "permutations": permutations, "seed": seed, "fdr": fdr,
                                "inference": inference,
                                "p_value": ("two-sided: 2 x min(greater, lesser), ties in both "
                                            "tails" if inference == "permutation"
                                            else "two-sided normal"),
                                "min_attainable_p": min_p, "n_units": len(z),
                                "n_undefined": int(undefined.sum())})
