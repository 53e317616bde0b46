"""Period-comparison use cases: two filters (before/after) -> pure compare functions."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from geo_api.analysis.compare import centre_and_ellipse, compare_counts, hotspot_change, shift, wdq
from geo_api.analysis.emerging import emerging_hotspots
from geo_api.analysis.kde import kde_grid
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter
from geo_api.services.budget import check_gi_request, check_kde, check_permutations
from geo_api.services.filters import parse_datetime
from geo_api.services.hotspots import Significance, gi_params, run_gi
from geo_api.services.service import Service
from geo_api.services.study_areas import study_area_m
from geo_api.services.units import UnitSpec, analysis_units, points_in


def periods(svc: Service, flt: OffenceFilter, before: str, after: str
            ) -> tuple[OffenceFilter, OffenceFilter]:
    """Copies of ``flt`` restricted to the before and after windows, each checked against
    the loaded data."""
    out = []
    windows: list[tuple[datetime, datetime]] = []  # [start, end) of each period
    for name, value in (("before", before), ("after", after)):
        start, end = parse_datetime(value, name)
        if start is None or end is None:
            raise InvalidParameter(f"{name}: give a closed interval, e.g. 2019-12/2020-02")
        windows.append((start, end))
        f = dataclasses.replace(flt, start=start, end=end)
        try:
            svc.check_filter(f)
        except InvalidParameter as exc:
            raise InvalidParameter(exc.user_msg.replace("datetime:", f"{name}:", 1),
                                   exc.detail) from None
        out.append(f)
    (b_start, b_end), (a_start, a_end) = windows
    if b_start < a_end and a_start < b_end:
        raise InvalidParameter("before and after periods overlap")
    return out[0], out[1]


def compare_areas(svc: Service, fb: OffenceFilter, fa: OffenceFilter, units: UnitSpec,
                  alpha: float = 0.05, fdr: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-unit change between the periods, adjusted for the overall change; returns
    (table, meta): a row per unit (the columns ``AreaChange`` in the web models declares)."""
    spatial_units = analysis_units(svc, units)
    counts_before, counts_after = spatial_units.counts(fb), spatial_units.counts(fa)
    try:
        table = compare_counts(pd.DataFrame({"code": spatial_units.ids,
                                             "before": counts_before.astype(int),
                                             "after": counts_after.astype(int)}), alpha, fdr)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    table["name"] = None
    if units.grid in svc.boundaries.layers:
        names = svc.boundaries.get(units.grid).gdf.set_index("code")["name"]
        table["name"] = table["code"].map(names)
    total_before, total_after = int(counts_before.sum()), int(counts_after.sum())
    meta = svc.compare_meta(fb, fa, analysis="compare_areas", alpha=alpha, fdr=fdr,
                            total_before=total_before, total_after=total_after,
                            overall_ratio=total_after / total_before,
                            test="exact conditional binomial, two-sided: after | total ~ "
                                 "Bin(total, B/(A+B))", **spatial_units.definition)
    return table, meta


@dataclass(frozen=True)
class PeriodCounts:
    """How many offences did a group of areas have in each period?"""

    before: int
    after: int


@dataclass(frozen=True)
class WdqTest:
    """Did one area change like another (an exact test at the answer's ``alpha``)?"""

    p_two_sided: float
    ratio: float | None
    significant: bool


@dataclass(frozen=True)
class WdqAreas:
    """Which areas of which layer were the target, the displacement and the control?"""

    layer: str
    target: list[str]
    displacement: list[str]
    control: list[str]


@dataclass(frozen=True)
class Displacement:
    """Did offences move from the target to the displacement areas (WDQ), and may it be read?"""

    wdq: float | None
    success_measure: float
    buffer_measure: float
    interpretable: bool
    interpretation: str
    reading_rule: str
    flags: list[str]
    alpha: float
    tests: dict[str, WdqTest]  # target_vs_control, displacement_vs_control, control_vs_city
    inputs: dict[str, PeriodCounts]  # target, displacement, control
    method: str
    areas: WdqAreas
    meta: dict[str, Any]


