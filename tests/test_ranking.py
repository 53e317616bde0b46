"""People Zone ranking components, checked by hand on tiny fixtures (SYNTHETIC numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo_api.analysis.ranking import (
    composite,
    eb_rates,
    rank_uncertainty,
    standardise,
    trend_log_ratio,
    weight_sensitivity,
)


def test_eb_rates_by_hand():
    e = np.array([50.0, 2.0, 10.0])
    b = np.array([1000.0, 100.0, 2000.0])
    m = 62 / 3100
    r = e / b
    s2 = (b * (r - m) ** 2).sum() / b.sum() - m / b.mean()
    w = s2 / (s2 + m / b)
    assert np.allclose(eb_rates(e, b), w * r + (1 - w) * m)
    assert 0 < w.min() and w.max() < 1
    assert np.argmin(w) == 1  # the smallest population is pulled hardest towards the mean


def test_eb_rates_without_extra_variation_are_the_overall_rate():
    e = np.array([10.0, 10.0, 10.0])
    b = np.array([1000.0, 1000.0, 1000.0])
    assert np.allclose(eb_rates(e, b), 0.01)
    with pytest.raises(ValueError):
        eb_rates(e, np.array([1.0, 0.0, 1.0]))


def test_standardise_z_and_rank_exponential():
    v = np.array([1.0, 2.0, 3.0, np.nan])
    z = standardise(v, "z")
    assert np.allclose(z[:3], [-1.224744871, 0.0, 1.224744871]) and np.isnan(z[3])
    x = standardise(v, "rank_exp")
    r = np.array([1, 2, 3]) / 3
    assert np.allclose(x[:3], -23 * np.log(1 - r * (1 - np.exp(-100 / 23))))
    assert x[2] == pytest.approx(100.0)
    assert np.allclose(standardise(np.array([5.0, 5.0]), "z"), 0)


def test_composite_components_recompute_by_hand():
    ind = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 1.0, 2.0]}, index=["X", "Y", "Z"])
    out = composite(ind, {"a": 2.0, "b": 1.0})
    za = (ind["a"] - 2) / np.sqrt(2 / 3)
    zb = (ind["b"] - 2) / np.sqrt(2 / 3)
    assert np.allclose(out["std_a"], za) and np.allclose(out["std_b"], zb)
    assert np.allclose(out["contribution_a"], 2 / 3 * za)
    assert np.allclose(out["score"], (2 * za + zb) / 3)
    assert np.allclose(out["score"], out["contribution_a"] + out["contribution_b"])
    assert list(out["rank"]) == [2, 2, 1]  # X and Y tie at -0.408: both take rank 2


def test_missing_indicator_uses_the_weights_it_has():
    ind = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan, 1.0, 2.0]})
    out = composite(ind, {"a": 1.0, "b": 1.0})
    assert out["score"].iloc[0] == pytest.approx(out["std_a"].iloc[0])
    assert out["contribution_a"].iloc[0] == pytest.approx(out["score"].iloc[0])  # a is all it has
    assert np.isnan(out["contribution_b"].iloc[0])
    sums = out[["contribution_a", "contribution_b"]].sum(axis=1)
    assert np.allclose(sums, out["score"])
    with pytest.raises(ValueError):
        composite(ind, {"c": 1.0})


def test_sensitivity_table_on_three_areas():
    # z(a) = [1.2247, 0, -1.2247]; z(b) = [-1.3728, 0.3922, 0.9806] (population sd)
    ind = pd.DataFrame({"a": [3.0, 2.0, 1.0], "b": [1.0, 2.5, 3.0]}, index=["X", "Y", "Z"])
    table, summary = weight_sensitivity(ind, {"a": 1.0, "b": 1.0})
    za = standardise(ind["a"].to_numpy())
    zb = standardise(ind["b"].to_numpy())
    for name, (wa, wb) in {"a x0.5": (0.5, 1), "a x1.5": (1.5, 1), "b x0.5": (1, 0.5),
                           "b x1.5": (1, 1.5)}.items():
        score = (wa * za + wb * zb) / (wa + wb)
        want = pd.Series(score).rank(ascending=False, method="min").to_numpy()
        assert list(table[name]) == list(want), name
    # by hand: equal weights score X -0.074, Y 0.196, Z -0.122
    assert list(summary["rank"]) == [2, 1, 3]
    assert list(table["a x1.5"]) == [1, 2, 3]  # X 0.186 > Y 0.157 > Z -0.343
    assert list(table["a x0.5"]) == [3, 1, 2]  # Y 0.261 > Z 0.245 > X -0.507
    assert list(table["b x0.5"]) == [1, 2, 3]
    assert list(table["b x1.5"]) == [3, 1, 2]
    assert list(summary["rank_best"]) == [1, 1, 2]
    assert list(summary["rank_worst"]) == [3, 2, 3]


def test_rank_uncertainty_is_reproducible_and_separates_clear_cases():
    pop = np.array([1000.0, 1000.0, 1000.0, 1000.0])
    counts = {"n": np.array([200.0, 20.0, 21.0, 19.0])}

    def build(draw):  # draws x areas in, columns out
        return {"rate": eb_rates(draw["n"], pop)}

    a = rank_uncertainty(counts, build, {"rate": 1.0}, n_sim=200, seed=3, top_k=1)
    b = rank_uncertainty(counts, build, {"rate": 1.0}, n_sim=200, seed=3, top_k=1)
    assert np.array_equal(a.rank_p95, b.rank_p95)
    assert a.p_top_k[0] == 1.0 and a.rank_p95[0] == 1  # 200 vs ~20: always first
    assert a.rank_p05[1] < a.rank_p95[1]  # the three near-equal areas swap places


def test_trend_log_ratio_is_relative_to_all_areas():
    t = trend_log_ratio(np.array([10.0, 30.0]), np.array([10.0, 10.0]), 1, 1)
    assert t[1] > 0 > t[0]
    same = trend_log_ratio(np.array([20.0, 40.0]), np.array([10.0, 20.0]), 3, 3)
    assert np.allclose(same, [np.log(20.5 / 10.5) - np.log(60.5 / 30.5),
                              np.log(40.5 / 20.5) - np.log(60.5 / 30.5)])


def test_eb_rates_of_many_draws_equal_esda_draw_by_draw():
    rng = np.random.default_rng(5)
    pop = rng.integers(300, 5000, 40).astype(float)
    draws = rng.poisson(rng.uniform(1, 60, 40), size=(30, 40)).astype(float)
    draws[3] = 10.0 * pop / pop.mean()  # no variation beyond Poisson: every area the mean
    many = eb_rates(draws, pop)
    for row, got in zip(draws, many):
        np.testing.assert_allclose(got, eb_rates(row, pop), rtol=1e-12)


@pytest.mark.parametrize("method", ["z", "rank_exp"])
def test_rank_uncertainty_ranks_every_draw_as_the_composite_would(method):
    """The batched simulation against the one-draw-at-a-time definition on the same draws."""
    from geo_api.analysis import ranking

    rng = np.random.default_rng(8)
    pop = rng.integers(500, 4000, 25).astype(float)
    counts = {"recent": rng.poisson(20, 25).astype(float),
              "earlier": rng.poisson(40, 25).astype(float)}
    deprivation = rng.normal(0, 1, 25)
    deprivation[4] = np.nan  # an area without this indicator
    weights = {"rate": 0.5, "trend": 0.2, "deprivation": 0.3}

    def build(draw):
        return {"rate": eb_rates(draw["recent"] + draw["earlier"], pop),
                "trend": trend_log_ratio(draw["recent"], draw["earlier"], 3, 6),
                "deprivation": deprivation}

    got = rank_uncertainty(counts, build, weights, method, n_sim=300, seed=4, top_k=3)
    draws_rng, ranked = np.random.default_rng(4), []
    for start in range(0, 300, ranking.SIM_BATCH):  # the same draws, one table each
        m = min(ranking.SIM_BATCH, 300 - start)
        batch = {k: draws_rng.poisson(v, size=(m, 25)) for k, v in counts.items()}
        for i in range(m):
            table = pd.DataFrame(build({k: v[i] for k, v in batch.items()}))
            ranked.append(ranking.ranks(table, weights, method))
    r = np.vstack(ranked)
    np.testing.assert_array_equal(got.rank_p05, np.percentile(r, 5, axis=0, method="lower"))
    np.testing.assert_array_equal(got.rank_p95, np.percentile(r, 95, axis=0, method="higher"))
    np.testing.assert_allclose(got.p_top_k, (r <= 3).mean(axis=0))


def test_standardise_by_hand():
    np.testing.assert_allclose(standardise(np.array([1.0, 2.0, 3.0, np.nan])),
                               [-np.sqrt(1.5), 0.0, np.sqrt(1.5), np.nan])
    x = standardise(np.array([5.0, 1.0, 1.0, np.nan]), "rank_exp")  # ranks 3, 1.5, 1.5 of 3
    r = np.array([1.0, 0.5, 0.5])
    np.testing.assert_allclose(x[:3], -23 * np.log(1 - r * (1 - np.exp(-100 / 23))))
    assert np.isnan(x[3])
    assert standardise(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]
