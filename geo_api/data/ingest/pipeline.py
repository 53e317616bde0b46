"""Ingest: parse + validate, classify, join to every layer, write one snapshot.

Error policy (``on_error``):

- ``"reject"`` (default): any row error rejects the whole file; the store is unchanged
  and the error lists every bad row (line, field, message, value).
- ``"quarantine"``: bad rows are stored in the ``quarantine`` table with their errors,
  good rows are loaded; both happen in one snapshot, so it is all or nothing.

File-level faults (encoding, header, columns, empty) always reject.

The files of one call go into one snapshot, each upserted in the given order and counted
against the state the previous files left (``FileReport``: inserted + updated + unchanged +
quarantined + rejected = rows read).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import multiprocessing as mp
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from geo_api.analysis.join import AreaIndex, PointJoin, build_area_index, lookup, nest
from geo_api.data.boundaries import CITY_COVERAGE, CITY_LAD, BoundarySet
from geo_api.data.ingest.classify import classify_force, classify_police_uk
from geo_api.data.ingest.parse import hash_columns, parse_file, per_distinct
from geo_api.data.store.base import (
    H3_RESOLUTIONS,
    LAYER_COLUMNS,
    FileBatch,
    FileReport,
    IngestReport,
    Store,
)
from geo_api.errors import IngestRejected, InvalidParameter

FORCE_AREA_TOLERANCE_M = 250.0
# Every stored field that comes from the file (the rest derive from these, the key and the
# boundaries), so an equal hash means an equal row and the dataset version can hash hashes.
HASHED = ("month", "occurred_at", "crime_category", "ho_code", "ho_description", "outcome",
          "context", "location_text", "lsoa_code_source", "falls_within", "lon", "lat",
          "knife_sharp_instrument", "alcohol", "domestic", "victim_age", "suspect_age",
          "public_place", "location_type")


@dataclass(frozen=True)
class JoinIndexes:
    """Area indexes for every layer plus the force-area test, for one boundary version."""

    boundaries: BoundarySet
    areas: dict[str, AreaIndex]

    def in_force_area(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """Inside the force area, or within ``FORCE_AREA_TOLERANCE_M`` of it (snapped points)."""
        inside = lookup(self.areas["lad"], x_m, y_m) >= 0
        if (~inside).any():
            near = shapely.dwithin(self.force_area, shapely.points(x_m[~inside], y_m[~inside]),
                                   FORCE_AREA_TOLERANCE_M)
            inside[~inside] = near
        return inside

    @functools.cached_property
    def force_area(self):
        """The union of the districts, prepared (built on first use, once)."""
        fa = shapely.union_all(self.areas["lad"].geoms)
        shapely.prepare(fa)
        return fa

    def join(self, x_m: np.ndarray, y_m: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        """Area codes (NaN outside a layer) and H3 ids (0 without location) per point."""
        idx, cells = self.point_join(x_m, y_m, lon, lat)
        idx = self.nested(idx, x_m, y_m)
        out = {}
        for name, col in LAYER_COLUMNS.items():
            codes = self.boundaries.get(name).gdf["code"].to_numpy()
            out[col] = pd.Categorical.from_codes(idx[name], categories=codes)
        for r in H3_RESOLUTIONS:
            out[f"h3_r{r}"] = cells[r]
        return pd.DataFrame(out)

    def nested(self, idx: dict[str, np.ndarray], x_m: np.ndarray, y_m: np.ndarray
               ) -> dict[str, np.ndarray]:
        """One study area for every layer: the district (``lad``) decides where a point
        is; a layer covering the city (wards, NPAs, OAs) gives a code only to points in
        the city's district and to every one of them (the nearest area where it has none
        - a sliver between boundary sets), a layer covering the force area only to points
        in a district. So per-layer totals equal the district totals."""
        lad = idx["lad"]
        city = lad == self.city_index
        out = dict(idx)
        for name in LAYER_COLUMNS:
            if name == "lad":
                continue
            parent = city if self.boundaries.get(name).meta.get("coverage") == CITY_COVERAGE \
                else lad >= 0
            out[name] = nest(idx[name], parent, self.areas[name], x_m, y_m)
        return out

    @functools.cached_property
    def city_index(self) -> int:
        """The city district's index in the ``lad`` layer (-3, matching nothing, without)."""
        codes = self.boundaries.get("lad").gdf["code"].tolist()
        return codes.index(CITY_LAD) if CITY_LAD in codes else -3

    @functools.cached_property
    def point_join(self) -> PointJoin:
        """The layers and H3 cells of points, remembered across the files of a process
        (police.uk reuses its map points; one thread: a file's points take a few ms a
        layer, and an ingest's worker processes keep the cores busy)."""
        return PointJoin({name: self.areas[name] for name in LAYER_COLUMNS}, H3_RESOLUTIONS)


