"""A transparent composite ranking of areas for People Zone conversations (pure).

Every indicator is oriented so that a higher value means more need, standardised across
the areas (z-score, or the IMD's rank-exponential transform), weighted, and summed; the
score is the weighted mean of the standardised values. Every component stays visible.
Robustness is shown two ways: how far each area's rank moves when each weight changes by
±50% (one at a time), and how much it moves when the offence counts are redrawn from
Poisson distributions with the observed means (rank percentiles and P(in the top k)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo_api import deadline
from geo_api.analysis.defaults import DEFAULT_SEED

SIM_BATCH = 250  # Poisson redraws ranked at once (memory: batch x areas x indicators)

EXP_SCALE = 23.0  # IMD 2019 technical report: exponential transform constant


def eb_rates(counts: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Global empirical-Bayes smoothed rates (Marshall 1991, method of moments), via
    esda's ``Empirical_Bayes``: small populations are pulled towards the overall rate. When
    the between-area variance estimate is not positive (Marshall: set it to zero) every area
    gets the overall rate."""
    from esda.smoothing import Empirical_Bayes  # noqa: PLC0415 - lazy: heavy import (esda)

    e = np.asarray(counts, dtype=float)
    b = np.asarray(population, dtype=float)
    if np.any(b <= 0):
        raise ValueError("every area needs a positive population")
    if e.ndim == 2:
        return _eb_rates_rows(e, b)
    m = e.sum() / b.sum()
    between = (b * (e / b - m) ** 2).sum() / b.sum() - m / b.mean()
    if between <= 0:  # no variation beyond Poisson noise: every area gets the overall rate
        return np.full(len(e), m)
    return np.asarray(Empirical_Bayes(e.reshape(-1, 1), b.reshape(-1, 1)).r,
                      dtype=float).ravel()


