"""Counts, shares and rates per area with 95% confidence intervals (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

# the normal quantile without importing scipy.stats (about 1 s at start-up, which every
# command line run paid, ingest included); ndtri is what stats.norm.ppf computes
Z95 = float(special.ndtri(0.975))


def wilson_interval(k: np.ndarray, n: int | np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion k/n (0..1); NaN where n == 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def poisson_interval(k: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for a Poisson count k."""
    from scipy import stats  # noqa: PLC0415 - lazy: heavy import (scipy)

    k = np.asarray(k, dtype=float)
    lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * k) / 2, 0.0)
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * (k + 1)) / 2
    return lo, hi


def area_statistics(areas: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """Per-area count, share of the layer total and rate per 1,000 residents.

    Parameters
    ----------
    areas : one row per area: ``code``, ``name`` and optionally ``population``.
    counts : ``code``, ``count`` for areas with at least one offence.

    Returns
    -------
    DataFrame sorted by count (desc) then code: count, share, share_ci95_low/high (Wilson),
    population, rate_per_1000, rate_ci95_low/high (exact Poisson); areas without offences
    have count 0; rates are NaN where population is unknown. ``share`` denominators are the
    offences located in any area of the layer.
    """
    out = areas[["code", "name"]].copy()
    out["population"] = areas.get("population", np.nan)
    out = out.merge(counts[["code", "count"]], on="code", how="left")
    out["count"] = out["count"].fillna(0).astype(int)
    total = int(out["count"].sum())
    out["share"] = out["count"] / total if total else np.nan
    out["share_ci95_low"], out["share_ci95_high"] = wilson_interval(out["count"], total)
    pop = out["population"].astype(float)
    lo, hi = poisson_interval(out["count"])
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate_per_1000"] = 1000 * out["count"] / pop
        out["rate_ci95_low"] = 1000 * lo / pop
        out["rate_ci95_high"] = 1000 * hi / pop
    out = out.sort_values(["count", "code"], ascending=[False, True]).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out
