"""Benchmark: the national batch (`geo_api batch`) on a SYNTHETIC police.uk-shaped input -
one process without Dask vs a Dask LocalCluster of 1 and 2 worker processes, in the same
run: rows/s and the largest process's peak RSS.

Run: `.venv/bin/python benchmarks/bench_batch.py [--rows 1200000]`, or for a national
decade `--months 120 --rows-per-month 500000 --runs 2,0` (60M rows; about 14 GB of CSV).
The input is the SYNTHETIC generator of bench_ingest_stream.py (police.uk-shaped files of
12,000 rows, real snap points of the shipped force area reused - a density stress test, not
data to analyse); with --months, one national month is generated and copied to that many
months (Month field and file name changed, rows otherwise the same). The work per file is
independent, so it scales with workers until the shared file system or the driver's sums
bind; the estimate printed at the end extrapolates the measured 1 vs 2 worker efficiency.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import timed_child
from bench_ingest_stream import ROWS_PER_FILE, write_synthetic_year


def run(files: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """(seconds, peak RSS MB of the largest process) of `geo_api batch` in a child."""
    geo_api = str(Path(sys.executable).with_name("geo_api"))
    argv = [geo_api, "batch", "--out", str(out), "--workers", str(workers), *map(str, files)]
    got = timed_child(argv, dict(os.environ), out.parent)
    if got is None:
        subprocess.run(argv, check=False)
        raise SystemExit("the batch failed (its output is above)")
    return got


def copy_to_months(month_files: list[Path], out: Path, months: int,
                   first_year: int = 2011) -> list[Path]:
    """The SYNTHETIC national month ``month_files`` (all of month 2021-01) copied to
    ``months`` consecutive months from ``first_year``-01: each copy's Month field and file
    name changed, its rows otherwise the same (a decade's volume without generating it)."""
    files = []
    for k in range(months):
        month = f"{first_year + k // 12}-{k % 12 + 1:02d}"
        for f in month_files:
            data = f.read_bytes().replace(b",2021-01,", f",{month},".encode())
            path = out / f.name.replace("2021-01", month, 1)
            path.write_bytes(data)
            files.append(path)
    return files


PATHS = {0: "one process, no Dask", 1: "Dask LocalCluster, 1 worker",
         2: "Dask LocalCluster, 2 workers"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_200_000,
                    help="rows of a SYNTHETIC year (ignored with --months)")
    ap.add_argument("--months", type=int, default=0,
                    help="instead: one SYNTHETIC national month of --rows-per-month rows "
                         "copied to this many months (120: a national decade, 60M rows)")
    ap.add_argument("--rows-per-month", type=int, default=500_000)
    ap.add_argument("--runs", default="0,1,2",
                    help="which paths to run: 0 one process, 1 / 2 Dask workers")
    ap.add_argument("--workdir", type=Path, help="write the input here (kept for a re-run)")
    args = ap.parse_args()
    runs = [int(r) for r in args.runs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = (args.workdir or tmp) / "csv"
        csv.mkdir(parents=True, exist_ok=True)
        if args.months:
            files = sorted(csv.glob("*.csv"))
            n_rows = args.months * args.rows_per_month
            if len(files) != args.months * -(-args.rows_per_month // ROWS_PER_FILE):
                for f in files:
                    f.unlink()
                (tmp / "month").mkdir()
                one = write_synthetic_year(tmp / "month", args.rows_per_month, months=1)
                files = copy_to_months(one, csv, args.months)
            print(f"SYNTHETIC input: {n_rows:,} rows in {len(files)} police.uk-shaped files "
                  f"(one national month of {args.rows_per_month:,} rows copied to "
                  f"{args.months} months)")
        else:
            n_rows = args.rows
            files = write_synthetic_year(csv, args.rows)
            print(f"SYNTHETIC input: {n_rows:,} rows in {len(files)} police.uk-shaped files")
        print(f"{'path':40s} {'seconds':>8s} {'rows/s':>9s} {'peak RSS':>9s}")
        results = {}
        for workers in runs:
            out = tmp / f"out-{workers}"
            secs, rss = run(files, out, workers)
            shutil.rmtree(out, ignore_errors=True)  # a decade's rows are gigabytes
            results[workers] = secs
            print(f"{PATHS[workers]:40s} {secs:8.1f} {n_rows / secs:9,.0f} {rss:7.0f} MB",
                  flush=True)
        if 1 in results and 2 in results:
            speedup = results[1] / results[2]
            print(f"2 workers vs 1: {speedup:.2f}x", end="")
            print(f"; vs one process: {results[0] / results[2]:.2f}x" if 0 in results else "")
            per_worker = n_rows / results[1]
            for n in (2, 8, 32):
                minutes = 60e6 / (per_worker * n * min(1.0, speedup / 2)) / 60
                print(f"estimate, 60M rows on {n} workers at the measured 2-worker "
                      f"efficiency: {minutes:,.0f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
