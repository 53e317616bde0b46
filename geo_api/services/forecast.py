"""Which hot spot method predicts next month best on the loaded data, and the focus list
built from it ("where should we go next month").

``evaluate`` runs the rolling-origin backtest of ``analysis/forecast.py`` on monthly counts
per unit (cached per dataset version and parameters); ``focus`` ranks places for the next
period with the method that backtested best and names them the way people do.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo_api.analysis import forecast as fc
from geo_api.analysis.compare import binomial_test
from geo_api.analysis.places import name_places, place_label
from geo_api.crs import metric_to_lonlat
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter
from geo_api.services.budget import (
    check_backtest,
    check_backtest_estimate,
    check_backtest_scores,
    estimated_units,
)
from geo_api.services.patches import Patch, units_in_patch
from geo_api.services.units import Units, UnitSpec, analysis_units, location_units

MAX_CACHED = 32
_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def period_months(svc, flt: OffenceFilter) -> list[str]:
    """Loaded months of ``flt``'s period (all loaded months when it has none), oldest
    first: the months it counts by ``MONTH_RULE`` (any spelling of "April to June" gives
    April to June; a month covered in part is named in the meta's warnings). Refused when
    the months have gaps (a gap would make "the next month" two months later)."""
    months = [m for m in svc.store.months_loaded() if _in_period(m, flt)]
    if months:
        calendar = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m").tolist()
        missing = sorted(set(calendar) - set(months))
        if missing:
            raise InvalidParameter(f"datetime: months without loaded data inside the period "
                                   f"({', '.join(missing)}); choose a period without gaps")
    return months


def monthly_counts(svc, flt: OffenceFilter, units: Units) -> tuple[list[str], np.ndarray]:
    """``period_months`` and the (units x months) count matrix."""
    months = period_months(svc, flt)
    counts = np.column_stack([units.counts(_month(flt, m)) for m in months]) if months \
        else np.zeros((len(units.ids), 0))
    return months, counts


def _in_period(month: str, flt: OffenceFilter) -> bool:
    """Whether ``month`` is one the filter counts (``OffenceFilter.month_span``)."""
    start = pd.Timestamp(month + "-01")
    first, stop = flt.month_span()
    return (first is None or start >= pd.Timestamp(first)) and (
        stop is None or start < pd.Timestamp(stop))


def _month(flt: OffenceFilter, month: str) -> OffenceFilter:
    start = pd.Timestamp(month + "-01")
    return dataclasses.replace(flt, start=start.to_pydatetime(),
                               end=(start + pd.offsets.MonthBegin(1)).to_pydatetime())


def space_of(units: Units) -> fc.Space:
    x, y = units.centres_m
    return fc.Space(units.area_km2, np.asarray(x, float), np.asarray(y, float),
                    lambda: units.adjacency)


def _key(svc, *parts) -> tuple:
    return (svc.store.dataset_version(), svc.boundaries.version, *map(repr, parts))


def units_for(svc, flt: OffenceFilter, spec: UnitSpec | None, window: int = 3) -> Units:
    """Units of ``spec``; None: police.uk map points in the city, taken from the first
    ``window`` months only (before every fold's cut-off, so no fold's units depend on later
    data; later offences count in the Voronoi cell they fall in)."""
    if spec is not None:
        return analysis_units(svc, spec)
    months = period_months(svc, flt)
    if len(months) < window:
        raise InvalidParameter(f"datetime: {len(months)} loaded months; the window needs "
                               f"{window}")
    first = pd.Timestamp(months[0] + "-01")
    until = pd.Timestamp(months[window - 1] + "-01") + pd.offsets.MonthBegin(1)
    return location_units(svc, dataclasses.replace(flt, start=first.to_pydatetime(),
                                                   end=until.to_pydatetime()))


def _remember(key, value):
    with _LOCK:
        _CACHE[key] = value
        while len(_CACHE) > MAX_CACHED:
            _CACHE.popitem(last=False)
    return value


def unit_months(svc, flt: OffenceFilter, spec: UnitSpec | None, window: int,
                units: Units) -> tuple[list[str], np.ndarray]:
    """``monthly_counts``, kept per dataset version so the focus list reuses the backtest's
    counts instead of querying every month again."""
    key = ("counts", *_key(svc, flt, spec, window))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    out = monthly_counts(svc, flt, units)
    return _remember(key, out)


@dataclass(frozen=True)
class Curves:
    """Mean hit rate over the folds at each share of the area selected, per method."""

    coverage: list[float]
    hit_rate: dict[str, list[float | None]]


@dataclass(frozen=True)
class WalkForwardPick:
    """At one cut-off: the method best on the earlier cut-offs only, scored there."""

    cutoff: int
    method: str
    pai: float | None
    hit_rate: float | None
    naive_pai: float | None


@dataclass(frozen=True)
class WalkForward:
    """How well "use the method that backtests best" predicted, out of sample."""

    n_folds: int
    mean_pai: float | None
    mean_hit_rate: float | None
    naive_mean_pai: float | None
    picks: list[WalkForwardPick]


@dataclass(frozen=True)
class Evaluation:
    """Which hot spot method predicted the next months' offences best (the backtest)."""

    meta: dict[str, Any]
    best_method: str
    summary: list[dict[str, Any]]  # per method (analysis.forecast.summarise)
    paired_vs_naive: list[dict[str, Any]]  # per method (analysis.forecast.paired)
    curves: Curves
    folds: list[dict[str, Any]]  # per fold and method, with its train and test months
    ensemble_next: dict[str, float] | None
    walk_forward: WalkForward
    reading: str


def evaluate(svc, flt: OffenceFilter, spec: UnitSpec | None, methods: Sequence[str] = fc.METHODS,
             window: int = 3, horizon: int = 1, coverage: float = 0.05,
             half_life: float = 2.0, bandwidth_m: float = 400.0,
             progress: Callable[[int, int], None] | None = None) -> Evaluation:
    """The backtest as an answer: per-method summary, paired comparison with the naive
    method, hit-rate curves, per-fold rows and the best method (cached)."""
    unknown = [m for m in methods if m not in fc.METHODS]
    if unknown:
        raise InvalidParameter(f"methods: unknown {unknown}; choose from {list(fc.METHODS)}")
    methods = list(dict.fromkeys(["naive", *methods]))  # the baseline is always there
    key = _key(svc, flt, spec, methods, window, horizon, coverage, half_life, bandwidth_m)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]

    n_months = len(period_months(svc, flt))
    grid = fc.Params()
    per_fold = len(methods) + (len(grid.ensemble_bandwidths_m) * len(grid.ensemble_half_lives)
                               if "ensemble" in methods else 0)
    if (n_estimated := estimated_units(svc, spec)) is not None:  # before any unit is built
        check_backtest_scores(svc, n_estimated, n_months, window, horizon, per_fold)
    check_backtest_estimate(svc, spec, max(bandwidth_m, *grid.ensemble_bandwidths_m),
                            n_months)
    units = units_for(svc, flt, spec, window)
    check_backtest_scores(svc, len(units.ids), n_months, window, horizon, per_fold)
    spacing = unit_spacing_m(units)
    params = kde_params(window, half_life, bandwidth_m, spacing)
    check_backtest(svc, len(units.ids), float(np.mean(units.area_km2)),
                   max(bandwidth_m, *params.ensemble_bandwidths_m),
                   n_months)
    months, counts = unit_months(svc, flt, spec, window, units)
    if len(months) < window + horizon:
        raise InvalidParameter(
            f"datetime: a {window}-month window and a {horizon}-month horizon need at least "
            f"{window + horizon} loaded months; {len(months)} are loaded in the period")
    if counts.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    backtest = fc.backtest(counts, space_of(units), methods, horizon, coverage, params,
                           progress=progress)
    for row in backtest["folds"]:
        row["train_months"] = [months[row["cutoff"] - window], months[row["cutoff"] - 1]]
        row["test_months"] = [months[row["cutoff"]], months[row["cutoff"] + horizon - 1]]
    best = fc.best_method(backtest["summary"])
    walk = fc.walk_forward(backtest["folds"], methods)
    walk_forward = WalkForward(
        n_folds=walk["n_folds"], mean_pai=_num(walk["mean_pai"]),
        mean_hit_rate=_num(walk["mean_hit_rate"]), naive_mean_pai=_num(walk["naive_mean_pai"]),
        picks=[WalkForwardPick(cutoff=pick["cutoff"], method=pick["method"],
                               pai=_num(pick["pai"]), hit_rate=_num(pick["hit_rate"]),
                               naive_pai=_num(pick["naive_pai"])) for pick in walk["picks"]])
    meta = svc.meta(flt, analysis="hotspot_forecast_evaluation", **units.definition,
                    months=months, window_months=window, horizon_months=horizon,
                    coverage=coverage, methods=methods, half_life_months=half_life,
                    bandwidth_m=params.bandwidth_m, bandwidth_requested_m=bandwidth_m,
                    unit_spacing_m=round(spacing, 1), bandwidth_rule=(
                        f"at least {KDE_REACH:g} x the unit spacing, so the kernel "
                        "reaches the neighbouring units (a narrower kernel would "
                        "only copy each unit's own count: the naive method)"),
                    n_folds=backtest["n_folds"],
                    ensemble_candidates={
                        "bandwidth_m": list(params.ensemble_bandwidths_m),
                        "half_life_months": list(params.ensemble_half_lives)},
                    tie_rule="units tied at the coverage cut share the remaining "
                             "area in proportion (the expected value of random "
                             "tie-breaking)",
                    method_definitions={m: fc.METHOD_TEXT[m] for m in methods})
    evaluation = Evaluation(
        meta=meta, best_method=best, summary=backtest["summary"],
        paired_vs_naive=backtest["paired_vs_naive"],
        curves=Curves(coverage=backtest["coverages"], hit_rate=backtest["curves"]),
        folds=backtest["folds"], ensemble_next=backtest.get("ensemble_next"),
        walk_forward=walk_forward,
        reading=_reading(backtest["summary"], backtest["paired_vs_naive"], best, coverage,
                         horizon, walk))
    return _remember(key, evaluation)


