"""Hot spot forecasts and how well they predicted: pure numpy/scipy.

A *method* turns the months before a cut-off into a score per unit (higher = hotter); a
*selection* takes the highest-scoring units until a share of the study area (the coverage)
is covered; the *metrics* say how much of the next period's crime fell inside:

- hit rate = n / N (share of the next period's offences in the selection);
- PAI (Chainey, Tompson & Uhlig 2008) = hit rate / area share;
- PEI (Hunt 2016) = PAI / the highest PAI any selection of the same area could have had
  (the "oracle": units ranked by the next period's own density), so 1 is perfect;
- RRI (Levine 2008, recapture rate index) = (n2 / n1) / (N2 / N1): the selection's
  offences in the next period over those in the training window, relative to the same
  ratio for the whole area (> 1: the selection's offences grew faster than elsewhere).

**Ties and the cut.** Units are taken in descending score. The group of units tied at the
cut (and a single unit that would overshoot) is included in proportion: each gets weight
(area still to fill) / (area of the tied group). That is the expected value of breaking the
ties at random, and it makes the selected area exactly the coverage, so PAI of the oracle
is the true maximum (a fractional knapsack ranked by density) and PEI <= 1.

Scores are densities (per km²) or kernel densities, so polygon layers of unequal areas are
ranked fairly; on equal-area grids this is the same as ranking counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from geo_api import deadline
from geo_api.analysis.emerging import emerging_hotspots, space_time_adjacency
from geo_api.analysis.getis_ord import analytic, with_self_weights

METHODS = ("naive", "long_run", "recency", "kde", "gi", "emerging", "ensemble")
METHOD_TEXT = {
    "naive": "offences in the training window (the last months), per km²",
    "long_run": "offences in all months before the cut-off, per km²",
    "recency": "all months before the cut-off, each weighted 0.5^(age / half-life), per km²",
    "kde": "quartic kernel density of the training window's offences at unit centres",
    "gi": "Getis-Ord Gi* z of the training window: hot spots at 95% first, then by z",
    "emerging": "emerging hot spot category of the training window (intensifying, "
                "persistent, new ... first), then by the last month's density",
    "ensemble": "recency-weighted kernel density (bandwidth 0 = no smoothing) whose "
                "bandwidth and half-life are chosen by the backtest on earlier folds only "
                "(their test months end by the cut-off)",
}
EMERGING_ORDER = ("intensifying hot spot", "persistent hot spot", "new hot spot",
                  "consecutive hot spot", "sporadic hot spot", "oscillating hot spot",
                  "diminishing hot spot", "historical hot spot")
COVERAGES = tuple(round(c / 100, 2) for c in range(1, 21))


# ------------------------------------------------------------------ selection, metrics --
def selection_weights(score: np.ndarray, area: np.ndarray, coverage: float) -> np.ndarray:
    """Inclusion weight (0..1) of each unit in the top ``coverage`` share of the total area,
    ties (and an overshooting unit) at the cut included in proportion."""
    return selection_weights_many(score, area, [coverage])[0]


def selection_weights_many(score: np.ndarray, area: np.ndarray,
                           coverages: Sequence[float]) -> np.ndarray:
    """``selection_weights`` at several coverages (one row each), sorting once."""
    score = np.asarray(score, float)
    area = np.asarray(area, float)
    cov = np.asarray(coverages, float)
    if not ((cov > 0) & (cov <= 1)).all():
        raise ValueError("coverage must be in (0, 1]")
    order, starts, frac = _groups_taken(score, area, cov)
    ends = np.r_[starts[1:], len(order)]
    w_sorted = np.repeat(frac, ends - starts, axis=1)
    w = np.empty_like(w_sorted)
    w[:, order] = w_sorted
    return w


def _groups_taken(score: np.ndarray, area: np.ndarray, coverages: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Units by descending score (``order``), the first position of each group of equal
    score (``starts``), and the share of each group taken at each coverage (``frac``:
    coverages x groups)."""
    target = coverages[:, None] * area.sum()
    order = np.argsort(-score, kind="stable")
    s, a = score[order], area[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    group_area = np.add.reduceat(a, starts)
    before = np.r_[0.0, np.cumsum(group_area)[:-1]]
    return order, starts, np.clip((target - before) / group_area, 0.0, 1.0)


@dataclass(frozen=True)
class Scores:
    hit_rate: float
    pai: float
    pei: float
    rri: float
    area_share: float
    n_inside: float
    n_total: float


def evaluate(score: np.ndarray, area: np.ndarray, future: np.ndarray, past: np.ndarray,
             coverage: float, best_hits: float | None = None) -> Scores:
    """Metrics of one selection: ``future`` offences per unit in the test period, ``past``
    in the training window (for RRI). ``best_hits``: ``best_selection_hits`` of the same
    test period (computed here when not given)."""
    w = selection_weights(score, area, coverage)
    area_share = float((w * area).sum() / area.sum())
    N, n = float(future.sum()), float((w * future).sum())
    hit = n / N if N > 0 else float("nan")
    pai = hit / area_share
    if best_hits is None:
        best_hits = best_selection_hits(area, future, coverage)
    best_pai = best_hits / N / area_share if N > 0 else float("nan")
    pei = pai / best_pai if best_pai > 0 else float("nan")
    N1, n1 = float(past.sum()), float((w * past).sum())
    rri = (n / n1) / (N / N1) if n1 > 0 and N > 0 and N1 > 0 else float("nan")
    return Scores(hit, pai, pei, rri, area_share, n, N)


def best_selection_hits(area: np.ndarray, future: np.ndarray, coverage: float) -> float:
    """Offences inside the best possible selection of ``coverage`` of the area (units by
    their test-period density): the PEI's denominator, the same for every method."""
    return float((selection_weights(future / area, area, coverage) * future).sum())


def hit_rate_curve(score: np.ndarray, area: np.ndarray, future: np.ndarray,
                   coverages: Sequence[float] = COVERAGES) -> np.ndarray:
    """Hit rate at each coverage."""
    future = np.asarray(future, float)
    N = future.sum()
    if not N:
        return np.full(len(coverages), np.nan)
    cov = np.asarray(coverages, float)
    if not ((cov > 0) & (cov <= 1)).all():
        raise ValueError("coverage must be in (0, 1]")
    order, starts, frac = _groups_taken(np.asarray(score, float), np.asarray(area, float), cov)
    return frac @ np.add.reduceat(future[order], starts) / N


# ------------------------------------------------------------------ methods -------------
@dataclass
class Space:
    """Units' areas, centres (metres) and contiguity: what methods may know besides counts."""

    area_km2: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    adjacency: sp.csr_matrix | Callable[[], sp.csr_matrix]
    _pairs: dict = field(default_factory=dict)

    def adj(self) -> sp.csr_matrix:
        if callable(self.adjacency):
            self.adjacency = self.adjacency()
        return self.adjacency

    def adj_star(self) -> sp.csr_matrix:
        """The contiguity with each unit its own neighbour (Gi*'s weights), built once."""
        if "star" not in self._pairs:
            self._pairs["star"] = with_self_weights(self.adj())
        return self._pairs["star"]

    def space_time(self, n_steps: int) -> sp.csr_matrix:
        """The space-time adjacency of ``n_steps`` months (one step back), built once."""
        if ("space_time", n_steps) not in self._pairs:
            self._pairs[("space_time", n_steps)] = space_time_adjacency(self.adj(), n_steps, 1)
        return self._pairs[("space_time", n_steps)]

    def kernel(self, bandwidth_m: float) -> sp.csr_matrix:
        """Quartic kernel weights between unit centres within the bandwidth (incl. self)."""
        if bandwidth_m not in self._pairs:
            from scipy.spatial import cKDTree  # noqa: PLC0415 - lazy: heavy import (scipy)

            tree = cKDTree(np.column_stack([self.x_m, self.y_m]))
            d = tree.sparse_distance_matrix(tree, bandwidth_m, output_type="coo_matrix")
            off = d.row != d.col  # the diagonal is set below (zero distances may be dropped)
            u = d.data[off] / bandwidth_m
            k = 3 / np.pi * (1 - u ** 2) ** 2 / bandwidth_m ** 2 * 1e6  # per km²
            n = len(self.x_m)
            m = sp.coo_matrix((k, (d.row[off], d.col[off])), shape=(n, n)).tocsr()
            m = m + sp.identity(n, format="csr") * (3 / np.pi / bandwidth_m ** 2 * 1e6)
            self._pairs[bandwidth_m] = m
        return self._pairs[bandwidth_m]


@dataclass(frozen=True)
class Params:
    window: int = 3  # training window, months
    half_life: float = 2.0  # months, recency weighting
    bandwidth_m: float = 400.0  # KDE
    # 0 m: no smoothing (counts per km²); a half-life of 120 months is close to long-run
    ensemble_bandwidths_m: tuple[float, ...] = (0.0, 250.0, 400.0, 600.0)
    ensemble_half_lives: tuple[float, ...] = (1.0, 2.0, 4.0, 12.0, 120.0)


def recency_weights(n_months: int, half_life: float) -> np.ndarray:
    age = np.arange(n_months)[::-1]  # the last month has age 0
    return 0.5 ** (age / half_life)


def score(method: str, history: np.ndarray, space: Space, p: Params,
          ensemble_choice: tuple[float, float] | None = None) -> np.ndarray:
    """Scores of ``method`` from ``history`` (units x months before the cut-off, oldest
    first). Nothing else about the data is used, so no later month can leak in."""
    window = history[:, -p.window:].sum(axis=1)
    area = space.area_km2
    if method == "naive":
        return window / area
    if method == "long_run":
        return history.sum(axis=1) / area
    if method == "recency":
        return history @ recency_weights(history.shape[1], p.half_life) / area
    if method == "kde":
        return space.kernel(p.bandwidth_m) @ window
    if method == "gi":
        if window.sum() == 0:
            return np.zeros(len(window))
        from scipy.stats import norm  # noqa: PLC0415 - lazy: heavy import (scipy)

        *_, z = analytic(window.astype(float), space.adj_star())
        with np.errstate(invalid="ignore"):
            hot95 = np.isfinite(z) & (z > 0) & (2 * norm.sf(np.abs(z)) < 0.05)
        return np.where(hot95, 1e6, 0.0) + np.where(np.isfinite(z), z, -1e6)
    if method == "emerging":
        recent = history[:, -1] / area
        win = history[:, -max(p.window, 3):]
        if win.sum() == 0 or win.shape[1] < 3:
            return recent
        cats = emerging_hotspots(win, space.adj(), 1, 0.05, 0, 0, True,
                                 st_adjacency=space.space_time(win.shape[1]))["category"]
        level = np.zeros(len(cats))
        for i, c in enumerate(EMERGING_ORDER):
            level[cats == c] = len(EMERGING_ORDER) - i
        return level * 1e6 + recent / (recent.max() + 1) * 1e5
    if method == "ensemble":
        bw, hl = ensemble_choice or (p.bandwidth_m, p.half_life)
        weighted = history @ recency_weights(history.shape[1], hl)
        return weighted / area if bw == 0 else space.kernel(bw) @ weighted
    raise ValueError(f"unknown method {method!r}")


# ------------------------------------------------------------------ backtest ------------
@dataclass(frozen=True)
class Fold:
    cutoff: int  # index of the first test month
    horizon: int


def folds(n_months: int, window: int, horizon: int) -> list[Fold]:
    """Rolling origins: train on months before the cut-off, test on the next ``horizon``,
    stepping one month at a time."""
    return [Fold(c, horizon) for c in range(window, n_months - horizon + 1)]


def _choose_ensemble(results: dict, done: list[Fold], cutoff: int, p: Params,
                     coverage: float) -> tuple[float, float]:
    """The (bandwidth, half-life) with the best mean PAI over folds whose test months end
    by ``cutoff``; the defaults when there are none yet."""
    usable = [f for f in done if f.cutoff + f.horizon <= cutoff]
    if not usable:
        return p.bandwidth_m, p.half_life
    best, best_pai = (p.bandwidth_m, p.half_life), -np.inf
    for bw in p.ensemble_bandwidths_m:
        for hl in p.ensemble_half_lives:
            pais = [results[(f.cutoff, bw, hl)] for f in usable]
            m = float(np.nanmean(pais)) if pais else -np.inf
            if m > best_pai + 1e-12:
                best, best_pai = (bw, hl), m
    return best


def backtest(counts: np.ndarray, space: Space, methods: Sequence[str] = METHODS,
             horizon: int = 1, coverage: float = 0.05, p: Params = Params(),
             coverages: Sequence[float] = COVERAGES,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Rolling-origin backtest over a (units x months) count matrix, oldest month first.

    Returns per-fold metrics for every method, per-method summaries, the hit-rate curve
    (mean over folds) and a paired comparison of each method with ``naive``."""
    counts = np.asarray(counts, float)
    n_months = counts.shape[1]
    fl = folds(n_months, p.window, horizon)
    if not fl:
        raise ValueError(f"need at least {p.window + horizon} months for a {p.window}-month "
                         f"window and a {horizon}-month horizon; got {n_months}")
    rows: list[dict] = []
    curves: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    grid_pai: dict = {}  # (cutoff, bw, hl) -> PAI, for the ensemble's choice
    done: list[Fold] = []
    for i, f in enumerate(fl):
        deadline.check("the backtest")
        history = counts[:, :f.cutoff]
        future = counts[:, f.cutoff:f.cutoff + horizon].sum(axis=1)
        past = history[:, -p.window:].sum(axis=1)
        best = best_selection_hits(space.area_km2, future, coverage)
        choice = None
        if "ensemble" in methods:
            choice = _choose_ensemble(grid_pai, done, f.cutoff, p, coverage)
        for m in methods:
            s = score(m, history, space, p, choice)
            r = evaluate(s, space.area_km2, future, past, coverage, best)
            rows.append({"cutoff": f.cutoff, "method": m, "hit_rate": r.hit_rate,
                         "pai": r.pai, "pei": r.pei, "rri": r.rri, "n_test": r.n_total,
                         "n_inside": r.n_inside,
                         "params": ({"bandwidth_m": choice[0], "half_life": choice[1]}
                                    if m == "ensemble" and choice is not None else None)})
            curves[m].append(hit_rate_curve(s, space.area_km2, future, coverages))
        if "ensemble" in methods:  # this fold's PAI for every candidate, for later folds
            for bw in p.ensemble_bandwidths_m:
                for hl in p.ensemble_half_lives:
                    s = score("ensemble", history, space, p, (bw, hl))
                    grid_pai[(f.cutoff, bw, hl)] = evaluate(s, space.area_km2, future, past,
                                                            coverage, best).pai
        done.append(f)
        if progress:
            progress(i + 1, len(fl))
    nxt = None
    if "ensemble" in methods:  # for forecasting the month after the data: every fold counts
        bw, hl = _choose_ensemble(grid_pai, done, n_months, p, coverage)
        nxt = {"bandwidth_m": bw, "half_life": hl}
    return {"folds": rows, "summary": summarise(rows, methods), "ensemble_next": nxt,
            "paired_vs_naive": paired(rows, methods),
            "curves": {m: np.nanmean(np.vstack(c), axis=0).tolist() for m, c in curves.items()},
            "coverages": list(coverages), "n_folds": len(fl)}


def summarise(rows: list[dict], methods: Sequence[str]) -> list[dict]:
    out = []
    for m in methods:
        r = [x for x in rows if x["method"] == m]
        pai = [x["pai"] for x in r]
        out.append({"method": m, **{f"mean_{k}": _stat(np.mean, [x[k] for x in r])
                                    for k in ("hit_rate", "pai", "pei", "rri")},
                    "median_pai": _stat(np.median, pai), "min_pai": _stat(np.min, pai),
                    "n_folds": len(r)})
    return out


def paired(rows: list[dict], methods: Sequence[str], baseline: str = "naive") -> list[dict]:
    """Per method vs ``baseline``, fold by fold on PAI: wins / losses / ties and the mean
    difference with a 95% t interval (folds overlap in time, so they are not independent:
    read the interval as indicative)."""
    from scipy import stats  # noqa: PLC0415 - lazy: heavy import (scipy)

    base = {x["cutoff"]: x["pai"] for x in rows if x["method"] == baseline}
    out = []
    for m in methods:
        if m == baseline or not base:
            continue
        d = np.array([x["pai"] - base[x["cutoff"]] for x in rows
                      if x["method"] == m and x["cutoff"] in base], float)
        d = d[np.isfinite(d)]
        n = len(d)
        mean = float(d.mean()) if n else float("nan")
        if n > 1 and d.std(ddof=1) > 0:
            half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n))
        else:
            half = float("nan") if n <= 1 else 0.0
        out.append({"method": m, "baseline": baseline, "wins": int((d > 1e-9).sum()),
                    "losses": int((d < -1e-9).sum()), "ties": int((abs(d) <= 1e-9).sum()),
                    "mean_pai_difference": mean, "ci95_low": mean - half,
                    "ci95_high": mean + half})
    return out


def best_method(summary: list[dict]) -> str:
    """The method with the highest mean PAI (ties: the simpler one, in METHODS order)."""
    ranked = sorted(summary, key=lambda s: (-(s["mean_pai"] if np.isfinite(s["mean_pai"])
                                              else -np.inf), METHODS.index(s["method"])))
    return ranked[0]["method"]


def walk_forward(folds: list[dict], methods: Sequence[str]) -> dict:
    """The out-of-sample score of "use the method that backtests best": at each cut-off the
    method best on the earlier cut-offs only (``best_method``), scored on that cut-off. The
    best method's mean over all folds is in-sample (the same folds chose it) and
    optimistic; this is the figure to expect. Needs two cut-offs or more (the first has no
    earlier ones); naive is scored on the same folds.

    Returns ``n_folds``, ``mean_pai``, ``mean_hit_rate``, ``naive_mean_pai`` (NaN with no
    fold) and ``picks`` (cut-off, method chosen, its PAI and hit rate).
    """
    cutoffs = sorted({r["cutoff"] for r in folds})
    by = {(r["cutoff"], r["method"]): r for r in folds}
    picks = []
    for k in range(1, len(cutoffs)):
        earlier = [r for r in folds if r["cutoff"] in cutoffs[:k]]
        m = best_method([{"method": x, "mean_pai": _stat(np.mean, [
            r["pai"] for r in earlier if r["method"] == x])} for x in methods])
        row, naive = by[(cutoffs[k], m)], by[(cutoffs[k], "naive")]
        picks.append({"cutoff": cutoffs[k], "method": m, "pai": row["pai"],
                      "hit_rate": row["hit_rate"], "naive_pai": naive["pai"]})
    return {"n_folds": len(picks),
            "mean_pai": _stat(np.mean, [p["pai"] for p in picks]),
            "mean_hit_rate": _stat(np.mean, [p["hit_rate"] for p in picks]),
            "naive_mean_pai": _stat(np.mean, [p["naive_pai"] for p in picks]),
            "picks": picks}


def _stat(f, v) -> float:
    """``f`` of the finite values of ``v`` (NaN when there are none)."""
    a = np.array(v, float)
    a = a[np.isfinite(a)]
    return float(f(a)) if len(a) else float("nan")
