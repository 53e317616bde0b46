"""DuckDB embedded store: immutable snapshots, an atomic pointer swap, Parquet partitions.

DuckDB allows one writing process per database file. Writers therefore never touch what
readers have open: an ingest writes a new snapshot (a catalog and a manifest of Parquet
partitions - ``duckdb_parts``: only the partitions it changes are rewritten), then
atomically replaces the ``CURRENT`` pointer (``os.replace``). Readers (the API, any number
of processes) open snapshots read-only and switch to the new one on their next query; a
failed ingest deletes what it wrote, so the store is never half-loaded. A lock file
serialises writers (a second concurrent ingest gets ``StoreBusy``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from geo_api.data.boundaries import CITY_LAD
from geo_api.data.store.base import (
    FLAG_COLUMNS,
    H3_RESOLUTIONS,
    LAYER_COLUMNS,
    FileBatch,
    FileReport,
    OffenceFilter,
)
from geo_api.data.store.derive import Join
from geo_api.data.store.duckdb_parts import (
    CATALOG,
    CATALOG_TABLES,
    PARTS,
    manifest_files,
    parquet_list,
    read_manifest,
    sql_str,
    write_snapshot,
)
from geo_api.data.store.duckdb_schema import (
    BATCH_COLUMNS,
    OFFENCE_COLUMNS,
    OFFENCE_TABLE,
    SCHEMA_VERSION,
)
from geo_api.errors import InvalidParameter, StoreBusy, StoreEmpty

# The one definition of the study areas (``boundaries.CITY_LAD``): an offence is in the city
# when the district it was joined to at ingest is the city's, in the force area when it was
# joined to any district
STUDY_AREA_SQL = {"city": f"lad_code = '{CITY_LAD}'", "force": "lad_code IS NOT NULL"}
GROUP_SQL = {
    "all": "TRUE",
    "violence_robbery_weapons": "violence_robbery_weapons",
    "vrn_serious_violence": "vrn_serious_violence IS TRUE",
    "knife_enabled_serious_violence": "knife_enabled IS TRUE",
}


def where_sql(flt: OffenceFilter) -> tuple[str, list]:
    """SQL WHERE clause and parameters for a filter (columns and groups are allow-listed;
    standard SQL that DuckDB and PostgreSQL both run, ``?`` placeholders)."""
    parts, params = [], []
    if flt.group not in GROUP_SQL:
        raise InvalidParameter(f"unknown group {flt.group!r}; choose one of {sorted(GROUP_SQL)}")
    parts.append(GROUP_SQL[flt.group])
    # month-dated rows by the months the interval covers at least half of (MONTH_RULE),
    # rows with a time by the instant
    first, stop = flt.month_span()
    if flt.start is not None:
        parts.append("(CASE WHEN occurred_at IS NULL THEN month >= ? ELSE occurred_at >= ? END)")
        params += [first, flt.start]
    if flt.end is not None:
        parts.append("(CASE WHEN occurred_at IS NULL THEN month < ? ELSE occurred_at < ? END)")
        params += [stop, flt.end]
    if flt.crime_categories:
        parts.append(f"crime_category IN ({', '.join('?' * len(flt.crime_categories))})")
        params += list(flt.crime_categories)
    for name, value in flt.flags.items():
        if name not in FLAG_COLUMNS:
            raise InvalidParameter(f"unknown flag {name!r}; choose from {list(FLAG_COLUMNS)}")
        parts.append(f"{name} IS {'TRUE' if value else 'FALSE'}")
    if flt.source:
        parts.append("source = ?")
        params.append(flt.source)
    if flt.bbox_lonlat:
        parts.append("lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?")
        xmin, ymin, xmax, ymax = flt.bbox_lonlat
        params += [xmin, xmax, ymin, ymax]
    if flt.study_area is not None:
        if flt.study_area not in STUDY_AREA_SQL:
            raise InvalidParameter(f"study_area must be one of {sorted(STUDY_AREA_SQL)}")
        parts.append(STUDY_AREA_SQL[flt.study_area])
    if flt.hours:
        h0, h1 = flt.hours
        op = "AND" if h0 < h1 else "OR"
        parts.append(f"(EXTRACT(hour FROM occurred_at) >= ? {op} "
                     "EXTRACT(hour FROM occurred_at) < ?)")
        params += [h0, h1]
    return " AND ".join(f"({p})" for p in parts), params


class Snapshot:
    """One snapshot file opened read-only, shared by the readers pinned to it.

    Its connection is closed when it is no longer current and its last reader has ended,
    never while a request still uses it.
    """

    def __init__(self, path: Path):
        self.name = path.name
        if path.is_dir():
            self.con = _open_partitioned(path)
        else:  # a single-file snapshot written by an earlier version
            self.con = duckdb.connect(str(path), read_only=True)
        self.refs = 0
        self.retired = False
        meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        self.dataset_version = meta.get("dataset_version")
        self.boundaries_version = meta.get("boundaries_version")
        self.schema_version = int(meta.get("schema_version", 1))
        self.cache: dict = {}  # per-snapshot memo (sources, months loaded)


class Reader:
    """Queries against ONE pinned snapshot: every query of a request sees the same data.

    Obtain with ``DuckDBStore.reader()`` (a context manager). The cursor is opened on first
    use, so a request that needs no query (a cached tile) costs no DuckDB work.
    """

    def __init__(self, snap: Snapshot):
        self._snap = snap
        self._cur: duckdb.DuckDBPyConnection | None = None

    def _q(self) -> duckdb.DuckDBPyConnection:
        if self._cur is None:
            self._cur = self._snap.con.cursor()
        return self._cur

    def _close(self) -> None:
        if self._cur is not None:
            self._cur.close()
            self._cur = None

    # the two ways queries return (a backend implements these and the SQL dialect below)
    MONTH_TEXT = "strftime(month, '%Y-%m')"

    @staticmethod
    def _round6(col: str) -> str:
        return f"round({col}, 6)"

    def _df(self, sql: str, params=()) -> pd.DataFrame:
        return self._q().execute(sql, list(params)).df()

    def _rows(self, sql: str, params=()) -> list[tuple]:
        return self._q().execute(sql, list(params)).fetchall()

    @property
    def snapshot_name(self) -> str:
        return self._snap.name

    def dataset_version(self) -> str | None:
        return self._snap.dataset_version

    def boundaries_version(self) -> str | None:
        return self._snap.boundaries_version

    def query_offences(self, flt: OffenceFilter, limit: int, offset: int,
                       columns: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
        """Matching rows (ordered by month, key) and the total number matched."""
        _check_columns(columns)
        where, params = where_sql(flt)
        n = self._rows(f"SELECT count(*) FROM offences WHERE {where}", params)[0][0]
        df = self._df(f"SELECT {', '.join(columns)} FROM offences WHERE {where} "
                      "ORDER BY month, offence_key LIMIT ? OFFSET ?", params + [limit, offset])
        return df, n

    def offence_by_key(self, key: str, columns: tuple[str, ...]) -> pd.DataFrame:
        """The row with ``offence_key`` = ``key`` (empty when there is none)."""
        _check_columns(columns)
        return self._df(f"SELECT {', '.join(columns)} FROM offences WHERE offence_key = ?",
                        [key])

    def area_counts(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        """Counts per area code for ``layer``, plus totals (matched, no location, outside)."""
        col = _layer_column(layer)
        where, params = where_sql(flt)
        df = self._df(f"SELECT {col} AS code, count(*) AS count FROM offences "
                      f"WHERE {where} AND {col} IS NOT NULL GROUP BY 1", params)
        matched, no_loc, outside = self._rows(
            f"SELECT count(*), count(*) FILTER (WHERE NOT has_location), "
            f"count(*) FILTER (WHERE has_location AND {col} IS NULL) FROM offences WHERE {where}",
            params)[0]
        return df, {"n_matched": matched, "n_no_location": no_loc, "n_outside_layer": outside,
                    "n_in_layer": int(df["count"].sum())}

    def points(self, flt: OffenceFilter) -> pd.DataFrame:
        """x_m, y_m (EPSG:27700) of matching offences with a location."""
        where, params = where_sql(flt)
        return self._df(f"SELECT x_m, y_m FROM offences WHERE {where} AND has_location",
                        params)

    def values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        """Selected (allow-listed) columns of all matching offences."""
        _check_columns(columns)
        where, params = where_sql(flt)
        return self._df(f"SELECT {', '.join(columns)} FROM offences WHERE {where}", params)

    def located_values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        """Selected (allow-listed) columns of matching offences that have a location."""
        _check_columns(columns)
        where, params = where_sql(flt)
        return self._df(
            f"SELECT {', '.join(columns)} FROM offences WHERE {where} AND has_location", params)

    def top_locations(self, flt: OffenceFilter, n: int) -> pd.DataFrame:
        """Most frequent locations (location text at one point; police.uk map points)."""
        where, params = where_sql(flt)
        return self._df(
            f"SELECT coalesce(location_text, 'unnamed point') AS name, "
            f"{self._round6('lon')} AS lon, {self._round6('lat')} AS lat, count(*) AS count "
            f"FROM offences WHERE {where} AND has_location GROUP BY 1, 2, 3 "
            "ORDER BY count DESC, name, lon, lat LIMIT ?", params + [n])

    def h3_cells(self, resolution: int, flt: OffenceFilter) -> np.ndarray:
        """H3 cell (uint64) of each matching offence with a location."""
        col = _layer_column(f"h3_r{resolution}")
        where, params = where_sql(flt)
        rows = self._df(f"SELECT {col} FROM offences WHERE {where} AND has_location", params)
        return rows[col].to_numpy(dtype=np.uint64)

    def _memo(self, key: str, sql: str, shape):
        """A small per-snapshot result (computed once per snapshot, shared by readers)."""
        cache = self._snap.cache
        if key not in cache:
            cache[key] = shape(self._rows(sql))
        return cache[key]

    def sources(self) -> set[str]:
        """Sources present in this snapshot."""
        return self._memo("sources", "SELECT DISTINCT source FROM offences",
                          lambda rows: {r[0] for r in rows})

    def months_loaded(self) -> tuple[str, ...]:
        """Months ('YYYY-MM') with at least one offence in this snapshot, ascending."""
        return self._memo("months", f"SELECT DISTINCT {self.MONTH_TEXT} AS m FROM offences "
                                    "WHERE month IS NOT NULL ORDER BY m",
                          lambda rows: tuple(r[0] for r in rows))

    def summary(self) -> dict:
        """What the snapshot holds (counted once per snapshot: /health asks often)."""
        n, n_loc, m0, m1 = self._memo(
            "summary", "SELECT count(*), count(*) FILTER (WHERE has_location), min(month), "
                       "max(month) FROM offences", lambda rows: rows[0])
        by_source = self._memo("by_source", "SELECT source, count(*) FROM offences GROUP BY 1",
                               dict)
        n_ingests = self._memo("n_ingests", "SELECT count(*) FROM ingests",
                               lambda rows: rows[0][0])
        return {"dataset_version": self.dataset_version(),
                "boundaries_version": self.boundaries_version(),
                "n_offences": n, "n_with_location": n_loc,
                "first_month": m0.isoformat()[:7] if m0 else None,
                "last_month": m1.isoformat()[:7] if m1 else None,
                "by_source": by_source, "n_ingests": n_ingests,
                "n_crime_id_other_month": self.n_crime_id_other_month()}

    def n_crime_id_other_month(self) -> int:
        """police.uk rows whose Crime ID is stored under more than one month (kept up to
        date by the partitioned store's writer; counted here otherwise)."""
        kept = self._rows("SELECT max(value) FROM meta WHERE key = 'n_crime_id_other_month'")
        if kept[0][0] is not None:
            return int(kept[0][0])
        return self._memo(
            "crime_id_other_month",
            "SELECT count(*) FROM offences WHERE source = 'police_uk' AND source_id IN ("
            "SELECT source_id FROM offences WHERE source = 'police_uk' AND source_id IS NOT NULL "
            "GROUP BY source_id HAVING count(DISTINCT month) > 1)",
            lambda rows: rows[0][0])

    def quarantine(self) -> pd.DataFrame:
        return self._df("SELECT * FROM quarantine ORDER BY ingest_id, line")

    def ingests(self) -> pd.DataFrame:
        """The ingest log: one row per file ingested (one per call in stores before schema 2)."""
        return self._df("SELECT * FROM ingests ORDER BY ingest_id")


class ReadThrough:
    """The ``Reader`` query methods on a store itself, each call pinning the current snapshot
    for just that call (one-off reads: CLI, scripts, tests); ``_READER`` names the reader
    class whose methods are offered."""

    _READER: type = Reader

    def __getattr__(self, name: str):
        if name.startswith("_") or not hasattr(self._READER, name):
            raise AttributeError(name)

        def call(*args, **kwargs):
            with self.reader() as r:
                return getattr(r, name)(*args, **kwargs)

        call.__doc__ = getattr(self._READER, name).__doc__
        return call

    def dataset_version(self) -> str | None:
        """Version of the current snapshot, or None for an empty store."""
        try:
            with self.reader() as r:
                return r.dataset_version()
        except StoreEmpty:
            return None


class DuckDBStore(ReadThrough):
    """Offence store in ``store_dir`` (snapshots ``snap-*.duckdb`` + ``CURRENT`` pointer).

    Read with ``with store.reader() as r: ...`` (one snapshot for the whole block; the API
    holds one reader per request). The query methods of ``Reader`` are also available on the
    store itself, each call pinning the current snapshot for just that call.
    """

    # ingest workers hand this store their rows as Arrow, these columns (see FileBatch)
    arrow_columns = BATCH_COLUMNS

    def __init__(self, store_dir: Path):
        self.dir = Path(store_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._retired: list[Snapshot] = []
        self._writing = False
        # the ingest's join, for a migration that joins area codes again (``derive``); the
        # service sets it
        self.rejoin: Join | None = None
        self._remove_orphans()

    def _remove_orphans(self) -> None:
        """Delete the snapshot a killed ingest left behind (named in PENDING and never made
        CURRENT), unless another process is writing right now."""
        try:
            with self.write_lock():
                self._drop_pending()
        except StoreBusy:
            pass

    def _drop_pending(self) -> None:
        pending = self.dir / "PENDING"
        try:
            name = pending.read_text().strip()
        except FileNotFoundError:
            return
        if name:
            self._remove_snapshot(name)
        pending.unlink(missing_ok=True)

    # -- pointer and readers ---------------------------------------------------------
    def _current_name(self) -> str | None:
        try:
            return (self.dir / "CURRENT").read_text().strip() or None
        except FileNotFoundError:
            return None

    def _acquire(self) -> Snapshot:
        name = self._current_name()
        if name is None:
            raise StoreEmpty("the store has no data yet: run `geo_api load-demo` or `geo_api ingest`")
        with self._lock:
            if self._current is None or self._current.name != name:
                old, self._current = self._current, Snapshot(self.dir / name)
                if old is not None:
                    old.retired = True
                    if old.refs == 0:
                        old.con.close()
                    else:
                        self._retired.append(old)
            self._current.refs += 1
            return self._current

    def _release(self, snap: Snapshot) -> None:
        with self._lock:
            snap.refs -= 1
            if snap.retired and snap.refs == 0:
                snap.con.close()
                self._retired.remove(snap)

    @contextmanager
    def reader(self):
        """Pin the current snapshot for the block; yields a ``Reader``."""
        snap = self._acquire()
        r = Reader(snap)
        try:
            yield r
        finally:
            r._close()
            self._release(snap)

    def close(self) -> None:
        with self._lock:
            for snap in [self._current, *self._retired]:
                if snap is not None:
                    snap.con.close()
            self._current, self._retired = None, []

    # -- writing ----------------------------------------------------------------------
    @contextmanager
    def write_lock(self):
        """The one-writer lock (a file lock across processes), taken at once or refused
        with StoreBusy; re-entrant within this store object, so an ingest takes it before
        validating its files and the write inside reuses it."""
        if self._writing:
            yield
            return
        fh = open(self.dir / ".write.lock", "w")  # noqa: SIM115 - held for the lock's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise StoreBusy("another ingest is writing the store; try again when it finishes") from None
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()


    def upgrade(self, boundaries_version: str) -> bool:
        """Bring a store of an older schema to ``SCHEMA_VERSION`` now (a write of no files:
        the migration every write makes first), so it is not served with columns derived
        by older rules until its next ingest. True if it did."""
        try:
            snap = self._acquire()
        except StoreEmpty:
            return False
        try:
            old = snap.schema_version < SCHEMA_VERSION
        finally:
            self._release(snap)
        if old:
            self.write([], boundaries_version)
        return old

    def write(self, files: Iterable[FileBatch], boundaries_version: str
              ) -> tuple[list[FileReport], str]:
        """Upsert each file in order (by ``offence_key``; changed rows by ``row_hash``).

        All files go into ONE new snapshot, each counted against the state the previous
        files left; the snapshot becomes current only if all of it succeeds. ``files`` may
        be a generator (the ingest streams: each file is prepared as it is written, and a
        file it rejects ends the write with nothing stored). Returns the reports and the
        dataset version (a hash of the content, so the same rows give the same version in
        any order). If nothing changed, the current snapshot and its version are kept.
        """
        with self.write_lock():
            self._drop_pending()  # leftovers of a killed ingest
            cur_name = self._current_name()
            new_name = f"snap-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
            (self.dir / "PENDING").write_text(new_name)  # until CURRENT names it
            try:
                (self.dir / new_name).mkdir()
                reports, version = write_snapshot(self.dir, cur_name, self.dir / new_name,
                                                  files, boundaries_version, self.rejoin)
                if version is None:
                    self._remove_snapshot(new_name)
                    return reports, self.dataset_version()
                tmp = self.dir / f"CURRENT.{uuid.uuid4().hex[:8]}"
                tmp.write_text(new_name)
                os.replace(tmp, self.dir / "CURRENT")
            except BaseException:
                self._remove_snapshot(new_name)
                raise
            finally:
                (self.dir / "PENDING").unlink(missing_ok=True)
            self._collect_garbage(keep={new_name, cur_name})
            return reports, version

    def _remove_snapshot(self, name: str, parts: bool = True) -> None:
        """Delete a snapshot (never the current one) and, with ``parts``, the part files
        written for it - only for a snapshot that never became current: later snapshots
        share the part files of earlier ones."""
        if not name.startswith("snap-") or name == self._current_name():
            return
        path = self.dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
            Path(f"{path}.wal").unlink(missing_ok=True)
        for f in (self.dir / PARTS).glob(f"{name}.*.parquet") if parts else ():
            f.unlink(missing_ok=True)

    def _collect_garbage(self, keep: set) -> None:
        """Delete snapshots other than ``keep`` and the part files none of those uses."""
        used = set()
        for name in filter(None, keep):
            if (self.dir / name).is_dir():
                used.update(manifest_files(self.dir, read_manifest(self.dir / name)))
        for p in self.dir.glob("snap-*"):
            name = p.name.removesuffix(".wal")  # a single-file snapshot's write-ahead log
            if name not in keep:
                self._remove_snapshot(name, parts=False)
        for f in (self.dir / PARTS).glob("*.parquet"):
            if f not in used:
                f.unlink(missing_ok=True)


def _open_partitioned(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection over a partitioned snapshot: its catalog attached read-only
    and ``offences`` a view over its Parquet files (or an empty table)."""
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true").fetchall()  # files never change
    con.execute(f"ATTACH {sql_str(path / CATALOG)} AS catalog (READ_ONLY)").fetchall()
    for table in CATALOG_TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM catalog.{table}").fetchall()
    files = manifest_files(path.parent, read_manifest(path))
    if files:
        con.execute("CREATE VIEW offences AS SELECT * EXCLUDE (source_id_hash) "
                    f"FROM read_parquet({parquet_list(files)})").fetchall()
    else:
        con.execute(f"CREATE TABLE {OFFENCE_TABLE}").fetchall()
    return con


def _check_columns(columns: tuple[str, ...]) -> None:
    bad = [c for c in columns if c not in OFFENCE_COLUMNS]
    if bad:
        raise InvalidParameter(f"unknown column(s) {bad}")


def _layer_column(layer: str) -> str:
    if layer.startswith("h3_r") and layer[4:].isdigit() and int(layer[4:]) in H3_RESOLUTIONS:
        return layer
    if layer not in LAYER_COLUMNS:
        raise InvalidParameter(f"unknown layer {layer!r}; choose one of "
                               f"{list(LAYER_COLUMNS) + [f'h3_r{r}' for r in H3_RESOLUTIONS]}")
    return LAYER_COLUMNS[layer]
