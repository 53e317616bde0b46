"""The offence store on PostgreSQL + PostGIS, for deployments with several API workers or
hosts and for GIS users connecting directly. Selected by ``GEO_API_DATABASE_URL``.

The same contract as ``DuckDBStore`` (``base.Store``) and the same queries: ``PostGISReader``
is the shared ``queries.SQLReader`` with the two ways a query returns (a DataFrame, rows) and
two dialect fragments implemented for PostgreSQL (psycopg 3). Tables mirror the DuckDB schema; H3 ids
are BIGINT computed in Python at ingest (they fit in 63 bits), and ``geom`` is a generated
``geometry(Point, 27700)`` column with a GiST index, with ``offences_lonlat`` as an EPSG:4326
view for QGIS/ArcGIS.

Guarantees, as in the DuckDB store: an ingest is one transaction (a rejected or killed
ingest leaves nothing; readers never see half of one), one writer at a time (a session
advisory lock; a second ingest gets ``StoreBusy`` at once), and each reader (one per API
request) reads one consistent snapshot (a REPEATABLE READ, READ ONLY transaction).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd
import shapely

from geo_api.data.store.base import (
    FileBatch,
    FileReport,
    IngestCountError,
    Join,
    file_report,
)
from geo_api.data.store.derive import H3_COLUMNS, rederive_frame
from geo_api.data.store.duckdb_schema import (
    BATCH_COLUMNS,
    COUNT_COLUMNS,
    DELETE_UPDATED_SQL,
    FILE_COUNTS_SQL,
    INGEST_COLUMNS,
    OFFENCE_COLUMNS,
    OFFENCE_DDL,
    OTHER_MONTH_SQL,
    SCHEMA_VERSION,
    ingest_values,
    insert_new_sql,
)
from geo_api.data.store.duckdb_write import version_from
from geo_api.data.store.queries import ReadThrough, SnapshotInfo, SQLReader
from geo_api.errors import StoreBusy, StoreEmpty

LOCK_KEY = 0x6765_6f61_7069  # "geoapi": the one-writer advisory lock
# text compares byte by byte (COLLATE "C"), as in DuckDB: the same order for paging and ties
PG_DDL = (OFFENCE_DDL.replace("UBIGINT", "BIGINT").replace("DOUBLE", "DOUBLE PRECISION")
          .replace("VARCHAR", 'TEXT COLLATE "C"')
          .replace('row_hash TEXT COLLATE "C", ingest_id INTEGER\n);',
                   "row_hash TEXT, ingest_id INTEGER,\n  geom geometry(Point, 27700) "
                   "GENERATED ALWAYS AS (CASE WHEN x_m IS NULL OR y_m IS NULL THEN NULL ELSE "
                   "ST_SetSRID(ST_MakePoint(x_m, y_m), 27700) END) STORED,\n"
                   "  PRIMARY KEY (offence_key)\n);")
          .replace('CREATE TABLE IF NOT EXISTS meta (key TEXT COLLATE "C", value TEXT COLLATE "C");',
                   "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"))
# indexes for the filters the API uses (period, group, category, areas, H3, space)
PG_INDEXES = [
    "CREATE INDEX IF NOT EXISTS offences_month ON offences (month)",
    "CREATE INDEX IF NOT EXISTS offences_category ON offences (crime_category)",
    ("CREATE INDEX IF NOT EXISTS offences_vrw ON offences (month) "
     "WHERE violence_robbery_weapons"),
    "CREATE INDEX IF NOT EXISTS offences_ward ON offences (ward_code)",
    "CREATE INDEX IF NOT EXISTS offences_lsoa ON offences (lsoa_code)",
    "CREATE INDEX IF NOT EXISTS offences_h3_r9 ON offences (h3_r9)",
    "CREATE INDEX IF NOT EXISTS offences_geom ON offences USING gist (geom)",
    "CREATE INDEX IF NOT EXISTS offences_source_id ON offences (source_id)",
    ("CREATE OR REPLACE VIEW offences_lonlat AS SELECT offence_key, month, crime_category, "
     "outcome, violence_robbery_weapons, npa_code, ward_code, lsoa_code, h3_r9, "
     "ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom FROM offences"),
]
DATE_OIDS = {1082, 1114, 1184}  # date, timestamp, timestamptz
INT_COLUMNS = {"victim_age", "suspect_age", "ingest_id", "line"}


def _sql(sql: str) -> str:
    """DuckDB-style ``?`` placeholders as psycopg's ``%s`` (the shared SQL has no ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


