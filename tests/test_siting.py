"""Kit coverage and siting: MCLP / partial set covering against spopt and brute force.

All instances here are SYNTHETIC (random points), built to be checkable by reference
implementations, not to resemble Leicester."""

from __future__ import annotations

import itertools

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from spopt.locate import MCLP

from geo_api.analysis.coverage import (
    aggregate_demand,
    coverage_curve,
    nearest_site_distance_m,
    recency_weights,
    site_coverage,
    within_radius,
)
from geo_api.analysis.siting import greedy_order, lscp, mclp, p_curve, p_curve_bounds


def _instance(seed, n_demand=60, n_sites=15, size=1000.0, clustered=False):
    rng = np.random.default_rng(seed)
    if clustered:
        c = rng.uniform(0, size, (4, 2))
        d = c[rng.integers(0, 4, n_demand)] + rng.normal(0, size / 10, (n_demand, 2))
    else:
        d = rng.uniform(0, size, (n_demand, 2))
    s = rng.uniform(0, size, (n_sites, 2))
    w = rng.integers(1, 10, n_demand).astype(float)
    cost = np.hypot(d[:, None, 0] - s[None, :, 0], d[:, None, 1] - s[None, :, 1])
    return d, s, w, cost


def _covered(cost, radius, cols):
    return (cost[:, list(cols)] <= radius).any(axis=1) if len(cols) else np.zeros(len(cost), bool)


def test_within_radius_is_the_dense_rule_inclusive():
    d, s, _, cost = _instance(0)
    m = within_radius(d, s, 200.0)
    assert (m.toarray() == (cost <= 200.0)).all()
    # a pair at exactly the radius is covered
    exact = within_radius(np.array([[0.0, 0.0]]), np.array([[120.0, 160.0]]), 200.0)
    assert exact.nnz == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp")  # spopt 0.7 on PuLP 3.3
@pytest.mark.parametrize("seed", range(8))
def test_mclp_objective_equals_spopt_with_predefined_sites(seed):
    d, s, w, cost = _instance(seed, clustered=seed % 2 == 0)
    radius, p_new = 220.0, 3
    existing = np.zeros(len(s), dtype=int)
    existing[[0, 1]] = 1
    ref = MCLP.from_cost_matrix(cost, w, radius, p_facilities=p_new + 2,
                                predefined_facilities_arr=existing)
    ref.solve(pulp.PULP_CBC_CMD(msg=False))
    ref_obj = pulp.value(ref.problem.objective)
    cover = within_radius(d, s, radius)
    base = _covered(cost, radius, [0, 1])
    cand = np.arange(2, len(s))
    ours = mclp(cover[:, cand], w, p_new, covered_by_existing=base)
    assert ours.status == "optimal"
    assert ours.covered_weight == pytest.approx(ref_obj)
    chosen = cand[ours.chosen]
    assert len(chosen) <= p_new and not set(chosen) & {0, 1}  # existing kits kept, not re-picked
    assert w[_covered(cost, radius, [0, 1, *chosen])].sum() == pytest.approx(ref_obj)
    assert ours.existing_covered_weight == pytest.approx(w[base].sum())


@pytest.mark.parametrize("seed", range(5))
def test_mclp_equals_brute_force_on_tiny_instances(seed):
    d, s, w, cost = _instance(100 + seed, n_demand=25, n_sites=8, size=600.0)
    radius = 150.0
    cover = within_radius(d, s, radius)
    for p in (1, 2, 3, 4):
        best = max(w[_covered(cost, radius, c)].sum()
                   for c in itertools.combinations(range(len(s)), p))
        r = mclp(cover, w, p)
        assert r.covered_weight == pytest.approx(best), p
        assert r.status == "optimal" and r.gap == 0