JOIN_CACHE_FORMAT = 1  # bump when build_area_index's rasters change


def build_join_indexes(boundaries: BoundarySet, cache_dir: Path | None = None) -> JoinIndexes:
    """Build the area index of every layer (a few seconds for the shipped layers).

    With ``cache_dir``, each layer's label raster is kept there as a ``.npy`` named by the
    boundaries' content version, and later processes map it read-only (a fraction of a
    second; ingest workers share its pages) instead of rasterising again."""
    areas = {}
    for name, layer in boundaries.layers.items():
        geoms = layer.gdf.geometry.values
        path = (None if cache_dir is None else Path(cache_dir) /
                f"join-{boundaries.version}-{name}-f{JOIN_CACHE_FORMAT}.npy")
        areas[name] = _cached_index(geoms, path) if path else build_area_index(geoms)
    return JoinIndexes(boundaries=boundaries, areas=areas)


def _cached_index(geoms, path: Path) -> AreaIndex:
    meta_path = path.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        labels = np.load(path, mmap_mode="r")
        geoms = np.asarray(geoms, dtype=object)
        shapely.prepare(geoms)
        return AreaIndex(geoms=geoms, labels=labels, x0_m=meta["x0_m"], y0_m=meta["y0_m"],
                         pixel_m=meta["pixel_m"])
    except (OSError, ValueError, KeyError):
        pass  # not cached yet (or unreadable): build and keep it
    index = build_area_index(geoms)
    with contextlib.suppress(OSError):  # a read-only cache dir only costs the speed-up
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.save(fh, index.labels)
        os.replace(tmp, path)  # the raster before the metadata that makes it usable
        tmp_meta = meta_path.with_name(f".{meta_path.name}.{os.getpid()}")
        tmp_meta.write_text(json.dumps({"x0_m": index.x0_m, "y0_m": index.y0_m,
                                        "pixel_m": index.pixel_m}))
        os.replace(tmp_meta, meta_path)
    return index


