"""16 users at once on 2 cores: a mixed load of map pages, API answers, tiles and PNG maps
against a real server (run: python benchmarks/bench_load.py [--seconds 40] [--users 16]).

Loads the shipped data into a temporary store and runs `geo_api serve` (one uvicorn process,
as the README's run command does) twice in the same run, each from a cold start with the
same seeded request sequence: first with the page cache off - the common approach, every
map page built on every request - then with it on (the default). 16 closed-loop users (no
think time: a worst case) each send the next request as soon as the last is answered.

Prints per configuration: requests answered, requests/s, status counts and latency p50 /
p95 / p99 for pages, API answers and all requests, then the ratios. Targets (issue 13):
cached page p95 <= 50 ms (bench_pages.py measures one user) and a mixed-load p95 well under
the 4 s seen when every request built its page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from _timing import free_port, wait_until_up

G = "group=violence_robbery_weapons"
PERIODS = ["2020-07/2020-09", "2020-04/2020-06", "2020-01/2020-03"]
PAGES = ([f"/maps/hotspots?datetime={p}&{G}" for p in PERIODS] + ["/maps/hotspots"]
         + [f"/maps/compare?before={PERIODS[1]}&after={PERIODS[0]}&{G}", "/maps/compare",
            f"/compare/report/map?before={PERIODS[2]}&after={PERIODS[1]}&{G}",
            "/compare/report/map", f"/maps/focus?{G}"])
PNGS = [f"/maps/hotspots.png?datetime={p}&{G}" for p in PERIODS[:2]]
API = ([f"/stats/areas?layer={lyr}&datetime={p}&{G}" for lyr in ("ward", "lsoa", "npa")
        for p in PERIODS]
       + [f"/hotspots/gi?datetime={p}&{G}&permutations=999" for p in PERIODS]
       + [f"/stats/top?grid=h3&limit=10&datetime={p}&{G}" for p in PERIODS]
       + [f"/compare/areas?before={PERIODS[1]}&after={PERIODS[0]}&{G}&layer=ward"])
TILES = [f"/tiles/ward/{z}/{x}/{y}.geojson?datetime={PERIODS[0]}&{G}"
         for z, x, y in ((12, 2035, 1341), (12, 2034, 1341), (13, 4070, 2682),
                         (13, 4071, 2682), (12, 2035, 1342))]
MIX = [("page", PAGES, 0.40), ("api", API, 0.40), ("tile", TILES, 0.15), ("png", PNGS, 0.05)]


def plan(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    kinds = rng.choices(MIX, weights=[w for *_, w in MIX], k=n)
    return [(kind, rng.choice(urls)) for kind, urls, _ in kinds]


def start_server(store: Path, tmp: Path, cache_bytes: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GEO_API_STORE_DIR": str(store), "GEO_API_ANONYMOUS_ROLE": "analyst",
           "GEO_API_PAGE_CACHE_BYTES": str(cache_bytes),
           "GEO_API_KEYS_FILE": str(tmp / f"keys{port}.json"),
           "GEO_API_AUDIT_DIR": str(tmp / f"audit{port}")}
    proc = subprocess.Popen([sys.executable, "-m", "geo_api", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, url)
    return proc, url


async def run_load(url: str, users: int, seconds: float, seed: int,
                   think_s: float) -> list[tuple]:
    """(kind, status, ms) per answered request; each user pauses a random time with mean
    ``think_s`` (exponential) between requests (0: closed loop)."""
    out: list[tuple] = []
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=url, timeout=180, limits=limits) as client:
        async def user(i: int) -> None:
            pauses = random.Random(seed - i)
            for kind, path in plan(100_000, seed + i):
                if think_s:
                    await asyncio.sleep(pauses.expovariate(1 / think_s))
                if time.perf_counter() >= stop:
                    return
                t0 = time.perf_counter()
                try:
                    r = await client.get(path)
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                out.append((kind, status, (time.perf_counter() - t0) * 1000))

        await asyncio.gather(*(user(i) for i in range(users)))
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 \
        else values[0]


def summarise(name: str, rows: list[tuple], seconds: float) -> dict:
    ok = [r for r in rows if 200 <= r[1] < 300]
    out = {"name": name, "n": len(rows), "rps": len(ok) / seconds,
           "status": dict(Counter(r[1] for r in rows))}
    for kind in ("page", "api", "tile", "png", "all"):
        ms = [r[2] for r in ok if kind in ("all", r[0])]
        out[kind] = (pct(ms, 50), pct(ms, 95), pct(ms, 99), len(ms))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--think-s", type=float, nargs="+", default=[0.0, 1.0],
                    help="mean pause between a user's requests; one run per value")
    args = ap.parse_args()

    from geo_api.services.service import Service
    from geo_api.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    store = tmp / "store"
    svc = Service(Settings(store_dir=store))
    svc.ingest_paths(svc.demo_files(), progress=False)
    svc.close()
    for think in args.think_s:
        how = "closed loop" if not think else f"mean {think:g} s between a user's requests"
        print(f"\n{args.users} users, {how}, {args.seconds:.0f} s per configuration, "
              f"{os.cpu_count()} cores; mix: " + ", ".join(f"{k} {w:.0%}" for k, _, w in MIX))
        results = []
        for name, cache in (("page built per request", 0),
                            ("page cache (default)", 200_000_000)):
            proc, url = start_server(store, tmp, cache)
            try:
                rows = asyncio.run(run_load(url, args.users, args.seconds, args.seed, think))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            results.append(summarise(name, rows, args.seconds))
        report(results)


def report(results: list[dict]) -> None:
    print(f"{'configuration':<24} {'kind':<5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'n ok':>6}")
    for s in results:
        for kind in ("page", "api", "tile", "png", "all"):
            p50, p95, p99, n = s[kind]
            print(f"{s['name']:<24} {kind:<5} {p50:8.0f} {p95:8.0f} {p99:8.0f} {n:6d}")
        print(f"{'':<24} {s['rps']:.1f} requests/s answered 2xx; statuses {s['status']}")
    a, b = results
    print(f"page cache vs built per request: all-request p95 {a['all'][1]:.0f} -> "
          f"{b['all'][1]:.0f} ms ({a['all'][1] / b['all'][1]:.1f}x), page p95 "
          f"{a['page'][1]:.0f} -> {b['page'][1]:.0f} ms ({a['page'][1] / b['page'][1]:.1f}x), "
          f"throughput {b['rps'] / a['rps']:.1f}x")


if __name__ == "__main__":
    main()