def test_chosen_sites_come_in_order_of_marginal_gain():
    d, s, w, cost = _instance(7, n_demand=200, n_sites=40, clustered=True)
    cover = within_radius(d, s, 150.0)
    r = mclp(cover, w, 6)
    assert np.all(np.diff(r.marginal_weight) <= 1e-9)
    running = np.zeros(len(d), bool)
    for j, gain in zip(r.chosen, r.marginal_weight):
        new = (cost[:, j] <= 150.0) & ~running
        assert w[new].sum() == pytest.approx(gain)
        running |= cost[:, j] <= 150.0
    assert r.covered_weight == pytest.approx(w[running].sum())


def test_mclp_result_when_more_sites_than_useful_candidates():
    d, s, w, cost = _instance(3, n_demand=30, n_sites=5)
    cover = within_radius(d, s, 100.0)
    r = mclp(cover, w, 10)
    assert r.covered_weight == pytest.approx(w[(cost <= 100.0).any(axis=1)].sum())
    assert r.status == "optimal"


@pytest.mark.parametrize("target", [0.3, 0.6, 0.9])
def test_lscp_reaches_its_target_with_the_fewest_sites(target):
    d, s, w, cost = _instance(11, n_demand=40, n_sites=10, size=800.0)
    radius = 250.0
    cover = within_radius(d, s, radius)
    base = _covered(cost, radius, [0])
    cand = np.arange(1, len(s))
    r = lscp(cover[:, cand], w, target, covered_by_existing=base)
    need = target * w.sum()
    fewest = next((k for k in range(len(cand) + 1)
                   if any(w[_covered(cost, radius, [0, *cand[list(c)]])].sum() >= need - 1e-9
                          for c in itertools.combinations(range(len(cand)), k))), None)
    if fewest is None:
        assert r.status == "infeasible"
        assert r.bound_weight == pytest.approx(w[_covered(cost, radius, range(len(s)))].sum())
        return
    assert r.status == "optimal"
    assert len(r.chosen) == fewest == r.model["sites_lower_bound"]
    assert r.covered_weight >= need - 1e-9


def test_lscp_infeasible_target_says_how_much_can_be_covered():
    d = np.array([[0.0, 0.0], [5000.0, 5000.0]])
    s = np.array([[10.0, 0.0]])
    r = lscp(within_radius(d, s, 100.0), np.array([1.0, 1.0]), 0.9)
    assert r.status == "infeasible"
    assert r.bound_share == pytest.approx(0.5)


def test_p_curve_is_each_p_solved_exactly_and_never_falls():
    d, s, w, cost = _instance(5, n_demand=30, n_sites=9, size=700.0)
    cover = within_radius(d, s, 160.0)
    curve = p_curve(cover, w, 4)
    values = [c.covered_weight for c in curve]
    assert values == sorted(values)
    for p, v in enumerate(values, start=1):
        assert v == pytest.approx(max(w[_covered(cost, 160.0, c)].sum()
                                      for c in itertools.combinations(range(len(s)), p)))


def test_larger_instance_proves_optimality_and_beats_or_ties_greedy():
    rng = np.random.default_rng(42)
    c = rng.uniform(0, 5000, (20, 2))
    d = c[rng.integers(0, 20, 2000)] + rng.normal(0, 300, (2000, 2))
    s = rng.uniform(0, 5000, (400, 2))
    w = rng.poisson(2, 2000) + 1.0
    cover = within_radius(d, s, 250.0)
    r = mclp(cover, w, 12)
    _, gains = greedy_order(cover, w, np.arange(400))
    assert r.status == "optimal" and r.gap == 0
    assert r.covered_weight >= gains[:12].sum() - 1e-9
    assert r.covered_weight <= r.model["lagrangian_bound"] + 1e-6


def test_site_coverage_counts_and_exclusive_demand():
    demand = aggregate_demand(np.array([0, 0, 50, 400, 1000.0]), np.array([0, 0, 0, 0, 0.0]))
    assert list(demand.n) == [2, 1, 1, 1]  # the two offences at (0, 0) are one location
    sites = np.array([[0.0, 0.0], [100.0, 0.0]])
    cov = site_coverage(within_radius(demand.xy, sites, 100.0), demand)
    assert list(cov.per_site_n) == [3, 3]
    assert list(cov.per_site_exclusive_weight) == [0.0, 0.0]
    assert cov.covered_weight == 3 and cov.covered_share == pytest.approx(3 / 5)
    assert list(cov.covered) == [True, True, False, False]


