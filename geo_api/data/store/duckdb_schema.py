"""The DuckDB store's tables, columns and schema versions, and the SQL of the per-file
tally (shared by the read and write halves)."""

from __future__ import annotations

from pathlib import Path

from geo_api.data.store.base import H3_RESOLUTIONS, LAYER_COLUMNS


def sql_str(text: str | Path) -> str:
    """A SQL string literal (for file paths and partition names, which DuckDB cannot take as
    parameters where they are used)."""
    return "'" + str(text).replace("'", "''") + "'"


OFFENCE_SCHEMA = """(
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
)"""
OFFENCE_TABLE = f"offences {OFFENCE_SCHEMA}"
CATALOG_DDL = """
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
OFFENCE_DDL = f"\nCREATE TABLE IF NOT EXISTS {OFFENCE_TABLE};{CATALOG_DDL}"
# The partition of the partitioned store a row lives in, a function of its key: police.uk
# rows by month (the month is part of both police.uk keys, so a key never changes month),
# other sources in 16 buckets of the key (a force's record may be revised into another month).
PARTITION_SQL = ("CASE WHEN source = 'police_uk' THEN 'puk-' || coalesce(strftime(month, "
                 "'%Y-%m'), 'none') ELSE source || '-' || CAST(md5_number_lower(offence_key) "
                 "% 16 AS VARCHAR) END")
# Stored beside each partition's rows: the 128-bit MD5 of the Crime ID, so the other-month
# counts scan 16 bytes a row instead of the 64-character id (equal MD5s are taken as equal
# ids, as the dataset version takes equal MD5 sums as equal content).
SOURCE_ID_HASH = "CAST(md5(source_id) AS UUID)"  # Parquet keeps UUIDs as 16 bytes
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
# 3: H3 cells at every resolution are the cells that contain the point (not parents of the
#    r10 cell); metric coordinates NULL without a location (``derive``: migrated on write).
SCHEMA_VERSION = 3
# How the columns derived from a row's coordinates are computed (part of the dataset
# version: the same rows joined by other rules give other answers). 1: H3 parents of r10;
# 2: latlng_to_cell at every resolution.
DERIVED_VERSION = "derived-2"
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
# What the writer reads of a batch: the stored columns but the ingest id, and the file line
BATCH_COLUMNS = (*(c for c in OFFENCE_COLUMNS if c != "ingest_id"), "line")
COUNT_COLUMNS = ("offence_key", "row_hash", "outcome", "source", "source_id", "month", "line")


# One pass over a file's rows against the store (``table``: where its rows' keys live):
# inserted, updated, unchanged, outcomes changed.
def file_counts_sql(table: str = "offences") -> str:
    return f"""
SELECT count(*) FILTER (WHERE o.offence_key IS NULL),
       count(*) FILTER (WHERE o.row_hash <> i.row_hash),
       count(*) FILTER (WHERE o.row_hash = i.row_hash),
       count(*) FILTER (WHERE o.row_hash <> i.row_hash AND o.outcome IS DISTINCT FROM i.outcome)
FROM incoming i LEFT JOIN {table} o USING (offence_key)
"""


FILE_COUNTS_SQL = file_counts_sql()
# police.uk rows whose Crime ID is stored under another month, or occurs under another month
# on an earlier line of the same file (so a repeat is counted once, on its later copy). The
# PostGIS store asks this per file; the embedded store counts the same once per ingest
# (duckdb_parts), as a scan per file of every staged row would grow with the ingest.
POLICE_ID = "i.source = 'police_uk' AND i.source_id IS NOT NULL"
OTHER_MONTH_FLAG = """(
  EXISTS (SELECT 1 FROM offences o WHERE o.source = 'police_uk' AND o.source_id = i.source_id
          AND o.month <> i.month)
  OR EXISTS (SELECT 1 FROM incoming j WHERE j.source_id = i.source_id AND j.month <> i.month
             AND j.line < i.line))"""
OTHER_MONTH_SQL = f"SELECT count(*) FROM incoming i WHERE {POLICE_ID} AND {OTHER_MONTH_FLAG}"


# The upsert of one file's rows, staged as ``incoming`` (the tally columns) and ``rows``:
def delete_updated_sql(table: str = "offences") -> str:
    return (f"DELETE FROM {table} WHERE offence_key IN (SELECT i.offence_key FROM "
            f"incoming i JOIN {table} o USING (offence_key) WHERE o.row_hash <> i.row_hash)")


DELETE_UPDATED_SQL = delete_updated_sql()


def insert_new_sql(columns: str, unchanged: int, table: str = "offences") -> str:
    """Insert the staged rows not already stored. Unchanged rows stay as stored (with the
    ingest that wrote them); a first load (none unchanged) and a re-ingest (all unchanged)
    skip the anti-join, a scan of every row."""
    keep = (f" WHERE NOT EXISTS (SELECT 1 FROM {table} o WHERE o.offence_key = r.offence_key)"
            if unchanged else "")
    return f"INSERT INTO {table} ({columns}) SELECT {columns} FROM rows r{keep}"


def ingest_values(report, ingest_id: int, boundaries_version: str) -> list:
    """The ``ingests`` row of a file (``INGEST_COLUMNS`` order)."""
    values = {**{c: getattr(report, c) for c in INGEST_COLUMNS if hasattr(report, c)},
              "ingest_id": ingest_id, "boundaries_version": boundaries_version}
    return [values[c] for c in INGEST_COLUMNS]
