"""Where to put the next kits: maximal covering (MCLP) and set covering (LSCP), solved
exactly as sparse integer programmes with HiGHS (pure: numpy/scipy/highspy).

The formulation only holds the demand/site pairs within the service radius (the sparse
coverage matrix from :mod:`geo_api.analysis.coverage` or a walking network). Before the
solver sees it the model is reduced without changing its optimum:

- demand already covered by existing (kept) sites is a constant and leaves the model;
- demand no candidate can reach leaves the model;
- demand points reached by exactly the same candidates are merged (weights added);
- candidates that reach no remaining demand leave the model.

MCLP (Church & ReVelle 1974): maximise sum_i w_i y_i subject to y_i <= sum_{j in N_i} x_j,
sum_j x_j = p, x binary, 0 <= y_i <= 1 (y is integral at an optimum). Existing sites are
fixed open, as spopt's ``predefined_facilities_arr`` does; ``p`` counts new sites only.

Partial set covering (LSCP with a target share): minimise sum_j x_j subject to
sum_i w_i y_i >= target x total - already covered, y_i <= sum_{j in N_i} x_j.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

DEFAULT_TIME_LIMIT_S = 30.0


@dataclass
class SitingResult:
    """Chosen new sites (candidate indices, in order of marginal gain) and the evidence."""

    chosen: np.ndarray
    marginal_weight: np.ndarray  # demand each chosen site adds, in the order given
    covered_weight: float  # by existing + chosen
    existing_covered_weight: float
    total_weight: float
    status: str  # "optimal", "time_limit" (best found), "infeasible"
    bound_weight: float  # best bound on the objective (= covered_weight when optimal)
    gap: float  # relative gap between solution and bound (0 when optimal)
    solve_s: float
    model: dict = field(default_factory=dict)

    @property
    def covered_share(self) -> float:
        return self.covered_weight / self.total_weight if self.total_weight else float("nan")

    @property
    def bound_share(self) -> float:
        return self.bound_weight / self.total_weight if self.total_weight else float("nan")


@dataclass(frozen=True)
class _Reduced:
    a: sp.csr_matrix  # merged demand x kept candidates (0/1)
    w: np.ndarray  # weight per merged demand row
    cand: np.ndarray  # original candidate index of each column
    base_weight: float  # covered by existing sites
    total_weight: float
    n_pairs: int


def _reduce(cover: sp.csr_matrix, weight: np.ndarray, covered_by_existing: np.ndarray | None
            ) -> _Reduced:
    cover = sp.csr_matrix(cover, dtype=bool)
    weight = np.asarray(weight, dtype=float)
    base = (np.zeros(cover.shape[0], dtype=bool) if covered_by_existing is None
            else np.asarray(covered_by_existing, dtype=bool))
    live = (~base) & (np.diff(cover.indptr) > 0) & (weight > 0)
    a = cover[np.flatnonzero(live)]
    w = weight[live]
    # merge rows with identical candidate sets
    keys: dict[bytes, int] = {}
    group = np.empty(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        k = a.indices[a.indptr[i]:a.indptr[i + 1]].tobytes()
        group[i] = keys.setdefault(k, len(keys))
    first = np.zeros(len(keys), dtype=np.int64)
    first[group[::-1]] = np.arange(a.shape[0])[::-1]
    w_merged = np.bincount(group, weights=w, minlength=len(keys))
    a = a[first]
    used = np.flatnonzero(np.asarray(a.sum(axis=0)).ravel() > 0)
    a = a[:, used].tocsr()
    return _Reduced(a=a, w=w_merged, cand=used, base_weight=float(weight[base].sum()),
                    total_weight=float(weight.sum()), n_pairs=int(cover.nnz))


def greedy_order(cover: sp.csr_matrix, weight: np.ndarray, sites: np.ndarray,
                 covered: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Order ``sites`` by marginal gain: each step takes the site adding the most demand not
    yet covered (ties: the earlier in ``sites``). Returns (ordered sites, gain of each)."""
    sites = np.asarray(sites, dtype=np.int64)
    weight = np.asarray(weight, dtype=float)
    if covered is not None:
        weight = np.where(np.asarray(covered, dtype=bool), 0.0, weight)
    a = sp.csr_matrix(cover, dtype=bool)[:, sites]
    picked = _greedy(a, weight, len(sites), stop_when_nothing_left=False)
    # each demand row counts for the first picked site that covers it: exact gains
    rank = np.full(len(sites), len(sites), dtype=np.int64)
    rank[picked] = np.arange(len(picked))
    a_ranked = a.tocsr()
    first = np.full(a.shape[0], len(sites), dtype=np.int64)
    rows = np.repeat(np.arange(a.shape[0]), np.diff(a_ranked.indptr))
    np.minimum.at(first, rows, rank[a_ranked.indices])
    hit = first < len(sites)
    gains = np.bincount(first[hit], weights=weight[hit], minlength=len(sites))
    return sites[picked], gains[:len(picked)]