def test_coverage_curve_matches_direct_count():
    d, s, w, cost = _instance(9, n_demand=300, n_sites=6)
    near = nearest_site_distance_m(d, s)
    radii = np.array([50, 100, 200, 500, 1000.0])
    got = coverage_curve(near, w, radii)
    want = [w[(cost <= r).any(axis=1)].sum() / w.sum() for r in radii]
    assert np.allclose(got, want)


def test_recency_weights_halve_each_half_life():
    assert np.allclose(recency_weights(np.array([0, 3, 6]), 3.0), [1, 0.5, 0.25])
    assert np.allclose(recency_weights(np.array([0, 5]), None), [1, 1])
    with pytest.raises(ValueError):
        recency_weights(np.array([1]), 0)


def test_merged_demand_rows_do_not_change_the_optimum():
    # the same location twice as separate rows vs once with the summed weight
    d, s, w, _ = _instance(21, n_demand=40, n_sites=10)
    dd, ww = np.vstack([d, d[:10]]), np.concatenate([w, w[:10]])
    w2 = w.copy()
    w2[:10] *= 2
    a = mclp(within_radius(dd, s, 200.0), ww, 3)
    b = mclp(within_radius(d, s, 200.0), w2, 3)
    assert a.covered_weight == pytest.approx(b.covered_weight)
    assert sp.issparse(within_radius(d, s, 200.0))


def test_p_curve_bounds_hold_the_exact_optimum():
    rng = np.random.default_rng(8)
    c = rng.uniform(0, 4000, (12, 2))
    d = c[rng.integers(0, 12, 1500)] + rng.normal(0, 250, (1500, 2))
    s = rng.uniform(0, 4000, (300, 2))
    w = rng.poisson(2, 1500) + 1.0
    cover = within_radius(d, s, 250.0)
    band = p_curve_bounds(cover, w, 8)
    exact = p_curve(cover, w, 8)
    for b, e in zip(band, exact):
        assert e.status == "optimal"
        assert b.covered_weight - 1e-9 <= e.covered_weight <= b.bound_weight + 1e-9
        assert b.covered_weight == pytest.approx(
            w[np.asarray(cover[:, b.chosen].sum(axis=1)).ravel() > 0].sum())
    assert band[0].status == "optimal"  # p = 1: greedy is exact and the bound meets it


def test_lscp_undecided_solves_prove_nothing(monkeypatch):
    """When an MCLP solve stops at its time limit undecided, set covering must not count
    that p as proven too small: the reported lower bound stays <= the true minimum."""
    from geo_api.analysis import siting

    # an instance where greedy needs 4 sites and 3 are enough, so the search must solve p=3
    d, s, w, cost = _instance(0, n_demand=40, n_sites=10, size=800.0)
    cover = within_radius(d, s, 250.0)
    target = 0.7
    fewest = next(k for k in range(11) if any(
        w[_covered(cost, 250.0, c)].sum() >= target * w.sum() - 1e-9
        for c in itertools.combinations(range(10), k)))
    real = siting._solve_mclp

    def undecided(r, p, left, t0, lam=None, start=None):
        sol = real(r, p, left, t0, lam, start)
        if p >= fewest:  # pretend the solver ran out of time with a weak solution
            weak = siting._greedy_columns(r.a, r.w, 1)
            return siting._Solved(weak, "time_limit", float(r.w.sum()), sol.detail)
        return sol

    monkeypatch.setattr(siting, "_solve_mclp", undecided)
    assert fewest == 3 and lscp(cover, w, target).model["sites_lower_bound"] == 3
    res = lscp(cover, w, target)
    assert res.status == "time_limit"
    assert res.model["sites_lower_bound"] <= fewest
    assert res.covered_weight >= target * w.sum() - 1e-9  # the answer still reaches it
    assert res.bound_weight >= res.covered_weight


