"""Period-comparison use cases: two filters (before/after) -> pure compare functions."""

from __future__ import annotations

import dataclasses
from datetime import datetime

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
                  alpha: float = 0.05, fdr: bool = True) -> tuple[pd.DataFrame, dict]:
    """Per-unit change between the periods, adjusted for the overall change."""
    u = analysis_units(svc, units)
    yb, ya = u.counts(fb), u.counts(fa)
    try:
        t = compare_counts(pd.DataFrame({"code": u.ids, "before": yb.astype(int),
                                         "after": ya.astype(int)}), alpha, fdr)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    t["name"] = None
    if units.grid in svc.boundaries.layers:
        t["name"] = t["code"].map(svc.boundaries.get(units.grid).gdf.set_index("code")["name"])
    A, B = int(yb.sum()), int(ya.sum())
    meta = svc.compare_meta(fb, fa, analysis="compare_areas", alpha=alpha, fdr=fdr,
                            total_before=A, total_after=B, overall_ratio=B / A,
                            test="exact conditional binomial, two-sided: after | total ~ "
                                 "Bin(total, B/(A+B))", **u.definition)
    return t, meta


def displacement(svc: Service, fb: OffenceFilter, fa: OffenceFilter, *, layer: str,
                 target: list[str], displacement_areas: list[str], control: list[str],
                 alpha: float = 0.05) -> dict:
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
    cb = svc.store.area_counts(layer, fb)[0].set_index("code")["count"]
    ca = svc.store.area_counts(layer, fa)[0].set_index("code")["count"]

    def pair(g):
        return int(cb.reindex(g).fillna(0).sum()), int(ca.reindex(g).fillna(0).sum())

    try:
        r = wdq(pair(target), pair(displacement_areas), pair(control),
                city=(int(cb.sum()), int(ca.sum())), alpha=alpha)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    r["areas"] = {"layer": layer, "target": target, "displacement": displacement_areas,
                  "control": control}
    r["meta"] = svc.compare_meta(fb, fa, analysis="wdq", layer=layer,
                                 layer_approximate=svc.boundaries.get(layer).meta["approximate"],
                                 city_definition=f"all areas of layer {layer}")
    return r


def hotspots_change(svc: Service, fb: OffenceFilter, fa: OffenceFilter, units: UnitSpec,
                    sig: Significance) -> dict:
    """Gi* in both periods; a unit is hot when significant at ``sig.alpha`` (BH when
    ``sig.fdr``) with the upper tail the extreme one."""

    check_gi_request(svc, units, sig.permutations, periods=2)
    u = analysis_units(svc, units)
    yb, ya = u.counts(fb), u.counts(fa)
    if yb.sum() == 0 or ya.sum() == 0:
        raise InvalidParameter("both periods need offences in the study area")
    gb, ga = run_gi(yb, u.adjacency, sig, svc), run_gi(ya, u.adjacency, sig, svc)
    hb, ha = gb.hot(sig.alpha), ga.hot(sig.alpha)
    ch = hotspot_change(hb, ha)
    cells = [{"id": i, "count_before": int(b), "count_after": int(a), "label_before": lb,
              "label_after": la, "hot_before": bool(x), "hot_after": bool(z), "change": c}
             for i, b, a, lb, la, x, z, c in zip(u.ids, yb, ya, gb.label, ga.label, hb, ha,
                                                 ch["class"])]
    level = f"{round(100 * (1 - sig.alpha), 1):g}%"
    hot_def = (f"hot = Gi* hot spot at {level} confidence"
               + (" after Benjamini-Hochberg FDR across units" if sig.fdr else
                  " (per-unit p-value, no multiple-testing correction)"))
    return {"meta": svc.compare_meta(fb, fa, analysis="hotspot_change", alpha=sig.alpha,
                                     hot_definition=hot_def, **u.definition, **gi_params(gb)),
            "jaccard_hot": ch["jaccard_hot"], "counts": ch["counts"], "cells": cells}


