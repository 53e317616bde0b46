"""Period comparison on constructed data where the right answer is known."""

import numpy as np
import pandas as pd
import pytest

from geo_api.analysis.compare import (
    centre_and_ellipse,
    compare_counts,
    hotspot_change,
    newcombe_difference,
    shift,
    wdq,
)
from geo_api.analysis.getis_ord import gi_star
from geo_api.analysis.grids import distance_band, fishnet_counts


def test_newcombe_interval_published_example():
    # Newcombe (1998) Stat Med 17:873, example (a): 56/70 vs 48/80, method 10: 0.0524, 0.3339
    lo, hi = newcombe_difference(np.array([48]), 80, np.array([56]), 70)
    assert lo[0] == pytest.approx(0.0524, abs=1e-4) and hi[0] == pytest.approx(0.3339, abs=1e-4)


def cluster(n, cx, cy, rng, sd=150.0):
    return cx + rng.normal(0, sd, n), cy + rng.normal(0, sd, n)


def test_cluster_moved_2km_east_is_detected():
    rng = np.random.default_rng(1)
    bx, by = 455000 + rng.uniform(0, 6000, 600), 300000 + rng.uniform(0, 6000, 600)
    ax, ay = 455000 + rng.uniform(0, 6000, 600), 300000 + rng.uniform(0, 6000, 600)
    cbx, cby = cluster(300, 457000, 303000, rng)
    cax, cay = cluster(300, 459000, 303000, rng)  # same cluster, 2 km east
    before_x, before_y = np.r_[bx, cbx], np.r_[by, cby]
    after_x, after_y = np.r_[ax, cax], np.r_[ay, cay]
    gx, gy = np.meshgrid(np.arange(455125, 461000, 250.0), np.arange(300125, 306000, 250.0))
    cx, cy = gx.ravel(), gy.ravel()
    cb = fishnet_counts(cx, cy, 250, before_x, before_y)
    ca = fishnet_counts(cx, cy, 250, after_x, after_y)
    t = compare_counts(pd.DataFrame({"code": range(len(cx)), "before": cb, "after": ca}))
    old = np.hypot(cx - 457000, cy - 303000) < 200
    new = np.hypot(cx - 459000, cy - 303000) < 200
    assert t.loc[old, "significant_fdr"].all() and (t.loc[old, "relative_change"] < 1).all()
    assert t.loc[new, "significant_fdr"].all() and (t.loc[new, "relative_change"] > 1).all()
    far = np.hypot(cx - 458000, cy - 303000) > 2000
    assert t.loc[far, "significant_fdr"].mean() < 0.05
    adj = distance_band(cx, cy, 400)
    g0 = gi_star(cb, adj, permutations=199, seed=1)
    g1 = gi_star(ca, adj, permutations=199, seed=1)
    ch = hotspot_change(g0.label, g1.label)
    assert set(ch["class"][new]) == {"new"} and set(ch["class"][old]) == {"no longer hot"}
    s = shift(centre_and_ellipse(before_x, before_y), centre_and_ellipse(after_x, after_y))
    assert 500 < s["distance_m"] < 1000  # a third of the points moved 2 km
    assert s["bearing_deg"] == pytest.approx(90, abs=15)


def test_no_change_is_not_flagged_beyond_fdr_under_label_permutation():
    rng = np.random.default_rng(2)
    totals = rng.integers(5, 80, 60)
    any_discovery = []
    for _ in range(200):
        after = rng.binomial(totals, 0.5)  # period labels assigned at random
        t = compare_counts(pd.DataFrame({"code": range(60), "before": totals - after,
                                         "after": after}))
        any_discovery.append(t["significant_fdr"].any())
    assert np.mean(any_discovery) <= 0.05 + 0.03  # BH controls FDR (= FWER under the full null)


def test_wdq_hand_example_and_interpretation():
    r = wdq(target=(100, 50), displacement=(50, 70), control=(100, 100))
    assert r["success_measure"] == pytest.approx(-0.5)
    assert r["wdq"] == pytest.approx(-0.4)
    assert r["interpretation"].startswith("displacement")
    assert wdq((100, 50), (50, 30), (100, 100))["interpretation"].startswith("diffusion")
    assert "cannot be assessed" in wdq((50, 100), (50, 30), (100, 100))["interpretation"]
    flat = wdq((100, 100), (50, 30), (100, 100))  # no change in the target: WDQ undefined
    assert flat["wdq"] is None and "cannot be assessed" in flat["interpretation"]


def test_ellipse_axis_bearing():
    rng = np.random.default_rng(0)
    e = centre_and_ellipse(rng.normal(0, 1000, 5000), rng.normal(0, 100, 5000))
    assert e["major_axis_bearing_deg"] == pytest.approx(90, abs=2)
    assert e["sd_major_m"] == pytest.approx(1000, rel=0.05)
