"""What access control costs per request (run: python benchmarks/bench_access.py).

Loads the shipped demo data into a temporary store and times, in the same run:
- an API key check (hashed store read + SHA-256 + constant-time compare) vs PBKDF2 at
  600,000 iterations (the common way to store secrets that this avoids: keys are random,
  so a fast hash is enough);
- whole requests as an analyst (no disclosure pass) vs the same requests as `public` (the
  policy rewrites every JSON answer), warm, median of N, with the ratio.
Target: the public pass adds <= 25% to a warm JSON answer.
"""

from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from geo_api.data.keys import KeyStore
from geo_api.services.service import Service
from geo_api.settings import Settings
from geo_api.web.app import create_app

Q = "datetime=2020-04/2020-06&group=violence_robbery_weapons"
URLS = [f"/stats/areas?layer=lsoa&{Q}", f"/stats/areas?layer=ward&{Q}",
        f"/hotspots/gi?{Q}&permutations=999",
        ("/compare/areas?before=2019-12/2020-02&after=2020-04/2020-06"
         "&group=violence_robbery_weapons&layer=lsoa"),
        f"/tiles/lsoa/12/2035/1341.geojson?{Q}"]


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_access_"))
    settings = Settings(store_dir=tmp / "store", keys_file=tmp / "keys.json",
                        audit_dir=tmp / "audit", anonymous_role="none", warm_up=False)
    svc = Service(settings)
    svc.ingest_paths(svc.demo_files(), progress=False)
    svc.close()
    keys = KeyStore(settings.keys_path)
    for i in range(50):  # a realistic key file
        keys.create("partner", f"partner {i}")
    analyst = keys.create("analyst", "bench analyst")[0]
    public = keys.create("public", "bench public")[0]

    ours = median_ms(lambda: keys.verify(analyst), 200)
    pbkdf2 = median_ms(lambda: hashlib.pbkdf2_hmac("sha256", analyst.encode(), b"salt" * 4,
                                                   600_000), 5)
    print(f"key check: {ours:.3f} ms (51 keys on file) vs PBKDF2-600k {pbkdf2:.1f} ms "
          f"-> {pbkdf2 / ours:.0f}x faster")

    with TestClient(create_app(settings)) as c:
        for url in URLS:
            for key in (analyst, public):  # warm both (caches, numba)
                assert c.get(url, headers={"X-API-Key": key}).status_code == 200, url
            a = median_ms(lambda u=url: c.get(u, headers={"X-API-Key": analyst}), 15)
            p = median_ms(lambda u=url: c.get(u, headers={"X-API-Key": public}), 15)
            size = len(c.get(url, headers={"X-API-Key": public}).content)
            print(f"{url.split('?')[0]:<32} analyst {a:7.1f} ms  public {p:7.1f} ms  "
                  f"x{p / a:.2f}  ({size / 1000:.0f} kB)")


if __name__ == "__main__":
    main()