def test_lagrangian_bound_is_valid_even_when_stopped_at_once():
    from geo_api.analysis import siting

    d, s, w, cost = _instance(4, n_demand=50, n_sites=12)
    cover = within_radius(d, s, 200.0)
    r = siting._reduce(cover, w, None)
    best = max(w[_covered(cost, 200.0, c)].sum() for c in itertools.combinations(range(12), 3))
    for deadline in (0.0, float("inf")):
        ub, _ = siting._lagrangian(r.a, r.w, 3, 0.0, deadline=deadline)
        assert ub >= best - 1e-9


# ------------------------------------------------ time limits (issue 29) ----------------
def _naive_greedy_order(cover, w, sites, covered):
    """The definition, one site at a time: the site adding the most uncovered weight
    (ties: the earlier in ``sites``)."""
    a = sp.csc_matrix(cover, dtype=bool)
    done, left, order, gains = covered.copy(), list(sites), [], []
    while left:
        g = [w[a[:, s].indices][~done[a[:, s].indices]].sum() for s in left]
        k = int(np.argmax(g))
        order.append(left.pop(k))
        gains.append(g[k])
        done[a[:, order[-1]].indices] = True
    return order, gains


@pytest.mark.parametrize("seed", range(6))
def test_greedy_order_equals_its_definition(seed):
    rng = np.random.default_rng(seed)
    cover = sp.random(300, 40, density=0.05, random_state=seed, format="csr") > 0
    w = rng.integers(0, 4, 300).astype(float)  # many ties and zero gains
    sites = rng.permutation(40)[:25]
    covered = rng.random(300) < 0.2
    order, gains = greedy_order(cover, w, sites, covered)
    want_order, want_gains = _naive_greedy_order(cover, w, sites, covered)
    assert order.tolist() == want_order
    np.testing.assert_allclose(gains, want_gains)


def _large_model(seed=3):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 20_000, (6000, 2))
    s = rng.uniform(0, 20_000, (1500, 2))
    return within_radius(d, s, 900.0), rng.poisson(2, 6000) + 1.0


def test_a_large_model_solved_in_a_child_process_gives_the_same_answer(monkeypatch):
    from geo_api.analysis import siting

    cover, w = _large_model()
    here = mclp(cover, w, 8, time_limit_s=60)
    monkeypatch.setattr(siting, "CHILD_MIN_NNZ", 0)  # every solve in the child
    child = mclp(cover, w, 8, time_limit_s=60)
    assert here.status == child.status == "optimal"
    assert child.covered_weight == pytest.approx(here.covered_weight)


def test_a_child_solver_out_of_time_is_ended_and_the_incumbent_kept(monkeypatch):
    import subprocess

    from geo_api.analysis import siting

    started = []
    real = subprocess.Popen

    def popen(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(siting.subprocess, "Popen", popen)
    cover, w = _large_model()
    a = sp.csr_matrix(cover, dtype=bool)
    start = np.zeros(a.shape[1], dtype=bool)
    start[:5] = True
    x, status, bound = siting._highs_mclp_in_child(a, w, 5, 0.05, start)
    assert status == "time_limit" and bound == np.inf and x.tolist() == start.tolist()
    assert started and all(p.poll() is not None for p in started)  # ended, not left running


def test_p_curve_past_its_time_limit_still_answers_every_p_with_a_valid_bound():
    cover, w = _large_model()
    exact = p_curve(cover, w, 12, time_limit_s=60)
    curve = p_curve(cover, w, 12, time_limit_s=1e-6)  # out of time before the first p
    assert len(curve) == 12 and {r.status for r in curve} == {"time_limit"}
    for quick, best in zip(curve, exact):
        assert best.status == "optimal"
        assert quick.covered_weight <= best.covered_weight + 1e-6 <= quick.bound_weight + 2e-6