def _row_hash(frame: pd.DataFrame) -> pd.Series:
    """64-bit hash (hex) of each row's ``HASHED`` fields, by value whatever the column dtype.

    Date-times are hashed as ISO text (not as ticks, which depend on the unit pandas chose),
    floats by value with one NaN, strings as they are, anything else (booleans, integers) as
    Python objects, so missing values hash alike (None, NA, NaN).
    Only distinct values are hashed (``categorize``), so this is cheap on repetitive columns.
    The hash is pandas' ``hash_pandas_object`` of those columns as a frame (``hash_columns``).
    """
    def by_value(col: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            return per_distinct(col, _iso_second)
        if pd.api.types.is_float_dtype(col.dtype):
            return col.where(col.notna(), np.nan)
        if not pd.api.types.is_string_dtype(col.dtype):  # e.g. boolean, Int64: as objects
            return col.astype(object)
        return col

    return hash_columns([by_value(frame[name]) for name in HASHED], frame.index)


def _iso_second(ts) -> str | None:
    """As ``Series.dt.strftime("%Y-%m-%dT%H:%M:%S")`` writes one value (missing for NaT)."""
    return None if pd.isna(ts) else ts.strftime("%Y-%m-%dT%H:%M:%S")


def prepare(parsed_frame: pd.DataFrame, kind: str, joins: JoinIndexes) -> pd.DataFrame:
    """Classify and join validated rows; returns the frame the store writes."""
    classified = (classify_police_uk if kind == "police_uk" else classify_force)(parsed_frame)
    codes = joins.join(classified["x_m"].to_numpy(float), classified["y_m"].to_numpy(float),
                       classified["lon"].to_numpy(float), classified["lat"].to_numpy(float))
    codes.index = classified.index
    out = pd.concat([classified, codes], axis=1)
    out["row_hash"] = _row_hash(out)
    return out


def ingest_bytes(store: Store, joins: JoinIndexes, data: bytes, name: str, kind: str = "auto",
                 on_error: str = "reject", outside_area: str | None = None) -> IngestReport:
    """Validate, classify, join and write one file. Raises ``IngestRejected`` (store unchanged)."""
    return ingest_many(store, joins, [(name, data)], kind=kind, on_error=on_error,
                       outside_area=outside_area, progress=False)


def ingest_files(store: Store, joins: JoinIndexes | None, paths: list[Path], kind: str = "auto",
                 on_error: str = "reject", outside_area: str | None = None,
                 progress: bool = True, workers: int = 1,
                 boundaries: BoundarySet | None = None,
                 join_cache_dir: Path | None = None) -> IngestReport:
    """Ingest files from disk as ONE snapshot (all or nothing), with a progress bar.

    ``workers`` > 1 (several files): that many forked processes build the join indexes
    once each and prepare the files (parse, validate, classify, join) while this process
    writes them in order, at most ``workers + 1`` files in flight; this process then needs
    only ``boundaries`` (for their version), not the indexes, so no process holds both the
    indexes and the writer's buffers."""
    if workers > 1 and len(paths) > 1:
        boundaries = boundaries or _joins(joins).boundaries
        prepared = _prepared_in_workers(paths, boundaries, joins, kind, on_error,
                                        outside_area, workers, join_cache_dir,
                                        store.arrow_columns)
        return ingest_many(store, joins, prepared, kind=kind, on_error=on_error,
                           outside_area=outside_area, progress=progress, total=len(paths),
                           boundaries_version=boundaries.version)
    items = ((Path(p).name, Path(p).read_bytes()) for p in paths)
    return ingest_many(store, joins, items, kind=kind, on_error=on_error,
                       outside_area=outside_area, progress=progress, total=len(paths))


_WORKER: dict = {}  # set before forking: the boundaries (and indexes, if built) to use


def _init_worker() -> None:
    if _WORKER.get("joins") is None:
        _WORKER["joins"] = build_join_indexes(_WORKER["boundaries"], _WORKER.get("cache_dir"))


def _prepare_path(path: str, kind: str, on_error: str, outside_area: str | None,
                  arrow_columns: tuple[str, ...] | None = None):
    """Worker: prepare one file (its rows as Arrow, these columns, when the store reads
    Arrow); a rejection comes back as a value (exceptions with dataclass fields do not
    survive pickling)."""
    try:
        batch, errors, warnings = prepare_file(Path(path).name, Path(path).read_bytes(),
                                               _WORKER["joins"], kind, on_error, outside_area)
        return ("ok", batch.as_arrow(arrow_columns) if arrow_columns else batch, errors,
                warnings)
    except FileRejected as exc:
        return ("rejected", exc.source, exc.errors, exc.n_rows, exc.report)


class Prepared:
    """A file prepared elsewhere: ``prepare_file``'s result, or its rejection."""

    def __init__(self, result):
        self.result = result


def _prepared_in_workers(paths, boundaries, joins, kind, on_error, outside_area, workers,
                         cache_dir=None, arrow_columns=None):
    _WORKER.update(boundaries=boundaries, joins=joins, cache_dir=cache_dir)
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"),
                             initializer=_init_worker) as pool:
        todo = iter(paths)

        def submit(p):
            return Path(p).name, pool.submit(_prepare_path, str(p), kind, on_error,
                                             outside_area, arrow_columns)

        flight = deque(submit(p) for p in itertools.islice(todo, workers + 1))
        while flight:
            name, future = flight.popleft()
            result = future.result()
            nxt = next(todo, None)
            if nxt is not None:
                flight.append(submit(nxt))
            yield name, Prepared(result)


@dataclass
class FileRejected(IngestRejected):
    """A file was rejected (nothing stored); ``report`` is its tally when its rows were read."""

    report: FileReport | None = None