def _greedy_columns(a: sp.csr_matrix, w: np.ndarray, p: int) -> np.ndarray:
    """Greedy start for the solver: p columns of the reduced model by marginal gain."""
    return _greedy(a, w, p, stop_when_nothing_left=True)


def _greedy(a: sp.csr_matrix, w: np.ndarray, p: int, *, stop_when_nothing_left: bool
            ) -> np.ndarray:
    """Up to ``p`` columns of ``a`` (demand x sites, 0/1) by marginal gain of weight ``w``
    (ties: the lower column); the gains are kept up to date as rows become covered."""
    a = sp.csr_matrix(a)
    a_csc = a.tocsc()
    gain = np.asarray(a_csc.T @ w).ravel().astype(float)
    tol = 1e-9 * max(float(np.sum(w)), 1.0)  # gains this close are ties (float drift)
    done = np.zeros(a.shape[0], dtype=bool)
    chosen: list[int] = []
    for _ in range(min(p, a.shape[1])):
        j = int(np.argmax(gain >= gain.max() - tol))
        if stop_when_nothing_left and gain[j] <= 0 and chosen:
            break
        chosen.append(j)
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        newly = rows[~done[rows]]
        done[newly] = True
        if len(newly):  # those rows no longer add to any column's gain
            sub = a[newly]
            gain -= np.bincount(sub.indices, weights=np.repeat(w[newly], np.diff(sub.indptr)),
                                minlength=a.shape[1])
            # exact zero once a column has nothing left (no drift from the subtractions)
            gain[np.abs(gain) <= tol] = 0.0
        gain[j] = -np.inf
    return np.asarray(chosen, dtype=np.int64)


# models this large go to a child process that can be ended at the time limit
CHILD_MIN_NNZ = 200_000
CHILD_START_S = 0.4  # the child's imports: its solver gets the rest of the limit
FINISH_SHARE = 0.1  # of a time limit kept for ordering the chosen sites and the answer

_FIRST = threading.Lock()
_quiet = False


def _new_highs():
    """A HiGHS instance; the licence banner HiGHS prints on its first construction in a
    process goes to /dev/null instead of our stdout (CLI JSON output stays clean)."""
    global _quiet
    import highspy  # noqa: PLC0415 - lazy: exact siting only

    if _quiet:
        return highspy.Highs()
    with _FIRST:
        if _quiet:
            return highspy.Highs()
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _quiet = True
        return h


def _highs(time_limit_s: float):
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-7)
    return h


