"""Benchmark: the national batch (`geo_api batch`) on a SYNTHETIC police.uk-shaped input -
one process without Dask vs a Dask LocalCluster of 1 and 2 worker processes, in the same
run: rows/s and the largest process's peak RSS.

Run: `.venv/bin/python benchmarks/bench_batch.py [--rows 1200000]`. The input is the
SYNTHETIC generator of bench_ingest_stream.py (police.uk-shaped files of 12,000 rows, real
snap points of the shipped force area reused - a density stress test, not data to
analyse). The issue's 60M rows would take hours to generate and process on this 2-core
machine; the rows/s measured here and the files-as-tasks design give the estimate printed
at the end (the work per file is independent, so it scales with workers until the shared
file system or the driver's sums bind).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import timed_child
from bench_ingest_stream import write_synthetic_year


def run(files: list[Path], out: Path, workers: int) -> tuple[float, float]:
    """(seconds, peak RSS MB of the largest process) of `geo_api batch` in a child."""
    geo_api = str(Path(sys.executable).with_name("geo_api"))
    argv = [geo_api, "batch", "--out", str(out), "--workers", str(workers), *map(str, files)]
    got = timed_child(argv, dict(os.environ), out.parent)
    if got is None:
        subprocess.run(argv, check=False)
        raise SystemExit("the batch failed (its output is above)")
    return got


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "csv").mkdir()
        files = write_synthetic_year(tmp / "csv", args.rows)
        print(f"SYNTHETIC input: {args.rows:,} rows in {len(files)} police.uk-shaped files")
        print(f"{'path':40s} {'seconds':>8s} {'rows/s':>9s} {'peak RSS':>9s}")
        results = {}
        for name, workers in (("one process, no Dask", 0), ("Dask LocalCluster, 1 worker", 1),
                              ("Dask LocalCluster, 2 workers", 2)):
            secs, rss = run(files, tmp / f"out-{workers}", workers)
            results[workers] = secs
            print(f"{name:40s} {secs:8.1f} {args.rows / secs:9,.0f} {rss:7.0f} MB")
        speedup = results[1] / results[2]
        print(f"2 workers vs 1: {speedup:.2f}x; vs one process: {results[0] / results[2]:.2f}x")
        per_worker = args.rows / results[1]
        for n in (2, 8, 32):
            minutes = 60e6 / (per_worker * n * min(1.0, speedup / 2)) / 60
            print(f"estimate, 60M rows on {n} workers at the measured 2-worker efficiency: "
                  f"{minutes:,.0f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
