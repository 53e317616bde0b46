"""Period-comparison adapters: two filters (before/after) -> pure compare functions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from geo_api.analysis.compare import centre_and_ellipse, compare_counts, hotspot_change, shift, wdq
from geo_api.analysis.getis_ord import gi_star
from geo_api.analysis.kde import kde_grid
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter
from geo_api.services.filters import parse_datetime
from geo_api.services.hotspots import analysis_units, points_in, study_area_m
from geo_api.services.service import Service


def periods(flt: OffenceFilter, before: str, after: str) -> tuple[OffenceFilter, OffenceFilter]:
    """Copies of ``flt`` restricted to the before and after windows."""
    out = []
    for name, value in (("before", before), ("after", after)):
        start, end = parse_datetime(value, name)
        if start is None or end is None:
            raise InvalidParameter(f"{name}: give a closed interval, e.g. 2019-12/2020-02")
        out.append(dataclasses.replace(flt, start=start, end=end))
    if out[0].start < out[1].end and out[1].start < out[0].end:
        raise InvalidParameter("before and after periods overlap")
    return out[0], out[1]


def _meta(svc, fb, fa, **kw) -> dict:
    m = svc.meta(fb, **kw)
    m["filters_after"] = fa.describe()
    m["filters_before"] = m.pop("filters")
    return m


def compare_areas(svc: Service, flt: OffenceFilter, before: str, after: str, grid: str,
                  study_area: str, fdr: float, **grid_args) -> tuple[pd.DataFrame, dict]:
    fb, fa = periods(flt, before, after)
    u = analysis_units(svc, grid, study_area, **grid_args)
    ids, yb, ya, definition = u.ids, u.counts(fb), u.counts(fa), u.definition
    try:
        t = compare_counts(pd.DataFrame({"code": ids, "before": yb.astype(int),
                                         "after": ya.astype(int)}), fdr)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    if grid in svc.boundaries.layers:
        t["name"] = t["code"].map(svc.boundaries.get(grid).gdf.set_index("code")["name"])
    A, B = int(yb.sum()), int(ya.sum())
    meta = _meta(svc, fb, fa, analysis="compare_areas", study_area=study_area, fdr_alpha=fdr,
                 total_before=A, total_after=B, overall_ratio=B / A,
                 test="exact conditional binomial, two-sided: after | total ~ Bin(total, B/(A+B))",
                 **definition)
    return t, meta


def displacement(svc: Service, flt: OffenceFilter, before: str, after: str, layer: str,
                 target: list[str], displacement_areas: list[str], control: list[str]) -> dict:
    """WDQ with named areas of one polygon layer (e.g. NPAs NC -> NE, NW; control NS)."""
    fb, fa = periods(flt, before, after)
    codes = set(svc.boundaries.get(layer).gdf["code"])
    for role, group in (("target", target), ("displacement", displacement_areas),
                        ("control", control)):
        bad = [c for c in group if c not in codes]
        if not group or bad:
            raise InvalidParameter(f"{role}: unknown or missing {layer} code(s) {bad or group}")
    if set(target) & set(displacement_areas) or set(control) & (set(target) | set(displacement_areas)):
        raise InvalidParameter("target, displacement and control areas must not overlap")
    cb = svc.store.area_counts(layer, fb)[0].set_index("code")["count"]
    ca = svc.store.area_counts(layer, fa)[0].set_index("code")["count"]
    pair = lambda g: (int(cb.reindex(g).fillna(0).sum()), int(ca.reindex(g).fillna(0).sum()))
    try:
        r = wdq(pair(target), pair(displacement_areas), pair(control))
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    r["areas"] = {"layer": layer, "target": target, "displacement": displacement_areas,
                  "control": control}
    r["meta"] = _meta(svc, fb, fa, analysis="wdq", layer=layer,
                      layer_approximate=svc.boundaries.get(layer).meta["approximate"])
    return r


def hotspots_change(svc: Service, flt: OffenceFilter, before: str, after: str, grid: str,
                    study_area: str, permutations: int, seed: int, fdr: float | None,
                    **grid_args) -> dict:
    fb, fa = periods(flt, before, after)
    u = analysis_units(svc, grid, study_area, **grid_args)
    ids, yb, ya, adj, definition = u.ids, u.counts(fb), u.counts(fa), u.adjacency, u.definition
    if yb.sum() == 0 or ya.sum() == 0:
        raise InvalidParameter("both periods need offences in the study area")
    inference = "permutation" if permutations else "analytic"
    gb = gi_star(yb, adj, permutations, seed, fdr, inference)
    ga = gi_star(ya, adj, permutations, seed, fdr, inference)
    ch = hotspot_change(gb.label, ga.label)
    cells = [{"id": i, "count_before": int(b), "count_after": int(a), "label_before": lb,
              "label_after": la, "change": c}
             for i, b, a, lb, la, c in zip(ids, yb, ya, gb.label, ga.label, ch["class"])]
    return {"meta": _meta(svc, fb, fa, analysis="hotspot_change", study_area=study_area,
                          **definition, **gb.params),
            "jaccard_hot": ch["jaccard_hot"], "counts": ch["counts"], "cells": cells}


def kde_difference(svc: Service, flt: OffenceFilter, before: str, after: str, bandwidth_m: float,
                   cell_size_m: float, study_area: str) -> dict:
    """Dual KDE: after - before, as offences per km^2 and as share-of-period per km^2."""
    fb, fa = periods(flt, before, after)
    area = study_area_m(svc, study_area)
    grids = []
    for f in (fb, fa):
        x, y = points_in(svc, f, area)
        if len(x) < 2:
            raise InvalidParameter("both periods need offences in the study area")
        grids.append((kde_grid(x, y, bandwidth_m, cell_size_m, "quartic", extent_m=area.bounds),
                      len(x)))
    (gb, nb), (ga, na) = grids
    diff = ga.density_per_km2 - gb.density_per_km2
    share_diff = 100 * (ga.density_per_km2 / na - gb.density_per_km2 / nb)
    return {"meta": _meta(svc, fb, fa, analysis="kde_difference", kernel="quartic",
                          bandwidth_m=bandwidth_m, cell_size_m=cell_size_m, study_area=study_area,
                          n_before=nb, n_after=na),
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


def centre_shift(svc: Service, flt: OffenceFilter, before: str, after: str,
                 study_area: str) -> dict:
    fb, fa = periods(flt, before, after)
    area = study_area_m(svc, study_area)
    out = {}
    for name, f in (("before", fb), ("after", fa)):
        try:
            out[name] = centre_and_ellipse(*points_in(svc, f, area))
        except ValueError as exc:
            raise InvalidParameter(f"{name}: {exc}") from None
    return {"meta": _meta(svc, fb, fa, analysis="centre_shift", study_area=study_area,
                          crs="EPSG:27700"),
            **out, "shift": shift(out["before"], out["after"])}


def emerging(svc: Service, flt: OffenceFilter, grid: str, study_area: str, time_steps: int,
             alpha: float, permutations: int, seed: int, **grid_args) -> dict:
    """Emerging hot spot categories per unit over the months of ``flt``'s window."""
    from geo_api.analysis.emerging import emerging_hotspots

    if flt.start is None or flt.end is None:
        raise InvalidParameter("datetime: give a closed interval of at least three months")
    months = pd.date_range(flt.start, flt.end, freq="MS", inclusive="left")
    if flt.start.day != 1 or len(months) < 3:
        raise InvalidParameter("datetime: use whole months, at least three (e.g. 2019-12/2020-09)")
    u = analysis_units(svc, grid, study_area, **grid_args)
    ids, definition = u.ids, u.definition
    counts = np.column_stack([
        u.counts(dataclasses.replace(flt, start=m.to_pydatetime(),
                                     end=(m + pd.offsets.MonthBegin(1)).to_pydatetime()))
        for m in months])
    if counts.sum() == 0:
        raise InvalidParameter("no offences match the filter in the study area")
    r = emerging_hotspots(counts, u.adjacency, time_steps, alpha, permutations, seed)
    cats = pd.Series(r["category"]).value_counts().to_dict()
    units = [{"id": i, "category": c, "trend_z": float(tz), "trend_p": float(tp),
              "counts": counts[k].astype(int).tolist()}
             for k, (i, c, tz, tp) in enumerate(zip(ids, r["category"], r["trend_z"], r["trend_p"]))]
    return {"meta": svc.meta(flt, analysis="emerging_hotspots", study_area=study_area,
                             months=[m.strftime("%Y-%m") for m in months], **definition,
                             **r["params"]),
            "category_counts": cats, "units": units}
