"""The write half of the DuckDB store: schema migration, one file's upsert with its tally,
and the content version. ``DuckDBStore.write`` runs these inside one new snapshot."""

from __future__ import annotations

import hashlib
from typing import Protocol, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo_api.data.store.base import (
    FileBatch,
    FileReport,
    IngestCountError,
    Join,
    file_report,
)
from geo_api.data.store.derive import rederive_arrow
from geo_api.data.store.duckdb_schema import (
    BATCH_COLUMNS,
    COUNT_COLUMNS,
    DERIVED_VERSION,
    INGEST_COLUMNS,
    MIGRATE_TO_2,
    OFFENCE_COLUMNS,
    OFFENCE_DDL,
    PARTITION_SQL,
    POLICE_ID,
    SCHEMA_VERSION,
    delete_updated_sql,
    file_counts_sql,
    ingest_values,
    insert_new_sql,
)


def migrate(con: duckdb.DuckDBPyConnection, ddl: str = OFFENCE_DDL,
            rejoin: Join | None = None) -> bool:
    """Create missing tables (``ddl``: all of them in a single-file snapshot, the catalog's
    in a partitioned one) and bring the store to ``SCHEMA_VERSION`` (``rejoin``: the
    ingest's join, for area codes joined again; see ``derive``).

    Returns True if the snapshot had no or an older schema version (the steps are no-ops on
    a new, empty store).
    """
    for stmt in filter(str.strip, ddl.split(";")):
        con.execute(stmt).fetchall()
    found = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    if found and int(found[0][0]) >= SCHEMA_VERSION:
        return False
    if ddl != OFFENCE_DDL:
        return True  # a new catalog: nothing to migrate
    # 1 -> 2, in the new snapshot only: a failed ingest leaves the old store untouched.
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'ingests'").fetchall()}
    if "n_rows" in cols:
        con.execute("ALTER TABLE ingests RENAME COLUMN n_rows TO rows_read").fetchall()
    for stmt in MIGRATE_TO_2:
        con.execute(stmt).fetchall()
    # 2 -> 3: H3 cells that contain their points, no metric coordinates without a location
    rows = rederive_arrow(con.sql("SELECT * FROM offences").to_arrow_table(), rejoin)
    con.execute("DELETE FROM offences").fetchall()
    con.register("rederived", rows)
    try:
        con.execute("INSERT INTO offences BY NAME SELECT * FROM rederived").fetchall()
    finally:
        con.unregister("rederived")
    return True


