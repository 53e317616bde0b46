"""National batch on Dask: police.uk CSVs -> validated, classified, joined rows as
partitioned GeoParquet (by force and month) and monthly counts per area and per H3 cell.

Each file is one task, run by ``prepare_file`` - the same parse, validation, classification
and join the store's ingest uses (no second implementation) - on a ``dask.distributed``
worker that builds the boundary join indexes once and keeps them. The driver sums the
per-file counts as tasks finish, so its memory holds the counts, never the rows.

Runs on a ``LocalCluster`` (``n_workers`` processes, one thread each) or on an existing
cluster (``scheduler="tcp://host:8786"``): there the workers need geo_api installed and the
input files, the boundaries and ``out_dir`` on a path they all see (a shared file system).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from geo_api.data.boundaries import load_boundaries
from geo_api.data.ingest.pipeline import JoinIndexes, build_join_indexes, prepare_file
from geo_api.data.store.base import LAYER_COLUMNS
from geo_api.errors import IngestRejected

KEYS = ["layer", "code", "month"]
H3_KEYS = ["h3_r9", "month"]
_JOINS: dict[str, JoinIndexes] = {}  # boundaries dir -> join indexes, per worker process


def _joins(boundaries_dir: str) -> JoinIndexes:
    if boundaries_dir not in _JOINS:
        _JOINS[boundaries_dir] = build_join_indexes(load_boundaries(Path(boundaries_dir)))
    return _JOINS[boundaries_dir]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower() or "unknown"


def process_file(path: str, boundaries_dir: str, out_dir: str | None) -> dict:
    """One file: prepare it (rejecting it whole on any bad row, as ingest does), write its
    rows as GeoParquet under ``out_dir/rows/force=<force>/month=<YYYY-MM>/`` (EPSG:27700
    points), and return its counts: per (layer, code, month) and per (H3 r9 cell, month),
    each with the violence/robbery/weapons subset."""
    import geopandas as gpd  # noqa: PLC0415 - lazy: heavy import (geopandas)


    p = Path(path)
    try:  # bad rows are counted and left out; a file that cannot be read is reported
        batch, _, warnings = prepare_file(p.name, p.read_bytes(), _joins(boundaries_dir),
                                          on_error="quarantine")
    except IngestRejected as exc:
        return {"areas": None, "h3": None, "rows": 0, "rows_read": exc.n_rows or 0,
                "quarantined": 0, "warnings": 0, "rejected": f"{p.name}: {exc.user_msg}"}
    if batch.frame is None:  # prepare_file keeps the rows as a frame (Arrow only for a store)
        raise TypeError(f"{p.name}: prepare_file returned its rows as Arrow, not a DataFrame")
    df = batch.frame[batch.frame["has_location"]]
    month = df["month"].dt.strftime("%Y-%m")
    vrw = df["violence_robbery_weapons"].fillna(False).astype(int)
    parts = []
    for layer, col in LAYER_COLUMNS.items():
        codes = df[col].astype(object)
        g = pd.DataFrame({"code": codes, "month": month, "count": 1, "count_vrw": vrw})
        g = g[g["code"].notna()].groupby(["code", "month"], as_index=False).sum()
        parts.append(g.assign(layer=layer))
    areas = pd.concat(parts, ignore_index=True)[[*KEYS, "count", "count_vrw"]]
    h3 = pd.DataFrame({"h3_r9": df["h3_r9"].to_numpy(np.uint64).astype(np.int64),
                       "month": month, "count": 1, "count_vrw": vrw})
    h3 = h3.groupby(H3_KEYS, as_index=False).sum()
    if out_dir is not None:
        force = df["falls_within"].fillna("unknown").map(_slug)
        keep = [c for c in ("offence_key", "source", "crime_category", "outcome",
                            "violence_robbery_weapons", *LAYER_COLUMNS.values(), "h3_r9",
                            "x_m", "y_m", "lon", "lat") if c in df.columns]
        rows = gpd.GeoDataFrame(df[keep].assign(month=month.to_numpy()),
                                geometry=gpd.points_from_xy(df["x_m"], df["y_m"]),
                                crs=27700)
        rows["h3_r9"] = rows["h3_r9"].to_numpy(np.uint64).astype(np.int64)
        for (f, m), part in rows.groupby([force.to_numpy(), month.to_numpy()]):
            d = Path(out_dir) / "rows" / f"force={f}" / f"month={m}"
            d.mkdir(parents=True, exist_ok=True)
            part.drop(columns="month").to_parquet(d / f"{p.stem}.parquet", index=False)
    return {"areas": areas, "h3": h3, "rows": len(df), "rows_read": batch.rows_read,
            "quarantined": batch.quarantined, "warnings": len(warnings), "rejected": None}


class Totals:
    """Running sums of per-file counts (the driver's only state).

    Per-file counts are kept until they hold as many rows as the sums so far, then summed
    in one group-by: each row is summed a bounded number of times (amortised), where
    summing after every file would re-group the whole running total per file (a national
    decade: thousands of files, hundreds of thousands of area-months)."""

    def __init__(self) -> None:
        self._areas = _Sum(KEYS)
        self._h3 = _Sum(H3_KEYS)
        self.rows = self.rows_read = self.quarantined = self.files = 0
        self.rejected: list[str] = []

    @property
    def areas(self) -> pd.DataFrame | None:
        return self._areas.total()

    @property
    def h3(self) -> pd.DataFrame | None:
        return self._h3.total()

    def add(self, part: dict) -> None:
        self.files += 1
        self.rows_read += part["rows_read"]
        if part["rejected"]:
            self.rejected.append(part["rejected"])
            return
        self._areas.add(part["areas"])
        self._h3.add(part["h3"])
        self.rows += part["rows"]
        self.quarantined += part["quarantined"]


class _Sum:
    """Sum of count frames by ``keys`` (see ``Totals``)."""

    def __init__(self, keys: list[str]):
        self.keys = keys
        self.acc: pd.DataFrame | None = None
        self.pending: list[pd.DataFrame] = []
        self.pending_rows = 0

    def add(self, frame: pd.DataFrame) -> None:
        self.pending.append(frame)
        self.pending_rows += len(frame)
        if self.pending_rows >= max(len(self.acc) if self.acc is not None else 0, 10_000):
            self._reduce()

    def _reduce(self) -> None:
        if self.pending:
            parts = ([self.acc] if self.acc is not None else []) + self.pending
            self.acc = pd.concat(parts).groupby(self.keys, as_index=False).sum()
            self.pending, self.pending_rows = [], 0

    def total(self) -> pd.DataFrame | None:
        self._reduce()
        return self.acc


def run(paths: Iterable[Path], boundaries_dir: Path, out_dir: Path | None, *,
        scheduler: str | None = None, n_workers: int = 2, local: bool = False) -> Totals:
    """Process every file (one task each) and write the counts (``out_dir/area_counts.parquet``,
    ``out_dir/h3_counts.parquet``) and the rows (``out_dir/rows/``). ``local=True`` runs
    in this process without Dask (the single-process path the benchmark compares with)."""
    files = [str(p) for p in paths]  # plain strings: what process_file takes (and pickles)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    out = None if out_dir is None else str(out_dir)
    totals = Totals()
    if local:
        for file in files:
            totals.add(process_file(file, str(boundaries_dir), out))
    else:
        from distributed import Client, LocalCluster, as_completed  # noqa: PLC0415 - lazy: batch only

        cluster = None if scheduler else LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True,
            dashboard_address=None, memory_limit=0)
        try:
            with Client(scheduler or cluster) as client:
                futures = client.map(process_file, files, boundaries_dir=str(boundaries_dir),
                                     out_dir=out, pure=False)
                for future in as_completed(futures):
                    totals.add(future.result())
                    future.release()
        finally:
            if cluster is not None:
                cluster.close()
    if out_dir is not None:
        empty_a = pd.DataFrame(columns=[*KEYS, "count", "count_vrw"])
        empty_h = pd.DataFrame(columns=[*H3_KEYS, "count", "count_vrw"])
        (totals.areas if totals.areas is not None else empty_a).sort_values(KEYS).to_parquet(
            Path(out_dir) / "area_counts.parquet", index=False)
        (totals.h3 if totals.h3 is not None else empty_h).sort_values(H3_KEYS).to_parquet(
            Path(out_dir) / "h3_counts.parquet", index=False)
    return totals
