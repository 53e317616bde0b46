"""Time profiles, top-N and concentration (pure)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_day_matrix(times: pd.Series) -> pd.DataFrame:
    """Offence counts by hour of day (rows 0-23) x day of week (Mon..Sun)."""
    t = pd.to_datetime(times).dropna()
    m = pd.crosstab(t.dt.hour, t.dt.day_of_week).reindex(index=range(24), columns=range(7),
                                                        fill_value=0)
    m.columns = list(DAYS)
    m.index.name = "hour"
    return m


def window_share(times: pd.Series, start_hour: int, end_hour: int) -> tuple[int, int, float]:
    """(count in [start, end) hours, total, share); the window may wrap midnight."""
    h = pd.to_datetime(times).dropna().dt.hour
    inside = (h >= start_hour) & (h < end_hour) if start_hour < end_hour else \
        (h >= start_hour) | (h < end_hour)
    n, total = int(inside.sum()), len(h)
    return n, total, (n / total if total else float("nan"))


def top_n(counts: pd.DataFrame, n: int, rank_by: pd.Series | None = None) -> pd.DataFrame:
    """The ``n`` units with most offences (ties broken by code), with rank and share;
    ``rank_by``: another order, highest first (units without offences then take part)."""
    if rank_by is None:
        c, key = counts[counts["count"] > 0], counts["count"]
    else:
        c, key = counts, rank_by
    c = c.assign(_k=key).sort_values(["_k", "code"], ascending=[False, True]).drop(columns="_k")
    total = c["count"].sum()
    out = c.head(n).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["share"] = out["count"] / total if total else np.nan
    out["cumulative_share"] = out["share"].cumsum()
    return out


def concentration(counts: np.ndarray, areas: np.ndarray | None = None,
                  top_area_shares=(0.01, 0.05, 0.10, 0.25)) -> dict:
    """How concentrated offences are across units (zeros included).

    Units are ranked by density (count / area; equal areas if ``areas`` is None). Returns
    the Lorenz curve (cumulative share of area vs of offences), the Gini coefficient of
    that curve (0 = even, ~1 = all in one unit) and the share of offences in the densest
    x% of area for each x in ``top_area_shares`` (interpolated along the curve).
    """
    y = np.asarray(counts, dtype=float)
    a = np.ones_like(y) if areas is None else np.asarray(areas, dtype=float)
    if y.sum() <= 0:
        raise ValueError("no offences")
    order = np.argsort(-(y / a), kind="stable")
    cum_area = np.r_[0, np.cumsum(a[order])] / a.sum()
    cum_off = np.r_[0, np.cumsum(y[order])] / y.sum()
    # Area under the (concave, densest-first) curve; Gini = 2 * AUC - 1.
    auc = np.trapezoid(cum_off, cum_area)
    return {
        "gini": float(2 * auc - 1),
        "share_of_offences_in_top_area": {f"{round(s * 100)}%": float(np.interp(s, cum_area, cum_off))
                                          for s in top_area_shares},
        "lorenz": {"cum_area_share": cum_area.round(6).tolist(),
                   "cum_offence_share": cum_off.round(6).tolist()},
        "ranking": "units ranked by offences per unit area, densest first",
    }
