"""Emerging hot spot categories on constructed series; Mann-Kendall by hand."""

import numpy as np
import pytest
from libpysal.weights import lat2W

from geo_api.analysis.emerging import categories, emerging_hotspots, mann_kendall


def test_mann_kendall_hand_values():
    s, z, p = mann_kendall(np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [1, 1, 1, 1, 1]]))
    assert s.tolist() == [10, -10, 0]
    # n=5: var = 5*4*15/18 = 16.667; z = (10-1)/sqrt(16.667) = 2.2045
    assert z[0] == pytest.approx(2.2045, abs=1e-4) and z[1] == pytest.approx(-2.2045, abs=1e-4)
    assert p[2] == pytest.approx(1.0)


@pytest.mark.parametrize("hot, cold, tz, tp, expected", [
    ([0] * 9 + [1], [0] * 10, 0, 1, "new"),
    ([0] * 7 + [1] * 3, [0] * 10, 0, 1, "consecutive"),
    ([1] * 10, [0] * 10, 3, 0.001, "intensifying"),
    ([1] * 10, [0] * 10, 0.5, 0.6, "persistent"),
    ([1] * 10, [0] * 10, -3, 0.001, "diminishing"),
    ([1, 0, 1, 0, 0, 1, 0, 0, 1, 1], [0] * 10, 0, 1, "sporadic"),
    ([0, 0, 1, 0, 0, 0, 0, 0, 0, 1], [1] + [0] * 9, 0, 1, "oscillating"),
    ([1] * 9 + [0], [0] * 10, 0, 1, "historical"),
    ([0] * 10, [0] * 10, 0, 1, "no pattern detected"),
])
def test_category_rules(hot, cold, tz, tp, expected):
    got = categories(np.array([hot], bool), np.array([cold], bool), np.array([tz]),
                     np.array([tp]), 0.05)
    assert got.tolist() == [expected]
    assert _one_cell(np.array(hot, bool), np.array(cold, bool), tz, tp, 0.05) == expected


def _one_cell(hot, cold, trend_z, trend_p, alpha):
    """The rules of the module docstring, one cell at a time (the reference)."""
    n = len(hot)
    most = hot.sum() >= 0.9 * n
    if hot[-1]:
        if most:
            if trend_p <= alpha:
                return "intensifying" if trend_z > 0 else "diminishing"
            return "persistent"
        if hot.sum() == 1:
            return "new"
        run = int(np.argmax(~hot[::-1])) if (~hot).any() else n  # trailing hot run
        if run >= 2 and not hot[: n - run].any():
            return "consecutive"
        return "oscillating" if cold[:-1].any() else "sporadic"
    if most:
        return "historical"
    return "no pattern detected"


@pytest.mark.parametrize("seed", range(4))
def test_all_cells_at_once_equal_the_rules_cell_by_cell(seed):
    rng = np.random.default_rng(seed)
    n_cells, n = 2000, int(rng.integers(3, 14))
    hot = rng.random((n_cells, n)) < rng.choice([0.2, 0.6, 0.95], (n_cells, 1))
    cold = ~hot & (rng.random((n_cells, n)) < 0.2)
    tz, tp = rng.normal(0, 2, n_cells), rng.random(n_cells) * 0.2
    got = categories(hot, cold, tz, tp, 0.05)
    want = [_one_cell(hot[i], cold[i], tz[i], tp[i], 0.05) for i in range(n_cells)]
    assert got.tolist() == want
    assert len(set(want)) >= 6  # the draws reach most rules


def lattice_series(seed=0):
    rng = np.random.default_rng(seed)
    w = lat2W(12, 12, rook=False)
    y = rng.poisson(1.0, (144, 10)).astype(float)
    return w.sparse, y, rng


GROWING = [13, 14, 25, 26]
LATE = [100, 101, 112, 113]


def test_emerging_hotspots_on_a_lattice_series():
    adj, y, _ = lattice_series()
    y[GROWING, :] += np.linspace(6, 18, 10)  # a cluster, hot from the start and growing
    y[LATE, -1] += 20  # appears only in the final month
    r = emerging_hotspots(y, adj, permutations=999, seed=3, fdr=False)
    # every cell of the growing cluster is hot in most months with an upward trend
    assert list(r["category"][GROWING]) == ["intensifying"] * 4
    # the late cluster is hot in the final month only
    assert list(r["category"][LATE]) == ["new"] * 4
    far = [i for i in range(144) if i not in GROWING + LATE and i % 12 > 4 and i // 12 > 4]
    assert np.mean([c == "no pattern detected" for c in r["category"][far]]) > 0.8


def test_a_persistent_cold_cluster_gets_a_cold_category():
    adj, y, _ = lattice_series(1)
    y += 3
    y[[60, 61, 72, 73], :] = 0  # never any offences, in a busy area
    r = emerging_hotspots(y, adj, permutations=999, seed=3, fdr=False)
    assert set(r["category"][[60, 61, 72, 73]]) <= {"cold: persistent", "cold: intensifying",
                                                    "cold: diminishing"}


def test_alpha_above_ten_percent_is_honoured():
    """Labels stop at 90%; alpha must not: a looser alpha finds at least as many hot bins and
    here strictly more (it was silently capped at 0.10 before)."""
    adj, y, _ = lattice_series(2)
    y[GROWING, :] += 2  # a weak cluster
    n = {a: emerging_hotspots(y, adj, alpha=a, permutations=999, seed=3,
                              fdr=False)["params"]["n_significant_bins"]
         for a in (0.05, 0.10, 0.30, 0.45)}
    assert n[0.05] <= n[0.10] < n[0.30] < n[0.45]
    cats = {a: emerging_hotspots(y, adj, alpha=a, permutations=999, seed=3, fdr=False)["category"]
            for a in (0.10, 0.30)}
    assert (cats[0.10] != cats[0.30]).any()


def test_fdr_over_bins_is_stricter_and_reported():
    adj, y, _ = lattice_series()
    y[GROWING, :] += np.linspace(3, 15, 10)
    plain = emerging_hotspots(y, adj, permutations=999, seed=3, fdr=False)["params"]
    fdr = emerging_hotspots(y, adj, permutations=999, seed=3)["params"]
    assert fdr["fdr"] and fdr["min_attainable_p"] == pytest.approx(0.002)
    assert 0 < fdr["n_significant_bins"] < plain["n_significant_bins"]


def test_space_time_neighbours_look_back_only():
    from geo_api.analysis.emerging import space_time_adjacency

    adj = lat2W(3, 1, rook=True).sparse  # a line of three cells: 0 - 1 - 2
    st = space_time_adjacency(adj, n_steps=3, time_steps=1).toarray()
    row = 1 * 3 + 1  # cell 1 in month 1
    assert np.flatnonzero(st[row]).tolist() == [0, 1, 2, 3, 5]  # month 0: 0,1,2; month 1: 0,2
    assert st[0 * 3 + 1, 3:].sum() == 0  # month 0 never sees later months
