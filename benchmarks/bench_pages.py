"""Map pages: first build vs cached (run: python benchmarks/bench_pages.py).

Loads the shipped data into a temporary store and, per page, times the first (uncached)
build and then 50 cached requests (p50/p95), in the same run; the common approach - building
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
PAGES = [f"/maps/hotspots?datetime=2020-07/2020-09&{G}",
         f"/maps/compare?before=2020-04/2020-06&after=2020-07/2020-09&{G}",
         f"/compare/report/map?before=2020-04/2020-06&after=2020-07/2020-09&{G}",
         f"/maps/focus?{G}"]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    settings = Settings(store_dir=tmp / "store", keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="analyst")
    svc = Service(settings)
    svc.ingest_paths(svc.demo_files(), progress=False)
    svc.close()
    with TestClient(create_app(settings)) as c:
        c.get(f"/maps/hotspots?datetime=2019-12/2020-02&{G}")  # warm imports, numba
        print(f"{'page':<22} {'first build':>12} {'cached p50':>11} {'cached p95':>11} "
              f"{'ratio':>7} {'size':>8}")
        for url in PAGES:
            t0 = time.perf_counter()
            r = c.get(url)
            first = (time.perf_counter() - t0) * 1000
            times = []
            for _ in range(50):
                t0 = time.perf_counter()
                hit = c.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert hit.headers.get("x-page-cache") == "hit"
            p50 = statistics.median(times)
            p95 = sorted(times)[int(0.95 * len(times)) - 1]
            print(f"{url.split('?')[0]:<22} {first:10.0f} ms {p50:8.1f} ms {p95:8.1f} ms "
                  f"{first / p50:6.0f}x {len(r.content) / 1e6:6.2f} MB")


if __name__ == "__main__":
    main()
