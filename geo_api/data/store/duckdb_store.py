"""DuckDB embedded store with snapshot + atomic swap.

DuckDB allows one writing process per database file. Writers therefore never touch the
file readers have open: an ingest copies the current snapshot to a new file, writes and
checkpoints it, then atomically replaces the ``CURRENT`` pointer (``os.replace``). Readers
(the API, any number of processes) open snapshots read-only and switch to the new one on
their next query; a failed ingest deletes its new file, so the store is never half-loaded.
A lock file serialises writers (a second concurrent ingest gets ``StoreBusy``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from geo_api.data.store.base import (
    FLAG_COLUMNS,
    H3_RESOLUTIONS,
    LAYER_COLUMNS,
    FileBatch,
    FileReport,
    IngestCountError,
    OffenceFilter,
)
from geo_api.errors import InvalidParameter, StoreBusy, StoreEmpty

OFFENCE_DDL = """
CREATE TABLE IF NOT EXISTS offences (
  offence_key VARCHAR NOT NULL, source VARCHAR, source_id VARCHAR, month DATE,
  occurred_at TIMESTAMP, crime_category VARCHAR, ho_code VARCHAR, ho_description VARCHAR,
  outcome VARCHAR, context VARCHAR, location_text VARCHAR, lsoa_code_source VARCHAR,
  falls_within VARCHAR, lon DOUBLE, lat DOUBLE, x_m DOUBLE, y_m DOUBLE, has_location BOOLEAN,
  knife_sharp_instrument BOOLEAN, alcohol BOOLEAN, domestic BOOLEAN, victim_age INTEGER,
  suspect_age INTEGER, public_place BOOLEAN, location_type VARCHAR,
  sv_category VARCHAR, violence_robbery_weapons BOOLEAN, vrn_serious_violence BOOLEAN,
  knife_enabled BOOLEAN, under_25 BOOLEAN, night_time_economy BOOLEAN, after_school BOOLEAN,
  classification_basis VARCHAR,
  npa_code VARCHAR, ward_code VARCHAR, sector_code VARCHAR, lsoa_code VARCHAR,
  lad_code VARCHAR, oa_code VARCHAR,
  h3_r7 UBIGINT, h3_r8 UBIGINT, h3_r9 UBIGINT, h3_r10 UBIGINT,
  row_hash VARCHAR, ingest_id INTEGER
);
CREATE TABLE IF NOT EXISTS ingests (
  ingest_id INTEGER, file VARCHAR, kind VARCHAR, sha256 VARCHAR, rows_read INTEGER,
  inserted INTEGER, updated INTEGER, unchanged INTEGER, quarantined INTEGER,
  ingested_at TIMESTAMP, boundaries_version VARCHAR, rejected INTEGER,
  outcomes_changed INTEGER, crime_id_other_month INTEGER
);
CREATE TABLE IF NOT EXISTS quarantine (
  ingest_id INTEGER, line INTEGER, field VARCHAR, message VARCHAR, value VARCHAR
);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR);
"""
OFFENCE_COLUMNS = (
    "offence_key", "source", "source_id", "month", "occurred_at", "crime_category", "ho_code",
    "ho_description", "outcome", "context", "location_text", "lsoa_code_source", "falls_within",
    "lon", "lat", "x_m", "y_m", "has_location", "knife_sharp_instrument", "alcohol", "domestic",
    "victim_age", "suspect_age", "public_place", "location_type", "sv_category",
    "violence_robbery_weapons", "vrn_serious_violence", "knife_enabled", "under_25",
    "night_time_economy", "after_school", "classification_basis", *LAYER_COLUMNS.values(),
    *(f"h3_r{r}" for r in H3_RESOLUTIONS), "row_hash", "ingest_id",
)
# 1 (no schema_version in meta): police.uk keyed "puk:<Crime ID>", one ingests row per call.
# 2: police.uk keyed "puk:YYYY-MM:<Crime ID>", one ingests row per file with the full tally.
SCHEMA_VERSION = 2
MIGRATE_TO_2 = (
    "ALTER TABLE ingests ADD COLUMN IF NOT EXISTS rejected INTEGER",
    "ALTER TABLE ingests ADD COLUMN IF NOT EXISTS outcomes_changed INTEGER",
    "ALTER TABLE ingests ADD COLUMN IF NOT EXISTS crime_id_other_month INTEGER",
    ("UPDATE offences SET offence_key = 'puk:' || strftime(month, '%Y-%m') || ':' || source_id "
     "WHERE source = 'police_uk' AND source_id IS NOT NULL AND offence_key = 'puk:' || source_id"),
)
INGEST_COLUMNS = ("ingest_id", "file", "kind", "sha256", "rows_read", "inserted", "updated",
                  "unchanged", "quarantined", "rejected", "outcomes_changed",
                  "crime_id_other_month", "boundaries_version")
COUNT_COLUMNS = ("offence_key", "row_hash", "outcome", "source", "source_id", "month", "line")
# One pass over a file's rows against the store: inserted, updated, unchanged, outcomes changed.
FILE_COUNTS_SQL = """
SELECT count(*) FILTER (WHERE o.offence_key IS NULL),
       count(*) FILTER (WHERE o.row_hash <> i.row_hash),
       count(*) FILTER (WHERE o.row_hash = i.row_hash),
       count(*) FILTER (WHERE o.row_hash <> i.row_hash AND o.outcome IS DISTINCT FROM i.outcome)
