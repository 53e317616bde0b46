"""Gi* against esda.G_Local(star=True, transform='B') and hand-checkable cases."""

import numpy as np
import pytest
import scipy.sparse as sp
from esda.getisord import G_Local
from libpysal.weights import WSP, lat2W
from numpy.testing import assert_allclose

from geo_api.analysis.getis_ord import benjamini_hochberg, gi_star
from geo_api.analysis.grids import distance_band


def lattice(n_side, seed=0):
    w = lat2W(n_side, n_side, rook=False)  # queen lattice, binary
    adj = w.sparse.tocsr()
    rng = np.random.default_rng(seed)
    y = rng.poisson(2.0, n_side * n_side).astype(float)
    y[:10] += 15  # a hot corner
    return y, w, adj


def test_z_matches_esda_to_1e9():
    y, w, adj = lattice(20)
    ref = G_Local(y, w, transform="B", star=True, permutations=0)
    ours = gi_star(y, adj, permutations=0, inference="analytic")
    assert_allclose(ours.g, ref.Gs, rtol=0, atol=1e-12)
    assert_allclose(ours.z, ref.Zs, rtol=0, atol=1e-9)
    assert_allclose(ours.expected, ref.EGs, atol=1e-12)
    assert_allclose(ours.variance, ref.VGs, rtol=1e-12)


def test_z_matches_esda_on_a_distance_band_fishnet():
    rng = np.random.default_rng(4)
    gx, gy = np.meshgrid(np.arange(15) * 100.0, np.arange(12) * 100.0)
    cx, cy = gx.ravel(), gy.ravel()
    adj = distance_band(cx, cy, 250.0)
    y = rng.poisson(1.0, len(cx)).astype(float)
    w = WSP(adj).to_W(silence_warnings=True)
    ref = G_Local(y, w, transform="B", star=True, permutations=0)
    assert_allclose(gi_star(y, adj, permutations=0, inference="analytic").z, ref.Zs, atol=1e-9)


@pytest.fixture(scope="module")
def esda_reference():
    """One esda run shared by the Monte Carlo comparisons: esda's numba kernels compile on
    first use (~10 s per variant), so both tests use the same variant and the same run."""
    y, w, adj = lattice(15, seed=2)
    y = y + np.random.default_rng(5).uniform(0, 0.5, len(y))  # no ties: esda compares floats
    ref = G_Local(y, w, transform="B", star=True, permutations=999, seed=7,
                  keep_simulations=True, n_jobs=1)
    return y, adj, ref


def test_permutation_p_agrees_with_esda_within_monte_carlo_error(esda_reference):
    y, adj, ref = esda_reference
    ours = gi_star(y, adj, permutations=999, seed=7)
    # Independent random streams: p-values differ only by Monte Carlo error (sd <= 0.016).
    assert np.abs(ours.p_sim_folded - ref.p_sim).max() < 0.07
    assert np.corrcoef(ours.p_sim_folded, ref.p_sim)[0, 1] > 0.98


def test_greater_and_lesser_p_agree_with_esda_within_monte_carlo_error(esda_reference):
    from esda.significance import calculate_significance

    from geo_api.analysis.getis_ord import permutation_p, with_self_weights

    y, adj, ref = esda_reference
    ours = permutation_p(y, with_self_weights(adj), 999, seed=7)
    for mine, alt in ((ours.greater, "greater"), (ours.lesser, "lesser")):
        theirs = calculate_significance(ref.Gs, ref.rGs, alternative=alt)
        assert np.abs(mine - theirs).max() < 0.07, alt
    assert_allclose(ours.two_sided, np.minimum(1, 2 * np.minimum(ours.greater, ours.lesser)))


def test_tail_counts_equal_a_brute_force_count_on_the_same_draws():
    from geo_api.analysis.getis_ord import _draw_index_sets, permutation_p, with_self_weights

    y, _, adj = lattice(12, seed=9)  # Poisson counts: many exact ties
    w_star = with_self_weights(adj)
    P, seed = 299, 11
    got = permutation_p(y, w_star, P, seed)
    n_neigh = np.asarray(w_star.sum(axis=1)).ravel().astype(int) - 1
    rids = _draw_index_sets(len(y) - 1, P, int(n_neigh.max()), seed)
    obs = w_star @ y
    for i in range(len(y)):
        others = np.delete(y, i)
        sums = y[i] + others[rids[:, : n_neigh[i]]].sum(axis=1)
        assert got.greater[i] == ((sums >= obs[i]).sum() + 1) / (P + 1)
        assert got.lesser[i] == ((sums <= obs[i]).sum() + 1) / (P + 1)


def test_all_zero_neighbourhoods_are_not_called_cold_spots():
    """Sparse counts: a unit whose neighbourhood is all zeros ties with most randomisations.
    esda's legacy folded p counts ties as 'larger' and gives 1/(P+1) (a '99% cold spot');
    the tie-aware two-sided p is ~1 (by hand: P(8 random neighbours all zero) =
    C(390, 8)/C(399, 8) ~ 0.83, so p_lesser ~ 0.83)."""
    n = 20
    _, _, adj = lattice(n)
    y = np.zeros(n * n)
    block = [r * n + c for r in range(3) for c in range(3)]
    y[block] = 5.0
    r = gi_star(y, adj, permutations=999, seed=3, fdr=False)
    far = (n - 1) * n + (n - 1)  # opposite corner, 3 neighbours, all zero
    middle = 10 * n + 10  # 8 neighbours, all zero
    assert r.p_sim_folded[middle] == pytest.approx(1 / 1000)  # the esda artefact
    assert r.label[middle] == "not significant" and r.label[far] == "not significant"
    assert r.p_used[middle] == 1.0
    assert r.label[block[4]] == "hot 99%"
    assert not any(str(lab).startswith("cold") for lab in r.label)