def _pass(h, n_x: int, a: sp.csr_matrix, *, maximize: bool, col_cost, col_upper,
          extra_rows: list[tuple[np.ndarray, float, float]], integer_y: bool = False):
    """Columns: x (n_x binaries) then y (one per row of ``a``). Rows: y_i - a_i x <= 0, then
    ``extra_rows`` (dense coefficient vector over all columns, lower, upper)."""
    import highspy  # noqa: PLC0415 - lazy: exact siting only

    n_y = a.shape[0]
    n = n_x + n_y
    link = sp.hstack([-a.astype(float), sp.identity(n_y, format="csr")], format="csr")
    rows = [link] + [sp.csr_matrix(c.reshape(1, -1)) for c, _, _ in extra_rows]
    m = sp.vstack(rows, format="csc")
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m.shape[0]
    lp.col_cost_ = np.asarray(col_cost, dtype=float)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.asarray(col_upper, dtype=float)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.concatenate([np.full(n_y, -inf), [lo for _, lo, _ in extra_rows]])
    lp.row_upper_ = np.concatenate([np.zeros(n_y), [hi for _, _, hi in extra_rows]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = m.indptr.astype(np.int32)
    lp.a_matrix_.index_ = m.indices.astype(np.int32)
    lp.a_matrix_.value_ = m.data.astype(float)
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    vt = highspy.HighsVarType
    lp.integrality_ = [vt.kInteger] * n_x + [vt.kInteger if integer_y else vt.kContinuous] * n_y
    h.passModel(lp)


def _status(h) -> str:
    import highspy  # noqa: PLC0415 - lazy: exact siting only

    s = h.getModelStatus()
    if s == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if s == highspy.HighsModelStatus.kInfeasible:
        return "infeasible"
    if s == highspy.HighsModelStatus.kTimeLimit:
        return "time_limit"
    return h.modelStatusToString(s).lower().replace(" ", "_")


def mclp(cover: sp.csr_matrix, weight: np.ndarray, p: int, *,
         covered_by_existing: np.ndarray | None = None,
         time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> SitingResult:
    """Choose ``p`` new sites (columns of ``cover``) maximising covered demand weight, with
    demand already covered by existing sites (``covered_by_existing``) counted as covered."""
    if p < 0:
        raise ValueError("p must be >= 0")
    t0 = time.perf_counter()
    r = _reduce(cover, weight, covered_by_existing)
    return _finish(cover, weight, r, covered_by_existing,
                   _solve_mclp(r, p, (1 - FINISH_SHARE) * time_limit_s, t0), t0)


@dataclass
class _Solved:
    cols: np.ndarray  # reduced-model columns chosen
    status: str
    bound: float  # on the reduced objective (demand not covered by existing sites)
    detail: dict
    lam: np.ndarray | None = None


def _solve_mclp(r: _Reduced, p: int, time_limit_s: float, t0: float,
                lam: np.ndarray | None = None, start: np.ndarray | None = None) -> _Solved:
    """Exact MCLP on the reduced model: Lagrangian bound + reduction, then HiGHS.

    1. Incumbent: greedy (or ``start``) improved by best-swap local search.
    2. Upper bound: Lagrangian relaxation of the coverage rows (subgradient), which for
       any multipliers 0 <= lambda_i <= w_i bounds every solution; with x_j forced open the
       bound is UB - s_p + c_j (c_j: column score, s_p: the p-th best score).
    3. Columns whose forced bound is below a threshold T cannot be in a solution worth T or
       more; HiGHS solves the MIP over the remaining columns. If its optimum is >= T it is
       optimal for the full problem; otherwise T is lowered to the incumbent (then the
       reduction is exact by the same argument) and the MIP is solved again.
    """
    n_x = r.a.shape[1]
    detail = {"n_pairs_within_radius": r.n_pairs, "n_demand_rows": r.a.shape[0],
              "n_candidate_columns": n_x, "solver": "highspy MIP after Lagrangian "
              "reduction", "formulation": "sparse MCLP: merged demand rows, existing sites "
              "fixed, only pairs within the radius"}
    if p == 0 or n_x == 0:
        return _Solved(np.array([], dtype=np.int64), "optimal", 0.0, detail, lam)
    if p >= n_x:  # every useful candidate fits: all remaining demand is covered
        return _Solved(np.arange(n_x), "optimal", float(r.w.sum()), detail, lam)
    a_csc = r.a.tocsc()
    inc = _local_search(r.a, a_csc, r.w, start if start is not None
                        else _greedy_columns(r.a, r.w, p), deadline=t0 + 0.25 * time_limit_s)
    lb = _value(a_csc, r.w, inc)
    ub, lam = _lagrangian(r.a, r.w, p, lb, lam, deadline=t0 + 0.5 * time_limit_s)
    detail.update(lagrangian_bound=round(ub, 6), heuristic_value=lb)
    if ub - lb <= 1e-9 * max(ub, 1):
        detail["n_columns_to_solver"] = 0
        return _Solved(np.asarray(inc), "optimal", ub, detail, lam)
    score = np.asarray(r.a.T @ lam).ravel()
    srt = np.sort(score)[::-1]
    s_p, s_next = srt[p - 1], (srt[p] if p < n_x else 0.0)
    top = np.zeros(n_x, dtype=bool)
    top[np.argsort(-score, kind="stable")[:p]] = True
    forced_open = np.where(top, ub, ub - s_p + score)  # bound with the column open
    forced_closed = np.where(top, ub - score + s_next, ub)  # bound with the column closed
    margin = max(1.0, 5e-4 * ub)
    threshold = max(lb, ub - margin)
    while True:
        allowed = (forced_open >= threshold) | np.isin(np.arange(n_x), inc)
        fixed = np.flatnonzero(top & (forced_closed < threshold))
        free = np.setdiff1d(np.flatnonzero(allowed), fixed)
        done = np.zeros(r.a.shape[0], dtype=bool)
        for j in fixed:
            done[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] = True
        sub = _reduce(r.a[:, free], r.w, done)
        left = time_limit_s - (time.perf_counter() - t0)
        x, status, bnd = _highs_mclp(sub, p - len(fixed), max(left, 0.01),
                                     start=np.isin(free[sub.cand], inc))
        chosen = np.concatenate([fixed, free[sub.cand[x]]])
        if len(chosen) < p:  # fewer useful columns than sites: pad with any others
            rest = np.setdiff1d(np.arange(n_x), chosen)[:p - len(chosen)]
            chosen = np.concatenate([chosen, rest])
        val = _value(a_csc, r.w, chosen)
        detail.update(n_columns_to_solver=len(sub.cand), n_columns_fixed_open=len(fixed),
                      threshold=round(threshold, 6))
        if val < lb:  # the solver stopped early with less than the incumbent
            chosen, val = np.asarray(inc), lb
        if status != "optimal":
            # outside the restricted space every solution is below the threshold
            bound = min(ub, max(threshold, sub.base_weight + bnd))
            return _Solved(chosen, status, max(bound, val), detail, lam)
        if val >= threshold - 1e-9 * max(ub, 1) or threshold <= lb:
            return _Solved(chosen, "optimal", val, detail, lam)
        inc, lb = chosen, val
        margin *= 4
        threshold = max(lb, ub - margin)


def _value(a_csc: sp.csc_matrix, w: np.ndarray, cols) -> float:
    covered = np.zeros(a_csc.shape[0], dtype=bool)
    for j in cols:
        covered[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] = True
    return float(w[covered].sum())


def _local_search(a: sp.csr_matrix, a_csc: sp.csc_matrix, w: np.ndarray, cols,
                  max_swaps: int = 200, deadline: float = np.inf) -> np.ndarray:
    """Best-improvement 1-swap local search (one chosen column out, one other in)."""
    cols = [int(c) for c in cols]
    at = a_csc.T.tocsr()
    for _ in range(max_swaps):
        if time.perf_counter() > deadline:
            break
        cnt = np.bincount(np.concatenate([a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
                                          for j in cols]) if cols else np.array([], int),
                          minlength=a.shape[0])
        gain_new = at @ (w * (cnt == 0))
        best, move = 1e-9, None
        for k, s in enumerate(cols):
            rows = a_csc.indices[a_csc.indptr[s]:a_csc.indptr[s + 1]]
            uniq = rows[cnt[rows] == 1]
            sub = a[uniq]
            back = np.bincount(sub.indices, weights=np.repeat(w[uniq], np.diff(sub.indptr)),
                               minlength=a.shape[1])
            val = gain_new + back - w[uniq].sum()
            val[cols] = -np.inf
            j = int(np.argmax(val))
            if val[j] > best:
                best, move = val[j], (k, j)
        if move is None:
            break
        cols[move[0]] = move[1]
    return np.asarray(cols, dtype=np.int64)


def _lagrangian(a: sp.csr_matrix, w: np.ndarray, p: int, lb: float,
                lam: np.ndarray | None = None, iters: int = 4000, theta: float = 2.0,
                deadline: float = np.inf) -> tuple[float, np.ndarray]:
    """Lagrangian upper bound of the MCLP (coverage rows relaxed), minimised by subgradient
    steps (Polyak step towards the incumbent ``lb``, halving when stalled). Returns the best
    bound found and its multipliers; any multipliers in [0, w] give a valid bound."""
    af = a.astype(float)
    at = af.T.tocsr()
    n_x = a.shape[1]
    if lam is None or len(lam) != len(w):
        lam = 0.5 * w / np.maximum(np.diff(a.indptr), 1)
    lam = np.clip(lam, 0, w)
    best_ub, best_lam, stall = np.inf, lam, 0
    for _ in range(iters):
        c = at @ lam
        top = np.argpartition(-c, p - 1)[:p]
        y = w > lam
        ub = float(np.sum(w[y] - lam[y]) + c[top].sum())
        if ub < best_ub - 1e-9 * max(abs(ub), 1):
            best_ub, best_lam, stall = ub, lam, 0
        else:
            stall += 1
            if stall >= 50:
                theta, stall = theta / 2, 0
        x = np.zeros(n_x)
        x[top] = 1
        g = y - af @ x
        norm = float(g @ g)
        if (norm == 0 or theta < 1e-4 or best_ub - lb <= 1e-9 * max(best_ub, 1)
                or time.perf_counter() > deadline):
            break
        lam = np.clip(lam + theta * (ub - lb) / norm * g, 0, w)
    return best_ub, best_lam


def _highs_mclp(r: _Reduced, p: int, time_limit_s: float, start: np.ndarray
                ) -> tuple[np.ndarray, str, float]:
    """HiGHS on a reduced MCLP; (chosen columns as a bool mask, status, bound)."""
    n_x = r.a.shape[1]
    if p >= n_x:
        return np.ones(n_x, dtype=bool), "optimal", float(r.w.sum())
    if r.a.nnz < CHILD_MIN_NNZ:
        return _highs_mclp_here(r.a, r.w, p, time_limit_s, start)
    return _highs_mclp_in_child(r.a, r.w, p, time_limit_s, start)


def _highs_mclp_here(a: sp.csr_matrix, w: np.ndarray, p: int, time_limit_s: float,
                     start: np.ndarray) -> tuple[np.ndarray, str, float]:
    n_x, n_y = a.shape[1], a.shape[0]
    h = _highs(time_limit_s)
    cost = np.concatenate([np.zeros(n_x), w])
    _pass(h, n_x, a, maximize=True, col_cost=cost, col_upper=np.ones(n_x + n_y),
          extra_rows=[(np.concatenate([np.ones(n_x), np.zeros(n_y)]), p, p)])
    if start.sum() == p:
        v = np.zeros(n_x + n_y)
        v[:n_x] = start
        v[n_x:] = np.minimum(1, np.asarray(a[:, np.flatnonzero(start)].sum(axis=1)).ravel())
        _set_start(h, v)
    h.run()
    x = np.asarray(h.getSolution().col_value[:n_x]) > 0.5
    return x, _status(h), float(h.getInfo().mip_dual_bound)


def _highs_mclp_in_child(a: sp.csr_matrix, w: np.ndarray, p: int, time_limit_s: float,
                         start: np.ndarray) -> tuple[np.ndarray, str, float]:
    """The same solve in a child process (``python -m geo_api.analysis.siting``) that is
    ended at the time limit: HiGHS does not look at its time limit during presolve, which on
    a large model (e.g. 6,644 candidates x 17,174 demand rows) runs for seconds past it.
    Ended early (or failed), the answer is ``start`` with status "time_limit" and no bound
    from the solver (the caller keeps its own)."""
    t0 = time.perf_counter()
    model = io.BytesIO()
    np.savez(model, indptr=a.indptr, indices=a.indices, shape=np.asarray(a.shape), w=w,
             p=np.asarray(p), start=start,
             time_limit_s=np.asarray(max(time_limit_s - CHILD_START_S, 0.05)))
    stopped = (start.astype(bool), "time_limit", np.inf)
    child = subprocess.Popen([sys.executable, "-m", "geo_api.analysis.siting"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
    try:
        # the child's start-up (imports) counts against the limit
        left = time_limit_s - (time.perf_counter() - t0)
        out, _ = child.communicate(model.getvalue(), timeout=max(left, 0.01))
    except subprocess.TimeoutExpired:
        return stopped
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    if child.returncode != 0:
        return stopped
    got = np.load(io.BytesIO(out))
    return got["x"].astype(bool), str(got["status"]), float(got["bound"])


def _child_main() -> None:
    """The child's side of ``_highs_mclp_in_child``: a model on stdin, the answer on
    stdout (both .npz)."""
    m = np.load(io.BytesIO(sys.stdin.buffer.read()))
    a = sp.csr_matrix((np.ones(len(m["indices"]), dtype=bool), m["indices"], m["indptr"]),
                      shape=tuple(m["shape"]))
    out = sys.stdout.buffer
    x, status, bound = _highs_mclp_here(a, m["w"], int(m["p"]), float(m["time_limit_s"]),
                                        m["start"])
    answer = io.BytesIO()
    np.savez(answer, x=x, status=np.asarray(status), bound=np.asarray(bound))
    out.write(answer.getvalue())
    out.flush()


def _set_start(h, values: np.ndarray) -> None:
    import highspy  # noqa: PLC0415 - lazy: exact siting only

    sol = highspy.HighsSolution()
    sol.col_value = values.tolist()
    sol.value_valid = True
    h.setSolution(sol)


def _finish(cover, weight, r: _Reduced, covered_by_existing, solved: _Solved, t0
            ) -> SitingResult:
    base = (np.zeros(cover.shape[0], dtype=bool) if covered_by_existing is None
            else np.asarray(covered_by_existing, dtype=bool))
    order, gains = greedy_order(cover, weight, r.cand[solved.cols], base)
    covered = r.base_weight + float(gains.sum())
    bound = covered if solved.status == "optimal" else r.base_weight + solved.bound
    bound = max(bound, covered)
    gap = (bound - covered) / bound if bound > 0 else 0.0
    return SitingResult(chosen=order, marginal_weight=gains, covered_weight=covered,
                        existing_covered_weight=r.base_weight, total_weight=r.total_weight,
                        status=solved.status, bound_weight=float(bound),
                        gap=max(0.0, float(gap)), solve_s=time.perf_counter() - t0,
                        model=solved.detail)


def lscp(cover: sp.csr_matrix, weight: np.ndarray, target_share: float, *,
         covered_by_existing: np.ndarray | None = None,
         time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> SitingResult:
    """Fewest new sites so that existing + new cover at least ``target_share`` of all demand
    weight (partial set covering).

    Solved exactly as a search over p with the MCLP: the optimal coverage grows with p, so
    the answer is the smallest p whose MCLP optimum reaches the target. Greedy gives a p that
    is enough; bisection below it uses Lagrangian bounds (p too small when the bound is
    short of the target) and exact MCLP solves. ``model["sites_lower_bound"]`` is the proven
    minimum. ``status="infeasible"`` when even every candidate cannot reach the target
    (``bound_weight`` is then the most that can be covered)."""
    if not 0 < target_share <= 1:
        raise ValueError("target_share must be in (0, 1]")
    t0 = time.perf_counter()
    r = _reduce(cover, weight, covered_by_existing)
    need = target_share * r.total_weight - r.base_weight - 1e-9 * r.total_weight
    detail = {"n_pairs_within_radius": r.n_pairs, "n_demand_rows": r.a.shape[0],
              "n_candidate_columns": r.a.shape[1], "target_share": target_share,
              "method": "smallest p whose exact MCLP optimum reaches the target (bisection)"}
    if need <= 0:
        return _finish(cover, weight, r, covered_by_existing,
                       _Solved(np.array([], dtype=np.int64), "optimal", 0.0,
                               {**detail, "sites_lower_bound": 0}), t0)
    if r.w.sum() < need:
        return _finish(cover, weight, r, covered_by_existing,
                       _Solved(np.arange(r.a.shape[1]), "infeasible", float(r.w.sum()),
                               {**detail, "sites_lower_bound": None}), t0)
    a_csc = r.a.tocsc()
    greedy = _greedy_columns(r.a, r.w, r.a.shape[1])
    covered = np.zeros(r.a.shape[0], dtype=bool)
    hi_cols = greedy
    for k, j in enumerate(greedy):
        covered[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] = True
        if r.w[covered].sum() >= need:
            hi_cols = greedy[:k + 1]
            break
    # lo: sites proven too few; hi: sites known to be enough; undecided p are skipped
    # upwards (the search then only proves what it proved: short = largest proven-too-few)
    lo, hi, best = 0, len(hi_cols), _Solved(hi_cols, "greedy", float(r.w.sum()), {})
    short, exact = 0, True
    deadline = t0 + (1 - FINISH_SHARE) * time_limit_s
    while hi - lo > 1:
        mid = (lo + hi) // 2
        left = deadline - time.perf_counter()
        if left <= 0:
            exact = False
            break
        ub, _ = _lagrangian(r.a, r.w, mid, need, deadline=time.perf_counter() + 0.25 * left)
        if ub < need:
            lo = short = max(short, mid)
            continue
        now = time.perf_counter()
        sol = _solve_mclp(r, mid, max(deadline - now, 0.01), now)
        val = _value(a_csc, r.w, sol.cols)
        if val >= need:
            hi, best = mid, sol
        elif sol.status == "optimal" or sol.bound < need:
            lo = short = max(short, mid)
        else:  # undecided within the time limit: search above it, but prove nothing
            exact = False
            lo = mid
    detail["sites_lower_bound"] = hi if exact else short + 1
    result = _finish(cover, weight, r, covered_by_existing,
                     _Solved(best.cols, "optimal" if exact else "time_limit", best.bound, detail),
                     t0)
    # "optimal" here is about the number of sites; the coverage bound for that number is
    # the MCLP's (its optimum when solved, else its bound; the whole reachable demand for
    # the greedy answer)
    result.bound_weight = max(result.covered_weight, r.base_weight + best.bound)
    result.gap = ((result.bound_weight - result.covered_weight) / result.bound_weight
                  if result.bound_weight > 0 else 0.0)
    return result


def p_curve(cover: sp.csr_matrix, weight: np.ndarray, max_p: int, *,
            covered_by_existing: np.ndarray | None = None,
            time_limit_s: float = DEFAULT_TIME_LIMIT_S) -> list[SitingResult]:
    """Optimal MCLP for p = 1..max_p new sites, each solved exactly (planners read off how
    much each extra kit adds). The model is reduced once; each p starts from the previous
    p's solution plus its best addition. ``time_limit_s`` bounds the whole curve: p values
    reached after it get the best solution found quickly, with status "time_limit"."""
    t0 = time.perf_counter()
    r = _reduce(cover, weight, covered_by_existing)
    out, cols = [], np.array([], dtype=np.int64)
    a_csc = r.a.tocsc()
    for p in range(1, max_p + 1):
        t = time.perf_counter()
        start = None
        if 0 < len(cols) == p - 1 < r.a.shape[1]:
            cov = np.zeros(r.a.shape[0], dtype=bool)
            for j in cols:
                cov[a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]] = True
            gain = np.asarray(a_csc.T @ (r.w * ~cov)).ravel()
            gain[cols] = -np.inf
            start = np.append(cols, int(np.argmax(gain)))
        left = (1 - FINISH_SHARE) * time_limit_s - (t - t0)
        if left > 0:
            sol = _solve_mclp(r, p, left, t, start=start)
        else:  # out of time: the quick choice, bounded by the p largest column weights
            cols = start if start is not None else _greedy_columns(r.a, r.w, p)
            top = np.sort(np.asarray(a_csc.T @ r.w).ravel())[::-1][:p].sum()
            sol = _Solved(np.asarray(cols, dtype=np.int64), "time_limit",
                          float(min(top, r.w.sum())), {})
        cols = sol.cols
        out.append(_finish(cover, weight, r, covered_by_existing, sol, t))
    return out


def p_curve_bounds(cover: sp.csr_matrix, weight: np.ndarray, max_p: int, *,
                   covered_by_existing: np.ndarray | None = None, lag_iters: int = 300
                   ) -> list[SitingResult]:
    """A fast p-curve with a proven band instead of exact optima.

    Lower value: greedy sites improved by best-swap local search (a real choice of sites).
    Upper bound: the smaller of (a) Nemhauser-Wolsey-Fisher's data-dependent bound (coverage
    is submodular, so for any set S, OPT(p) <= f(S) + the sum of the p largest marginal
    gains over S, taken over every greedy prefix S) and (b) a short Lagrangian bound
    warm-started from the previous p (any multipliers give a valid bound). ``status`` is "optimal" where the two meet and
    "bounded" otherwise (``gap`` says how far apart they can be)."""
    t0 = time.perf_counter()
    r = _reduce(cover, weight, covered_by_existing)
    n_x = r.a.shape[1]
    a_csc = r.a.tocsc()
    upper = np.full(max_p + 1, np.inf)
    gain = np.asarray(a_csc.T @ r.w).ravel()
    done = np.zeros(r.a.shape[0], dtype=bool)
    value, order = 0.0, []
    ps = np.arange(max_p + 1)
    for k in range(min(max_p, n_x) + 1):
        top = np.sort(gain[np.isfinite(gain)])[::-1][:max_p]
        csum = np.concatenate([[0.0], np.cumsum(np.maximum(top, 0))])
        upper = np.minimum(upper, value + csum[np.minimum(ps, len(top))])
        if k == min(max_p, n_x):
            break
        j = int(np.argmax(gain))
        order.append(j)
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        newly = rows[~done[rows]]
        done[newly] = True
        value += float(r.w[newly].sum())
        if len(newly):
            sub = r.a[newly]
            gain -= np.bincount(sub.indices, weights=np.repeat(r.w[newly], np.diff(sub.indptr)),
                                minlength=n_x)
        gain[j] = -np.inf
    out, lam = [], None
    for p in range(1, max_p + 1):
        t = time.perf_counter()
        cols = _local_search(r.a, a_csc, r.w, order[:p]) if p <= n_x else np.arange(n_x)
        val = _value(a_csc, r.w, cols)
        ub = min(float(upper[min(p, max_p)]), float(r.w.sum()))
        if p < n_x and ub - val > 1e-9 * max(ub, 1):  # tighten with a short warm Lagrangian
            lag, lam = _lagrangian(r.a, r.w, p, val, lam, iters=lag_iters,
                                   theta=2.0 if lam is None else 0.25)
            ub = min(ub, lag)
        status = "optimal" if ub - val <= 1e-9 * max(ub, 1) else "bounded"
        detail = {"method": "greedy + local search, submodular upper bound",
                  "n_pairs_within_radius": r.n_pairs, "n_demand_rows": r.a.shape[0],
                  "n_candidate_columns": n_x}
        out.append(_finish(cover, weight, r, covered_by_existing,
                           _Solved(cols, status, ub, detail), t))
    if out:
        out[-1].model["total_s"] = time.perf_counter() - t0
    return out


if __name__ == "__main__":
    _child_main()