# a KDE bandwidth reaches at least this many unit spacings (quartic weight 0.31 at 1 spacing)
KDE_REACH = 1.5


def unit_spacing_m(units: Units) -> float:
    """Median distance (metres) from a unit centre to the nearest other one."""
    from scipy.spatial import cKDTree  # noqa: PLC0415 - lazy: heavy import (scipy)

    x, y = (np.asarray(v, float) for v in units.centres_m)
    if len(x) < 2:
        return 0.0
    d, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)
    return float(np.median(d[:, 1]))


def kde_params(window: int, half_life: float, bandwidth_m: float, spacing_m: float
               ) -> fc.Params:
    """Forecast parameters with every KDE bandwidth (the KDE method's and the ensemble's
    non-zero candidates) raised to ``KDE_REACH`` unit spacings: below that a quartic kernel
    on unit centres gives no weight to the neighbours and is the naive method again (at H3
    r8, 400 m against 800 m between centres)."""
    floor = KDE_REACH * spacing_m
    ens = fc.Params().ensemble_bandwidths_m
    return fc.Params(window=window, half_life=half_life,
                     bandwidth_m=round(max(bandwidth_m, floor), 1),
                     ensemble_bandwidths_m=tuple(sorted({0.0, *(round(max(b, floor), 1)
                                                                for b in ens if b > 0)})))


