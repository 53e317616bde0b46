"""Benchmark: a national decade in the embedded store (60M rows) - a new month's ingest and
API latency on it.

Run: `.venv/bin/python benchmarks/bench_store_60m.py [--months 120] [--rows-per-month 500000]
[--workdir DIR]` (about 4 GB of disk for 60M rows; --workdir keeps the store for a re-run).

SYNTHETIC data, a density stress test (national boundaries are not shipped, so every point
lies in the shipped Leicestershire force area; see bench_ingest_stream.py for how rows are
made). How the store is built: one national month (500k rows, 42 police.uk-shaped files) is
ingested by `geo_api ingest`; the decade is then ASSEMBLED from that month by this script
(each copy shifted to another month, its Crime IDs and keys made unique; partition files,
manifest, sums and dataset version written as the store's writer writes them) - generating
and ingesting 60M rows would take about an hour here. Everything measured afterwards goes
through the product: `geo_api ingest` of a new SYNTHETIC month (500k rows) in a child process
(seconds, peak RSS), and `geo_api serve` answering /health, /stats/areas and /hotspots/gi on
the 60M-row store (first request of a selection, so no answer cache helps).

Reference measured in the same run: copying the store's data once, which the single-file
store did before every ingest (its lower bound).

Targets (issue 16): a new month (500k rows) into a 60M-row store <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx
from _timing import free_port
from bench_ingest_stream import ingest, write_synthetic_year

from geo_api.data.store.duckdb_parts import CATALOG, MANIFEST, PARTS, parquet_list, sql_str
from geo_api.data.store.duckdb_schema import SOURCE_ID_HASH
from geo_api.data.store.duckdb_write import CONTENT_SUMS, version_from

FIRST_YEAR = 2010


def assemble_decade(store: Path, months: int) -> int:
    """Copy the store's one month to ``months`` consecutive months (see the docstring);
    returns the number of rows. The copies replace the store's current snapshot."""
    snap = store / (store / "CURRENT").read_text().strip()
    manifest = json.loads((snap / MANIFEST).read_text())
    (entry,) = manifest["partitions"].values()
    src = parquet_list(store / f for f in entry["files"])
    new = store / f"{snap.name}-decade"
    new.mkdir()
    shutil.copyfile(snap / CATALOG, new / CATALOG)
    con = duckdb.connect()
    partitions = {}
    for m in range(months):
        shifted = f"month + INTERVAL {m} MONTH"
        sid = f"lpad(printf('%x', {m}), 4, '0') || substr(source_id, 5)"
        name = f"{PARTS}/{new.name}.{m}.0.parquet"
        copy = (f"SELECT * REPLACE ({shifted} AS month, CASE WHEN source_id IS NULL THEN "
                f"offence_key || ':{m}' ELSE 'puk:' || strftime({shifted}, '%Y-%m') || ':' || "
                f"{sid} END AS offence_key, {sid} AS source_id, "
                f"{SOURCE_ID_HASH.replace('source_id', sid)} AS source_id_hash) "
                f"FROM read_parquet({src})")
        con.execute(f"COPY ({copy}) TO {sql_str(store / name)} (FORMAT parquet, "
                    "COMPRESSION zstd)")
        n, upper, lower = con.execute(f"SELECT {CONTENT_SUMS} FROM read_parquet("
                                      f"{sql_str(store / name)})").fetchone()
        month = f"{FIRST_YEAR + m // 12}-{m % 12 + 1:02d}"
        partitions[f"puk-{month}"] = {"files": [name], "rows": n, "upper": int(upper),
                                      "lower": int(lower)}
    con.close()
    cat = duckdb.connect(str(new / CATALOG))
    bv = cat.execute("SELECT value FROM meta WHERE key = 'boundaries_version'").fetchone()[0]
    n = sum(p["rows"] for p in partitions.values())
    upper = lower = 0
    for p in partitions.values():
        upper ^= p["upper"]
        lower ^= p["lower"]
    cat.execute("UPDATE meta SET value = ? WHERE key = 'dataset_version'",
                [version_from(n, upper, lower, bv)])
    # Crime IDs are unique across the copies by construction
    cat.execute("UPDATE meta SET value = '0' WHERE key = 'n_crime_id_other_month'")
    cat.close()
    (new / MANIFEST).write_text(json.dumps({"partitions": partitions}, indent=1))
    (store / "CURRENT").write_text(new.name)
    shutil.rmtree(snap)
    for f in entry["files"]:
        (store / f).unlink()
    return n


