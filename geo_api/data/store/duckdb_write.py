"""The write half of the DuckDB store: schema migration, one file's upsert with its tally,
and the content version. ``DuckDBStore.write`` runs these inside one new snapshot."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from geo_api.data.store.base import FileBatch, FileReport, IngestCountError, file_report
from geo_api.data.store.duckdb_schema import (
    BATCH_COLUMNS,
    COUNT_COLUMNS,
    DELETE_UPDATED_SQL,
    FILE_COUNTS_SQL,
    INGEST_COLUMNS,
    MIGRATE_TO_2,
    OFFENCE_COLUMNS,
    OFFENCE_DDL,
    OTHER_MONTH_FLAG,
    OTHER_MONTH_SQL,
    POLICE_ID,
    SCHEMA_VERSION,
    ingest_values,
    insert_new_sql,
)


def migrate(con: duckdb.DuckDBPyConnection, ddl: str = OFFENCE_DDL) -> bool:
    """Create missing tables (``ddl``: all of them in a single-file snapshot, the catalog's
    in a partitioned one) and bring the store to ``SCHEMA_VERSION``.

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
    return True


def write_file(con: duckdb.DuckDBPyConnection, batch: FileBatch,
               boundaries_version: str, record_as: int | None = None) -> FileReport:
    """Upsert one file's rows and log it in ``ingests``; counts are against the store as is.

    With ``record_as``, the file's police.uk Crime IDs are also kept in the temp table
    ``ids_in`` (file number, line, the id's hash, whether it was counted in another month),
    for a check against partitions the ingest did not load."""
    ingest_id = con.execute("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests").fetchall()[0][0]
    # as Arrow (prepared so by an ingest worker, or converted here once): DuckDB reads Arrow
    # columns directly, where a pandas scan converts each string column value by value
    rows = batch.arrow(BATCH_COLUMNS)
    if pc.count_distinct(rows["offence_key"]).as_py() != rows.num_rows:
        raise IngestCountError(f"{batch.file}: an offence key occurs twice in one file")
    con.register("rows", rows.append_column(
        "ingest_id", pa.array(np.full(rows.num_rows, ingest_id, dtype=np.int64))))
    # the counts read a few columns several times: those are copied into DuckDB once
    con.execute(f"CREATE TEMP TABLE incoming AS SELECT {', '.join(COUNT_COLUMNS)} FROM rows"
                ).fetchall()
    try:
        inserted, updated, unchanged, outcomes = con.execute(FILE_COUNTS_SQL).fetchall()[0]
        other_month = con.execute(OTHER_MONTH_SQL).fetchall()[0][0]
        if record_as is not None:
            con.execute(f"INSERT INTO ids_in SELECT {int(record_as)}, i.line, "
                        f"CAST(md5(i.source_id) AS UUID), {OTHER_MONTH_FLAG} FROM incoming i "
                        f"WHERE {POLICE_ID}").fetchall()
        if updated:
            con.execute(DELETE_UPDATED_SQL).fetchall()
        written = 0
        if inserted or updated:
            written = con.execute(insert_new_sql(", ".join(OFFENCE_COLUMNS), unchanged)
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
    report = file_report(batch, inserted, updated, unchanged, outcomes, other_month)
    con.execute(f"INSERT INTO ingests ({', '.join(INGEST_COLUMNS)}, ingested_at) "
                f"VALUES ({', '.join('?' * len(INGEST_COLUMNS))}, now())",
                ingest_values(report, ingest_id, boundaries_version)).fetchall()
    return report


def content_version(con: duckdb.DuckDBPyConnection, boundaries_version: str) -> str:
    """'v' + 12 hex of sha256 over the stored content and the boundaries: the number of rows
    and the XOR of the 128-bit MD5 of every (offence_key, row_hash). Keys are unique, so the
    XOR changes when any row is added, changed or removed, whatever the order they were
    written in; it streams (constant memory) where a sorted concatenation of every key
    would need memory in proportion to the store."""
    n, upper, lower = con.execute(f"SELECT {CONTENT_SUMS} FROM offences").fetchall()[0]
    return version_from(n, upper, lower, boundaries_version)


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
    """The dataset version of ``n`` rows whose MD5s XOR to (upper, lower) (64-bit halves)."""
    mask = 2**64 - 1
    content = f"{n} {(upper or 0) & mask:016x}{(lower or 0) & mask:016x}"
    return "v" + hashlib.sha256(f"{content}\n{boundaries_version}".encode()).hexdigest()[:12]