@dataclass
class PGSnapshot:
    """The snapshot a PostgreSQL reader sees (``queries.SnapshotInfo``): the content it
    names is what its REPEATABLE READ transaction reads."""

    name: str
    dataset_version: str | None
    boundaries_version: str | None
    cache: dict = field(default_factory=dict)


class PostGISReader(SQLReader):
    """The shared queries on one consistent PostgreSQL snapshot."""

    MONTH_TEXT = "to_char(month, 'YYYY-MM')"

    def __init__(self, conn, snap: SnapshotInfo):
        super().__init__(snap)
        self._conn = conn

    @staticmethod
    def _round6(col: str) -> str:
        return f"round({col}::numeric, 6)::double precision"

    def _execute(self, sql: str, params=()):
        cur = self._conn.cursor()
        cur.execute(_sql(sql), [_py(v) for v in params])
        return cur

    def _df(self, sql: str, params=()) -> pd.DataFrame:
        cur = self._execute(sql, params)
        cols = [d.name for d in cur.description]
        df = pd.DataFrame(cur.fetchall(), columns=cols)
        for d in cur.description:  # dates and times as DuckDB returns them: datetime64
            if d.type_code in DATE_OIDS:
                df[d.name] = pd.to_datetime(df[d.name])
        return df

    def _rows(self, sql: str, params=()) -> list[tuple]:
        return self._execute(sql, params).fetchall()

    def close(self) -> None:
        pass  # the store's ``reader()`` ends the transaction and returns the connection


