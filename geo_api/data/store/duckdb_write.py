"""The write half of the DuckDB store: schema migration, one file's upsert with its tally,
and the content version. ``DuckDBStore.write`` runs these inside one new snapshot."""

from __future__ import annotations

import hashlib

import duckdb

from geo_api.data.store.base import FileBatch, FileReport, IngestCountError
from geo_api.data.store.duckdb_schema import (
    COUNT_COLUMNS,
    FILE_COUNTS_SQL,
    INGEST_COLUMNS,
    MIGRATE_TO_2,
    OFFENCE_COLUMNS,
    OFFENCE_DDL,
    OTHER_MONTH_SQL,
    SCHEMA_VERSION,
)


def migrate(con: duckdb.DuckDBPyConnection) -> bool:
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


def write_file(con: duckdb.DuckDBPyConnection, batch: FileBatch,
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


def content_version(con: duckdb.DuckDBPyConnection, boundaries_version: str) -> str:
    """'v' + 12 hex of sha256 over the stored content and the boundaries: the number of rows
    and the XOR of the 128-bit MD5 of every (offence_key, row_hash). Keys are unique, so the
    XOR changes when any row is added, changed or removed, whatever the order they were
    written in; it streams (constant memory) where a sorted concatenation of every key
    would need memory in proportion to the store."""
    n, upper, lower = con.execute(
        "SELECT count(*), bit_xor(md5_number_upper(offence_key || ' ' || row_hash)), "
        "bit_xor(md5_number_lower(offence_key || ' ' || row_hash)) FROM offences"
    ).fetchall()[0]
    content = f"{n} {upper or 0:016x}{lower or 0:016x}"
    return "v" + hashlib.sha256(f"{content}\n{boundaries_version}".encode()).hexdigest()[:12]
