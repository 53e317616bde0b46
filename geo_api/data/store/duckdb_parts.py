"""The partitioned layout of the DuckDB store: Parquet partitions as the store of record.

A store directory holds::

    CURRENT                  names the current snapshot (a directory)
    snap-<time>-<id>/        catalog.duckdb (ingests, quarantine, meta) + manifest.json
    parts/<id>.<n>.parquet   the offence rows, one or more files per partition, immutable

The manifest lists every partition's files with its row count and content sums, so a
snapshot is the catalog plus a list of files. An ingest opens only the partitions its rows
fall in (``PARTITION_SQL``: police.uk by month, other sources in key buckets). Rows whose
keys are new to their partition - the usual case - are written out as more Parquet files
of it (``Partitions.append``), leaving its stored files as they are; a partition a file
brings known keys to is loaded into a table, upserted and written as one new file. Every
other partition is shared, untouched, with the previous snapshot. Adding a month to a
decade of data therefore writes one month, and copies only the catalog (the ingest log and
quarantine). Readers open a snapshot's files read-only; nothing a reader uses is ever
modified, so the guarantees of the single-file store stand: readers never see a half-ingest
(the new snapshot is invisible until CURRENT names it), a killed ingest leaves only
unreferenced files (removed by the next writer), and one writer at a time (the store's
lock).

Stores written by earlier versions (one ``snap-*.duckdb`` file per snapshot) are read as
they are and converted to this layout by their next ingest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from geo_api.data.store.base import FileBatch, FileReport, Join
from geo_api.data.store.derive import rederive_arrow
from geo_api.data.store.duckdb_schema import (
    CATALOG_DDL,
    OFFENCE_SCHEMA,
    PARTITION_SQL,
    POLICE_ID,
    SCHEMA_VERSION,
    SOURCE_ID_HASH,
    sql_str,
)
from geo_api.data.store.duckdb_write import (
    CONTENT_MD5,
    KeySet,
    content_sums,
    key_hashes,
    migrate,
    version_from,
    write_file,
)

MANIFEST = "manifest.json"
CATALOG = "catalog.duckdb"
PARTS = "parts"
CATALOG_TABLES = ("ingests", "quarantine", "meta")
WRITE_MEMORY_LIMIT = "256MB"  # the writer's DuckDB buffer; it spills to disk beyond this
COMMIT_EVERY_ROWS = 200_000  # bounds what one open transaction holds in memory
# new rows held as Arrow before they are written out as a partition file (about 250k
# police.uk rows: files large enough to read well, memory bounded whatever the input)
APPEND_BUFFER_BYTES = 128 * 2**20
# a partition of this many files is written again as one when an ingest touches it (each
# ingest that appends to a partition adds a file)
MAX_PART_FILES = 16
FINAL_MEMORY_LIMIT = "512MB"  # for writing the partitions at the end
# zstd at level 1: a quarter less CPU than DuckDB's default level for these rows, and the
# files came out no larger (5.9 against 6.1 MB for 84k synthetic police.uk rows)
PARQUET_ZSTD_LEVEL = 1
PARQUET_OPTIONS = f"FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {PARQUET_ZSTD_LEVEL}"
FINAL_WRITERS = max(1, min(4, os.cpu_count() or 1))  # partitions written side by side
# The writer's DuckDB uses one thread: the ingest workers are preparing the next files on
# the other cores, and a second DuckDB thread there only added context switches (about 6 s
# of CPU less for a 500k-row month on 2 cores).
WRITE_THREADS = 1


def parquet_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join(sql_str(p) for p in paths) + "]"


def read_manifest(snap_dir: Path) -> dict:
    return json.loads((snap_dir / MANIFEST).read_text())


def manifest_files(store_dir: Path, manifest: dict) -> list[Path]:
    """Every Parquet file of a snapshot, as paths."""
    return [store_dir / f for part in manifest["partitions"].values() for f in part["files"]]


@dataclass
class Base:
    """What an ingest starts from: the current snapshot's partitions and catalog, or a
    single-file snapshot of an earlier version (converted as a whole)."""

    partitions: dict[str, dict] = field(default_factory=dict)
    catalog: Path | None = None
    single_file: Path | None = None

    @classmethod
    def of(cls, store_dir: Path, name: str | None) -> Base:
        if name is None:
            return cls()
        path = store_dir / name
        if path.is_dir():
            return cls(read_manifest(path)["partitions"], path / CATALOG)
        return cls(single_file=path)


def write_snapshot(store_dir: Path, base_name: str | None, new_dir: Path,
                   files: Iterable[FileBatch], boundaries_version: str,
                   rejoin: Join | None = None) -> tuple[list[FileReport], str | None]:
    """Write the files into the new snapshot directory ``new_dir`` (its manifest last).

    Returns the reports and the dataset version, or None if nothing changed (the caller
    then drops ``new_dir``). Raises on any failure, leaving the caller to drop ``new_dir``
    and the part files named after it.
    """
    base = Base.of(store_dir, base_name)
    catalog = new_dir / CATALOG
    if base.catalog is not None:
        shutil.copyfile(base.catalog, catalog)
    con = duckdb.connect(str(catalog), config={
        "memory_limit": WRITE_MEMORY_LIMIT, "threads": WRITE_THREADS,
        "temp_directory": str(new_dir / "tmp")})
    parts = None
    try:
        # the tables of partitions upserted into (so a file's upsert scans only its
        # partitions) in an in-memory database spilled to disk beyond the limit, never in
        # the catalog; attached, not temporary, so the final writes can run side by side
        con.execute("ATTACH ':memory:' AS work").fetchall()
        parts = Partitions(con, store_dir, base, new_dir)
        # Crime IDs: those of the files and those the loaded partitions held before (for
        # the other-month tallies and the store's count of ids in several months)
        con.execute("CREATE TEMP TABLE ids_in (k INTEGER, line INTEGER, h UUID, month DATE)"
                    ).fetchall()
        con.execute("CREATE TEMP TABLE old_ids (h UUID, month DATE)").fetchall()
        if base.single_file is not None:
            migrated = _import_single_file(con, base.single_file, new_dir, parts, rejoin)
        else:
            migrated = migrate(con, CATALOG_DDL)
            if migrated and base.partitions:
                base.partitions = _rederive_partitions(store_dir, base.partitions, new_dir,
                                                       rejoin)
        n_before = con.execute("SELECT max(value) FROM meta WHERE key = 'n_crime_id_other_month'"
                               ).fetchall()[0][0]
        n_before = None if n_before is None else int(n_before)
        first_id = con.execute("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests"
                               ).fetchall()[0][0]
        # One transaction may write to only one attached database, and the loop's write to
        # work: this ingest's log and quarantine rows go to temporary tables of the same
        # names, which shadow the catalog's until they are copied there after the loop.
        catalog_db = con.execute("SELECT current_database()").fetchall()[0][0]
        # (the log's last row comes along: write_file numbers the next ingest from it)
        con.execute(f"CREATE TEMP TABLE ingests AS SELECT * FROM {catalog_db}.main.ingests "
                    "WHERE ingest_id = ?", [first_id - 1]).fetchall()
        con.execute(f"CREATE TEMP TABLE quarantine AS SELECT * FROM "
                    f"{catalog_db}.main.quarantine LIMIT 0").fetchall()
        reports, pending_rows = [], 0
        # Commits every COMMIT_EVERY_ROWS rows: DuckDB keeps a transaction's inserts in
        # memory. Atomicity is the snapshot's: nobody reads it until CURRENT names it.
        con.execute("BEGIN TRANSACTION").fetchall()
        for k, batch in enumerate(files):
            reports.append(write_file(con, batch, boundaries_version, k=k,
                                      ingest_id=first_id + k, parts=parts))
            pending_rows += batch.n_rows
            del batch  # one file in memory at a time
            if pending_rows >= COMMIT_EVERY_ROWS:
                con.execute("COMMIT").fetchall()
                con.execute("BEGIN TRANSACTION").fetchall()
                pending_rows = 0
        con.execute("COMMIT").fetchall()
        # the workers are done: what follows (the rows still held written out while the
        # stored partitions' Crime ID hashes are scanned, the partition writes) takes every
        # core
        con.execute(f"SET threads = {FINAL_WRITERS}").fetchall()
        parts.hand_over(list(parts.parts.values()))  # written while the scan runs
        reports, n_other = _cross_partition(con, store_dir, base, set(parts.parts), reports,
                                            first_id, n_before, parts.id_view)
        parts.id_view()  # (every file written)
        if not migrated and not any(r.inserted or r.updated or r.quarantined for r in reports):
            return reports, None
        con.execute("BEGIN TRANSACTION").fetchall()
        con.execute(f"INSERT INTO {catalog_db}.main.ingests SELECT * FROM temp.ingests "
                    "WHERE ingest_id >= ?", [first_id]).fetchall()
        con.execute(f"INSERT INTO {catalog_db}.main.quarantine SELECT * FROM temp.quarantine "
                    "WHERE ingest_id >= ?", [first_id]).fetchall()
        con.execute("COMMIT").fetchall()
        con.execute("DROP TABLE temp.ingests").fetchall()
        con.execute("DROP TABLE temp.quarantine").fetchall()
        partitions = _write_partitions(con, store_dir, base, parts, new_dir)
        n = sum(p["rows"] for p in partitions.values())
        upper = lower = 0
        for p in partitions.values():
            upper ^= p["upper"]
            lower ^= p["lower"]
        version = version_from(n, upper, lower, boundaries_version)
        con.execute("BEGIN TRANSACTION").fetchall()
        con.execute("DELETE FROM meta").fetchall()
        con.executemany("INSERT INTO meta VALUES (?, ?)",
                        [["dataset_version", version],
                         ["boundaries_version", boundaries_version],
                         ["schema_version", str(SCHEMA_VERSION)],
                         *([["n_crime_id_other_month", str(n_other)]]
                           if n_other is not None else [])])
        con.execute("COMMIT").fetchall()
        con.execute("CHECKPOINT").fetchall()
    finally:
        if parts is not None:
            parts.close()
        con.close()
        shutil.rmtree(new_dir / "tmp", ignore_errors=True)
    (new_dir / MANIFEST).write_text(json.dumps({"partitions": partitions}, indent=1))
    return reports, version


@dataclass
class Part:
    """A partition an ingest touches. Its rows are either its ``files`` (the stored ones it
    keeps, then those this ingest wrote from the rows ``append``ed to it, with their count
    and content sums) - while every row it was given had a new key - or, once a file brings
    a key it holds, a ``table`` of all of them (upserted, written as one file at the end)."""

    label: str
    keys: KeySet = field(default_factory=KeySet)
    files: list[str] = field(default_factory=list)
    new_files: list[str] = field(default_factory=list)
    rows: int = 0
    upper: int = 0
    lower: int = 0
    table: str | None = None
    buffer: list[pa.Table] = field(default_factory=list)
    buffered_bytes: int = 0

    def entry(self) -> dict:
        """Its manifest entry."""
        return {"files": self.files, "rows": self.rows, "upper": self.upper,
                "lower": self.lower}


# A partition file's Arrow columns as DuckDB writes a table's (rows appended from Arrow are
# written straight to Parquet, so they must read back as a table's rows would). Strings
# stay as the workers made them (large or dictionary-encoded: the same Parquet text).
ARROW_TYPES = {"VARCHAR": pa.string(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
               "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "INTEGER": pa.int32(),
               "UBIGINT": pa.uint64()}
OFFENCE_ARROW = {d.split()[0]: ARROW_TYPES[d.split()[1]]
                 for d in OFFENCE_SCHEMA.strip("()\n ").split(",")}
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def partition_file_table(rows: pa.Table) -> pa.Table:
    """The offence columns of ``rows`` typed as a partition file's, and their Crime ID
    hashes (``source_id_hash``, Arrow UUIDs)."""
    cols = []
    for name, want in OFFENCE_ARROW.items():
        col = rows[name]
        if col.type != want and not (want == pa.string() and _is_text(col.type)):
            col = col.cast(want)
        cols.append(col)
    return pa.table([*cols, rows["source_id_hash"]], names=[*OFFENCE_ARROW, "source_id_hash"])


class Partitions:
    """The partitions an ingest touches (``open``), by label.

    Rows with new keys - the usual case - are kept as the worker's Arrow (``append``) and
    written out as a Parquet file of their partition whenever the rows held reach
    ``APPEND_BUFFER_BYTES`` (the largest partition first) and at the end (``hand_over``),
    by a thread of its own while the writer goes on with the next files: they never go
    through a DuckDB table, and a partition's stored files stay as they are (a new month
    into a large store writes only the month). A partition whose keys come again is loaded
    into a table (``table_of``: ``work.part_<n>``, with its stored files, the files this
    ingest wrote for it - then deleted - and the rows held) and upserted there."""

    def __init__(self, con: duckdb.DuckDBPyConnection, store_dir: Path, base: Base,
                 new_dir: Path):
        self.con, self.store_dir, self.base, self.new_dir = con, store_dir, base, new_dir
        self.parts: dict[str, Part] = {}
        self.n_tables = self.n_files = self.buffered_bytes = 0
        self.id_view_made = False
        # one file written at a time, beside the writer (memory: the rows held and the
        # file being written); its own connection to the same database
        self.file_writer = ThreadPoolExecutor(max_workers=1)
        self.file_con = con.cursor()
        self.writing: Future | None = None

    def open(self, label: str) -> Part:
        """The partition (on first use: its stored files, their keys' hashes; their
        Crime IDs go into ``old_ids``)."""
        part = self.parts.get(label)
        if part is not None:
            return part
        part = self.parts[label] = Part(label)
        stored = self.base.partitions.get(label)
        if stored is None:
            return part
        part.files = list(stored["files"])
        part.rows, part.upper, part.lower = stored["rows"], stored["upper"], stored["lower"]
        files = parquet_list(self.store_dir / f for f in part.files)
        self._add_keys(part, f"read_parquet({files})")
        self.con.execute(f"INSERT INTO old_ids SELECT source_id_hash, month FROM "
                         f"read_parquet({files}) i WHERE {POLICE_ID}").fetchall()
        if len(part.files) >= MAX_PART_FILES:
            self.table_of(part)  # to be written again as one file
        return part

    def append(self, part: Part, rows: pa.Table, h: np.ndarray) -> None:
        """Rows whose keys ``h`` (sorted) are new to the partition."""
        part.buffer.append(rows)
        part.buffered_bytes += rows.nbytes
        self.buffered_bytes += rows.nbytes
        part.keys.add(h)
        if self.buffered_bytes > APPEND_BUFFER_BYTES:
            self.hand_over([max(self.parts.values(), key=lambda p: p.buffered_bytes)])

    def hand_over(self, parts: list[Part]) -> None:
        """Have the rows held for these partitions written out, one more Parquet file
        each, by the file writer (after the file it is writing, if any)."""
        jobs = []
        for part in parts:
            if part.buffer:
                name = f"{PARTS}/{self.new_dir.name}.a{self.n_files}.parquet"
                self.n_files += 1
                jobs.append((part, part.buffer, name))
                self.buffered_bytes -= part.buffered_bytes
                part.buffer, part.buffered_bytes = [], 0
        if jobs:
            self.wait()
            self.writing = self.file_writer.submit(self._write, jobs)

    def wait(self) -> None:
        """Until the file writer is done (raising its error, if any)."""
        writing, self.writing = self.writing, None
        if writing is not None:
            writing.result()

    def _write(self, jobs: list[tuple[Part, list[pa.Table], str]]) -> None:
        """(The file writer) each partition's rows as one more Parquet file of it."""
        (self.store_dir / PARTS).mkdir(exist_ok=True)
        for part, held, name in jobs:
            rows = pa.concat_tables(held)
            self.file_con.register("flush_rows", rows.select(["offence_key", "row_hash"]))
            try:
                n, upper, lower = self.file_con.execute(
                    f"SELECT {content_sums(CONTENT_MD5)} FROM flush_rows").fetchall()[0]
            finally:
                self.file_con.unregister("flush_rows")
            # written by Arrow: half the CPU of DuckDB's COPY of the same rows (1.9 against
            # 3.5 us a row), the same types and values read back
            pq.write_table(partition_file_table(rows), self.store_dir / name,
                           row_group_size=ROW_GROUP_ROWS, compression="zstd",
                           compression_level=PARQUET_ZSTD_LEVEL)
            part.files.append(name)
            part.new_files.append(name)
            part.rows += n
            part.upper ^= int(upper or 0)
            part.lower ^= int(lower or 0)

    def close(self) -> None:
        """Wait for the file writer (its error, if any, is not raised: the ingest is failing
        already or has seen it) and let it go."""
        if self.writing is not None:
            wait([self.writing])
        self.file_writer.shutdown()
        self.file_con.close()

    def table_of(self, part: Part) -> str:
        """The partition's table, made on first use of all its rows so far."""
        if part.table is not None:
            return part.table
        self.wait()  # (its files, complete)
        name = part.table = f"work.part_{self.n_tables}"
        self.n_tables += 1
        self.con.execute(f"CREATE TABLE {name} {OFFENCE_SCHEMA}").fetchall()
        if part.files:
            files = parquet_list(self.store_dir / f for f in part.files)
            self.con.execute(f"INSERT INTO {name} BY NAME SELECT * EXCLUDE (source_id_hash) "
                             f"FROM read_parquet({files})").fetchall()
        for rows in part.buffer:
            self.con.register("held_rows", rows)
            try:
                self.con.execute(f"INSERT INTO {name} BY NAME SELECT * EXCLUDE "
                                 "(line, source_id_hash) FROM held_rows").fetchall()
            finally:
                self.con.unregister("held_rows")
        for f in part.new_files:  # in the table now; no snapshot names them
            (self.store_dir / f).unlink()
        self.buffered_bytes -= part.buffered_bytes
        part.buffer, part.buffered_bytes, part.files, part.new_files = [], 0, [], []
        part.rows = part.upper = part.lower = 0
        return name

    def load_table(self, label: str, select: str) -> None:
        """A partition made of the rows ``select`` gives (converting an older store)."""
        part = self.parts[label] = Part(label)
        name = self.table_of(part)
        self.con.execute(f"INSERT INTO {name} BY NAME {select}").fetchall()
        self._add_keys(part, name)

    def _add_keys(self, part: Part, stored: str) -> None:
        """Add the hashes of the keys of rows stored in ``stored`` (a table or a scan)."""
        keys = self.con.sql(f"SELECT offence_key FROM {stored}").to_arrow_table()
        part.keys.add(np.sort(key_hashes(keys["offence_key"])))

    def id_view(self) -> None:
        """``touched_rows (h)``: the Crime ID hashes of every touched partition's police.uk
        rows, as they stand after the files (the rows held are written first)."""
        if self.id_view_made:
            return
        self.id_view_made = True
        self.hand_over(list(self.parts.values()))
        self.wait()
        selects = [f"SELECT {SOURCE_ID_HASH} AS h FROM {p.table} i WHERE {POLICE_ID}"
                   for p in self.parts.values() if p.table is not None]
        files = [self.store_dir / f for p in self.parts.values() if p.table is None
                 for f in p.files]
        if files:  # (their hashes are stored: NULL exactly where the Crime ID is)
            selects.append(f"SELECT source_id_hash AS h FROM read_parquet({parquet_list(files)}) "
                           "i WHERE i.source = 'police_uk' AND source_id_hash IS NOT NULL")
        self.con.execute("CREATE TEMP VIEW touched_rows AS " + (" UNION ALL ".join(selects)
                         or "SELECT CAST(NULL AS UUID) AS h WHERE false")).fetchall()