def _num(v):
    """A number for JSON (None for NaN)."""
    if isinstance(v, float | np.floating):
        return float(v) if np.isfinite(v) else None
    return v


def _reading(summary, paired, best, coverage, horizon, walk) -> str:
    by_method = {row["method"]: row for row in summary}
    naive = by_method["naive"]["mean_pai"]
    period = "next month's" if horizon == 1 else f"next {horizon} months'"
    text = (f"Over the backtest, {best} captured the most of the {period} offences per unit "
            f"area at {coverage:.0%} of the area "
            f"(mean PAI {by_method[best]['mean_pai']:.2f} in-sample - the same folds chose it; "
            f"naive last-period counts {naive:.2f}).")
    if walk["n_folds"]:
        text += (f" Choosing the method each month by the months before it (walk-forward, "
                 f"{walk['n_folds']} folds) gave PAI {walk['mean_pai']:.2f} against naive's "
                 f"{walk['naive_mean_pai']:.2f}: the figure to expect.")
    if best != "naive":
        pair = next((row for row in paired if row["method"] == best), None)
        if pair:
            text += (f" It beat naive in {pair['wins']} of "
                     f"{pair['wins'] + pair['losses'] + pair['ties']}"
                     f" folds (mean difference {pair['mean_pai_difference']:+.2f}, 95% CI "
                     f"{pair['ci95_low']:+.2f} to {pair['ci95_high']:+.2f}; folds overlap in "
                     "time, so read the interval as indicative).")
    return text


# ------------------------------------------------------------------ the focus list ------
@dataclass(frozen=True)
class Street:
    """A name a place is known by, and how many offences stand behind it."""

    location: str
    count: int


@dataclass(frozen=True)
class PlaceName:
    """How people know a unit: its most common place names, its ward and NPA."""

    name: str
    streets: list[Street]
    ward_code: str | None
    ward: str | None
    npa_code: str | None
    npa: str | None


@dataclass(frozen=True)
class Trend:
    """A unit's last 3 months against the 3 before, beside the whole area's change."""

    trend: str
    trend_p_two_sided: float | None
    count_previous_3_months: int | None