FROM incoming i LEFT JOIN offences o USING (offence_key)
"""
# police.uk rows whose Crime ID is stored under another month, or occurs under another month
# on an earlier line of the same file (so a repeat is counted once, on its later copy).
OTHER_MONTH_SQL = """
SELECT count(*) FROM incoming i
WHERE i.source = 'police_uk' AND i.source_id IS NOT NULL AND (
  EXISTS (SELECT 1 FROM offences o WHERE o.source = 'police_uk' AND o.source_id = i.source_id
          AND o.month <> i.month)
  OR EXISTS (SELECT 1 FROM incoming j WHERE j.source_id = i.source_id AND j.month <> i.month
             AND j.line < i.line))
"""
GROUP_SQL = {
    "all": "TRUE",
    "violence_robbery_weapons": "violence_robbery_weapons",
    "vrn_serious_violence": "vrn_serious_violence IS TRUE",
    "knife_enabled_serious_violence": "knife_enabled IS TRUE",
}


def where_sql(flt: OffenceFilter) -> tuple[str, list]:
    """SQL WHERE clause and parameters for a filter (columns and groups are allow-listed)."""
    parts, params = [], []
    if flt.group not in GROUP_SQL:
        raise InvalidParameter(f"unknown group {flt.group!r}; choose one of {sorted(GROUP_SQL)}")
    parts.append(GROUP_SQL[flt.group])
    if flt.start is not None:
        parts.append("(CASE WHEN occurred_at IS NULL THEN month + INTERVAL 1 MONTH > ? "
                     "ELSE occurred_at >= ? END)")
        params += [flt.start, flt.start]
    if flt.end is not None:
        parts.append("(CASE WHEN occurred_at IS NULL THEN month < ? ELSE occurred_at < ? END)")
        params += [flt.end, flt.end]
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
    if flt.hours:
        h0, h1 = flt.hours
        op = "AND" if h0 < h1 else "OR"
        parts.append(f"(hour(occurred_at) >= ? {op} hour(occurred_at) < ?)")
        params += [h0, h1]
    return " AND ".join(f"({p})" for p in parts), params


class Snapshot:
    """One snapshot file opened read-only, shared by the readers pinned to it.

    Its connection is closed when it is no longer current and its last reader has ended,
    never while a request still uses it.
    """

    def __init__(self, path: Path):
        self.name = path.name
        self.con = duckdb.connect(str(path), read_only=True)
        self.refs = 0
        self.retired = False
        meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        self.dataset_version = meta.get("dataset_version")
        self.boundaries_version = meta.get("boundaries_version")
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
        bad = [c for c in columns if c not in OFFENCE_COLUMNS]
        if bad:
            raise InvalidParameter(f"unknown column(s) {bad}")
        where, params = where_sql(flt)
        cur = self._q()
        n = cur.execute(f"SELECT count(*) FROM offences WHERE {where}", params).fetchall()[0][0]
        df = cur.execute(f"SELECT {', '.join(columns)} FROM offences WHERE {where} "
                         "ORDER BY month, offence_key LIMIT ? OFFSET ?",
                         params + [limit, offset]).df()
        return df, n

    def area_counts(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        """Counts per area code for ``layer``, plus totals (matched, no location, outside)."""
        col = _layer_column(layer)
        where, params = where_sql(flt)
        cur = self._q()
        df = cur.execute(f"SELECT {col} AS code, count(*) AS count FROM offences "
                         f"WHERE {where} AND {col} IS NOT NULL GROUP BY 1", params).df()
        matched, no_loc, outside = cur.execute(
            f"SELECT count(*), count(*) FILTER (WHERE NOT has_location), "
            f"count(*) FILTER (WHERE has_location AND {col} IS NULL) FROM offences WHERE {where}",
            params).fetchall()[0]
        return df, {"n_matched": matched, "n_no_location": no_loc, "n_outside_layer": outside,
                    "n_in_layer": int(df["count"].sum())}

    def points(self, flt: OffenceFilter) -> pd.DataFrame:
        """x_m, y_m (EPSG:27700) of matching offences with a location."""
        where, params = where_sql(flt)
        return self._q().execute(
            f"SELECT x_m, y_m FROM offences WHERE {where} AND has_location", params).df()

    def values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        """Selected (allow-listed) columns of all matching offences."""
        bad = [c for c in columns if c not in OFFENCE_COLUMNS]
        if bad:
            raise InvalidParameter(f"unknown column(s) {bad}")
        where, params = where_sql(flt)
        return self._q().execute(
            f"SELECT {', '.join(columns)} FROM offences WHERE {where}", params).df()

    def top_locations(self, flt: OffenceFilter, n: int) -> pd.DataFrame:
        """Most frequent locations (location text at one point; police.uk map points)."""
        where, params = where_sql(flt)
        return self._q().execute(
            f"SELECT coalesce(location_text, 'unnamed point') AS name, round(lon, 6) AS lon, "
            f"round(lat, 6) AS lat, count(*) AS count FROM offences WHERE {where} "
            "AND has_location GROUP BY 1, 2, 3 ORDER BY count DESC, name, lon, lat LIMIT ?",
            params + [n]).df()

    def h3_cells(self, resolution: int, flt: OffenceFilter) -> np.ndarray:
        """H3 cell (uint64) of each matching offence with a location."""
        col = _layer_column(f"h3_r{resolution}")
        where, params = where_sql(flt)
        rows = self._q().execute(
            f"SELECT {col} FROM offences WHERE {where} AND has_location", params).fetchnumpy()
        return np.asarray(rows[col], dtype=np.uint64)

    def _memo(self, key: str, sql: str, shape):
        """A small per-snapshot result (computed once per snapshot, shared by readers)."""
        cache = self._snap.cache
        if key not in cache:
            cache[key] = shape(self._q().execute(sql).fetchall())
        return cache[key]

    def sources(self) -> set[str]:
        """Sources present in this snapshot."""
        return self._memo("sources", "SELECT DISTINCT source FROM offences",
                          lambda rows: {r[0] for r in rows})

    def months_loaded(self) -> tuple[str, ...]:
        """Months ('YYYY-MM') with at least one offence in this snapshot, ascending."""
        return self._memo("months", "SELECT DISTINCT strftime(month, '%Y-%m') AS m FROM offences "
                                    "WHERE month IS NOT NULL ORDER BY m",
                          lambda rows: tuple(r[0] for r in rows))

    def summary(self) -> dict:
        cur = self._q()
        n, n_loc, m0, m1 = cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE has_location), min(month), max(month) "
            "FROM offences").fetchall()[0]
        by_source = dict(cur.execute("SELECT source, count(*) FROM offences GROUP BY 1").fetchall())
        n_ingests = cur.execute("SELECT count(*) FROM ingests").fetchall()[0][0]
        return {"dataset_version": self.dataset_version(),
                "boundaries_version": self.boundaries_version(),
                "n_offences": n, "n_with_location": n_loc,
                "first_month": m0.isoformat()[:7] if m0 else None,
                "last_month": m1.isoformat()[:7] if m1 else None,
                "by_source": by_source, "n_ingests": n_ingests,
                "n_crime_id_other_month": self.n_crime_id_other_month()}

    def n_crime_id_other_month(self) -> int:
        """police.uk rows whose Crime ID is stored under more than one month."""
        return self._memo(
            "crime_id_other_month",
            "SELECT count(*) FROM offences WHERE source = 'police_uk' AND source_id IN ("
            "SELECT source_id FROM offences WHERE source = 'police_uk' AND source_id IS NOT NULL "
            "GROUP BY source_id HAVING count(DISTINCT month) > 1)",
            lambda rows: rows[0][0])

    def quarantine(self) -> pd.DataFrame:
        return self._q().execute("SELECT * FROM quarantine ORDER BY ingest_id, line").df()

    def ingests(self) -> pd.DataFrame:
        """The ingest log: one row per file ingested (one per call in stores before schema 2)."""
        return self._q().execute("SELECT * FROM ingests ORDER BY ingest_id").df()


class DuckDBStore:
    """Offence store in ``store_dir`` (snapshots ``snap-*.duckdb`` + ``CURRENT`` pointer).

    Read with ``with store.reader() as r: ...`` (one snapshot for the whole block; the API
    holds one reader per request). The query methods of ``Reader`` are also available on the
    store itself, each call pinning the current snapshot for just that call.
    """

    def __init__(self, store_dir: Path):
        self.dir = Path(store_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._retired: list[Snapshot] = []

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

    def __getattr__(self, name: str):
        # One-off reads (CLI, scripts, tests): the Reader method on a snapshot pinned per call.
        if name.startswith("_") or not hasattr(Reader, name):
            raise AttributeError(name)

        def call(*args, **kwargs):
            with self.reader() as r:
                return getattr(r, name)(*args, **kwargs)

        call.__doc__ = getattr(Reader, name).__doc__
        return call

    def dataset_version(self) -> str | None:
        """Version of the current snapshot, or None for an empty store."""
        try:
            with self.reader() as r:
                return r.dataset_version()
        except StoreEmpty:
            return None

    def close(self) -> None:
        with self._lock:
            for snap in [self._current, *self._retired]:
                if snap is not None:
                    snap.con.close()
            self._current, self._retired = None, []

    # -- writing ----------------------------------------------------------------------
    @contextmanager
    def _writer(self):
        fh = open(self.dir / ".write.lock", "w")  # noqa: SIM115 - held for the lock's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise StoreBusy("another ingest is writing the store; try again when it finishes") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def write(self, files: list[FileBatch], boundaries_version: str,
              on_file: Callable[[FileReport], None] | None = None
              ) -> tuple[list[FileReport], str]:
        """Upsert each file in order (by ``offence_key``; changed rows by ``row_hash``).

        All files go into ONE new snapshot, each counted against the state the previous
        files left; the snapshot becomes current only if all of it succeeds. ``on_file`` is
        called with each ``FileReport`` as it is done. Returns the reports and the dataset
        version (a hash of the content, so the same rows give the same version in any order).
        If nothing changed, the current snapshot and its version are kept.
        """
        with self._writer():
            cur_name = self._current_name()
            new_name = f"snap-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.duckdb"
            new_path = self.dir / new_name
            try:
                if cur_name:
                    shutil.copyfile(self.dir / cur_name, new_path)
                reports, version = self._write_into(new_path, files, boundaries_version,
                                                    on_file)
                if version is None:
                    new_path.unlink(missing_ok=True)
                    return reports, self.dataset_version()
                tmp = self.dir / f"CURRENT.{uuid.uuid4().hex[:8]}"
                tmp.write_text(new_name)
                os.replace(tmp, self.dir / "CURRENT")
            except BaseException:
                new_path.unlink(missing_ok=True)
                Path(f"{new_path}.wal").unlink(missing_ok=True)
                raise
            self._collect_garbage(keep={new_name, cur_name})
            return reports, version

    def _write_into(self, path: Path, files: list[FileBatch], boundaries_version: str,
                    on_file: Callable[[FileReport], None] | None) -> tuple[list[FileReport], str | None]:
        """Write into the snapshot copy at ``path``; the version is None if nothing changed."""
        con = duckdb.connect(str(path))
        try:
            con.execute("BEGIN TRANSACTION").fetchall()
            migrated = _migrate(con)  # also True for a new store
            reports = []
            for batch in files:
                reports.append(_write_file(con, batch, boundaries_version))
                if on_file is not None:
                    on_file(reports[-1])
            if not migrated and not any(r.inserted or r.updated or r.quarantined
                                        for r in reports):
                con.execute("ROLLBACK").fetchall()
                return reports, None
            version = _content_version(con, boundaries_version)
            con.execute("DELETE FROM meta").fetchall()
            con.executemany("INSERT INTO meta VALUES (?, ?)",
                            [["dataset_version", version],
                             ["boundaries_version", boundaries_version],
                             ["schema_version", str(SCHEMA_VERSION)]])
            con.execute("COMMIT").fetchall()
            con.execute("CHECKPOINT").fetchall()
        finally:
            con.close()
        return reports, version

    def _collect_garbage(self, keep: set) -> None:
        for p in self.dir.glob("snap-*.duckdb*"):
            if p.name.split(".duckdb")[0] + ".duckdb" not in keep:
                p.unlink(missing_ok=True)


def _migrate(con: duckdb.DuckDBPyConnection) -> bool:
    """Create missing tables and bring the store to ``SCHEMA_VERSION``.

    Returns True if the snapshot had no or an older schema version (the steps are no-ops on
    a new, empty store).
    """
    for stmt in filter(str.strip, OFFENCE_DDL.split(";")):
        con.execute(stmt).fetchall()
    found = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    if found and int(found[0][0]) >= SCHEMA_VERSION:
        return False
    # 1 -> 2, in the new snapshot only: a failed ingest leaves the old store untouched.
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'ingests'").fetchall()}
    if "n_rows" in cols:
        con.execute("ALTER TABLE ingests RENAME COLUMN n_rows TO rows_read").fetchall()
    for stmt in MIGRATE_TO_2:
        con.execute(stmt).fetchall()
    return True


def _write_file(con: duckdb.DuckDBPyConnection, batch: FileBatch,
                boundaries_version: str) -> FileReport:
    """Upsert one file's rows and log it in ``ingests``; counts are against the store as is."""
    ingest_id = con.execute("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests").fetchall()[0][0]
    frame = batch.frame
    if frame["offence_key"].duplicated().any():  # parse makes a repeat a row error
        raise IngestCountError(f"{batch.file}: an offence key occurs twice in one file")
    # The counts read a few columns several times: those are copied into DuckDB once; the
    # full rows are read from pandas once, by the INSERT.
    con.register("frame", frame[list(COUNT_COLUMNS)])
    con.execute("CREATE TEMP TABLE incoming AS SELECT * FROM frame").fetchall()
    con.unregister("frame")
    con.register("rows", frame.assign(ingest_id=ingest_id)[list(OFFENCE_COLUMNS)])
    try:
        inserted, updated, unchanged, outcomes = con.execute(FILE_COUNTS_SQL).fetchall()[0]
        other_month = con.execute(OTHER_MONTH_SQL).fetchall()[0][0]
        if updated:
            con.execute("DELETE FROM offences WHERE offence_key IN (SELECT i.offence_key FROM "
                        "incoming i JOIN offences o USING (offence_key) "
                        "WHERE o.row_hash <> i.row_hash)").fetchall()
        # Unchanged rows stay as stored (with the ingest that wrote them). A first load (none
        # unchanged) and a re-ingest (all unchanged) skip the anti-join: a scan of every row.
        written = 0
        if inserted or updated:
            keep_stored = (" WHERE NOT EXISTS (SELECT 1 FROM offences o "
                           "WHERE o.offence_key = r.offence_key)") if unchanged else ""
            written = con.execute(f"INSERT INTO offences SELECT * FROM rows r{keep_stored}"
                                  ).fetchall()[0][0]
    finally:
        con.execute("DROP TABLE incoming").fetchall()
        con.unregister("rows")
    if written != inserted + updated:
        raise IngestCountError(f"{batch.file}: wrote {written} rows, expected "
                               f"{inserted} inserted + {updated} updated")
    if batch.quarantine is not None and len(batch.quarantine):
        con.register("quar", batch.quarantine.assign(ingest_id=ingest_id)[
            ["ingest_id", "line", "field", "message", "value"]])
        con.execute("INSERT INTO quarantine SELECT * FROM quar").fetchall()
        con.unregister("quar")
    report = FileReport(  # raises IngestCountError unless every row read is counted once
        file=batch.file, kind=batch.kind, sha256=batch.sha256, rows_read=batch.rows_read,
        inserted=inserted, updated=updated, unchanged=unchanged, quarantined=batch.quarantined,
        rejected=batch.rejected, outcomes_changed=outcomes, crime_id_other_month=other_month,
        no_location=int((~frame["has_location"]).sum()))
    values = {**{c: getattr(report, c) for c in INGEST_COLUMNS if hasattr(report, c)},
              "ingest_id": ingest_id, "boundaries_version": boundaries_version}
    con.execute(f"INSERT INTO ingests ({', '.join(INGEST_COLUMNS)}, ingested_at) "
                f"VALUES ({', '.join('?' * len(INGEST_COLUMNS))}, now())",
                [values[c] for c in INGEST_COLUMNS]).fetchall()
    return report


def _content_version(con: duckdb.DuckDBPyConnection, boundaries_version: str) -> str:
    """'v' + 12 hex of sha256 over every (offence_key, row_hash), by key, and the boundaries."""
    content = con.execute(
        "SELECT sha256(coalesce(string_agg(offence_key || ' ' || row_hash, chr(10) "
        "ORDER BY offence_key), '')) FROM offences").fetchall()[0][0]
    return "v" + hashlib.sha256(f"{content}\n{boundaries_version}".encode()).hexdigest()[:12]


def _layer_column(layer: str) -> str:
    if layer.startswith("h3_r") and layer[4:].isdigit() and int(layer[4:]) in H3_RESOLUTIONS:
        return layer
    if layer not in LAYER_COLUMNS:
        raise InvalidParameter(f"unknown layer {layer!r}; choose one of "
                               f"{list(LAYER_COLUMNS) + [f'h3_r{r}' for r in H3_RESOLUTIONS]}")
    return LAYER_COLUMNS[layer]