def _py(v):
    """A parameter or cell as psycopg takes it (numpy and pandas values as Python's)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


class PostGISStore(ReadThrough):
    """Offence store in a PostgreSQL database with PostGIS (``url``: a libpq URL)."""

    arrow_columns: tuple[str, ...] | None = None  # ingest workers hand it DataFrames

    def __init__(self, url: str, pool_size: int = 10):
        import psycopg  # noqa: PLC0415 - lazy: PostGIS only
        from psycopg_pool import ConnectionPool  # noqa: PLC0415 - lazy: PostGIS only

        self.url = url
        self._psycopg = psycopg
        self._writing = False
        self._memo: dict = {}  # dataset version -> per-snapshot memo (sources, months)
        self.rejoin: Join | None = None  # the ingest's join, for migrations (``derive``)
        with psycopg.connect(url, autocommit=True) as conn:
            self._migrate(conn)

        def read_only_snapshots(conn) -> None:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.commit()  # leave the configured connection idle

        # readers reuse connections (a request no longer pays a connection set-up); the
        # pool checks them and replaces broken ones
        self._readers = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                       configure=read_only_snapshots,
                                       check=ConnectionPool.check_connection,
                                       name="geo_api-readers")

    @staticmethod
    def _migrate(conn) -> None:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        for stmt in filter(str.strip, PG_DDL.split(";")):
            conn.execute(stmt)
        for stmt in PG_INDEXES:
            conn.execute(stmt)

    def _connect(self, **kw):
        return self._psycopg.connect(self.url, **kw)

    # -- readers ------------------------------------------------------------------------
    @contextmanager
    def reader(self) -> Iterator[PostGISReader]:
        """One consistent snapshot for the block (REPEATABLE READ, READ ONLY)."""
        with self._readers.connection() as conn:
            try:
                yield from self._snapshot(conn)
            finally:
                conn.rollback()  # end the snapshot before the connection goes back

    def _snapshot(self, conn) -> Iterator[PostGISReader]:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        version = meta.get("dataset_version")
        if version is None:
            raise StoreEmpty("the store has no data yet: run `geo_api load-demo` or "
                             "`geo_api ingest`")
        snap = PGSnapshot(name=f"postgis:{version}", dataset_version=version,
                          boundaries_version=meta.get("boundaries_version"),
                          cache=self._memo.setdefault(version, {}))
        yield PostGISReader(conn, snap)

    def close(self) -> None:
        self._readers.close()

    def publish_boundaries(self, boundaries) -> bool:
        """Copy the boundary layers into ``boundary_<layer>`` tables (attributes and
        ``geom geometry(MultiPolygon, 27700)`` with a GiST index), so a GIS connecting to the
        database has the areas the counts refer to; redone only when the boundaries version
        changes. Returns True if it wrote them."""

        try:
            lock = self.write_lock()
            lock.__enter__()
        except StoreBusy:  # another process is publishing (or ingesting): leave it to it
            return False
        try:
            return self._publish(boundaries, shapely)
        finally:
            lock.__exit__(None, None, None)

    def _publish(self, boundaries, shapely) -> bool:
        with self._connect() as conn:
            done = conn.execute("SELECT value FROM meta WHERE key = 'published_boundaries'"
                                ).fetchone()
            if done and done[0] == boundaries.version:
                return False
            for name, layer in boundaries.layers.items():
                gdf = layer.gdf
                attrs = [c for c in gdf.columns if c != "geometry"]
                table = f"boundary_{name}"
                conn.execute(f"DROP TABLE IF EXISTS {table}")
                types = {c: ("DOUBLE PRECISION" if gdf[c].dtype.kind == "f" else "BIGINT"
                             if gdf[c].dtype.kind in "iu" else 'TEXT COLLATE "C"')
                         for c in attrs}
                conn.execute(f"CREATE TABLE {table} ("
                             + ", ".join(f"{c} {t}" for c, t in types.items())
                             + ", geom geometry(MultiPolygon, 27700), PRIMARY KEY (code))")
                frame = gdf[attrs].copy()
                wkt = shapely.to_wkt([_multipolygon(g) for g in gdf.geometry.values],
                                     rounding_precision=-1)
                frame["geom"] = [f"SRID=27700;{w}" for w in wkt]
                _copy(conn, table, frame)
                conn.execute(f"CREATE INDEX ON {table} USING gist (geom)")
            conn.execute("INSERT INTO meta VALUES ('published_boundaries', %s) ON CONFLICT "
                         "(key) DO UPDATE SET value = EXCLUDED.value", [boundaries.version])
            conn.commit()
        return True

    # -- writing ------------------------------------------------------------------------
    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """The one-writer lock (a session advisory lock), taken at once or refused with
        StoreBusy; re-entrant within this store object."""
        if self._writing:
            yield
            return
        conn = self._connect(autocommit=True)
        try:
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]).fetchone()[0]:
                raise StoreBusy("another ingest is writing the store; try again when it "
                                "finishes")
            self._writing = True
            try:
                yield
            finally:
                self._writing = False
                conn.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
        finally:
            conn.close()

    def upgrade(self, boundaries_version: str) -> bool:
        """Bring rows stored by an older schema to ``SCHEMA_VERSION`` now (see
        ``DuckDBStore.upgrade``). True if it did."""
        return self.write([], boundaries_version, upgrade_only=True)[1] is not None

    def write(self, files: Iterable[FileBatch], boundaries_version: str,
              upgrade_only: bool = False) -> tuple[list[FileReport], str | None]:
        """Upsert each file in order in ONE transaction (see ``DuckDBStore.write``); rows of
        an older schema are migrated first, in the same transaction."""
        with self.write_lock(), self._connect() as conn:
            migrated = _upgrade_rows(conn, self.rejoin)
            if upgrade_only and not migrated:
                conn.rollback()
                return [], None
            reports = []
            for batch in files:
                reports.append(_write_file(conn, batch, boundaries_version))
            if not migrated and not any(r.inserted or r.updated or r.quarantined
                                        for r in reports):
                conn.rollback()
                return reports, self.dataset_version()
            version = _content_version(conn, boundaries_version)
            conn.execute("DELETE FROM meta WHERE key IN ('dataset_version', "
                         "'boundaries_version', 'schema_version')")
            conn.cursor().executemany("INSERT INTO meta VALUES (%s, %s)", [
                ("dataset_version", version), ("boundaries_version", boundaries_version),
                ("schema_version", str(SCHEMA_VERSION))])
            conn.commit()
            return reports, version


def _upgrade_rows(conn, rejoin: Join | None) -> bool:
    """Schema 2 -> 3 on stored rows (``derive``): H3 cells that contain their points, NULL
    metric coordinates (so a NULL geometry) without a location and, with ``rejoin``, area
    codes joined again. True if there were rows of an older schema."""
    found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    has_rows = conn.execute("SELECT EXISTS (SELECT 1 FROM offences)").fetchone()[0]
    if not has_rows or (found is not None and int(found[0]) >= SCHEMA_VERSION):
        return False
    conn.execute("UPDATE offences SET x_m = NULL, y_m = NULL WHERE NOT has_location OR "
                 "x_m IS NULL OR y_m IS NULL OR x_m IN ('Infinity', '-Infinity', 'NaN') "
                 "OR y_m IN ('Infinity', '-Infinity', 'NaN')")
    points = pd.DataFrame(conn.execute(
        "SELECT lon, lat, min(x_m), min(y_m) FROM offences WHERE lon IS NOT NULL AND lat IS "
        "NOT NULL GROUP BY lon, lat").fetchall(), columns=["lon", "lat", "x_m", "y_m"])
    points = points.astype(float)
    derived = rederive_frame(points, rejoin).drop(columns=["x_m", "y_m"])
    cols = [c for c in derived.columns if c not in ("lon", "lat")]
    conn.execute("CREATE TEMP TABLE derived (lon DOUBLE PRECISION, lat DOUBLE PRECISION, "
                 + ", ".join(f"{c} {'BIGINT' if c in H3_COLUMNS else 'TEXT'}" for c in cols)
                 + ") ON COMMIT DROP")
    _copy(conn, "derived", derived[["lon", "lat", *cols]])
    conn.execute("UPDATE offences o SET " + ", ".join(f"{c} = d.{c}" for c in cols)
                 + " FROM derived d WHERE o.lon = d.lon AND o.lat = d.lat")
    return True


def _multipolygon(g):
    """A polygonal geometry (Polygon, MultiPolygon, or a collection holding them) as one
    MultiPolygon."""

    polys, todo = [], [g]
    while todo:
        part = todo.pop()
        if part.geom_type == "Polygon":
            polys.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            todo.extend(shapely.get_parts(part))
    return shapely.MultiPolygon(polys[::-1])


def _copy(conn, table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into ``table`` (its columns in order) as CSV text."""
    buf = io.StringIO()
    out = frame.copy()
    for c in INT_COLUMNS & set(out.columns):  # whole numbers, not "25.0"
        out[c] = out[c].astype("Int64")
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object)
        if out[c].dtype == np.uint64:
            out[c] = out[c].astype(np.int64)
    out.to_csv(buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
    with conn.cursor().copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN "
                            "WITH (FORMAT csv, NULL '\\N')") as cp:
        cp.write(buf.getvalue())