def _import_single_file(con: duckdb.DuckDBPyConnection, path: Path, new_dir: Path,
                        parts: Partitions, rejoin: Join | None) -> bool:
    """Bring a single-file snapshot of an earlier version into this layout: migrate a copy
    of it to the current schema, take its catalog tables and load all its rows."""
    copy = new_dir / "single-file.duckdb"
    shutil.copyfile(path, copy)
    old = duckdb.connect(str(copy))
    try:
        migrate(old, rejoin=rejoin)
        old.execute("CHECKPOINT").fetchall()
    finally:
        old.close()
    con.execute(f"ATTACH {sql_str(copy)} AS single_file (READ_ONLY)").fetchall()
    for table in CATALOG_TABLES:
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM single_file.{table}").fetchall()
    for (label,) in con.execute(f"SELECT DISTINCT {PARTITION_SQL} FROM single_file.offences"
                                ).fetchall():
        parts.load_table(label, f"SELECT * FROM single_file.offences WHERE "
                                f"{PARTITION_SQL} = {sql_str(label)}")
    con.execute(f"INSERT INTO old_ids SELECT {SOURCE_ID_HASH}, month FROM single_file.offences "
                f"i WHERE {POLICE_ID}").fetchall()
    con.execute("DETACH single_file").fetchall()
    copy.unlink()
    return True