def test_same_seed_same_answer_and_hot_corner_found():
    y, _, adj = lattice(15, seed=2)
    a = gi_star(y, adj, permutations=199, seed=1, fdr=False)
    b = gi_star(y, adj, permutations=199, seed=1, fdr=False)
    assert_allclose(a.p_sim_folded, b.p_sim_folded)
    hot = np.flatnonzero(np.char.startswith(a.label.astype(str), "hot"))
    assert "hot 99%" in set(a.label) and hot.max() < 30  # only the hot row and its neighbours
    assert set(a.label) <= {"hot 99%", "hot 95%", "hot 90%", "cold 99%", "cold 95%",
                            "cold 90%", "not significant"}


def test_benjamini_hochberg_hand_example():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # thresholds 0.05*k/10: 0.005, 0.01, 0.015, 0.02, ...: only the first two pass
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True] + [False] * 8


def test_zero_counts_everywhere_is_an_error():
    with pytest.raises(ValueError, match="non-zero"):
        gi_star(np.zeros(4), sp.identity(4), permutations=0, inference="analytic")


def test_fdr_labels_are_benjamini_hochberg_at_each_confidence_level():
    y, _, adj = lattice(20, seed=4)
    r = gi_star(y, adj, permutations=9999, seed=2)  # fdr on by default
    plain = gi_star(y, adj, permutations=9999, seed=2, fdr=False)
    assert_allclose(r.p_used, plain.p_used)  # same draws: only the thresholds differ
    lab = r.label.astype(str)
    for alpha, levels in ((0.10, ("99%", "95%", "90%")), (0.05, ("99%", "95%")),
                          (0.01, ("99%",))):
        labelled = np.isin(np.char.partition(lab, " ")[:, 2], levels)
        assert labelled.tolist() == benjamini_hochberg(r.p_used, alpha).tolist(), alpha
    n_fdr = (lab != "not significant").sum()
    n_plain = (plain.label.astype(str) != "not significant").sum()
    assert 0 < n_fdr < n_plain  # FDR keeps the hot corner and drops the fringe


def test_min_attainable_p_explains_why_fdr_keeps_nothing_at_199_permutations():
    y, _, adj = lattice(20, seed=4)
    r = gi_star(y, adj, permutations=199, seed=2)
    assert r.params["min_attainable_p"] == pytest.approx(2 / 200)
    assert r.p_used.min() >= 2 / 200
    # BH at 0.05 over 400 units needs p <= 0.05 * k / 400: at the 0.01 floor, k >= 80
    assert set(r.label) == {"not significant"}
    assert "hot 99%" in set(gi_star(y, adj, permutations=199, seed=2, fdr=False).label)
    assert gi_star(y, adj, permutations=0, inference="analytic").params["min_attainable_p"] is None


def test_undefined_z_when_every_unit_is_a_neighbour():
    """Four mutually adjacent units (e.g. four NPAs): k_i = n, variance 0, z = 0/0."""
    adj = np.ones((4, 4)) - np.eye(4)
    r = gi_star(np.array([10.0, 3, 7, 1]), sp.csr_matrix(adj), permutations=99, seed=1)
    assert np.isnan(r.z).all() and np.isnan(r.p_used).all()
    assert set(r.label) == {"undefined"}
    assert all("every unit" in why for why in r.undefined_reason)
    assert r.params["n_undefined"] == 4


def test_undefined_z_when_all_counts_are_equal_and_defined_elsewhere():
    y, _, adj = lattice(5)
    same = gi_star(np.full(25, 3.0), adj, permutations=0, inference="analytic")
    assert np.isnan(same.z).all() and set(same.label) == {"undefined"}
    assert "same count" in same.undefined_reason[0]
    ok = gi_star(y, adj, permutations=0, inference="analytic")
    assert np.isfinite(ok.z).all() and (ok.undefined_reason == None).all()


@pytest.mark.parametrize("k", [1, 2])
def test_h3_neighbours_are_each_cells_disk_among_the_study_cells(k):
    """The vectorised neighbour matrix equals the definition applied cell by cell (H3's own
    string API, grid_disk), on a study area with holes (a random half of the cells)."""
    import h3
    import shapely

    from geo_api.analysis.grids import h3_adjacency, h3_study_cells

    area = shapely.box(-1.16, 52.61, -1.10, 52.66)
    cells = h3_study_cells(area, 9)
    cells = np.sort(np.random.default_rng(k).choice(cells, len(cells) // 2, replace=False))
    got = h3_adjacency(cells, k)
    where = {h3.int_to_str(int(c)): i for i, c in enumerate(cells)}
    want = np.zeros((len(cells), len(cells)))
    for cell, i in where.items():
        for other in h3.grid_disk(cell, k):
            if other != cell and other in where:
                want[i, where[other]] = 1
    assert len(cells) > 100 and want.sum() > len(cells)
    np.testing.assert_array_equal(got.toarray(), want)
