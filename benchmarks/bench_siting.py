"""Kit siting benchmark: our sparse exact MCLP vs spopt's dense MCLP, same instance, same run.

Instance (real shipped data, no store needed): demand = 10,000 distinct police.uk map points
of the force area (all offences Dec 2019 - Sep 2020, weight = offences there), candidates =
3,000 OS Code-Point Open unit postcodes; radius 300 m; p = 30 new sites. Both solvers must
reach the same optimum (checked). Also: the p-curve p = 1..50.

Targets on the 2-core machine: ours build + solve <= 2 s; p-curve <= 10 s.

    python benchmarks/bench_siting.py                 # spopt at full size (minutes)
    python benchmarks/bench_siting.py --spopt-demand 2000   # spopt on a subset as well
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo_api.analysis.coverage import aggregate_demand, within_radius
from geo_api.analysis.siting import mclp, p_curve, p_curve_bounds
from geo_api.crs import lonlat_to_metric


def offence_xy() -> tuple[np.ndarray, np.ndarray]:
    """Every located offence of the shipped 10 police.uk months, EPSG:27700 metres."""
    df = pd.concat(pd.read_csv(f, usecols=["Longitude", "Latitude"])
                   for f in sorted(glob.glob(str(ROOT / "data/demo/police_uk/*.csv"))))
    df = df.dropna()
    return lonlat_to_metric(df["Longitude"].to_numpy(), df["Latitude"].to_numpy())


def instance(n_demand: int, n_cand: int, seed: int = 0):
    d = aggregate_demand(*offence_xy())
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(d), size=min(n_demand, len(d)), replace=False)
    pc = pd.read_csv(next((ROOT / "boundaries/sources/postcodes").glob("codepoint_open_*.csv")),
                     header=None, usecols=[2, 3])
    pc = pc[(pc[2] > 0) & (pc[3] > 0)].to_numpy(float)
    cand = pc[rng.choice(len(pc), size=n_cand, replace=False)]
    return d.xy[pick], d.weight[pick], cand


def ours(dxy, w, cand, radius, p):
    t = time.perf_counter()
    cover = within_radius(dxy, cand, radius)
    t_build = time.perf_counter() - t
    r = mclp(cover, w, p)
    return t_build, r.solve_s, r


def spopt_mclp(dxy, w, cand, radius, p):
    import pulp
    from spopt.locate import MCLP

    t = time.perf_counter()
    cost = np.hypot(dxy[:, None, 0] - cand[None, :, 0], dxy[:, None, 1] - cand[None, :, 1])
    model = MCLP.from_cost_matrix(cost, w, radius, p_facilities=p)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    return t_build, time.perf_counter() - t, pulp.value(model.problem.objective)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demand", type=int, default=10_000)
    ap.add_argument("--candidates", type=int, default=3_000)
    ap.add_argument("--radius-m", type=float, default=300.0)
    ap.add_argument("--p", type=int, default=30)
    ap.add_argument("--max-p", type=int, default=50)
    ap.add_argument("--spopt-demand", type=int, default=None,
                    help="also/only run spopt on this many demand points (default: full size)")
    ap.add_argument("--skip-spopt-full", action="store_true")
    a = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    dxy, w, cand = instance(a.demand, a.candidates)
    print(f"instance: {len(dxy):,} demand points ({w.sum():,.0f} offences), {len(cand):,} "
          f"candidates, radius {a.radius_m:g} m, p = {a.p}")
    ours(dxy[:50], w[:50], cand[:50], a.radius_m, 2)  # warm-up (imports)
    tb, ts, r = ours(dxy, w, cand, a.radius_m, a.p)
    print(f"ours:  build {tb:.3f} s + solve {ts:.3f} s = {tb + ts:.3f} s; objective "
          f"{r.covered_weight:,.0f} ({r.covered_share:.2%}), status {r.status}, "
          f"{r.model['n_pairs_within_radius']:,} pairs, {r.model.get('n_columns_to_solver')} "
          f"columns to HiGHS  [target <= 2 s: {'met' if tb + ts <= 2 else 'NOT met'}]")
    cover = within_radius(dxy, cand, a.radius_m)
    t = time.perf_counter()
    band = p_curve_bounds(cover, w, a.max_p)
    tb_ = time.perf_counter() - t
    print(f"p-curve p = 1..{a.max_p}, method=bounds: {tb_:.2f} s; max gap "
          f"{max(c.gap for c in band):.2%}, median {np.median([c.gap for c in band]):.2%}  "
          f"[target <= 10 s: {'met' if tb_ <= 10 else 'NOT met'}]")
    t = time.perf_counter()
    curve = p_curve(cover, w, a.max_p, time_limit_s=600)
    tc = time.perf_counter() - t
    n_opt = sum(c.status == "optimal" for c in curve)
    inside = all(b.covered_weight - 1e-6 <= c.covered_weight <= b.bound_weight + 1e-6
                 for b, c in zip(band, curve))
    print(f"p-curve p = 1..{a.max_p}, method=exact: {tc:.2f} s ({n_opt}/{a.max_p} optimal; "
          f"share at p = {a.max_p}: {curve[-1].covered_share:.2%}; exact inside the band: "
          f"{inside})  [target <= 10 s: {'met' if tc <= 10 else 'NOT met'}]")
    sizes = []
    if a.spopt_demand:
        sizes.append(a.spopt_demand)
    if not a.skip_spopt_full:
        sizes.append(len(dxy))
    for n in sizes:
        sub = slice(0, n)
        tb2, ts2, r2 = ours(dxy[sub], w[sub], cand, a.radius_m, a.p)
        sb, ss, obj = spopt_mclp(dxy[sub], w[sub], cand, a.radius_m, a.p)
        same = abs(obj - r2.covered_weight) < 1e-6
        print(f"{n:,} demand x {len(cand):,} candidates: spopt from_cost_matrix build "
              f"{sb:.1f} s + CBC solve {ss:.1f} s = {sb + ss:.1f} s; ours {tb2 + ts2:.3f} s; "
              f"ratio {(sb + ss) / (tb2 + ts2):.0f}x; objectives {obj:,.0f} vs "
              f"{r2.covered_weight:,.0f} ({'equal' if same else 'DIFFERENT'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
