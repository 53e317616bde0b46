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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from geo_api.data.store.base import FileBatch, FileReport, Join
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
from geo_api.data.store.duckdb_schema import BATCH_COLUMNS, OFFENCE_TABLE, SCHEMA_VERSION
from geo_api.data.store.queries import ReadThrough, SQLReader
from geo_api.errors import StoreBusy, StoreEmpty


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


class DuckDBReader(SQLReader):
    """The shared queries (``queries.SQLReader``) on one pinned DuckDB snapshot.

    Obtain with ``DuckDBStore.reader()`` (a context manager). The cursor is opened on first
    use, so a request that needs no query (a cached tile) costs no DuckDB work.
    """

    MONTH_TEXT = "strftime(month, '%Y-%m')"

    def __init__(self, snap: Snapshot):
        super().__init__(snap)
        self._con = snap.con
        self._cur: duckdb.DuckDBPyConnection | None = None

    def _q(self) -> duckdb.DuckDBPyConnection:
        if self._cur is None:
            self._cur = self._con.cursor()
        return self._cur

    def close(self) -> None:
        if self._cur is not None:
            self._cur.close()
            self._cur = None

    @staticmethod
    def _round6(col: str) -> str:
        return f"round({col}, 6)"

    def _df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        return self._q().execute(sql, list(params)).df()

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self._q().execute(sql, list(params)).fetchall()


class DuckDBStore(ReadThrough):
    """Offence store in ``store_dir`` (snapshots ``snap-*.duckdb`` + ``CURRENT`` pointer).

    Read with ``with store.reader() as r: ...`` (one snapshot for the whole block; the API
    holds one reader per request). The queries are also available on the store itself
    (``ReadThrough``), each call pinning the current snapshot for just that call.
    Implements ``base.Store``.
    """

    # ingest workers hand this store their rows as Arrow, these columns (see FileBatch)
    arrow_columns: tuple[str, ...] | None = BATCH_COLUMNS

    def __init__(self, store_dir: Path):
        self.dir = Path(store_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._pointer: tuple[tuple | None, str | None] = (None, None)  # (stat, name)
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
        """The snapshot ``CURRENT`` names. Every request asks (a cached tile's key has the
        dataset version), so the name read is kept while a stat of the pointer finds the
        same file unchanged (an ingest replaces it: a new file); read after the stat, so
        what is kept is never older than the stamp it is kept under."""
        path = self.dir / "CURRENT"
        try:
            st = os.stat(path)
            stamp = (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if stamp != self._pointer[0]:
                self._pointer = (stamp, path.read_text().strip() or None)
            return self._pointer[1]
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
    def reader(self) -> Iterator[DuckDBReader]:
        """Pin the current snapshot for the block; yields a ``DuckDBReader``."""
        snap = self._acquire()
        r = DuckDBReader(snap)
        try:
            yield r
        finally:
            r.close()
            self._release(snap)

    def close(self) -> None:
        with self._lock:
            for snap in [self._current, *self._retired]:
                if snap is not None:
                    snap.con.close()
            self._current, self._retired = None, []

    # -- writing ----------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
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
              ) -> tuple[list[FileReport], str | None]:
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