def _write_file(conn, batch: FileBatch, boundaries_version: str) -> FileReport:
    """One file's upsert and tally (the same SQL as the DuckDB store's ``write_file``)."""
    frame = batch.frame if batch.frame is not None else batch.arrow(BATCH_COLUMNS).to_pandas()
    if frame["offence_key"].duplicated().any():
        raise IngestCountError(f"{batch.file}: an offence key occurs twice in one file")
    ingest_id = conn.execute("SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests"
                             ).fetchone()[0]
    cols = ", ".join(OFFENCE_COLUMNS)
    conn.execute("CREATE TEMP TABLE incoming (offence_key TEXT, row_hash TEXT, outcome TEXT, "
                 "source TEXT, source_id TEXT, month DATE, line INTEGER)")
    conn.execute(f"CREATE TEMP TABLE rows AS SELECT {cols} FROM offences WITH NO DATA")
    try:
        _copy(conn, "incoming", frame[list(COUNT_COLUMNS)])
        _copy(conn, "rows", frame.assign(ingest_id=ingest_id)[list(OFFENCE_COLUMNS)])
        conn.execute("CREATE INDEX ON incoming (offence_key)")
        conn.execute("CREATE INDEX ON incoming (source_id, month)")
        conn.execute("ANALYZE incoming")
        conn.execute("ANALYZE rows")
        inserted, updated, unchanged, outcomes = conn.execute(FILE_COUNTS_SQL).fetchone()
        other_month = conn.execute(OTHER_MONTH_SQL).fetchone()[0]
        if updated:
            conn.execute(DELETE_UPDATED_SQL)
        written = 0
        if inserted or updated:
            written = conn.execute(insert_new_sql(cols, unchanged)).rowcount
    finally:
        conn.execute("DROP TABLE incoming")
        conn.execute("DROP TABLE rows")
    if written != inserted + updated:
        raise IngestCountError(f"{batch.file}: wrote {written} rows, expected "
                               f"{inserted} inserted + {updated} updated")
    if batch.quarantine is not None and len(batch.quarantine):
        q = batch.quarantine.assign(ingest_id=ingest_id)[
            ["ingest_id", "line", "field", "message", "value"]]
        conn.cursor().executemany("INSERT INTO quarantine VALUES (%s, %s, %s, %s, %s)",
                                  [tuple(_py(v) for v in r) for r in q.itertuples(index=False)])
    report = file_report(batch, inserted, updated, unchanged, outcomes, other_month)
    conn.execute(f"INSERT INTO ingests ({', '.join(INGEST_COLUMNS)}, ingested_at) "
                 f"VALUES ({', '.join(['%s'] * len(INGEST_COLUMNS))}, now())",
                 [_py(v) for v in ingest_values(report, ingest_id, boundaries_version)])
    return report


def _le64(hex16: str) -> str:
    """SQL: 16 hex digits read as a little-endian 64-bit integer (DuckDB's md5_number_*)."""
    return ("('x' || " + " || ".join(f"substr({hex16}, {i}, 2)" for i in range(15, 0, -2))
            + ")::bit(64)::bigint")


