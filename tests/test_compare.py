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
    assert t.loc[old, "significant"].all() and (t.loc[old, "relative_change"] < 1).all()
    assert t.loc[new, "significant"].all() and (t.loc[new, "relative_change"] > 1).all()
    far = np.hypot(cx - 458000, cy - 303000) > 2000
    assert t.loc[far, "significant"].mean() < 0.05
    adj = distance_band(cx, cy, 400)
    # FDR (default) over 576 cells needs p below 2/(P+1) = 0.002 can reach: 9,999 permutations
    g0 = gi_star(cb, adj, permutations=9999, seed=1)
    g1 = gi_star(ca, adj, permutations=9999, seed=1)
    ch = hotspot_change(g0.hot(0.05), g1.hot(0.05))
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
        any_discovery.append(t["significant"].any())
    assert np.mean(any_discovery) <= 0.05 + 0.03  # BH controls FDR (= FWER under the full null)


def test_vectorised_binomial_test_equals_scipy_binomtest():
    from scipy import stats

    from geo_api.analysis.compare import binomial_test

    rng = np.random.default_rng(5)
    n = np.r_[0, 1, 2, rng.integers(0, 400, 300)]
    k = rng.binomial(n, 0.45)
    k[:3] = [0, 1, 0]
    p, lo, hi = binomial_test(k, n, 0.5)
    for i in range(len(n)):
        if n[i] == 0:
            assert p[i] == 1 and np.isnan(lo[i]) and np.isnan(hi[i])
            continue
        ref = stats.binomtest(int(k[i]), int(n[i]), 0.5)
        ci = ref.proportion_ci(0.95, method="exact")
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-15)
        assert lo[i] == pytest.approx(ci.low, abs=1e-12)
        assert hi[i] == pytest.approx(ci.high, abs=1e-12)


def test_wdq_hand_example():
    r = wdq(target=(100, 50), displacement=(50, 70), control=(100, 100))
    assert r["success_measure"] == pytest.approx(-0.5)  # 50/100 - 100/100
    assert r["buffer_measure"] == pytest.approx(0.2)  # 70/100 - 50/100
    assert r["wdq"] == pytest.approx(-0.4)
    flat = wdq((100, 100), (50, 30), (100, 100))  # no change in the target: WDQ undefined
    assert flat["wdq"] is None and not flat["interpretable"]


# Constructed counts for each row of the interpretation table; control (1000, 1000) unless
# given. (target, displacement, control, city, expected rule, interpretable)
WDQ_CASES = {
    "no measurable change": ((100, 90), (500, 450), (1000, 1000), None,
                             "target_not_measurable", False),
    "target got worse": ((100, 200), (500, 500), (1000, 1000), None, "target_worse", False),
    "displacement area unchanged": ((400, 200), (500, 510), (1000, 1000), None,
                                    "displacement_not_measurable", True),
    "displacement beyond the reduction": ((400, 200), (500, 800), (1000, 1000), None,
                                          "wdq_below_minus_1", True),
    "part displaced": ((400, 200), (500, 620), (1000, 1000), None, "wdq_negative", True),
    "diffusion beyond": ((400, 200), (1000, 700), (1000, 1000), None, "wdq_above_1", True),
    "diffusion": ((400, 200), (1000, 880), (1000, 1000), None, "wdq_positive", True),
}


@pytest.mark.parametrize("case", sorted(WDQ_CASES))
def test_wdq_interpretation_table(case):
    from geo_api.analysis.compare import WDQ_READINGS

    target, displacement, control, city, rule, interpretable = WDQ_CASES[case]
    r = wdq(target, displacement, control, city)
    assert r["reading_rule"] == rule
    assert r["interpretation"] == dict(WDQ_READINGS)[rule]
    assert r["interpretable"] is interpretable
    if not interpretable:
        assert r["interpretation"].startswith("not interpretable")


def test_wdq_no_change_case_reads_not_interpretable_with_the_issue_wording():
    r = wdq((200, 205), (800, 790), (500, 510))
    assert r["interpretation"] == ("not interpretable: no measurable change in the target "
                                   "area relative to the control")
    assert r["tests"]["target_vs_control"]["p_two_sided"] > 0.5


def test_wdq_flags_a_control_that_moved_against_the_city():
    stable = wdq((400, 200), (1000, 880), (1000, 1000), city=(10_000, 10_000))
    assert stable["flags"] == [] and not stable["tests"]["control_vs_city"]["significant"]
    moved = wdq((400, 200), (1000, 880), (1000, 1300), city=(10_000, 10_000))
    assert moved["tests"]["control_vs_city"]["significant"]
    assert moved["flags"] and moved["flags"][0].startswith("control area not stable")


def test_wdq_target_test_is_fishers_exact_on_the_two_by_two_table():
    from scipy import stats

    r = wdq((40, 22), (100, 120), (60, 65))
    ref = stats.fisher_exact([[40, 22], [60, 65]]).pvalue
    assert r["tests"]["target_vs_control"]["p_two_sided"] == pytest.approx(ref)
    assert r["tests"]["target_vs_control"]["ratio"] == pytest.approx((22 / 40) / (65 / 60))


def test_ellipse_axis_bearing():
    rng = np.random.default_rng(0)
    e = centre_and_ellipse(rng.normal(0, 1000, 5000), rng.normal(0, 100, 5000))
    assert e["major_axis_bearing_deg"] == pytest.approx(90, abs=2)
    assert e["sd_major_m"] == pytest.approx(1000, rel=0.05)