def serve_latency(env: dict, months: list[str]) -> None:
    geo_api = str(Path(sys.executable).with_name("geo_api"))
    port = free_port()
    server = subprocess.Popen([geo_api, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=600) as c:
            for _ in range(600):
                try:
                    c.get(f"{base}/openapi.json", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            t = time.perf_counter()
            health = c.get(f"{base}/health").json()
            print(f"/health (first, counts the store): {time.perf_counter() - t:.2f} s - "
                  f"{health['n_offences']:,} offences, {health['first_month']} to "
                  f"{health['last_month']}")
            t = time.perf_counter()
            c.get(f"{base}/health")
            print(f"/health (again): {(time.perf_counter() - t) * 1000:.0f} ms")
            for path in ("/stats/areas?layer=ward", "/stats/areas?layer=lsoa",
                         "/hotspots/gi?resolution=9"):
                times = []
                for i in range(3):  # three different 3-month windows: no cached answers
                    a, b = months[-3 * (i + 1)], months[-3 * i - 1]
                    url = f"{base}{path}&datetime={a}/{b}&group=violence_robbery_weapons"
                    t = time.perf_counter()
                    r = c.get(url)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, (url, r.status_code, r.text[:300])
                print(f"{path:32s} first request of a selection: median "
                      f"{statistics.median(times):.2f} s (of {', '.join(f'{x:.2f}' for x in times)})")
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--rows-per-month", type=int, default=500_000)
    ap.add_argument("--workdir", type=Path, help="keep the store here (re-used if present)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench60m-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / "store"
    env = {**os.environ, "GEO_API_STORE_DIR": str(store), "GEO_API_ANONYMOUS_ROLE": "analyst",
           "GEO_API_AUDIT_DIR": str(work / "audit"), "GEO_API_KEYS_FILE": str(work / "keys.json")}
    try:
        if not (store / "CURRENT").exists():
            (work / "month").mkdir(exist_ok=True)
            files = write_synthetic_year(work / "month", args.rows_per_month, seed=2010,
                                         year=FIRST_YEAR, months=1)
            secs, rss = ingest(files, store)
            print(f"one SYNTHETIC national month: {args.rows_per_month:,} rows in "
                  f"{len(files)} files ingested in {secs:.1f} s "
                  f"({args.rows_per_month / secs:,.0f} rows/s, peak RSS {rss:.0f} MB)")
            t = time.perf_counter()
            n = assemble_decade(store, args.months)
            print(f"assembled {args.months} months, {n:,} rows, in {time.perf_counter() - t:.0f} s")
        else:
            shutil.copyfile(store / "CURRENT.base", store / "CURRENT")  # undo the last run's
        (store / "CURRENT.base").write_text((store / "CURRENT").read_text())  # new month
        parts = sorted((store / PARTS).glob("*.parquet"))
        size = sum(p.stat().st_size for p in parts)
        t = time.perf_counter()
        shutil.copytree(store / PARTS, work / "copy-of-parts")
        copy_s = time.perf_counter() - t
        shutil.rmtree(work / "copy-of-parts")
        print(f"store: {len(parts)} partition files, {size / 2**30:.1f} GB; copying them once "
              f"(what the single-file store did before each ingest): {copy_s:.1f} s")

        last = args.months
        year, month = FIRST_YEAR + last // 12, last % 12 + 1
        inc = work / f"inc-{year}-{month:02d}"
        if not inc.exists():
            inc.mkdir()
            # one national month, as police.uk publishes it: a file per force
            write_synthetic_year(inc, args.rows_per_month, seed=7, year=year, months=1,
                                 first_month=month)
        files = sorted(inc.glob("*.csv"))
        secs, rss = ingest(files, store)
        print(f"a new month ({args.rows_per_month:,} rows, {len(files)} files) into the "
              f"{args.months}-month store: {secs:.1f} s, peak RSS {rss:.0f} MB "
              f"(target <= 10 s; copy-first floor alone {copy_s:.1f} s = "
              f"{copy_s / secs:.1f}x this whole ingest)")
        months = [f"{FIRST_YEAR + m // 12}-{m % 12 + 1:02d}" for m in range(args.months + 1)]
        serve_latency(env, months)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
