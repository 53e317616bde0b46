"""Ingest: parse + validate, classify, join to every layer, write one snapshot.

Error policy (``on_error``):

- ``"reject"`` (default): any row error rejects the whole file; the store is unchanged
  and the error lists every bad row (line, field, message, value).
- ``"quarantine"``: bad rows are stored in the ``quarantine`` table with their errors,
  good rows are loaded; both happen in one snapshot, so it is all or nothing.

File-level faults (encoding, header, columns, empty) always reject.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo_api.analysis.join import AreaIndex, build_area_index, h3_cells, lookup, lookup_many
from geo_api.data.boundaries import BoundarySet
from geo_api.data.ingest.classify import classify_force, classify_police_uk
from geo_api.data.ingest.parse import parse_file
from geo_api.data.store.base import H3_RESOLUTIONS, LAYER_COLUMNS, IngestReport
from geo_api.errors import IngestRejected, InvalidParameter

FORCE_AREA_TOLERANCE_M = 250.0
HASHED = ("month", "occurred_at", "crime_category", "ho_code", "outcome", "context",
          "location_text", "lsoa_code_source", "lon", "lat", "knife_sharp_instrument", "alcohol",
          "domestic", "victim_age", "suspect_age", "public_place", "location_type")


@dataclass(frozen=True)
class JoinIndexes:
    """Area indexes for every layer plus the force-area test, for one boundary version."""

    boundaries: BoundarySet
    areas: dict[str, AreaIndex]

    def in_force_area(self, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """Inside the force area, or within ``FORCE_AREA_TOLERANCE_M`` of it (snapped points)."""
        inside = lookup(self.areas["lad"], x_m, y_m) >= 0
        if (~inside).any():
            import shapely

            fa = shapely.union_all(self.areas["lad"].geoms)
            near = shapely.dwithin(fa, shapely.points(x_m[~inside], y_m[~inside]),
                                   FORCE_AREA_TOLERANCE_M)
            inside[~inside] = near
        return inside

    def join(self, x_m: np.ndarray, y_m: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        """Area codes (NaN outside a layer) and H3 ids (0 without location) per point."""
        idx = lookup_many(self.areas, x_m, y_m)
        out = {}
        for name, col in LAYER_COLUMNS.items():
            codes = self.boundaries.get(name).gdf["code"].to_numpy()
            out[col] = pd.Categorical.from_codes(idx[name], categories=codes)
        for r, cells in h3_cells(lon, lat, H3_RESOLUTIONS).items():
            out[f"h3_r{r}"] = cells
        return pd.DataFrame(out)


def build_join_indexes(boundaries: BoundarySet) -> JoinIndexes:
    """Build the area index of every layer (a few seconds for the shipped layers)."""
    areas = {name: build_area_index(layer.gdf.geometry.values)
             for name, layer in boundaries.layers.items()}
    return JoinIndexes(boundaries=boundaries, areas=areas)


def _row_hash(frame: pd.DataFrame) -> pd.Series:
    cols = frame[list(HASHED)].apply(lambda c: c.map(str))
    return pd.Series([f"{v:016x}" for v in pd.util.hash_pandas_object(cols, index=False)],
                     index=frame.index)


def prepare(parsed_frame: pd.DataFrame, kind: str, joins: JoinIndexes) -> pd.DataFrame:
    """Classify and join validated rows; returns the frame the store writes."""
    classified = (classify_police_uk if kind == "police_uk" else classify_force)(parsed_frame)
    codes = joins.join(classified["x_m"].to_numpy(float), classified["y_m"].to_numpy(float),
                       classified["lon"].to_numpy(float), classified["lat"].to_numpy(float))
    codes.index = classified.index
    out = pd.concat([classified, codes], axis=1)
    out["row_hash"] = _row_hash(out)
    return out


def ingest_bytes(store, joins: JoinIndexes, data: bytes, name: str, kind: str = "auto",
                 on_error: str = "reject", outside_area: str | None = None) -> IngestReport:
    """Validate, classify, join and write one file. Raises ``IngestRejected`` (store unchanged)."""
    return ingest_many(store, joins, [(name, data)], kind=kind, on_error=on_error,
                       outside_area=outside_area, progress=False)


def ingest_files(store, joins: JoinIndexes, paths: list[Path], kind: str = "auto",
                 on_error: str = "reject", outside_area: str | None = None,
                 progress: bool = True) -> IngestReport:
    """Ingest files from disk as ONE snapshot (all or nothing), with a progress bar."""
    items = ((Path(p).name, Path(p).read_bytes()) for p in paths)
    return ingest_many(store, joins, items, kind=kind, on_error=on_error,
                       outside_area=outside_area, progress=progress, total=len(paths))


def ingest_many(store, joins: JoinIndexes, items, kind: str = "auto", on_error: str = "reject",
                outside_area: str | None = None, progress: bool = True,
                total: int | None = None) -> IngestReport:
    """Ingest (name, bytes) items as one snapshot; a later item wins on the same offence key."""
    from tqdm import tqdm

    if on_error not in ("reject", "quarantine"):
        raise InvalidParameter(f"on_error must be 'reject' or 'quarantine', not {on_error!r}")
    frames, quarantines, names, errors, n_rows, kinds = [], [], [], [], 0, set()
    warnings: list[str] = []
    digest = hashlib.sha256()
    for name, data in tqdm(items, desc="validating + joining", unit="file", total=total,
                           disable=not progress):
        parsed = parse_file(data, name, joins.in_force_area, kind=kind, outside_area=outside_area)
        if parsed.errors and on_error == "reject":
            raise IngestRejected(parsed.name, parsed.errors, n_rows=parsed.n_rows)
        if parsed.errors:
            q = pd.DataFrame([e.__dict__ for e in parsed.errors])
            q["message"] = parsed.name + ": " + q["message"]
            quarantines.append(q)
            errors += [f"{parsed.name}: {e}" for e in parsed.errors]
        warnings += [f"{parsed.name}: {w}" for w in parsed.warnings]
        good = parsed.frame[~parsed.frame["line"].isin(parsed.bad_lines)]
        frames.append(prepare(good, parsed.kind, joins))
        digest.update(parsed.sha256.encode())
        names.append(parsed.name)
        n_rows += parsed.n_rows
        kinds.add(parsed.kind)
    if not frames:
        raise InvalidParameter("no files to ingest")
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[~frame["offence_key"].duplicated(keep="last")]
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else None
    label = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]} ({len(names)} files)"
    kind_label = "+".join(sorted(kinds))
    sha = parsed.sha256 if len(names) == 1 else digest.hexdigest()
    counts = store.write(frame, {"file": label, "kind": kind_label, "sha256": sha,
                                 "n_rows": n_rows, "boundaries_version": joins.boundaries.version},
                         quarantine)
    return IngestReport(file=label, kind=kind_label, sha256=sha, n_rows=n_rows,
                        inserted=counts["inserted"], updated=counts["updated"],
                        unchanged=counts["unchanged"], quarantined=counts["quarantined"],
                        no_location=int((~frame["has_location"]).sum()),
                        dataset_version=counts["dataset_version"], errors=errors[:100],
                        warnings=warnings[:100], n_warnings=len(warnings))
