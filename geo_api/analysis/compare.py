"""Period comparison (pure): per-area change, WDQ, hotspot change, centre of gravity.

Per-area test (adjusting for the overall change). With ``a_i``/``b_i`` offences in area
i before/after and totals ``A``/``B``, under H0 ("the area changed like everywhere else")
``b_i | a_i + b_i ~ Binomial(a_i + b_i, B / (A + B))``. The exact two-sided binomial test
gives p; the *relative change* ``(b_i / a_i) / (B / A)`` is the odds of the binomial
proportion over its H0 odds, with an exact (Clopper-Pearson) 95% CI. Shares before/after
use Wilson intervals; the share change uses Newcombe's hybrid score interval (method 10).
FDR: Benjamini-Hochberg across areas.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from geo_api.analysis.area_stats import wilson_interval
from geo_api.analysis.getis_ord import benjamini_hochberg


def newcombe_difference(k1, n1, k2, n2) -> tuple[np.ndarray, np.ndarray]:
    """95% CI for p2 - p1 (independent proportions), Newcombe hybrid score method."""
    l1, u1 = wilson_interval(k1, n1)
    l2, u2 = wilson_interval(k2, n2)
    p1, p2 = np.asarray(k1) / n1, np.asarray(k2) / n2
    d = p2 - p1
    lo = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    hi = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return lo, hi


def compare_counts(areas: pd.DataFrame, fdr_alpha: float = 0.05) -> pd.DataFrame:
    """Per-area change between two periods.

    Parameters
    ----------
    areas : ``code``, ``before``, ``after`` counts (zeros allowed).

    Returns
    -------
    DataFrame with shares (+ Wilson CIs), share_change (+ Newcombe CI), relative_change
    (+ exact CI), two-sided exact p, BH discovery flag and a plain-language ``direction``.
    """
    a = areas["before"].to_numpy(int)
    b = areas["after"].to_numpy(int)
    A, B = int(a.sum()), int(b.sum())
    if A == 0 or B == 0:
        raise ValueError("both periods need offences")
    out = areas.copy()
    out["share_before"], out["share_after"] = a / A, b / B
    out["share_before_ci95_low"], out["share_before_ci95_high"] = wilson_interval(a, A)
    out["share_after_ci95_low"], out["share_after_ci95_high"] = wilson_interval(b, B)
    out["share_change"] = out["share_after"] - out["share_before"]
    out["share_change_ci95_low"], out["share_change_ci95_high"] = newcombe_difference(a, A, b, B)
    p0 = B / (A + B)
    odds0 = p0 / (1 - p0)
    p, rr, lo, hi = [], [], [], []
    for ai, bi in zip(a, b):
        n = ai + bi
        if n == 0:
            p.append(1.0)
            rr.append(np.nan)
            lo.append(np.nan)
            hi.append(np.nan)
            continue
        test = stats.binomtest(int(bi), int(n), p0)
        ci = test.proportion_ci(0.95, method="exact")
        p.append(test.pvalue)
        rr.append((bi / ai) / odds0 if ai else np.inf)
        lo.append(ci.low / (1 - ci.low) / odds0 if ci.low < 1 else np.inf)
        hi.append(ci.high / (1 - ci.high) / odds0 if ci.high < 1 else np.inf)
    out["relative_change"], out["relative_change_ci95_low"] = rr, lo
    out["relative_change_ci95_high"], out["p_two_sided"] = hi, p
    out["significant_fdr"] = benjamini_hochberg(np.array(p), fdr_alpha)
    out["direction"] = np.where(~out["significant_fdr"], "no change beyond the overall trend",
                                np.where(out["relative_change"] > 1, "rose relative to overall",
                                         "fell relative to overall"))
    return out


def wdq(target: tuple[int, int], displacement: tuple[int, int], control: tuple[int, int]) -> dict:
    """Weighted displacement quotient (Bowers & Johnson 2003).

    Each argument is (before, after) counts. ``success = Ra/Ca - Rb/Cb`` (negative: the
    target improved relative to control); ``WDQ = (Da/Ca - Db/Cb) / success``.
    """
    (rb, ra), (db, da), (cb, ca) = target, displacement, control
    if cb == 0 or ca == 0:
        raise ValueError("the control area needs offences in both periods")
    success = ra / ca - rb / cb
    buffer_change = da / ca - db / cb
    value = buffer_change / success if success != 0 else None  # undefined, not NaN (JSON)
    if success >= 0:
        text = ("no reduction in the target area relative to control, so displacement or "
                "diffusion cannot be assessed")
    elif value < -1:
        text = "displacement exceeding the reduction in the target area (net increase)"
    elif value < 0:
        text = "displacement: part of the reduction moved to the displacement area"
    elif value > 1:
        text = "diffusion of benefits larger than the reduction in the target area"
    elif value > 0:
        text = "diffusion of benefits: the displacement area also improved"
    else:
        text = "no displacement or diffusion"
    return {"wdq": value, "success_measure": success, "buffer_measure": buffer_change,
            "inputs": {"target": {"before": rb, "after": ra},
                       "displacement": {"before": db, "after": da},
                       "control": {"before": cb, "after": ca}},
            "interpretation": text,
            "method": "Bowers & Johnson (2003): WDQ = (Da/Ca - Db/Cb) / (Ra/Ca - Rb/Cb)"}


def hotspot_change(labels_before: np.ndarray, labels_after: np.ndarray) -> dict:
    """Classify units by Gi* hot status in two periods; Jaccard similarity of hot sets."""
    hb = np.char.startswith(np.asarray(labels_before, dtype=str), "hot")
    ha = np.char.startswith(np.asarray(labels_after, dtype=str), "hot")
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


__all__ = ["centre_and_ellipse", "compare_counts", "hotspot_change", "newcombe_difference",
           "shift", "wdq"]