def _rederive_partitions(store_dir: Path, partitions: dict[str, dict], new_dir: Path,
                         rejoin: Join | None) -> dict[str, dict]:
    """The partitions of a store of an older schema with their derived columns computed
    again (``derive``), each file written again beside the old one (named after the new
    snapshot, so a failed ingest's files are removed with it). Keys and content sums are
    unchanged."""
    out = {}
    n = 0
    for label, entry in partitions.items():
        files = []
        for f in entry["files"]:
            name = f"{PARTS}/{new_dir.name}.m{n}.parquet"
            n += 1
            table = rederive_arrow(pq.read_table(store_dir / f), rejoin)
            pq.write_table(table, store_dir / name, row_group_size=ROW_GROUP_ROWS,
                           compression="zstd", compression_level=PARQUET_ZSTD_LEVEL)
            files.append(name)
        out[label] = {**entry, "files": files}
    return out


def _cross_partition(con: duckdb.DuckDBPyConnection, store_dir: Path, base: Base,
                     loaded: set[str], reports: list[FileReport], first_id: int,
                     n_before: int | None, written: Callable[[], None]
                     ) -> tuple[list[FileReport], int | None]:
    """The counts that span partitions, once per ingest, from the Crime ID hashes (16 bytes
    a row) of the files, of the partitions they loaded and - in one scan - of the stored
    partitions they did not load, for the ids the ingest touched:

    - each file's other-month tally: its police.uk rows whose Crime ID was stored under
      another month before the file was written (stored before the ingest, or written by
      an earlier file - rows are replaced, never removed, so that is all it takes) or
      occurs under another month on an earlier line of the file itself;
    - the store's count of rows whose Crime ID is stored under more than one month,
      updated for the touched ids (``n_before`` minus their rows' share before, plus
      after), instead of grouping every stored id again.
    """
    # the ids touched: those the loaded partitions held before and those of the files' rows
    # (every row a file gives is stored, as inserted, updated or unchanged, and no stored
    # row is removed, so these are the ids of the loaded partitions after the ingest too):
    # known before the partitions' last rows are written out (``written``)
    con.execute("CREATE TEMP TABLE touched_ids AS SELECT DISTINCT h FROM "
                "(SELECT h FROM ids_in UNION ALL SELECT h FROM old_ids)").fetchall()
    con.execute("CREATE TEMP TABLE part_files (filename VARCHAR, loaded BOOLEAN, "
                "month DATE)").fetchall()
    con.execute("CREATE TEMP TABLE stored_hits (h UUID, filename VARCHAR)").fetchall()
    police = {p: e for p, e in base.partitions.items() if p.startswith("puk-")}
    if police:
        con.executemany("INSERT INTO part_files VALUES (?, ?, try_strptime(?, '%Y-%m'))",
                        [[str(store_dir / f), p in loaded, p.removeprefix("puk-")]
                         for p, e in police.items() for f in e["files"]])
        files = [store_dir / f for e in police.values() for f in e["files"]]
        con.execute(f"INSERT INTO stored_hits SELECT source_id_hash, filename FROM read_parquet("
                    f"{parquet_list(files)}, filename = true) "
                    "WHERE source_id_hash IN (SELECT h FROM touched_ids)").fetchall()
    # (id, month) stored before the ingest: loaded partitions' ids, and the others' hits
    con.execute("CREATE TEMP TABLE base_ids AS SELECT h, month FROM old_ids UNION ALL "
                "SELECT s.h, f.month FROM stored_hits s JOIN part_files f USING (filename) "
                "WHERE NOT f.loaded").fetchall()
    other = dict(con.execute(
        "SELECT i.k, count(DISTINCT i.line) FROM ids_in i WHERE "
        "EXISTS (SELECT 1 FROM base_ids b WHERE b.h = i.h AND b.month <> i.month) OR "
        "EXISTS (SELECT 1 FROM ids_in j WHERE j.h = i.h AND j.month <> i.month "
        "AND (j.k < i.k OR (j.k = i.k AND j.line < i.line))) GROUP BY i.k").fetchall())
    for k, n in other.items():
        con.execute("UPDATE ingests SET crime_id_other_month = ? WHERE ingest_id = ?",
                    [n, first_id + k]).fetchall()
        reports[k] = dataclasses.replace(reports[k], crime_id_other_month=n)
    if n_before is None and base.partitions:
        return reports, None  # no count to update: readers count (a store of an older version)
    untouched = ("(SELECT s.h, count(*) AS c FROM stored_hits s JOIN part_files f "
                 "USING (filename) WHERE NOT f.loaded GROUP BY s.h)")

    def rows_in_several_months(loaded_ids: str) -> int:
        return con.execute(
            "SELECT coalesce(sum(m), 0) FROM (SELECT coalesce(l.c, 0) + coalesce(u.c, 0) AS m "
            f"FROM touched_ids t LEFT JOIN (SELECT h, count(*) AS c FROM {loaded_ids} "
            f"GROUP BY h) l USING (h) LEFT JOIN {untouched} u USING (h)) WHERE m >= 2"
        ).fetchall()[0][0]

    written()
    con.execute("CREATE TEMP TABLE new_ids AS SELECT h FROM touched_rows").fetchall()
    n_other = ((n_before or 0) - rows_in_several_months("old_ids")
               + rows_in_several_months("new_ids"))
    for table in ("new_ids", "touched_ids", "part_files", "stored_hits", "base_ids"):
        con.execute(f"DROP TABLE {table}").fetchall()
    return reports, int(n_other)