@dataclass(frozen=True)
class FocusPlace:
    """One place of the focus list: where it is, what it is called, counts and trend."""

    rank: int
    id: str
    name: str
    streets: list[Street]
    ward_code: str | None
    ward: str | None
    npa_code: str | None
    npa: str | None
    score: float
    count_last_3_months: int
    count_last_12_months: int
    trend: str
    trend_p_two_sided: float | None
    count_previous_3_months: int | None
    lon: float
    lat: float
    map_url: str | None = None  # the focus map zoomed to it (set by the web layer)


@dataclass(frozen=True)
class FocusList:
    """Where to go next month: the top places by the method that backtested best."""

    meta: dict[str, Any]
    reading: str
    places: list[FocusPlace]


def focus(svc, flt: OffenceFilter, spec: UnitSpec | None, n: int = 8, window: int = 3,
          coverage: float = 0.05, methods: Sequence[str] = fc.METHODS,
          patch: Patch | None = None) -> FocusList:
    """The top ``n`` places for the next month by the method that backtested best (one-month
    horizon), each named by its most common police.uk locations, with its ward and NPA,
    counts for the last 3 and 12 months and the trend; with ``patch``, the top places in
    that ward or NPA (``services.patches``; the backtest stays city-wide)."""
    evaluation = evaluate(svc, flt, spec, methods, window, 1, coverage)
    best = evaluation.best_method
    units = units_for(svc, flt, spec, window)
    months, counts = unit_months(svc, flt, spec, window, units)
    backtest_meta = evaluation.meta  # its bandwidths already reach the neighbours
    params = fc.Params(window=window, half_life=backtest_meta["half_life_months"],
                       bandwidth_m=backtest_meta["bandwidth_m"],
                       ensemble_bandwidths_m=tuple(
                           backtest_meta["ensemble_candidates"]["bandwidth_m"]))
    ensemble_next = evaluation.ensemble_next
    choice = ((ensemble_next["bandwidth_m"], ensemble_next["half_life"])
              if best == "ensemble" and ensemble_next else None)
    scores = fc.score(best, counts, space_of(units), params, choice)
    last3, last12 = counts[:, -3:].sum(axis=1), counts[:, -12:].sum(axis=1)
    ranked = np.lexsort((np.array(units.ids), -last3, -scores))
    if patch is None:
        order = [i for i in ranked if last12[i] > 0][:n] or list(ranked[:n])
    else:
        inside = units_in_patch(svc, flt, units, months[-12:], patch)
        order = [i for i in ranked if last12[i] > 0 and inside[i]][:n]
    names = place_names(svc, flt, units, months[-12:], order)
    trend = trends(counts, order)
    x, y = units.centres_m
    lon, lat = metric_to_lonlat(np.asarray(x)[order], np.asarray(y)[order])
    best_row = next(row for row in evaluation.summary if row["method"] == best)
    walk = evaluation.walk_forward
    places = [FocusPlace(rank=k + 1, id=units.ids[i], name=names[i].name,
                         streets=names[i].streets, ward_code=names[i].ward_code,
                         ward=names[i].ward, npa_code=names[i].npa_code, npa=names[i].npa,
                         score=float(scores[i]), count_last_3_months=int(last3[i]),
                         count_last_12_months=int(last12[i]), trend=trend[i].trend,
                         trend_p_two_sided=trend[i].trend_p_two_sided,
                         count_previous_3_months=trend[i].count_previous_3_months,
                         lon=round(float(lon[k]), 6), lat=round(float(lat[k]), 6))
              for k, i in enumerate(order)]
    meta = svc.meta(flt, analysis="focus_list", **units.definition,
                    months=months, method=best, method_definition=fc.METHOD_TEXT[best],
                    method_params=({"bandwidth_m": choice[0],
                                    "half_life_months": choice[1]} if choice else None),
                    backtest_mean_pai=walk.mean_pai,
                    backtest_mean_hit_rate=walk.mean_hit_rate,
                    naive_mean_pai=walk.naive_mean_pai,
                    walk_forward_folds=walk.n_folds,
                    in_sample_mean_pai=best_row["mean_pai"],
                    in_sample_mean_hit_rate=best_row["mean_hit_rate"],
                    coverage=coverage, window_months=window,
                    n_folds=len({row["cutoff"] for row in evaluation.folds}),
                    next_period=_next_month(months[-1]),
                    months_last_3=_span(months[-3:]), months_last_12=_span(months[-12:]),
                    area=patch.key if patch else None, area_name=patch.label if patch else None)
    return FocusList(meta=meta,
                     reading=_focus_reading(len(places), best, coverage, walk, best_row,
                                           f" in {patch.label}" if patch else ""),
                     places=places)


