"""Forecast evaluation core (analysis/forecast.py): metrics by hand on tiny grids, the tie
rule at the cut, PEI = 1 for the oracle, no fold sees data after its cut-off (poisoned later
months), the ensemble's choice uses earlier folds only, and the paired comparison."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_api.analysis.forecast import (
    METHODS,
    Params,
    Space,
    backtest,
    best_method,
    evaluate,
    folds,
    hit_rate_curve,
    paired,
    score,
    selection_weights,
)


def line_space(n: int, spacing_m: float = 250.0, area: float = 1.0) -> Space:
    """n units on a line, each adjacent to its neighbours."""
    adj = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr")
    return Space(np.full(n, area), np.arange(n) * spacing_m, np.zeros(n), adj)


def test_ties_at_the_cut_are_included_in_proportion():
    w = selection_weights(np.array([5, 3, 3, 1]), np.ones(4), 0.375)  # 1.5 units of area
    assert w.tolist() == [1.0, 0.25, 0.25, 0.0]
    w = selection_weights(np.array([5, 3, 3, 1]), np.ones(4), 0.25)
    assert w.tolist() == [1.0, 0.0, 0.0, 0.0]
    # one unit that overshoots is included in proportion: the area is exactly the coverage
    w = selection_weights(np.array([2.0, 1.0]), np.array([1.0, 3.0]), 0.5)
    assert w.tolist() == [1.0, 1 / 3]


def test_hit_rate_pai_pei_rri_by_hand():
    area = np.ones(4)
    future = np.array([10.0, 5, 5, 0])
    past = np.array([4.0, 2, 2, 2])
    r = evaluate(np.array([5.0, 3, 3, 1]), area, future, past, 0.25)
    assert (r.hit_rate, r.pai, r.pei) == (0.5, 2.0, 1.0)
    assert r.rri == pytest.approx((10 / 4) / (20 / 10))
    r = evaluate(np.array([5.0, 3, 3, 1]), area, future, past, 0.5)
    assert (r.hit_rate, r.pai, r.pei) == (0.75, 1.5, 1.0)  # 10 + half of 5 + half of 5
    r = evaluate(np.array([0.0, 0, 0, 9]), area, future, past, 0.25)
    assert (r.hit_rate, r.pai, r.pei) == (0.0, 0.0, 0.0)
    assert hit_rate_curve(np.array([5.0, 3, 3, 1]), area, future, [0.25, 0.5, 1.0]).tolist() \
        == [0.5, 0.75, 1.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0.2, 3.0), st.floats(0, 1)),
                min_size=2, max_size=40),
       st.sampled_from([0.01, 0.05, 0.1, 0.2, 0.5]))
def test_oracle_scores_the_maximum_and_pei_is_at_most_one(units, coverage):
    future = np.array([u[0] for u in units], float)
    area = np.array([u[1] for u in units])
    noise = np.array([u[2] for u in units])
    if future.sum() == 0:
        return
    oracle = evaluate(future / area, area, future, future, coverage)
    assert oracle.pei == pytest.approx(1.0)
    other = evaluate(noise, area, future, future, coverage)
    assert other.pai <= oracle.pai + 1e-9 and other.pei <= 1 + 1e-9
    assert other.area_share == pytest.approx(coverage)


def test_no_fold_uses_data_after_its_cut_off():
    rng = np.random.default_rng(3)
    counts = rng.poisson(rng.gamma(0.6, 2, size=(40, 1)), size=(40, 10)).astype(float)
    space = line_space(40)
    base = backtest(counts, space, horizon=1)
    for f in folds(10, Params().window, 1):
        poisoned = counts.copy()
        poisoned[:, f.cutoff + 1:] = rng.poisson(50, size=poisoned[:, f.cutoff + 1:].shape)
        again = backtest(poisoned, space, horizon=1)
        mine = [r for r in base["folds"] if r["cutoff"] == f.cutoff]
        theirs = [r for r in again["folds"] if r["cutoff"] == f.cutoff]
        assert mine == theirs
        # the scores (and the ensemble's choice) do not even see the test month
        test_poisoned = counts.copy()
        test_poisoned[:, f.cutoff:] = 99
        for m in METHODS:
            assert np.array_equal(score(m, counts[:, :f.cutoff], space, Params()),
                                  score(m, test_poisoned[:, :f.cutoff], space, Params()))
        third = backtest(test_poisoned, space, horizon=1)
        ens = [r["params"] for r in third["folds"]
               if r["cutoff"] == f.cutoff and r["method"] == "ensemble"]
        assert ens == [r["params"] for r in mine if r["method"] == "ensemble"]


def test_ensemble_uses_defaults_until_an_earlier_fold_has_ended():
    rng = np.random.default_rng(5)
    counts = rng.poisson(2, size=(30, 9)).astype(float)
    r = backtest(counts, line_space(30), methods=["naive", "ensemble"], horizon=3)
    ens = [x for x in r["folds"] if x["method"] == "ensemble"]
    p = Params()
    # folds at cut-offs 3, 4, 5 and 6: only the fold at 6 has an earlier fold (3) whose
    # test months (3, 4, 5) end by its cut-off
    assert [x["cutoff"] for x in ens] == [3, 4, 5, 6]
    assert all(x["params"] == {"bandwidth_m": p.bandwidth_m, "half_life": p.half_life}
               for x in ens[:3])


def test_kde_kernel_matches_brute_force():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 2000, 60), rng.uniform(0, 2000, 60)
    space = Space(np.ones(60), x, y, sp.csr_matrix((60, 60)))
    k = space.kernel(400.0).toarray()
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    u = d / 400
    brute = np.where(u < 1, 3 / np.pi * (1 - u ** 2) ** 2 / 400 ** 2 * 1e6, 0)
    assert np.allclose(k, brute)


def test_methods_rank_as_described():
    space = line_space(9)
    history = np.zeros((9, 6))
    history[4, -1] = 6  # last month: unit 4
    history[0, :3] = 10  # long ago: unit 0
    p = Params(window=3, half_life=1.0)
    assert np.argmax(score("naive", history, space, p)) == 4
    assert np.argmax(score("long_run", history, space, p)) == 0
    assert np.argmax(score("recency", history, space, p)) == 4
    kde = score("kde", history, space, Params(window=3, bandwidth_m=300))
    assert kde[4] > kde[3] == kde[5] > 0 and kde[0] == 0  # 250 m neighbours get some
    gi = score("gi", history, space, p)
    assert np.argmax(gi) in (3, 4, 5)


def test_paired_comparison_by_hand():
    rows = [{"cutoff": c, "method": m, "pai": v} for c, m, v in [
        (3, "naive", 2.0), (3, "kde", 3.0), (4, "naive", 2.0), (4, "kde", 1.0),
        (5, "naive", 2.0), (5, "kde", 4.0)]]
    (out,) = paired(rows, ["naive", "kde"])
    assert (out["wins"], out["losses"], out["ties"]) == (2, 1, 0)
    assert out["mean_pai_difference"] == pytest.approx(2 / 3)
    sd = np.std([1.0, -1.0, 2.0], ddof=1)
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    assert out["ci95_low"] == pytest.approx(2 / 3 - half)
    assert best_method([{"method": "naive", "mean_pai": 2.0},
                        {"method": "kde", "mean_pai": 2.6}]) == "kde"
    assert best_method([{"method": "kde", "mean_pai": 2.0},
                        {"method": "naive", "mean_pai": 2.0}]) == "naive"


def test_walk_forward_chooses_each_fold_by_the_earlier_folds_only():
    """Hand-checkable folds: 'a' wins the first two cut-offs, 'b' the last two. Walk-forward
    picks by the cut-offs before each one; the in-sample best ('b' over all four) is not
    what a user choosing each month would have got."""
    from geo_api.analysis.forecast import walk_forward

    pai = {"naive": [1.0, 1.0, 1.0, 1.0], "kde": [3.0, 3.0, 1.0, 1.0],
           "long_run": [2.0, 2.0, 5.0, 5.0]}
    folds = [{"cutoff": c, "method": m, "pai": v[k], "hit_rate": v[k] / 10}
             for m, v in pai.items() for k, c in enumerate((3, 4, 5, 6))]
    w = walk_forward(folds, ["naive", "long_run", "kde"])
    assert [(p["cutoff"], p["method"]) for p in w["picks"]] == [
        (4, "kde"), (5, "kde"), (6, "long_run")]  # at 6: long_run 9 vs kde 7 before it
    assert w["n_folds"] == 3
    assert w["mean_pai"] == pytest.approx((3.0 + 1.0 + 5.0) / 3)
    assert w["mean_hit_rate"] == pytest.approx((0.3 + 0.1 + 0.5) / 3)
    assert w["naive_mean_pai"] == pytest.approx(1.0)
    # in-sample: long_run's mean over all folds (3.5) is higher than walk-forward (3.0)
    assert np.mean(pai["long_run"]) > w["mean_pai"]
    one = walk_forward([r for r in folds if r["cutoff"] == 3], ["naive", "long_run", "kde"])
    assert one["n_folds"] == 0 and np.isnan(one["mean_pai"])