def _write_partitions(con: duckdb.DuckDBPyConnection, store_dir: Path, base: Base,
                      parts: Partitions, new_dir: Path) -> dict[str, dict]:
    """Write each touched partition's table as a new Parquet file and return the new
    snapshot's partitions: those, the touched ones without a table (their files are all
    written: ``Partitions.id_view``) and the base's untouched ones (an emptied partition is
    left out)."""
    partitions = {p: e for p, e in base.partitions.items() if p not in parts.parts}
    partitions |= {p: part.entry() for p, part in parts.parts.items()
                   if part.table is None and part.files}
    tables = sorted((p, part.table) for p, part in parts.parts.items() if part.table is not None)
    if not tables:
        return partitions
    parts_dir = store_dir / PARTS
    parts_dir.mkdir(exist_ok=True)
    # a plain write per partition (one thread each: about twice as fast here as DuckDB's
    # partitioned write of the same rows, 2.0 s against 4.5 s for 500k rows), as many side
    # by side as there are cores (the workers are done), with more room than the upsert
    # needed, released when the connection closes
    con.execute(f"SET memory_limit = '{FINAL_MEMORY_LIMIT}'").fetchall()

    def write(i: int, part: str, table: str) -> tuple[str, dict | None]:
        cur = con.cursor()  # a connection of its own to the same database (and work)
        try:
            n, upper, lower = cur.execute(f"SELECT {content_sums(CONTENT_MD5)} FROM {table}"
                                          ).fetchall()[0]
            if not n:
                return part, None
            name = f"{PARTS}/{new_dir.name}.{i}.0.parquet"
            cur.execute(f"COPY (SELECT *, {SOURCE_ID_HASH} AS source_id_hash FROM {table}) "
                        f"TO {sql_str(store_dir / name)} ({PARQUET_OPTIONS})"
                        ).fetchall()
            return part, {"files": [name], "rows": n, "upper": int(upper or 0),
                          "lower": int(lower or 0)}
        finally:
            cur.close()

    with ThreadPoolExecutor(max_workers=FINAL_WRITERS) as pool:
        jobs = [pool.submit(write, i, part, table)
                for i, (part, table) in enumerate(tables)]
        for job in jobs:
            part, entry = job.result()
            if entry is not None:
                partitions[part] = entry
    return partitions