def _rejected(exc: IngestRejected, sha256: str, kind: str) -> FileRejected:
    report = None if exc.n_rows is None else FileReport(
        file=exc.source, kind=kind, sha256=sha256, rows_read=exc.n_rows, rejected=exc.n_rows)
    return FileRejected(exc.source, exc.errors, n_rows=exc.n_rows, report=report)


def prepare_file(name: str, data: bytes, joins: JoinIndexes, kind: str = "auto",
             on_error: str = "reject",
             outside_area: str | None = None) -> tuple[FileBatch, list[str], list[str]]:
    """Parse, validate, classify and join one file; returns the batch, errors and warnings.

    Raises ``FileRejected`` for a file-level fault, or any row error with ``on_error="reject"``.
    """
    sha = hashlib.sha256(data).hexdigest()
    try:
        parsed = parse_file(data, name, joins.in_force_area, kind=kind, outside_area=outside_area,
                            sha256=sha)
    except IngestRejected as exc:
        raise _rejected(exc, sha, kind) from None
    if parsed.errors and on_error == "reject":
        raise _rejected(IngestRejected(parsed.name, parsed.errors, n_rows=parsed.n_rows),
                        sha, parsed.kind)
    quarantine = None
    if parsed.errors:
        quarantine = pd.DataFrame([e.__dict__ for e in parsed.errors])
        quarantine["message"] = parsed.name + ": " + quarantine["message"]
    bad = parsed.frame["line"].isin(parsed.bad_lines)
    batch = FileBatch(file=parsed.name, kind=parsed.kind, sha256=parsed.sha256,
                      rows_read=parsed.n_rows, frame=prepare(parsed.frame[~bad], parsed.kind, joins),
                      quarantine=quarantine, quarantined=int(bad.sum()))
    return (batch, [f"{parsed.name}: {e}" for e in parsed.errors],
            [f"{parsed.name}: {w}" for w in parsed.warnings])


def ingest_many(store: Store, joins: JoinIndexes | None, items, kind: str = "auto",
                on_error: str = "reject", outside_area: str | None = None,
                progress: bool = True, total: int | None = None,
                boundaries_version: str | None = None) -> IngestReport:
    """Ingest (name, bytes) items as one snapshot, file by file in the given order.

    Streaming: each file is read, validated, classified, joined and upserted before the next
    is read, so memory holds one file at a time whatever the number of files. The write is
    still all or nothing: a rejected file (``FileRejected``) ends the ingest and the
    snapshot it was writing is dropped, so nothing is stored. Each file is counted against
    the state the previous files left, so on the same offence key the later file wins.
    """

    if on_error not in ("reject", "quarantine"):
        raise InvalidParameter(f"on_error must be 'reject' or 'quarantine', not {on_error!r}")
    # a second ingest is refused at once, not after validating its files
    with store.write_lock():
        return _ingest_locked(store, joins, items, kind, on_error, outside_area, progress,
                              total, boundaries_version or _joins(joins).boundaries.version)


def _joins(joins: JoinIndexes | None) -> JoinIndexes:
    """The join indexes, which an ingest needs unless it is given what it takes from them."""
    if joins is None:
        raise ValueError("an ingest needs the join indexes or the boundaries (their version)")
    return joins


def _ingest_locked(store: Store, joins, items, kind, on_error, outside_area, progress, total,
                   boundaries_version) -> IngestReport:
    errors, warnings = [], []

    def batches():
        for name, data in tqdm(items, desc="ingesting", unit="file", total=total,
                               disable=not progress):
            if isinstance(data, Prepared):  # prepared by a worker process
                if data.result[0] == "rejected":
                    _, source, errs, n_rows, report = data.result
                    raise FileRejected(source, errs, n_rows=n_rows, report=report)
                batch, file_errors, file_warnings = data.result[1:]
            else:
                batch, file_errors, file_warnings = prepare_file(name, data, joins, kind,
                                                                 on_error, outside_area)
            del data  # the file's bytes are not needed once parsed
            errors.extend(file_errors)
            warnings.extend(file_warnings)
            yield batch

    stream = batches()
    first = next(stream, None)  # the first file is validated before the store is touched
    if first is None:
        raise InvalidParameter("no files to ingest")
    reports, version = store.write(itertools.chain([first], stream), boundaries_version)
    return IngestReport.from_files(reports, version, errors, warnings)
