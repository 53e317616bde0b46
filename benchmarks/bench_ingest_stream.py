"""Benchmark: streaming ingest of a SYNTHETIC police.uk-shaped national-size year - rows/s
and peak RSS, at two input sizes in the same run (peak RSS must not grow with the input).

Run: `.venv/bin/python benchmarks/bench_ingest_stream.py [--rows 6000000]`.

SYNTHETIC data, a density stress test: national boundaries are not shipped, so every row is
placed in the shipped Leicestershire force area. Rows are laid out as police.uk publishes
them - one file per force and month, about 12,000 rows each (6M rows a year is about 43
forces x 12 months) - and reuse real police.uk snap points the way real data does: each
row's location is drawn from the distinct map points of the shipped 10 months (about
30,000), its category from their category mix; crime IDs and months are invented. Each size
is ingested by `geo_api ingest` in a fresh store in a child process, the files in name
order (month, then force) as a shell glob over police.uk's monthly folders passes them
(`--order force`: force, then month - every file another partition, slower); peak RSS is
the child's (getrusage), so this script's own memory does not count.

Targets (issue 16): >= 100k rows/s and <= 1 GB peak RSS on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _timing import timed_child

from geo_api.settings import PROJECT_ROOT

SHIPPED = sorted((PROJECT_ROOT / "data" / "demo" / "police_uk").glob("*.csv"))
ROWS_PER_FILE = 12_000
COLUMNS = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
           "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
           "Context"]


def write_synthetic_year(out: Path, n_rows: int, seed: int = 2021,
                         year: int = 2021, months: int = 12, first_month: int = 1
                         ) -> list[Path]:
    """SYNTHETIC police.uk-shaped files (see the module docstring), spread over ``months``
    months of ``year`` from ``first_month`` (months=1: a national month)."""
    real = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in SHIPPED])
    real = real[real["Longitude"] != ""]
    places = real[["Longitude", "Latitude", "Location", "LSOA code", "LSOA name"]]\
        .drop_duplicates(["Longitude", "Latitude"]).reset_index(drop=True)
    cats = real["Crime type"].to_numpy()
    outcomes = real["Last outcome category"].to_numpy()
    rng = np.random.default_rng(seed)
    files, done, i = [], 0, 0
    while done < n_rows:
        n = min(ROWS_PER_FILE, n_rows - done)
        month = f"{year}-{i % months + first_month:02d}"
        force = f"SYNTHETIC force {i // months + 1:02d}"
        p = places.iloc[rng.integers(0, len(places), n)].reset_index(drop=True)
        pick = rng.integers(0, len(cats), n)
        ids = [f"{v:064x}" for v in rng.integers(0, 2**63, n, dtype=np.int64)]
        df = pd.DataFrame({
            "Crime ID": [f"{i:06x}{h[6:]}" for h in ids], "Month": month,
            "Reported by": force, "Falls within": force,
            "Longitude": p["Longitude"], "Latitude": p["Latitude"],
            "Location": p["Location"] + f" ({force})",  # no key clashes between forces
            "LSOA code": p["LSOA code"], "LSOA name": p["LSOA name"],
            "Crime type": cats[pick], "Last outcome category": outcomes[pick], "Context": ""})
        asb = df["Crime type"] == "Anti-social behaviour"  # police.uk gives ASB no crime ID
        df.loc[asb, "Crime ID"] = ""
        df.loc[asb, "Last outcome category"] = ""
        path = out / f"{month}-synthetic-{year}-{i:03d}-street.csv"
        df[COLUMNS].to_csv(path, index=False)
        files.append(path)
        done += n
        i += 1
    return files


def ingest(files: list[Path], store: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `geo_api ingest` in a child process."""
    geo_api = str(Path(sys.executable).with_name("geo_api"))
    env = {**os.environ, "GEO_API_STORE_DIR": str(store)}
    got = timed_child([geo_api, "ingest", *map(str, files)], env, store.parent)
    if got is None:
        subprocess.run([geo_api, "ingest", *map(str, files)], env=env, check=False)
        raise SystemExit("the ingest failed (its output is above)")
    return got


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=6_000_000)
    ap.add_argument("--incremental-rows", type=int, default=500_000,
                    help="then ingest this many new rows (a later month) into the largest "
                         "store: the incremental-month case (0: skip)")
    ap.add_argument("--order", choices=("glob", "force"), default="glob")
    args = ap.parse_args()
    sizes = sorted({max(ROWS_PER_FILE, args.rows // 6), args.rows})
    print(f"SYNTHETIC police.uk-shaped years (points in the shipped force area, real snap "
          f"points reused), {ROWS_PER_FILE:,} rows per file")
    print(f"{'rows':>10s} {'files':>6s} {'seconds':>8s} {'rows/s':>9s} {'peak RSS':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            d = Path(tmp) / f"n{n}"
            (d / "csv").mkdir(parents=True)
            t = time.perf_counter()
            files = write_synthetic_year(d / "csv", n)
            gen = time.perf_counter() - t
            secs, rss = ingest(sorted(files) if args.order == "glob" else files, d / "store")
            print(f"{n:10,d} {len(files):6d} {secs:8.1f} {n / secs:9,.0f} {rss:7.0f} MB"
                  f"   (generating the files took {gen:.0f} s)")
        if args.incremental_rows:
            d = Path(tmp) / f"n{sizes[-1]}"
            (d / "inc").mkdir()
            inc = write_synthetic_year(d / "inc", args.incremental_rows, seed=2022, year=2022,
                                       months=1)
            size_mb = sum(p.stat().st_size for p in (d / "store").rglob("*.parquet"))
            secs, rss = ingest(inc, d / "store")
            print(f"incremental: a new month of {args.incremental_rows:,} rows into the "
                  f"{sizes[-1]:,}-row store ({size_mb / 2**20:,.0f} MB of partitions): "
                  f"{secs:.1f} s, peak RSS {rss:.0f} MB (the 60M-row case: "
                  "bench_store_60m.py)")
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