def displacement(svc: Service, fb: OffenceFilter, fa: OffenceFilter, *, layer: str,
                 target: list[str], displacement_areas: list[str], control: list[str],
                 alpha: float = 0.05) -> Displacement:
    """WDQ with named areas of one polygon layer (e.g. NPAs NC -> NE, NW; control NS), the
    tests that say whether it may be read, and a flag when the control itself moved."""
    codes = set(svc.boundaries.get(layer).gdf["code"])
    for role, group in (("target", target), ("displacement", displacement_areas),
                        ("control", control)):
        bad = [c for c in group if c not in codes]
        if not group or bad:
            raise InvalidParameter(f"{role}: unknown or missing {layer} code(s) {bad or group}; "
                                   f"known: {sorted(codes)}")
        if len(set(group)) != len(group):
            raise InvalidParameter(f"{role}: an area is named twice ({group})")
    if set(target) & set(displacement_areas) or set(control) & (set(target) | set(displacement_areas)):
        raise InvalidParameter("target, displacement and control areas must not overlap")
    counts_before = svc.store.area_counts(layer, fb)[0].set_index("code")["count"]
    counts_after = svc.store.area_counts(layer, fa)[0].set_index("code")["count"]

    def period_totals(group):
        return (int(counts_before.reindex(group).fillna(0).sum()),
                int(counts_after.reindex(group).fillna(0).sum()))

    try:
        quotient = wdq(period_totals(target), period_totals(displacement_areas),
                       period_totals(control),
                       city=(int(counts_before.sum()), int(counts_after.sum())), alpha=alpha)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    return Displacement(
        wdq=quotient["wdq"], success_measure=quotient["success_measure"],
        buffer_measure=quotient["buffer_measure"], interpretable=quotient["interpretable"],
        interpretation=quotient["interpretation"], reading_rule=quotient["reading_rule"],
        flags=quotient["flags"], alpha=quotient["alpha"],
        tests={name: WdqTest(**test) for name, test in quotient["tests"].items()},
        inputs={name: PeriodCounts(**pair) for name, pair in quotient["inputs"].items()},
        method=quotient["method"],
        areas=WdqAreas(layer=layer, target=target, displacement=displacement_areas,
                       control=control),
        meta=svc.compare_meta(fb, fa, analysis="wdq", layer=layer,
                              layer_approximate=svc.boundaries.get(layer).meta["approximate"],
                              city_definition=f"all areas of layer {layer}"))


@dataclass(frozen=True)
class HotspotChangeSummary:
    """How alike are the two periods' hot sets, and how many units changed in which way?"""

    jaccard_hot: float | None  # None when no unit is hot in either period
    counts: dict[str, int]


@dataclass(frozen=True)
class HotspotChange(HotspotChangeSummary):
    """Which units became, stayed or stopped being Gi* hot spots between the periods?"""

    meta: dict[str, Any]
    cells: list[dict[str, Any]]  # one row per unit (``HotspotChangeCell`` in the web models)


def hotspots_change(svc: Service, fb: OffenceFilter, fa: OffenceFilter, units: UnitSpec,
                    sig: Significance) -> HotspotChange:
    """Gi* in both periods; a unit is hot when significant at ``sig.alpha`` (BH when
    ``sig.fdr``) with the upper tail the extreme one."""

    check_gi_request(svc, units, sig.permutations, periods=2)
    spatial_units = analysis_units(svc, units)
    counts_before, counts_after = spatial_units.counts(fb), spatial_units.counts(fa)
    if counts_before.sum() == 0 or counts_after.sum() == 0:
        raise InvalidParameter("both periods need offences in the study area")
    gi_before = run_gi(counts_before, spatial_units.adjacency, sig, svc)
    gi_after = run_gi(counts_after, spatial_units.adjacency, sig, svc)
    hot_before, hot_after = gi_before.hot(sig.alpha), gi_after.hot(sig.alpha)
    change = hotspot_change(hot_before, hot_after)
    cells = [{"id": i, "count_before": int(nb), "count_after": int(na), "label_before": lb,
              "label_after": la, "hot_before": bool(hb), "hot_after": bool(ha), "change": cls}
             for i, nb, na, lb, la, hb, ha, cls in zip(
                 spatial_units.ids, counts_before, counts_after, gi_before.label,
                 gi_after.label, hot_before, hot_after, change["class"])]
    level = f"{round(100 * (1 - sig.alpha), 1):g}%"
    hot_def = (f"hot = Gi* hot spot at {level} confidence"
               + (" after Benjamini-Hochberg FDR across units" if sig.fdr else
                  " (per-unit p-value, no multiple-testing correction)"))
    return HotspotChange(
        meta=svc.compare_meta(fb, fa, analysis="hotspot_change", alpha=sig.alpha,
                              hot_definition=hot_def, **spatial_units.definition,
                              **gi_params(gi_before)),
        jaccard_hot=change["jaccard_hot"], counts=change["counts"], cells=cells)