def key_hashes(keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """64-bit hashes of offence keys (pandas' hash of the text): what ``KeySet`` holds and
    is asked about, computed the same way for stored and incoming keys."""
    text = np.asarray(keys.to_numpy(zero_copy_only=False), dtype=object)
    return pd.util.hash_array(text, categorize=False)


class KeySet:
    """The 64-bit hashes of one partition's offence keys, in memory (8 bytes a row): tells
    the writer that a file's keys are all new - the usual case - without reading the stored
    keys. A hash shared by two different keys only sends a file the exact way.

    Kept as sorted runs, merged like a binary counter (a new run is merged with the last
    while that is no longer than it), so there are about log2(rows / file rows) runs to
    search and adding a file's hashes does not sort the whole set again."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def contains(self, h: np.ndarray) -> np.ndarray:
        """Which of ``h`` are in the set."""
        found = np.zeros(len(h), dtype=bool)
        for run in self.runs:
            at = np.searchsorted(run, h)
            at[at == len(run)] = 0
            found |= run[at] == h
        return found

    def add(self, h: np.ndarray) -> None:
        """Add hashes not in the set yet, sorted."""
        new = h
        while self.runs and len(self.runs[-1]) <= len(new):
            new = np.sort(np.concatenate([self.runs.pop(), new]))
        if len(new):
            self.runs.append(new)


def source_id_hashes(con: duckdb.DuckDBPyConnection, source_id: pa.ChunkedArray) -> pa.Array:
    """``SOURCE_ID_HASH`` of each id as an Arrow UUID column (16 bytes; DuckDB reads it as
    the UUID it would compute)."""
    con.register("ids_text", pa.table({"source_id": source_id}))
    try:
        md5 = con.sql("SELECT unhex(md5(source_id)) AS h FROM ids_text").to_arrow_table()["h"]
    finally:
        con.unregister("ids_text")
    return pa.ExtensionArray.from_storage(pa.uuid(), md5.combine_chunks().cast(pa.binary(16)))


def partition_labels(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> tuple[list[str], pa.Array | None]:
    """The partitions of a file's rows (``PARTITION_SQL``), sorted, and each row's (None
    when there is one): from the month for police.uk rows, asked of DuckDB for other sources
    (their partition is a hash of the key)."""
    source = rows["source"]
    if source.null_count == 0 and pc.all(pc.equal(source, "police_uk")).as_py():
        months = pc.unique(rows["month"])
        names = pa.array([f"puk-{m:%Y-%m}" if m is not None else "puk-none"
                          for m in months.to_pylist()])
        if len(names) == 1:
            return names.to_pylist(), None
        labels = names.take(pc.index_in(rows["month"], months, skip_nulls=False))
    else:
        labels = con.sql(f"SELECT {PARTITION_SQL} AS part FROM batch_rows"
                         ).to_arrow_table()["part"].combine_chunks()
    return sorted(pc.unique(labels).to_pylist()), labels


class OpenPart(Protocol):
    """A partition an ingest has opened (``duckdb_parts.Part``): its keys' hashes, and the
    table holding its rows once a file brought a key it had (None until then)."""

    keys: KeySet
    table: str | None


P = TypeVar("P", bound=OpenPart)


class PartitionSink(Protocol[P]):
    """Where ``write_file`` puts a file's rows, partition by partition
    (``duckdb_parts.Partitions``; declared here so this module needs nothing from there)."""

    def open(self, label: str) -> P:
        """The partition ``label`` (on first use: its stored files and keys)."""
        ...

    def append(self, part: P, rows: pa.Table, h: np.ndarray) -> None:
        """Hand over rows whose keys are all new to the partition."""
        ...

    def table_of(self, part: P) -> str:
        """The partition's rows as a table to upsert into (loaded on first use)."""
        ...



def write_file(con: duckdb.DuckDBPyConnection, batch: FileBatch, boundaries_version: str,
               k: int, ingest_id: int, parts: PartitionSink[P]) -> FileReport:
    """Upsert one file's rows into the partitions they fall in (``parts``: the ingest's
    partitions, each opened on first use) and log the file in ``ingests`` as ``ingest_id``;
    counts are against the store as is. Rows whose keys are all new to their partition -
    the usual case - are handed to it as they are (``Partitions.append``: they are written
    out as Parquet as they come); a file with a key the partition holds already is upserted
    into the partition's table.

    The file's police.uk Crime IDs go into the temp table ``ids_in`` (file number ``k``,
    line, the id's hash, month), from which the writer counts each file's ids stored under
    another month once for the whole ingest; the report says 0 until then."""
    # as Arrow (prepared so by an ingest worker, or converted here once): DuckDB reads Arrow
    # columns directly, where a pandas scan converts each string column value by value
    rows = batch.arrow(BATCH_COLUMNS)
    h = key_hashes(rows["offence_key"])
    ordered = np.sort(h)
    if ((ordered[1:] == ordered[:-1]).any()
            and pc.count_distinct(rows["offence_key"]).as_py() != rows.num_rows):
        raise IngestCountError(f"{batch.file}: an offence key occurs twice in one file")
    rows = rows.append_column(
        "ingest_id", pa.array(np.full(rows.num_rows, ingest_id, dtype=np.int64)))
    # the MD5 of each Crime ID, once: for ids_in and for the partition files
    rows = rows.append_column("source_id_hash", source_id_hashes(con, rows["source_id"]))
    con.register("batch_rows", rows)
    counts = [0, 0, 0, 0]  # inserted, updated, unchanged, outcomes changed
    try:
        con.execute(f"INSERT INTO ids_in SELECT {int(k)}, i.line, i.source_id_hash, i.month "
                    f"FROM batch_rows i WHERE {POLICE_ID}").fetchall()
        labels, of_row = partition_labels(con, rows)
        for label in labels:  # a police.uk file: one month, one partition
            if of_row is None:
                got = _upsert(con, parts, label, rows, ordered, "batch_rows")
            else:
                mask = pc.equal(of_row, label)
                part_rows = rows.filter(mask)
                con.register("part_rows", part_rows)
                try:
                    got = _upsert(con, parts, label, part_rows,
                                  np.sort(h[mask.to_numpy(zero_copy_only=False)]), "part_rows")
                finally:
                    con.unregister("part_rows")
            counts = [a + b for a, b in zip(counts, got, strict=True)]
    finally:
        con.unregister("batch_rows")
    inserted, updated, unchanged, outcomes = counts
    other_month = 0
    if batch.quarantine is not None and len(batch.quarantine):
        con.register("quar", batch.quarantine.assign(ingest_id=ingest_id)[
            ["ingest_id", "line", "field", "message", "value"]])
        con.execute("INSERT INTO quarantine SELECT * FROM quar").fetchall()
        con.unregister("quar")
    report = file_report(batch, inserted, updated, unchanged, outcomes, other_month)
    con.execute(f"INSERT INTO ingests ({', '.join(INGEST_COLUMNS)}, ingested_at) "
                f"VALUES ({', '.join('?' * len(INGEST_COLUMNS))}, now())",
                ingest_values(report, ingest_id, boundaries_version)).fetchall()
    return report


def _upsert(con: duckdb.DuckDBPyConnection, parts: PartitionSink[P], label: str, rows: pa.Table,
            h: np.ndarray, relation: str) -> list[int]:
    """One partition's rows of a file (``rows``, registered as ``relation``; ``h``: their
    key hashes, sorted) into it: [inserted, updated, unchanged, outcomes changed]. Only that
    partition is read (a key never changes partition), and only when one of the file's key
    hashes is among those of its keys: otherwise (the usual case - new rows) the file is all
    inserts, counted and handed on without reading the stored rows."""
    part = parts.open(label)
    found = part.keys.contains(h)
    hits = int(found.sum())
    if not hits and part.table is None:
        parts.append(part, rows, h)
        return [len(h), 0, 0, 0]
    table = parts.table_of(part)
    con.execute(f"CREATE TEMP VIEW rows AS SELECT * FROM {relation}").fetchall()
    try:
        if hits:
            con.execute(f"CREATE TEMP TABLE incoming AS SELECT {', '.join(COUNT_COLUMNS)} "
                        "FROM rows").fetchall()
            inserted, updated, unchanged, outcomes = con.execute(file_counts_sql(table)
                                                                 ).fetchall()[0]
        else:
            inserted, updated, unchanged, outcomes = len(h), 0, 0, 0
        if updated:
            con.execute(delete_updated_sql(table)).fetchall()
        written = 0
        if inserted or updated:
            written = con.execute(insert_new_sql(", ".join(OFFENCE_COLUMNS), unchanged, table)
                                  ).fetchall()[0][0]
        if inserted:  # an updated key's hash is there already
            part.keys.add(h[~found] if hits else h)
    finally:
        if hits:
            con.execute("DROP TABLE incoming").fetchall()
        con.execute("DROP VIEW rows").fetchall()
    if written != inserted + updated:
        raise IngestCountError(f"{label}: wrote {written} rows, expected "
                               f"{inserted} inserted + {updated} updated")
    return [inserted, updated, unchanged, outcomes]


# count and XOR of the 128-bit MD5 of every (offence_key, row_hash): XOR is associative, so
# partitions' sums combine into the store's
CONTENT_MD5 = "md5_number(offence_key || ' ' || row_hash)"


def content_sums(md5: str) -> str:
    """count(*) and the XOR of md5_number_upper and of md5_number_lower, from one 128-bit
    ``md5`` a row (DuckDB's md5_number holds "upper" in its low 64 bits)."""
    return (f"count(*), CAST(bit_xor({md5} & CAST(18446744073709551615 AS UHUGEINT)) "
            f"AS UBIGINT), CAST(bit_xor({md5} >> 64) AS UBIGINT)")


CONTENT_SUMS = content_sums(CONTENT_MD5)


def version_from(n: int, upper: int | None, lower: int | None, boundaries_version: str) -> str:
    """The dataset version of ``n`` rows whose MD5s XOR to (upper, lower) (64-bit halves),
    joined to ``boundaries_version`` by the rules of ``DERIVED_VERSION``."""
    mask = 2**64 - 1
    content = f"{n} {(upper or 0) & mask:016x}{(lower or 0) & mask:016x}"
    return "v" + hashlib.sha256(f"{content}\n{boundaries_version}\n{DERIVED_VERSION}".encode()
                                ).hexdigest()[:12]
