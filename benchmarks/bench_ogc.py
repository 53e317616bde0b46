"""Benchmark: GDAL paging an offence collection of over 100k rows through OGC API - Features,
against the existing /offences CSV stream and /offences GeoJSON pages, in the same run.

Run: `.venv/bin/python benchmarks/bench_ogc.py` (needs Debian's gdal-bin: ogr2ogr). The
store holds the shipped 10 months of police.uk data (82,912 real rows) plus 3 SYNTHETIC
months (2020-10..2020-12) made by copying the first 3 shipped months with new crime IDs and
shifted months - a volume test, labelled as such, not data to analyse. A real
`geo_api serve` answers on 127.0.0.1 (anonymous analyst); each client reads every row.
Prints rows/s and the ratio against the CSV stream (the common approach: one download).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _timing import best_of, free_port

from geo_api.settings import PROJECT_ROOT

SHIPPED = sorted((PROJECT_ROOT / "data" / "demo" / "police_uk").glob("*.csv"))
SYNTHETIC_MONTHS = {"2019-12": "2020-10", "2020-01": "2020-11", "2020-02": "2020-12"}


def synthetic_months(out: Path) -> list[Path]:
    """SYNTHETIC: the first 3 shipped months copied as 2020-10..2020-12, new crime IDs."""
    files = []
    for src in SHIPPED:
        month = src.name[:7]
        if month not in SYNTHETIC_MONTHS:
            continue
        new = SYNTHETIC_MONTHS[month]
        dest = out / f"{new}-leicestershire-street-SYNTHETIC.csv"
        with src.open(newline="") as fi, dest.open("w", newline="") as fo:
            rows = csv.DictReader(fi)
            w = csv.DictWriter(fo, fieldnames=rows.fieldnames)
            w.writeheader()
            for i, r in enumerate(rows):
                r["Month"] = new
                if r["Crime ID"]:
                    r["Crime ID"] = hashlib.sha256(f"SYNTHETIC{new}{i}".encode()).hexdigest()
                w.writerow(r)
        files.append(dest)
    return files


def main() -> int:
    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        print("ogr2ogr not found: install Debian's gdal-bin", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "csv"
        data.mkdir()
        files = [*SHIPPED, *synthetic_months(data)]
        env = {**os.environ, "GEO_API_STORE_DIR": str(tmp / "store"),
               "GEO_API_ANONYMOUS_ROLE": "analyst", "GEO_API_AUDIT_DIR": str(tmp / "audit"),
               "GEO_API_KEYS_FILE": str(tmp / "keys.json")}
        geo_api = str(Path(sys.executable).with_name("geo_api"))
        subprocess.run([geo_api, "ingest", *map(str, files)], env=env, check=True,
                       capture_output=True)
        port = free_port()
        server = subprocess.Popen([geo_api, "serve", "--host", "127.0.0.1", "--port",
                                   str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/health", timeout=1).json().get("data_loaded"):
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            n = httpx.get(f"{base}/collections/offences/items?limit=1").json()["numberMatched"]
            print(f"offence collection: {n:,} rows (82,912 shipped police.uk + "
                  f"{n - 82_912:,} SYNTHETIC copies)")
            results = {}

            def csv_stream():
                with httpx.stream("GET", f"{base}/offences?f=csv&limit=1000000",
                                  timeout=300) as r:
                    rows = sum(chunk.count(b"\n") for chunk in r.iter_bytes()) - 1
                assert rows == n, rows

            def geojson_pages():
                got, offset = 0, 0
                with httpx.Client(timeout=300) as c:
                    while got < n:
                        body = c.get(f"{base}/offences?limit=10000&offset={offset}").json()
                        got += len(body["features"])
                        offset += 10_000
                assert got == n, got

            def gdal(page_size: int):
                def run():
                    dest = tmp / f"out-{page_size}.gpkg"
                    dest.unlink(missing_ok=True)
                    subprocess.run([ogr2ogr, "-f", "GPKG", str(dest), f"OAPIF:{base}",
                                    "offences", "-oo", f"PAGE_SIZE={page_size}"],
                                   check=True, capture_output=True)
                    info = subprocess.run(["ogrinfo", "-ro", "-so", str(dest), "offences"],
                                          check=True, capture_output=True, text=True).stdout
                    assert f"Feature Count: {n}" in info, info
                return run

            cases = [("/offences CSV stream (one download)", csv_stream),
                     ("/offences GeoJSON, pages of 10,000", geojson_pages),
                     ("GDAL ogr2ogr OAPIF -> GeoPackage, pages of 10,000", gdal(10_000)),
                     ("GDAL ogr2ogr OAPIF -> GeoPackage, pages of 1,000", gdal(1_000))]
            for name, fn in cases:
                results[name] = best_of(fn, repeat=3)
            ref = results[cases[0][0]]
            print(f"{'client':52s} {'seconds':>8s} {'rows/s':>10s} {'vs CSV':>7s}")
            for name, secs in results.items():
                print(f"{name:52s} {secs:8.2f} {n / secs:10,.0f} {secs / ref:6.1f}x")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