def kde_difference(svc: Service, fb: OffenceFilter, fa: OffenceFilter, *, bandwidth_m: float,
                   cell_size_m: float, study_area: str) -> dict:
    """Dual KDE: after - before, as offences per km^2 and as share-of-period per km^2."""
    area = study_area_m(svc, study_area)
    grids = []
    for f in (fb, fa):
        x, y = points_in(svc, f, study_area)
        if len(x) < 2:
            raise InvalidParameter("both periods need offences in the study area")

        xmin, ymin, xmax, ymax = area.bounds
        check_kde(svc, len(x), bandwidth_m, cell_size_m,
                  (xmax - xmin) * (ymax - ymin) / cell_size_m**2)
        try:
            grids.append((kde_grid(x, y, bandwidth_m, cell_size_m, "quartic",
                                   extent_m=area.bounds), len(x)))
        except ValueError as exc:
            raise InvalidParameter(str(exc)) from None
    (gb, nb), (ga, na) = grids
    diff = ga.density_per_km2 - gb.density_per_km2
    share_diff = 100 * (ga.density_per_km2 / na - gb.density_per_km2 / nb)
    return {"meta": svc.compare_meta(fb, fa, analysis="kde_difference", kernel="quartic",
                                     bandwidth_m=bandwidth_m, cell_size_m=cell_size_m,
                                     study_area=study_area, n_before=nb, n_after=na),
            "grid": {"crs": "EPSG:27700", "x0_m": gb.x0_m, "y0_m": gb.y0_m,
                     "cell_size_m": gb.cell_size_m, "nx": diff.shape[1], "ny": diff.shape[0],
                     "row_order": "south to north",
                     "difference_per_km2": np.round(diff, 3).tolist(),
                     "share_difference_pct_points_per_km2": np.round(share_diff, 4).tolist()},
            "scale": {"difference_per_km2": "after minus before, offences per km^2",
                      "share_difference_pct_points_per_km2":
                          "after minus before, % of each period's offences per km^2 (adjusts "
                          "for the overall fall or rise between periods)",
                      "max_increase_per_km2": float(diff.max()),
                      "max_decrease_per_km2": float(diff.min())}}


def centre_shift(svc: Service, fb: OffenceFilter, fa: OffenceFilter, study_area: str) -> dict:
    """Mean centre and standard deviational ellipse per period, and the shift. A period with
    fewer than three offences has no centre (its numbers null, ``n`` said): one answer for
    every small selection, not an error for some and a result for others."""
    out, warnings = {}, []
    for name, f in (("before", fb), ("after", fa)):
        x, y = points_in(svc, f, study_area)
        if len(x) < 3:
            out[name] = {**dict.fromkeys(CENTRE_KEYS), "n": len(x)}
            warnings.append(f"{name}: too few offences for a centre (at least three)")
        else:
            out[name] = centre_and_ellipse(x, y)
    moved = (shift(out["before"], out["after"]) if out["before"]["mean_x_m"] is not None
             and out["after"]["mean_x_m"] is not None else dict.fromkeys(SHIFT_KEYS))
    meta = svc.compare_meta(fb, fa, analysis="centre_shift", study_area=study_area,
                            crs="EPSG:27700")
    meta["warnings"] = meta["warnings"] + warnings
    return {"meta": meta, **out, "shift": moved}


CENTRE_KEYS = ("mean_x_m", "mean_y_m", "sd_major_m", "sd_minor_m", "major_axis_bearing_deg",
               "standard_distance_m")
SHIFT_KEYS = ("distance_m", "dx_m", "dy_m", "bearing_deg")


def emerging(svc: Service, flt: OffenceFilter, units: UnitSpec, sig: Significance,
             time_steps: int = 1) -> dict:
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
    u = analysis_units(svc, units)
    adj = u.adjacency
    check_permutations(svc, (adj.nnz + adj.shape[0]) * (time_steps + 1), sig.permutations,
                       periods=len(months), what="emerging hot spots (space-time Gi*)")
    counts = np.column_stack([
        u.counts(dataclasses.replace(flt, start=m.to_pydatetime(),
                                     end=(m + pd.offsets.MonthBegin(1)).to_pydatetime()))
        for m in months])
    if counts.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    r = emerging_hotspots(counts, u.adjacency, time_steps, sig.alpha, sig.permutations,
                          sig.seed, sig.fdr)
    cats = pd.Series(r["category"]).value_counts().to_dict()
    rows = [{"id": i, "category": c, "trend_z": float(tz), "trend_p": float(tp),
             "counts": counts[k].astype(int).tolist()}
            for k, (i, c, tz, tp) in enumerate(zip(u.ids, r["category"], r["trend_z"],
                                                   r["trend_p"]))]
    return {"meta": svc.meta(flt, analysis="emerging_hotspots",
                             months=[m.strftime("%Y-%m") for m in months], **u.definition,
                             **r["params"]),
            "category_counts": cats, "units": rows}
