"""Shares, Wilson intervals and Poisson rates against scipy and hand-checked values."""

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose
from scipy import stats

from geo_api.analysis.area_stats import area_statistics, poisson_interval, wilson_interval


def test_wilson_matches_scipy():
    for k, n in [(0, 10), (3, 10), (374, 4035), (10, 10)]:
        lo, hi = wilson_interval(np.array([k]), n)
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert_allclose([lo[0], hi[0]], [ci.low, ci.high], rtol=1e-9, atol=1e-12)


def test_poisson_interval_hand_values():
    lo, hi = poisson_interval(np.array([0, 1, 10]))
    # Garwood: k=0 -> (0, 3.689); k=1 -> (0.0253, 5.572); k=10 -> (4.795, 18.39)
    assert_allclose(lo, [0, 0.025318, 4.795389], rtol=1e-5)
    assert_allclose(hi, [3.688879, 5.571643, 18.390356], rtol=1e-5)


def test_area_statistics_hand_fixture():
    areas = pd.DataFrame({"code": ["A", "B", "C"], "name": ["a", "b", "c"], "population": [1000, 2000, None]})
    counts = pd.DataFrame({"code": ["A", "B"], "count": [3, 1]})
    t = area_statistics(areas, counts).set_index("code")
    assert t.loc["C", "count"] == 0
    assert_allclose(t["share"][["A", "B", "C"]], [0.75, 0.25, 0.0])
    assert_allclose(t.loc["A", "rate_per_1000"], 3.0)
    assert_allclose(t.loc["B", "rate_per_1000"], 0.5)
    assert np.isnan(t.loc["C", "rate_per_1000"])
    assert t.loc["A", "rank"] == 1
