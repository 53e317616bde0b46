"""Emerging hot spot categories on constructed series; Mann-Kendall by hand."""

import numpy as np
import pytest
from libpysal.weights import lat2W

from geo_api.analysis.emerging import _category, emerging_hotspots, mann_kendall


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
    assert _category(np.array(hot, bool), np.array(cold, bool), tz, tp, 0.05) == expected


def test_emerging_hotspots_on_a_lattice_series():
    rng = np.random.default_rng(0)
    w = lat2W(12, 12, rook=False)
    n, months = 144, 10
    y = rng.poisson(1.0, (n, months)).astype(float)
    y[[13, 14, 25, 26], :] += np.linspace(3, 15, months)  # a growing cluster
    y[[100, 101, 112, 113], -1] += 12  # appears only in the final month
    r = emerging_hotspots(y, w.sparse, permutations=99, seed=3)
    assert set(r["category"][[13, 14, 25, 26]]) <= {"intensifying", "persistent"}
    assert "intensifying" in set(r["category"][[13, 14, 25, 26]])
    assert set(r["category"][[100, 101, 112, 113]]) & {"new", "consecutive", "sporadic"}