def _focus_reading(n: int, best: str, coverage: float, walk: WalkForward,
                   best_row: dict[str, Any], where: str = "") -> str:
    text = f"Where to go next month: the {n} places{where} {best} ranks highest. "
    if walk.n_folds:
        text += (f"Choosing the method this way in earlier months (walk-forward, "
                 f"{walk.n_folds} folds), the top {coverage:.0%} of the area held "
                 f"{walk.mean_hit_rate:.0%} of the next month's offences (PAI "
                 f"{walk.mean_pai:.2f}; naive {walk.naive_mean_pai:.2f}). ")
    else:
        text += "Too few months to test the choice of method on later months. "
    text += (f"On all folds {best} itself held {best_row['mean_hit_rate']:.0%} (PAI "
             f"{best_row['mean_pai']:.2f}), but those folds also chose it (in-sample). "
             "Counts are small: a place can drop out next month by chance.")
    return text


def _span(months: list[str]) -> list[str]:
    """[first, last] of the months a count covers."""
    return [months[0], months[-1]]


def _next_month(month: str) -> str:
    return (pd.Timestamp(month + "-01") + pd.offsets.MonthBegin(1)).strftime("%Y-%m")


def place_names(svc, flt: OffenceFilter, units: Units, months: list[str],
                order: Sequence[int]) -> dict[int, PlaceName]:
    """For each unit in ``order``: its three most common place names in ``months``
    (``analysis.places``: real streets, a stock label only beside its nearest street) and
    the ward and NPA most of its offences fall in."""
    period = dataclasses.replace(flt, start=pd.Timestamp(months[0] + "-01").to_pydatetime(),
                                 end=(pd.Timestamp(months[-1] + "-01")
                                      + pd.offsets.MonthBegin(1)).to_pydatetime())
    columns = tuple(dict.fromkeys((*units.assign_columns, "location_text", "ward_code",
                                   "npa_code", "x_m", "y_m")))
    offences = svc.store.located_values(columns, period)
    offences["unit"] = (units.assign(offences) if len(offences)
                        else np.array([], dtype=np.int64))
    named = name_places(offences["unit"].to_numpy(), offences["location_text"].tolist(),
                        offences["x_m"].to_numpy(float), offences["y_m"].to_numpy(float),
                        order, 3)
    offences = offences[offences["unit"].isin(list(order))]
    wards = _names(svc, "ward")
    npas = _names(svc, "npa")
    by_unit = {}
    for i in order:
        rows = offences[offences["unit"] == i]
        ward_mode = rows["ward_code"].dropna().mode()
        npa_mode = rows["npa_code"].dropna().mode()
        ward_code = ward_mode.iloc[0] if len(ward_mode) else None
        npa_code = npa_mode.iloc[0] if len(npa_mode) else None
        by_unit[i] = PlaceName(
            name=place_label(street for street, _ in named[i]) or units.ids[i],
            streets=[Street(location=street, count=count) for street, count in named[i]],
            ward_code=ward_code, ward=wards.get(ward_code), npa_code=npa_code,
            npa=npas.get(npa_code))
    return by_unit


def _names(svc, layer: str) -> dict:
    try:
        g = svc.boundaries.get(layer).gdf
    except Exception:  # noqa: BLE001 - a deployment may lack the layer; names are optional
        return {}
    return dict(zip(g["code"], g["name"]))


def trends(counts: np.ndarray, order: Sequence[int]) -> dict[int, Trend]:
    """Last 3 months vs the 3 before, against the whole area's change (exact binomial
    test of the unit's share of the 6 months falling in the recent 3)."""

    if counts.shape[1] < 6:
        return {i: Trend(trend="not enough months", trend_p_two_sided=None,
                         count_previous_3_months=None) for i in order}
    recent, earlier = counts[:, -3:].sum(axis=1), counts[:, -6:-3].sum(axis=1)
    recent_total, earlier_total = recent.sum(), earlier.sum()
    p0 = (recent_total / (recent_total + earlier_total) if recent_total + earlier_total
          else 0.5)
    idx = np.array(order, dtype=int)
    k, n = recent[idx].astype(int), (recent[idx] + earlier[idx]).astype(int)
    p, _, _ = binomial_test(k, n, p0)
    by_unit = {}
    for j, i in enumerate(order):
        up = n[j] > 0 and k[j] / n[j] > p0
        word = ("rising" if up else "falling") if p[j] < 0.05 else "no clear change"
        by_unit[i] = Trend(trend=word, trend_p_two_sided=float(p[j]),
                           count_previous_3_months=int(earlier[i]))
    return by_unit
