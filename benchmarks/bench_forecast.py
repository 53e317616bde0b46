"""The full rolling backtest on the shipped data (run: python benchmarks/bench_forecast.py).

All methods, H3 r9 over Leicester city, the 10 shipped months, monthly folds, 3-month
window, 1- and 3-month horizons. Prints the time per method (scoring + metrics over all
folds) and in total; target: <= 10 s. The common approach measured beside it: esda's
G_Local (star, the usual way to get Gi* z) in place of our analytic Gi* for the gi method.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from geo_api.analysis import forecast as fc
from geo_api.services.filters import build_filter
from geo_api.services.forecast import monthly_counts, space_of
from geo_api.services.service import Service
from geo_api.services.units import UnitSpec, analysis_units
from geo_api.settings import Settings


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_forecast_"))
    svc = Service(Settings(store_dir=tmp / "store"))
    svc.ingest_paths(svc.demo_files(), progress=False)
    flt = build_filter(None, "violence_robbery_weapons")
    with svc.pinned() as s:
        t0 = time.perf_counter()
        units = analysis_units(s, UnitSpec(grid="h3", resolution=9))
        months, counts = monthly_counts(s, flt, units)
        space = space_of(units)
        space.adj()
        t_data = time.perf_counter() - t0
    print(f"data: {len(units.ids)} H3 r9 cells x {len(months)} months, "
          f"{int(counts.sum()):,} offences; counts + weights {t_data:.2f} s")
    total = t_data
    for horizon in (1, 3):
        print(f"\n{horizon}-month horizon")
        for m in fc.METHODS:
            t0 = time.perf_counter()
            r = fc.backtest(counts, space, ["naive", m] if m != "naive" else ["naive"],
                            horizon=horizon)
            dt = time.perf_counter() - t0
            total += dt
            s = {x["method"]: x for x in r["summary"]}
            print(f"  {m:<9} {dt:6.2f} s  mean PAI {s[m]['mean_pai']:.2f} "
                  f"(naive {s['naive']['mean_pai']:.2f}), {r['n_folds']} folds")
    print(f"\ntotal (all methods, both horizons, incl. data): {total:.2f} s  (target <= 10 s)")

    # the common approach for the gi method: esda's G_Local per fold
    import warnings

    from esda.getisord import G_Local
    from libpysal.weights import WSP

    w = WSP(space.adj().tocsr()).to_W(silence_warnings=True)
    fl = fc.folds(counts.shape[1], 3, 1)
    t0 = time.perf_counter()
    for f in fl:
        fc.score("gi", counts[:, :f.cutoff], space, fc.Params())
    ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in fl:
            y = counts[:, f.cutoff - 3:f.cutoff].sum(axis=1)
            G_Local(y, w, transform="B", star=True, permutations=0)
    theirs = time.perf_counter() - t0
    z_ours = fc.score("gi", counts[:, :3], space, fc.Params())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z_esda = G_Local(counts[:, :3].sum(axis=1), w, transform="B", star=True,
                         permutations=0).Zs
    finite = np.abs(z_ours) < 1e5
    print(f"gi scoring over {len(fl)} folds: ours {ours * 1000:.1f} ms vs esda G_Local "
          f"{theirs * 1000:.1f} ms -> {theirs / ours:.1f}x; z equal where not hot-lifted: "
          f"{np.allclose(z_ours[finite], z_esda[finite])}")


if __name__ == "__main__":
    main()
