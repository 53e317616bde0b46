"""Period comparison (pure): per-area change, WDQ, hotspot change, centre of gravity.

Per-area test (adjusting for the overall change). With ``a_i``/``b_i`` offences in area
i before/after and totals ``A``/``B``, under H0 ("the area changed like everywhere else")
``b_i | a_i + b_i ~ Binomial(a_i + b_i, B / (A + B))``. The exact two-sided binomial test
gives p; the *relative change* ``(b_i / a_i) / (B / A)`` is the odds of the binomial
proportion over its H0 odds, with an exact (Clopper-Pearson) 95% CI. Shares before/after
use Wilson intervals; the share change uses Newcombe's hybrid score interval (method 10).
FDR: Benjamini-Hochberg across areas (default), or per-area p <= alpha.

The exact tests are vectorised (one pass over all areas): ``binomial_test`` gives the same
two-sided p-values as ``scipy.stats.binomtest`` (probabilities no larger than the observed
one, relative tolerance 1e-7) and Clopper-Pearson bounds from the beta quantiles.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from geo_api.analysis.area_stats import wilson_interval
from geo_api.analysis.getis_ord import significant_at


def newcombe_difference(k1, n1, k2, n2) -> tuple[np.ndarray, np.ndarray]:
    """95% CI for p2 - p1 (independent proportions), Newcombe hybrid score method."""
    l1, u1 = wilson_interval(k1, n1)
    l2, u2 = wilson_interval(k2, n2)
    p1, p2 = np.asarray(k1) / n1, np.asarray(k2) / n2
    d = p2 - p1
    lo = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return lo, hi


def binomial_test(k, n, p0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact two-sided binomial test of ``k`` successes in ``n`` against ``p0``, per element.

    Returns (p_two_sided, ci95_low, ci95_high) of the proportion (Clopper-Pearson); for
    ``n = 0``: p = 1 and NaN bounds. Equal to ``scipy.stats.binomtest`` element by element.
    """
    from scipy import stats  # noqa: PLC0415 - lazy: heavy import (scipy)

    k = np.asarray(k, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    p0 = np.broadcast_to(np.asarray(p0, dtype=float), k.shape)
    p = np.ones(k.shape)
    lo = np.full(k.shape, np.nan)
    hi = np.full(k.shape, np.nan)
    has = n > 0
    if has.any():
        kk, nn, pp = k[has], n[has], p0[has]
        # every outcome j = 0..n_i of every area, laid end to end
        sizes = nn + 1
        owner = np.repeat(np.arange(len(nn)), sizes)
        starts = np.cumsum(sizes) - sizes
        j = np.arange(sizes.sum()) - starts[owner]
        pmf = stats.binom.pmf(j, nn[owner], pp[owner])
        d = stats.binom.pmf(kk, nn, pp) * (1 + 1e-7)
        p[has] = np.minimum(1.0, np.add.reduceat(np.where(pmf <= d[owner], pmf, 0.0), starts))
        lo[has] = np.where(kk > 0, stats.beta.ppf(0.025, kk, nn - kk + 1), 0.0)
        hi[has] = np.where(kk < nn, stats.beta.ppf(0.975, kk + 1, nn - kk), 1.0)
    return p, lo, hi


def compare_counts(areas: pd.DataFrame, alpha: float = 0.05, fdr: bool = True) -> pd.DataFrame:
    """Per-area change between two periods.

    Parameters
    ----------
    areas : ``code``, ``before``, ``after`` counts (zeros allowed).
    alpha : significance level.
    fdr : Benjamini-Hochberg across areas at ``alpha`` (else per-area p <= alpha).

    Returns
    -------
    DataFrame with shares (+ Wilson CIs), share_change (+ Newcombe CI), relative_change
    (+ exact CI), two-sided exact p, ``significant`` and a plain-language ``direction``.
    """
    a = areas["before"].to_numpy(int)
    b = areas["after"].to_numpy(int)
    total_before, total_after = int(a.sum()), int(b.sum())
    if total_before == 0 or total_after == 0:
        raise ValueError("both periods need offences")
    out = areas.copy()
    out["share_before"], out["share_after"] = a / total_before, b / total_after
    out["share_before_ci95_low"], out["share_before_ci95_high"] = wilson_interval(a, total_before)
    out["share_after_ci95_low"], out["share_after_ci95_high"] = wilson_interval(b, total_after)
    out["share_change"] = out["share_after"] - out["share_before"]
    out["share_change_ci95_low"], out["share_change_ci95_high"] = newcombe_difference(
        a, total_before, b, total_after)
    p0 = total_after / (total_before + total_after)
    odds0 = p0 / (1 - p0)
    p, lo, hi = binomial_test(b, a + b, p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative_change"] = np.where(a + b == 0, np.nan,
                                          np.where(a > 0, (b / a) / odds0, np.inf))
        out["relative_change_ci95_low"] = np.where(lo < 1, lo / (1 - lo) / odds0, np.inf)
        out["relative_change_ci95_high"] = np.where(hi < 1, hi / (1 - hi) / odds0, np.inf)
    out["p_two_sided"] = p
    out["significant"] = significant_at(p, alpha, fdr)
    out["direction"] = np.where(~out["significant"], "no change beyond the overall trend",
                                np.where(out["relative_change"] > 1, "rose relative to overall",
                                         "fell relative to overall"))
    return out


WDQ_READINGS = (
    # (test, interpretation) in order; the first whose test holds applies
    ("target_not_measurable", ("not interpretable: no measurable change in the target area "
                              "relative to the control")),
    ("target_worse", ("not interpretable: the target area got worse relative to the control, "
                     "so there is no reduction to displace")),
    ("displacement_not_measurable", ("no measurable displacement or diffusion: the target "
                                    "improved relative to the control and the displacement "
                                    "area did not change measurably")),
    ("wdq_below_minus_1", ("displacement exceeding the reduction in the target area (net "
                          "increase)")),
    ("wdq_negative", "displacement: part of the reduction moved to the displacement area"),
    ("wdq_above_1", "diffusion of benefits larger than the reduction in the target area"),
    ("wdq_positive", "diffusion of benefits: the displacement area also improved"),
    ("otherwise", "no displacement or diffusion"),
)


def _vs(before_a: int, after_a: int, before_b: int, after_b: int) -> dict:
    """Exact conditional test (Fisher) that area a changed like area b: the 2 x 2 table of
    Poisson counts conditioned on its margins; ``ratio`` = (after_a/before_a) /
    (after_b/before_b)."""
    from scipy import stats  # noqa: PLC0415 - lazy: heavy import (scipy)

    p = stats.fisher_exact([[before_a, after_a], [before_b, after_b]]).pvalue
    ratio = (after_a * before_b) / (before_a * after_b) if before_a and after_b else None
    return {"p_two_sided": float(p), "ratio": ratio}


def wdq(target: tuple[int, int], displacement: tuple[int, int], control: tuple[int, int],
        city: tuple[int, int] | None = None, alpha: float = 0.05) -> dict:
    """Weighted displacement quotient (Bowers & Johnson 2003) with the tests that say whether
    it may be read.

    Each argument is (before, after) counts; ``city`` the whole study area's totals.
    ``success = Ra/Ca - Rb/Cb`` (negative: the target improved relative to control);
    ``WDQ = (Da/Ca - Db/Cb) / success``. The WDQ is read only when the target changed
    measurably relative to the control (Fisher's exact test at ``alpha``) and improved;
    the displacement area's change relative to the control is tested the same way. The
    control is flagged "not stable" when its own change differs from the city's
    (exact conditional binomial, as ``compare_counts``). ``WDQ_READINGS`` lists the rules.
    """
    (rb, ra), (db, da), (cb, ca) = target, displacement, control
    if cb == 0 or ca == 0:
        raise ValueError("the control area needs offences in both periods")
    success = ra / ca - rb / cb
    buffer_change = da / ca - db / cb
    value = buffer_change / success if success != 0 else None  # undefined, not NaN (JSON)
    t_target, t_buffer = _vs(rb, ra, cb, ca), _vs(db, da, cb, ca)
    t_target["significant"] = bool(t_target["p_two_sided"] <= alpha)
    t_buffer["significant"] = bool(t_buffer["p_two_sided"] <= alpha)
    tests = {"target_vs_control": t_target, "displacement_vs_control": t_buffer}
    flags = []
    if city is not None:
        (A, B) = city
        p_c, _, _ = binomial_test([ca], [ca + cb], B / (A + B))
        rel = (ca / cb) / (B / A) if cb and A and B else None
        stable = {"p_two_sided": float(p_c[0]), "ratio": rel, "significant": bool(p_c[0] <= alpha)}
        tests["control_vs_city"] = stable
        if stable["significant"]:
            flags.append(f"control area not stable: it changed relative to the whole city "
                         f"(x{rel:.2f} beyond the overall change, p = {p_c[0]:.2g}), so "
                         "changes measured against it partly reflect the control itself")
    holds = {
        "target_not_measurable": not t_target["significant"],
        "target_worse": success >= 0,
        "displacement_not_measurable": not t_buffer["significant"],
        "wdq_below_minus_1": value is not None and value < -1,
        "wdq_negative": value is not None and value < 0,
        "wdq_above_1": value is not None and value > 1,
        "wdq_positive": value is not None and value > 0,
        "otherwise": True,
    }
    rule, text = next((r, t) for r, t in WDQ_READINGS if holds[r])
    return {"wdq": value, "success_measure": success, "buffer_measure": buffer_change,
            "interpretable": rule not in ("target_not_measurable", "target_worse"),
            "interpretation": text, "reading_rule": rule, "flags": flags, "alpha": alpha,
            "tests": tests,
            "inputs": {"target": {"before": rb, "after": ra},
                       "displacement": {"before": db, "after": da},
                       "control": {"before": cb, "after": ca}},
            "method": "Bowers & Johnson (2003): WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb); "
                      "read only when the target changed measurably relative to the control "
                      "(Fisher's exact test on the 2 x 2 table of counts)"}


def hotspot_change(hot_before: np.ndarray, hot_after: np.ndarray) -> dict:
    """Classify units by hot status (boolean masks) in two periods; Jaccard of hot sets."""
    hb = np.asarray(hot_before, dtype=bool)
    ha = np.asarray(hot_after, dtype=bool)
    cls = np.full(len(hb), "not hot", dtype=object)
    cls[hb & ha] = "persistent"
    cls[~hb & ha] = "new"
    cls[hb & ~ha] = "no longer hot"
    union = int((hb | ha).sum())
    return {"class": cls, "jaccard_hot": (int((hb & ha).sum()) / union) if union else None,
            "counts": {c: int((cls == c).sum()) for c in ("persistent", "new", "no longer hot",
                                                          "not hot")}}


def centre_and_ellipse(x_m: np.ndarray, y_m: np.ndarray) -> dict:
    """Mean centre and standard deviational ellipse (1 SD, ArcGIS-style, sqrt(2) correction
    not applied), EPSG:27700 metres; angle is the major axis bearing clockwise from north."""
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    if len(x) < 3:
        raise ValueError("need at least three points")
    mx, my = x.mean(), y.mean()
    dx, dy = x - mx, y - my
    cov = np.cov(np.vstack([dx, dy]), bias=True)
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    bearing = (math.degrees(math.atan2(major[0], major[1])) + 360) % 180
    return {"mean_x_m": mx, "mean_y_m": my, "sd_major_m": math.sqrt(evals[1]),
            "sd_minor_m": math.sqrt(evals[0]), "major_axis_bearing_deg": bearing,
            "standard_distance_m": math.sqrt((dx**2 + dy**2).mean()), "n": len(x)}


def shift(before: dict, after: dict) -> dict:
    """Shift of the mean centre: distance (m) and bearing (degrees clockwise from north)."""
    dx = after["mean_x_m"] - before["mean_x_m"]
    dy = after["mean_y_m"] - before["mean_y_m"]
    return {"distance_m": math.hypot(dx, dy), "dx_m": dx, "dy_m": dy,
            "bearing_deg": (math.degrees(math.atan2(dx, dy)) + 360) % 360}


__all__ = ["binomial_test", "centre_and_ellipse", "compare_counts", "hotspot_change",
           "newcombe_difference", "shift", "wdq"]
