"""Map pages: first build vs cached (run: python benchmarks/bench_pages.py).

Loads the shipped data into a temporary store and, per page, times the first (uncached)
build at three selections (median and max) and then 50 cached requests (p50/p95), in the
same run; the common approach - building
the page on every request, as before the page cache - is the uncached time. Targets
(issue 13): cached p95 <= 50 ms; uncached <= 400 ms on the shipped data.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from geo_api.services.service import Service
from geo_api.settings import Settings
from geo_api.web.app import create_app

G = "group=violence_robbery_weapons"
PAIRS = [("2020-04/2020-06", "2020-07/2020-09"), ("2020-01/2020-03", "2020-04/2020-06"),
         ("2019-12/2020-02", "2020-03/2020-05")]
PAGES = {  # each page at three selections: every first build is a real one
    "/maps/hotspots": [f"/maps/hotspots?datetime={b}&{G}" for _, b in PAIRS],
    "/maps/compare": [f"/maps/compare?before={a}&after={b}&{G}" for a, b in PAIRS],
    "/compare/report/map": [f"/compare/report/map?before={a}&after={b}&{G}" for a, b in PAIRS],
    "/maps/focus": [f"/maps/focus?{G}", "/maps/focus?group=all", f"/maps/focus?{G}&window=2"],
    "/maps/hotspots.png": [f"/maps/hotspots.png?datetime={b}&{G}" for _, b in PAIRS],
}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    settings = Settings(store_dir=tmp / "store", keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="analyst",
                        warm_up=False)  # first builds are what is measured
    svc = Service(settings)
    svc.ingest_paths(svc.demo_files(), progress=False)
    svc.close()
    with TestClient(create_app(settings)) as c:
        c.get(f"/maps/hotspots?datetime=2019-12/2020-01&{G}")  # warm imports, numba, units
        c.get("/maps/focus?group=all&window=4")
        print(f"{'page':<20} {'first build median (max) of 3':>30} {'cached p50':>11} "
              f"{'cached p95':>11} {'ratio':>7} {'size':>8}")
        for page, urls in PAGES.items():
            firsts = []
            for url in urls:
                t0 = time.perf_counter()
                r = c.get(url)
                firsts.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200 and "x-page-cache" not in r.headers, url
            times = []
            for _ in range(50):
                t0 = time.perf_counter()
                hit = c.get(urls[0])
                times.append((time.perf_counter() - t0) * 1000)
                assert hit.headers.get("x-page-cache") == "hit"
            p50 = statistics.median(times)
            p95 = sorted(times)[int(0.95 * len(times)) - 1]
            first = statistics.median(firsts)
            print(f"{page:<20} {first:20.0f} ms ({max(firsts):4.0f}) {p50:8.1f} ms "
                  f"{p95:8.1f} ms {first / p50:6.0f}x {len(r.content) / 1e6:6.2f} MB")


if __name__ == "__main__":
    main()