@dataclass(frozen=True)
class DifferenceGrid:
    """How much denser or sparser were offences after than before, cell by cell?"""

    crs: str
    x0_m: float
    y0_m: float
    cell_size_m: float
    nx: int
    ny: int
    row_order: str
    difference_per_km2: list[list[float]]
    share_difference_pct_points_per_km2: list[list[float]]


@dataclass(frozen=True)
class KdeDifference:
    """Where did offence density rise or fall between the periods (dual KDE)?"""

    meta: dict[str, Any]
    grid: DifferenceGrid
    scale: dict[str, Any]  # each surface's units and its extremes (an open object in the API)


def kde_difference(svc: Service, fb: OffenceFilter, fa: OffenceFilter, *, bandwidth_m: float,
                   cell_size_m: float, study_area: str) -> KdeDifference:
    """Dual KDE: after - before, as offences per km^2 and as share-of-period per km^2."""
    area = study_area_m(svc, study_area)
    surfaces = []
    for period_filter in (fb, fa):
        x, y = points_in(svc, period_filter, study_area)
        if len(x) < 2:
            raise InvalidParameter("both periods need offences in the study area")

        xmin, ymin, xmax, ymax = area.bounds
        check_kde(svc, len(x), bandwidth_m, cell_size_m,
                  (xmax - xmin) * (ymax - ymin) / cell_size_m**2)
        try:
            surfaces.append((kde_grid(x, y, bandwidth_m, cell_size_m, "quartic",
                                      extent_m=area.bounds), len(x)))
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
    (surface_before, n_before), (surface_after, n_after) = surfaces
    diff = surface_after.density_per_km2 - surface_before.density_per_km2
    share_diff = 100 * (surface_after.density_per_km2 / n_after
                        - surface_before.density_per_km2 / n_before)
    return KdeDifference(
        meta=svc.compare_meta(fb, fa, analysis="kde_difference", kernel="quartic",
                              bandwidth_m=bandwidth_m, cell_size_m=cell_size_m,
                              study_area=study_area, n_before=n_before, n_after=n_after),
        grid=DifferenceGrid(
            crs="EPSG:27700", x0_m=surface_before.x0_m, y0_m=surface_before.y0_m,
            cell_size_m=surface_before.cell_size_m, nx=diff.shape[1], ny=diff.shape[0],
            row_order="south to north", difference_per_km2=np.round(diff, 3).tolist(),
            share_difference_pct_points_per_km2=np.round(share_diff, 4).tolist()),
        scale={"difference_per_km2": "after minus before, offences per km^2",
               "share_difference_pct_points_per_km2":
                   "after minus before, % of each period's offences per km^2 (adjusts "
                   "for the overall fall or rise between periods)",
               "max_increase_per_km2": float(diff.max()),
               "max_decrease_per_km2": float(diff.min())})


@dataclass(frozen=True)
class Centre:
    """Where is a period's mean centre, and how are offences spread about it (SD ellipse)?"""

    mean_x_m: float | None
    mean_y_m: float | None
    sd_major_m: float | None
    sd_minor_m: float | None
    major_axis_bearing_deg: float | None  # clockwise from grid north
    standard_distance_m: float | None
    n: int | None  # offences (None only when a disclosure policy suppressed the count)


@dataclass(frozen=True)
class Shift:
    """How far, and in which direction, did the mean centre move?"""

    distance_m: float | None
    dx_m: float | None
    dy_m: float | None
    bearing_deg: float | None  # clockwise from grid north


@dataclass(frozen=True)
class CentreShift:
    """Did the centre of offences move between the periods, and did their spread change?"""

    meta: dict[str, Any]
    before: Centre
    after: Centre
    shift: Shift


