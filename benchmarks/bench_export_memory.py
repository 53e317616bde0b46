"""Benchmark: peak memory of the API process while analysts export offence records
concurrently (issue 29: four exports of 1,000,000 rows as GeoParquet took a 311k-row
store's server to 2.51 GB).

Run: `.venv/bin/python benchmarks/bench_export_memory.py [--concurrency 4 8] [--formats csv
parquet geojson ogc] [--src DIR] [--workdir DIR]`. `--src` serves another source tree (e.g.
a `git worktree` of an earlier commit) on the same store, for a before/after comparison.

The store: SYNTHETIC, a volume test. The shipped 10 months of police.uk data (82,912 real
rows) plus copies of the shipped month files shifted 1, 2 and 3 years later (2020-12 ..
2023-09) with new crime IDs, taken month by month until the store holds about `--rows`
(default 311,000: the store of the issue). Built once with `geo_api ingest` (kept in
`--workdir` for a re-run).

Each scenario (format x concurrency) starts a fresh `geo_api serve` (one uvicorn process,
as the README runs it) with an analyst API key made by `geo_api keys create`; N clients ask
at once for the whole store (`/offences?f=csv|parquet&limit=1000000`; GeoJSON pages are at
most 10,000 rows: `/offences?limit=10000` and `/collections/offences/items?limit=10000`,
each client a different page) and read every byte. A client answered 503 (all export slots
busy) waits for its Retry-After and asks again, as an analyst's script would. Peak RSS is
the server process's VmHWM (/proc/<pid>/status), so the clients do not count. Prints per
scenario: peak and final RSS, the slowest client's time, the total, the 503s, and a digest
of one answer (CSV and GeoJSON: of the bytes, OGC pages without their timeStamp and port;
GeoParquet: of the rows, column types and GeoParquet metadata as read back, since
equivalent files may differ in their row groups).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from _timing import free_port, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "data" / "demo" / "police_uk").glob("*.csv"))
URLS = {"csv": "/offences?f=csv&limit=1000000",
        "parquet": "/offences?f=parquet&limit=1000000",
        "geojson": "/offences?limit=10000&offset={offset}",
        "ogc": "/collections/offences/items?limit=10000&offset={offset}"}


def synthetic_files(out: Path, rows: int) -> list[Path]:
    """The shipped months, then SYNTHETIC copies 1, 2, 3 years later (new crime IDs), month
    by month until about ``rows`` rows."""
    files, total = list(SHIPPED), 0
    for src in SHIPPED:
        total += sum(1 for _ in src.open()) - 1
    for years in (1, 2, 3):
        for src in SHIPPED:
            if total >= rows:
                return files
            year, month = int(src.name[:4]) + years, src.name[5:7]
            dest = out / f"{year}-{month}-leicestershire-street-SYNTHETIC.csv"
            with src.open(newline="") as fi, dest.open("w", newline="") as fo:
                reader = csv.DictReader(fi)
                w = csv.DictWriter(fo, fieldnames=reader.fieldnames or [])
                w.writeheader()
                for i, r in enumerate(reader):
                    r["Month"] = f"{year}-{month}"
                    if r["Crime ID"]:
                        r["Crime ID"] = hashlib.sha256(
                            f"SYNTHETIC{year}{month}{i}".encode()).hexdigest()
                    w.writerow(r)
                    total += 1
            files.append(dest)
    return files


def cli(src: Path, env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "geo_api", *args], env=env, cwd=src,
                          capture_output=True, text=True, check=True)
    return done.stdout


def build(workdir: Path, src: Path, rows: int) -> tuple[dict, str]:
    """The store (built once) and an analyst key: (environment, key)."""
    env = {**os.environ, "PYTHONPATH": str(src), "GEO_API_STORE_DIR": str(workdir / "store"),
           "GEO_API_KEYS_FILE": str(workdir / "keys.json"),
           "GEO_API_AUDIT_DIR": str(workdir / "audit"), "GEO_API_ANONYMOUS_ROLE": "none"}
    if not (workdir / "store" / "CURRENT").exists():
        (workdir / "csv").mkdir(exist_ok=True)
        files = synthetic_files(workdir / "csv", rows)
        t0 = time.perf_counter()
        cli(src, env, "ingest", *map(str, files))
        print(f"store built: {len(files)} month files in {time.perf_counter() - t0:.0f} s")
    out = cli(src, env, "keys", "create", "--role", "analyst", "--name", "bench-export")
    return env, out.split(": ", 1)[1].split()[0]


def status_kb(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: int(v.split()[0]) for k, v in (ln.split(":", 1) for ln in lines)
            if k in ("VmRSS", "VmHWM")}


def start(src: Path, env: dict, settings: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "geo_api", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env={**env, **settings}, cwd=src,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, url)
    return proc, url


async def fire(url: str, key: str, paths: list[str]) -> list[tuple]:
    """Every path at once; per client (status, seconds, bytes, 503s, body of the first)."""
    async with httpx.AsyncClient(base_url=url, timeout=600,
                                 headers={"X-API-Key": key}) as client:
        async def one(i: int, path: str) -> tuple:
            t0, busy = time.perf_counter(), 0
            while True:
                async with client.stream("GET", path) as r:
                    if r.status_code == 503:
                        busy += 1
                        await asyncio.sleep(float(r.headers.get("retry-after", 1)))
                        continue
                    body, n = bytearray(), 0
                    async for chunk in r.aiter_bytes():
                        n += len(chunk)
                        if i == 0:
                            body += chunk
                    return r.status_code, time.perf_counter() - t0, n, busy, bytes(body)

        return await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))


def digest(fmt: str, body: bytes) -> str:
    if fmt == "ogc":  # the page says when it was made, its links the server's port
        body = re.sub(rb'"timeStamp":\s*"[^"]*"|http://127\.0\.0\.1:\d+', b"", body)
    if fmt != "parquet":
        return hashlib.sha256(body).hexdigest()[:16]
    table = pq.read_table(io.BytesIO(body))
    geo = json.loads(table.schema.metadata[b"geo"])
    geo.pop("creator", None)  # the writing library's version
    h = hashlib.sha256(str([(f.name, str(f.type)) for f in table.schema]).encode()
                       + json.dumps(geo, sort_keys=True).encode())
    for batch in table.to_batches():
        for row in batch.to_pylist():
            h.update(repr(row).encode())
    return h.hexdigest()[:16]


def scenario(src: Path, env: dict, key: str, fmt: str, n: int, settings: dict) -> dict:
    proc, url = start(src, env, settings)
    try:
        idle = status_kb(proc.pid)["VmRSS"]
        paths = [URLS[fmt].format(offset=10_000 * i) for i in range(n)]
        t0 = time.perf_counter()
        results = asyncio.run(fire(url, key, paths))
        total = time.perf_counter() - t0
        kb = status_kb(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    statuses = sorted({r[0] for r in results})
    return {"format": fmt, "n": n, "idle_mb": idle / 1024, "peak_mb": kb["VmHWM"] / 1024,
            "after_mb": kb["VmRSS"] / 1024, "slowest_s": max(r[1] for r in results),
            "total_s": total, "mb_each": results[0][2] / 1e6,
            "busy_503": sum(r[3] for r in results), "status": statuses,
            "digest": digest(fmt, results[0][4])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--concurrency", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--formats", nargs="+", default=["parquet", "csv", "geojson", "ogc"],
                    choices=list(URLS))
    ap.add_argument("--rows", type=int, default=311_000, help="store size (about)")
    ap.add_argument("--src", type=Path, default=ROOT, help="source tree to serve")
    ap.add_argument("--workdir", type=Path, help="keep the store here (default: temporary)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                    help="GEO_API_ settings for the server, e.g. MAX_EXPORT_REQUESTS=4")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_export_"))
    workdir.mkdir(parents=True, exist_ok=True)
    env, key = build(workdir, args.src.resolve(), args.rows)
    settings = {f"GEO_API_{k.upper()}": v for k, v in (s.split("=", 1) for s in args.set)}
    proc, url = start(args.src.resolve(), env, settings)
    try:
        rows = httpx.get(f"{url}/health", headers={"X-API-Key": key}).json()["n_offences"]
    finally:
        proc.terminate()
        proc.wait()
    print(f"\nsource tree {args.src.resolve()}; store {rows:,} rows (SYNTHETIC volume, see "
          f"docstring); {os.cpu_count()} cores; settings {settings or 'default'}")
    print(f"{'format':8} {'N':>3} {'idle MB':>8} {'peak MB':>8} {'after MB':>9} "
          f"{'slowest s':>10} {'total s':>8} {'MB each':>8} {'503s':>5}  status  digest")
    for fmt in args.formats:
        for n in args.concurrency:
            r = scenario(args.src.resolve(), env, key, fmt, n, settings)
            print(f"{r['format']:8} {r['n']:>3} {r['idle_mb']:>8.0f} {r['peak_mb']:>8.0f} "
                  f"{r['after_mb']:>9.0f} {r['slowest_s']:>10.1f} {r['total_s']:>8.1f} "
                  f"{r['mb_each']:>8.1f} {r['busy_503']:>5}  {r['status']}  {r['digest']}",
                  flush=True)


if __name__ == "__main__":
    main()