def _eb_rates_rows(e: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``eb_rates`` of each row of ``e`` (draws x areas) at once: the same estimator as
    esda's ``Empirical_Bayes`` (tests compare them row by row), written out in numpy because
    esda takes one set of counts per call."""
    m = e.sum(axis=1, keepdims=True) / b.sum()
    rate = e / b
    between = (b * (rate - m) ** 2).sum(axis=1, keepdims=True) / b.sum() - m / b.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = between / (between + m / b)
        smoothed = weight * rate + (1 - weight) * m
    return np.where(between > 0, smoothed, np.broadcast_to(m, e.shape))


def standardise(values: np.ndarray, method: str = "z") -> np.ndarray:
    """Standardise one indicator across areas (NaN stays NaN and is left out of the fit).

    ``z``: (v - mean) / sd (population sd; all equal -> zeros). ``rank_exp``: the IMD's
    transform of ranks, 0 (least need) .. 100 (most need), spreading the high-need tail:
    X = -23 ln(1 - R (1 - exp(-100/23))), R = rank / n with rank 1 the lowest value;
    ties get their average rank."""
    return _standardise_rows(np.asarray(values, dtype=float)[None, :], method)[0]


def _standardise_rows(v: np.ndarray, method: str) -> np.ndarray:
    """``standardise`` along the last axis of ``v`` (each row on its own)."""
    from scipy.stats import rankdata  # noqa: PLC0415 - lazy: heavy import (scipy)

    ok = np.isfinite(v)
    n = ok.sum(axis=-1, keepdims=True)
    x = np.where(ok, v, 0.0)
    if method == "z":
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = x.sum(axis=-1, keepdims=True) / n
            sd = np.sqrt((np.where(ok, v - mean, 0.0) ** 2).sum(axis=-1, keepdims=True) / n)
            out = np.where(sd > 0, (v - mean) / sd, 0.0)
    elif method == "rank_exp":
        with np.errstate(invalid="ignore", divide="ignore"):
            r = rankdata(np.where(ok, v, np.inf), method="average", axis=-1) / n
            out = -EXP_SCALE * np.log(1 - r * (1 - np.exp(-100 / EXP_SCALE)))
    else:
        raise ValueError("method must be 'z' or 'rank_exp'")
    return np.where(ok, out, np.nan)


def _scores(values: np.ndarray, w: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Standardised columns and the weighted-mean score of each row (NaN-aware)."""
    std = _standardise_rows(np.asarray(values, dtype=float).T, method).T
    return std, _weighted_mean(std, w)


def _weighted_mean(std: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean over the last axis of the values each area has (NaN: left out)."""
    has = np.isfinite(std)
    num = (np.where(has, std, 0.0) * w).sum(axis=-1)
    den = (has * w).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _score_rows(values: np.ndarray, w: np.ndarray, method: str) -> np.ndarray:
    """Scores of draws x areas x indicators: each draw standardised across its areas."""
    std = np.moveaxis(_standardise_rows(np.moveaxis(values, -1, 1), method), 1, -1)
    return _weighted_mean(std, w)


def _rank_desc(score: np.ndarray) -> np.ndarray:
    """1 = highest score; ties share the better rank; NaN last."""
    return _rank_desc_rows(np.asarray(score, dtype=float)[None, :])[0]


def _rank_desc_rows(score: np.ndarray) -> np.ndarray:
    """``_rank_desc`` of each row."""
    from scipy.stats import rankdata  # noqa: PLC0415 - lazy: heavy import (scipy)

    return rankdata(np.where(np.isfinite(score), -score, np.inf), method="min",
                    axis=-1).astype(float)


def _weights_of(available, weights: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    """The indicators with a positive weight (all of them in ``available``) and the weights."""
    names = [n for n, w in weights.items() if w > 0]
    if not names:
        raise ValueError("at least one weight must be positive")
    missing = [n for n in names if n not in available]
    if missing:
        raise ValueError(f"no indicator column for weight(s) {missing}")
    return names, np.array([weights[n] for n in names])


def _weighted(indicators: pd.DataFrame | Mapping[str, np.ndarray],
              weights: Mapping[str, float]):
    names, w = _weights_of(indicators, weights)
    values = np.column_stack([np.asarray(indicators[n], dtype=float) for n in names])
    return names, values, w


def composite(indicators: pd.DataFrame, weights: Mapping[str, float], method: str = "z"
              ) -> pd.DataFrame:
    """Score and rank areas (rows of ``indicators``, columns = indicators oriented so that
    higher = more need). A missing value contributes nothing and the area's score is the
    weighted mean over the indicators it has. Returns, per area, ``std_<name>``,
    ``contribution_<name>`` (the area's weight share x standardised value; they add up to
    the score), ``score`` and ``rank``
    (1 = most need; ties share the better rank)."""
    names, values, w = _weighted(indicators, weights)
    std, score = _scores(values, w, method)
    out = pd.DataFrame(index=indicators.index)
    den = (np.isfinite(std) * w).sum(axis=1)  # weights of the indicators each area has
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(den[:, None] > 0, w[None, :] / den[:, None], np.nan)
    for k, n in enumerate(names):
        out[f"std_{n}"] = std[:, k]
        out[f"contribution_{n}"] = share[:, k] * std[:, k]
    out["score"] = score
    out["rank"] = pd.array(_rank_desc(score).astype(int), dtype="Int64")
    return out


def ranks(indicators: pd.DataFrame | Mapping[str, np.ndarray], weights: Mapping[str, float],
          method: str) -> np.ndarray:
    _, values, w = _weighted(indicators, weights)
    return _rank_desc(_scores(values, w, method)[1])


def weight_sensitivity(indicators: pd.DataFrame, weights: Mapping[str, float],
                       method: str = "z", factors: tuple[float, ...] = (0.5, 1.5)
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ranks when each weight alone is multiplied by each factor (others unchanged).

    Returns (table, summary): ``table`` has one column per variation
    (``<name> x0.5``...) with every area's rank; ``summary`` has each area's base rank and
    its best and worst rank over all variations."""
    base = ranks(indicators, weights, method)
    cols = {}
    for n, w in weights.items():
        if w <= 0:
            continue
        for f in factors:
            varied = dict(weights)
            varied[n] = w * f
            cols[f"{n} x{f:g}"] = ranks(indicators, varied, method)
    table = pd.DataFrame(cols, index=indicators.index)
    allr = np.column_stack([base, table.to_numpy()]) if cols else base[:, None]
    summary = pd.DataFrame({"rank": base, "rank_best": allr.min(axis=1),
                            "rank_worst": allr.max(axis=1)}, index=indicators.index)
    return table, summary


@dataclass(frozen=True)
class RankUncertainty:
    rank_p05: np.ndarray
    rank_median: np.ndarray
    rank_p95: np.ndarray
    p_top_k: np.ndarray
    n_sim: int
    seed: int
    top_k: int


def rank_uncertainty(counts: Mapping[str, np.ndarray],
                     build: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]],
                     weights: Mapping[str, float], method: str = "z", *, n_sim: int = 500,
                     seed: int = DEFAULT_SEED, top_k: int = 5) -> RankUncertainty:
    """Rank spread from Poisson noise in the counts.

    ``counts`` maps names to observed count arrays (one value per area); ``build`` turns
    draws of them (arrays of draws x areas, in batches of ``SIM_BATCH``) into indicator
    columns by name (draws x areas, or one value per area for an indicator no count enters),
    so rates, smoothing and trends are recomputed from each draw exactly as from the data.
    Each simulation draws every count from Poisson(observed) with a fixed ``seed``."""
    rng = np.random.default_rng(seed)
    n_units = len(next(iter(counts.values())))
    r = np.empty((n_sim, n_units))
    for start in range(0, n_sim, SIM_BATCH):  # batches bound the memory
        deadline.check("the rank simulations")
        m = min(SIM_BATCH, n_sim - start)
        draw = {k: rng.poisson(np.asarray(v, dtype=float), size=(m, n_units))
                for k, v in counts.items()}
        columns = build(draw)  # each (m, n_units), or (n_units,) when no count enters it
        names, w = _weights_of(columns, weights)
        values = np.stack([np.broadcast_to(np.asarray(columns[n], dtype=float), (m, n_units))
                           for n in names], axis=-1)
        r[start:start + m] = _rank_desc_rows(_score_rows(values, w, method))
    return RankUncertainty(rank_p05=np.percentile(r, 5, axis=0, method="lower"),
                           rank_median=np.median(r, axis=0),
                           rank_p95=np.percentile(r, 95, axis=0, method="higher"),
                           p_top_k=(r <= top_k).mean(axis=0), n_sim=n_sim, seed=seed,
                           top_k=top_k)


def trend_log_ratio(recent: np.ndarray, earlier: np.ndarray, months_recent: int,
                    months_earlier: int) -> np.ndarray:
    """Log of the area's recent/earlier monthly-rate ratio over the same ratio for all the
    areas together (0 = moved with the city; > 0 = rose more). 0.5 is added to each count
    so that zeros stay finite."""
    rec = np.asarray(recent, dtype=float)
    ear = np.asarray(earlier, dtype=float)
    area = np.log((rec + 0.5) / months_recent) - np.log((ear + 0.5) / months_earlier)
    city = (np.log((rec.sum(axis=-1, keepdims=True) + 0.5) / months_recent)
            - np.log((ear.sum(axis=-1, keepdims=True) + 0.5) / months_earlier))
    return area - city