def _content_version(conn, boundaries_version: str) -> str:
    """The DuckDB store's formula: row count and the XOR of the 128-bit MD5 of every
    (offence_key, row_hash) - the same content gives the same version on either backend."""
    n, upper, lower = conn.execute(
        f"SELECT count(*), bit_xor({_le64('substr(m, 1, 16)')}), "
        f"bit_xor({_le64('substr(m, 17, 16)')}) "
        "FROM (SELECT md5(offence_key || ' ' || row_hash) AS m FROM offences) AS hashed"
    ).fetchone()
    return version_from(n, upper, lower, boundaries_version)


class PostGISSets:
    """Named sets (candidate sites, partner indicators) in the database, so every API host
    sees the same ones: one row per set (CSV text as the files hold it, owner, JSON
    description), and for site sets their points in ``site_points`` (geometry(Point, 27700))
    for GIS. ``kind`` separates the stores ("sites", "indicators")."""

    DDL = (
        ('CREATE TABLE IF NOT EXISTS named_sets (kind TEXT COLLATE "C", name TEXT COLLATE "C", '
         "owner TEXT, about JSONB, csv TEXT NOT NULL, updated TIMESTAMPTZ NOT NULL, "
         "PRIMARY KEY (kind, name))"),
        ('CREATE TABLE IF NOT EXISTS site_points (set_name TEXT COLLATE "C", name TEXT, '
         "kind TEXT, geom geometry(Point, 27700))"),
        "CREATE INDEX IF NOT EXISTS site_points_set ON site_points (set_name)",
        "CREATE INDEX IF NOT EXISTS site_points_geom ON site_points USING gist (geom)",
    )
    _ready: ClassVar[set] = set()  # databases whose tables exist (created once per process)

    def __init__(self, url: str, kind: str):
        import psycopg  # noqa: PLC0415 - lazy: PostGIS only

        self.url, self.kind, self._psycopg = url, kind, psycopg
        if url not in self._ready:
            with psycopg.connect(url, autocommit=True) as conn:
                for stmt in self.DDL:
                    conn.execute(stmt)
            self._ready.add(url)

    def get(self, name: str) -> dict | None:
        with self._psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT csv, about, owner, updated FROM named_sets "
                               "WHERE kind = %s AND name = %s", [self.kind, name]).fetchone()
        return None if row is None else dict(zip(("csv", "about", "owner", "updated"), row))

    def put(self, name: str, csv: str, about: dict | None, owner: str,
            points: pd.DataFrame | None = None) -> None:
        """Replace the set in one transaction (the owner is kept when it exists)."""
        from psycopg.types.json import Jsonb  # noqa: PLC0415 - lazy: PostGIS only

        with self._psycopg.connect(self.url) as conn:
            conn.execute(
                "INSERT INTO named_sets VALUES (%s, %s, %s, %s, %s, now()) "
                "ON CONFLICT (kind, name) DO UPDATE SET csv = EXCLUDED.csv, updated = now(), "
                "about = coalesce(EXCLUDED.about, named_sets.about)",
                [self.kind, name, owner, None if about is None else Jsonb(about), csv])
            if points is not None:
                conn.execute("DELETE FROM site_points WHERE set_name = %s", [name])
                conn.cursor().executemany(
                    "INSERT INTO site_points VALUES (%s, %s, %s, "
                    "ST_SetSRID(ST_MakePoint(%s, %s), 27700))",
                    [(name, r.name, r.kind, float(r.x_m), float(r.y_m))
                     for r in points.itertuples(index=False)])

    def delete(self, name: str) -> None:
        with self._psycopg.connect(self.url) as conn:
            conn.execute("DELETE FROM named_sets WHERE kind = %s AND name = %s",
                         [self.kind, name])
            if self.kind == "sites":
                conn.execute("DELETE FROM site_points WHERE set_name = %s", [name])

    def listing(self) -> list[dict]:
        with self._psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT name, owner, updated, length(csv), csv FROM named_sets "
                                "WHERE kind = %s ORDER BY name", [self.kind]).fetchall()
        return [{"name": n, "owner": o, "updated": u, "bytes": b,
                 "n_rows": max(0, c.count("\n") - 1)} for n, o, u, b, c in rows]

    @contextmanager
    def locked(self):
        """Check-then-write of owners under one lock across hosts (a transaction-scoped
        advisory lock per kind would end with its connection; a session lock is held)."""
        conn = self._psycopg.connect(self.url, autocommit=True)
        key = int.from_bytes(hashlib.sha256(self.kind.encode()).digest()[:7], "big")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", [key])
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [key])
            conn.close()