NO_SHIFT = Shift(distance_m=None, dx_m=None, dy_m=None, bearing_deg=None)


def _centre(x: np.ndarray, y: np.ndarray) -> Centre:
    """The mean centre and ellipse of at least three points, or the numbers null (``n``
    said) for fewer."""
    if len(x) < 3:
        return Centre(mean_x_m=None, mean_y_m=None, sd_major_m=None, sd_minor_m=None,
                      major_axis_bearing_deg=None, standard_distance_m=None, n=len(x))
    return Centre(**centre_and_ellipse(x, y))


def centre_shift(svc: Service, fb: OffenceFilter, fa: OffenceFilter, study_area: str
                 ) -> CentreShift:
    """Mean centre and standard deviational ellipse per period, and the shift. A period with
    fewer than three offences has no centre (its numbers null, ``n`` said): one answer for
    every small selection, not an error for some and a result for others."""
    centres, warnings = [], []
    for name, period_filter in (("before", fb), ("after", fa)):
        centres.append(_centre(*points_in(svc, period_filter, study_area)))
        if centres[-1].mean_x_m is None:
            warnings.append(f"{name}: too few offences for a centre (at least three)")
    before, after = centres
    moved = (Shift(**shift(dataclasses.asdict(before), dataclasses.asdict(after)))
             if before.mean_x_m is not None and after.mean_x_m is not None else NO_SHIFT)
    meta = svc.compare_meta(fb, fa, analysis="centre_shift", study_area=study_area,
                            crs="EPSG:27700")
    meta["warnings"] = meta["warnings"] + warnings
    return CentreShift(meta=meta, before=before, after=after, shift=moved)


@dataclass(frozen=True)
class EmergingHotspots:
    """Which units are new, intensifying, persistent, ... hot or cold spots month by month?"""

    meta: dict[str, Any]
    category_counts: dict[str, int]
    units: list[dict[str, Any]]  # one row per unit (``EmergingUnit`` in the web models)


def emerging(svc: Service, flt: OffenceFilter, units: UnitSpec, sig: Significance,
             time_steps: int = 1) -> EmergingHotspots:
    """Emerging hot spot categories per unit over the loaded months of ``flt``'s window
    (months without loaded data are left out and named in ``meta.warnings``)."""

    if flt.start is None or flt.end is None:
        raise InvalidParameter("datetime: give a closed interval of at least three months")
    loaded = set(svc.store.months_loaded())
    first, stop = flt.month_span()  # the months counted (MONTH_RULE)
    window = pd.date_range(first, stop, freq="MS", inclusive="left")
    months = [m for m in window if m.strftime("%Y-%m") in loaded]
    if len(months) < 3:
        raise InvalidParameter(f"datetime: emerging hot spots need at least three months with "
                               f"data; {len(months)} of the requested months are loaded")

    check_gi_request(svc, units, sig.permutations, periods=len(months) * (time_steps + 1),
                     what="emerging hot spots (space-time Gi*)")
    spatial_units = analysis_units(svc, units)
    adjacency = spatial_units.adjacency
    check_permutations(svc, (adjacency.nnz + adjacency.shape[0]) * (time_steps + 1),
                       sig.permutations, periods=len(months),
                       what="emerging hot spots (space-time Gi*)")
    counts = np.column_stack([
        spatial_units.counts(dataclasses.replace(
            flt, start=m.to_pydatetime(), end=(m + pd.offsets.MonthBegin(1)).to_pydatetime()))
        for m in months])
    if counts.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    result = emerging_hotspots(counts, spatial_units.adjacency, time_steps, sig.alpha,
                               sig.permutations, sig.seed, sig.fdr)
    unit_rows = [{"id": i, "category": c, "trend_z": float(tz), "trend_p": float(tp),
                  "counts": counts[k].astype(int).tolist()}
                 for k, (i, c, tz, tp) in enumerate(zip(spatial_units.ids, result["category"],
                                                        result["trend_z"], result["trend_p"]))]
    return EmergingHotspots(
        meta=svc.meta(flt, analysis="emerging_hotspots",
                      months=[m.strftime("%Y-%m") for m in months], **spatial_units.definition,
                      **result["params"]),
        category_counts=pd.Series(result["category"]).value_counts().to_dict(),
        units=unit_rows)
