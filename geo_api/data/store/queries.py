"""The store's queries, written once in standard SQL for every backend.

``SQLReader`` holds the queries of ``StoreReader`` (``base``) on one pinned snapshot; a
backend subclasses it with the two ways its queries return (a DataFrame, rows), its
``close`` and two fragments of its dialect (DuckDB: ``duckdb_store.DuckDBReader``;
PostgreSQL: ``postgis_store.PostGISReader``). ``ReadThrough`` gives a store the same queries
as one-off reads, each pinning the current snapshot for just that call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from geo_api.analysis.defaults import DEFAULT_GROUP
from geo_api.data.boundaries import CITY_LAD
from geo_api.data.store.base import (
    FLAG_COLUMNS,
    H3_RESOLUTIONS,
    LAYER_COLUMNS,
    OffenceFilter,
    StoreReader,
)
from geo_api.data.store.duckdb_schema import OFFENCE_COLUMNS
from geo_api.errors import InvalidParameter, StoreEmpty

# The one definition of the study areas (``boundaries.CITY_LAD``): an offence is in the city
# when the district it was joined to at ingest is the city's, in the force area when it was
# joined to any district
STUDY_AREA_SQL = {"city": f"lad_code = '{CITY_LAD}'", "force": "lad_code IS NOT NULL"}
GROUP_SQL = {
    "all": "TRUE",
    DEFAULT_GROUP: "violence_robbery_weapons",  # the police.uk proxy's column
    "vrn_serious_violence": "vrn_serious_violence IS TRUE",
    "knife_enabled_serious_violence": "knife_enabled IS TRUE",
}


def where_sql(flt: OffenceFilter) -> tuple[str, list]:
    """SQL WHERE clause and parameters for a filter (columns and groups are allow-listed;
    standard SQL that DuckDB and PostgreSQL both run, ``?`` placeholders)."""
    parts: list[str] = []
    params: list[object] = []
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



class SnapshotInfo(Protocol):
    """What a reader knows of the snapshot it is pinned to."""

    name: str
    dataset_version: str | None
    boundaries_version: str | None
    cache: dict[str, Any]  # per-snapshot memo (sources, months loaded), shared by readers


class SQLReader(ABC):
    """Queries against ONE pinned snapshot: every query of a request sees the same data.

    Obtain one from a store's ``reader()`` (a context manager). Implements ``StoreReader``.
    """

    # what a backend implements: the two ways a query returns, its end, and two fragments
    # of its SQL dialect
    MONTH_TEXT: ClassVar[str]  # month as 'YYYY-MM'

    def __init__(self, snap: SnapshotInfo):
        self._snap = snap

    @staticmethod
    @abstractmethod
    def _round6(col: str) -> str:
        """``col`` rounded to 6 decimal places, as a double."""

    @abstractmethod
    def _df(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """The result of ``sql`` (``?`` placeholders) as a DataFrame."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """The result of ``sql`` (``?`` placeholders) as tuples."""

    @abstractmethod
    def close(self) -> None:
        """Release what the reader holds (its store calls this when the block ends)."""

    @property
    def snapshot_name(self) -> str:
        return self._snap.name

    def dataset_version(self) -> str | None:
        return self._snap.dataset_version

    def boundaries_version(self) -> str | None:
        return self._snap.boundaries_version

    def query_offences(self, flt: OffenceFilter, limit: int, offset: int,
                       columns: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
        """Matching rows (ordered by month, key) and the total number matched. A page deep
        in the selection costs the database its keys up to the page, not every row up to it
        (``offence_batches``)."""
        check_columns(columns)
        where, params = where_sql(flt)
        n = self._rows(f"SELECT count(*) FROM offences WHERE {where}", params)[0][0]
        if limit <= 0:
            return self._df(f"SELECT {', '.join(columns)} FROM offences LIMIT 0"), n
        return next(iter(self.offence_batches(flt, limit, offset, columns, limit))), n

    def offence_batches(self, flt: OffenceFilter, limit: int, offset: int,
                        columns: tuple[str, ...], batch_rows: int) -> Iterator[pd.DataFrame]:
        """The rows of ``query_offences(flt, limit, offset, columns)`` in batches of at most
        ``batch_rows`` (the first may be empty; no more follow an empty or short one).

        Each batch continues after the last key of the one before (keyset paging), so a
        batch costs the same wherever it starts: the database sorts at most ``batch_rows``
        rows at a time, never the whole selection (an OFFSET would sort everything before
        it on every batch). ``offset`` is skipped once, reading keys only."""
        check_columns(columns)
        where, params = where_sql(flt)
        keys = [c for c in ("month", "offence_key") if c not in columns]
        select = f"SELECT {', '.join((*columns, *keys))} FROM offences WHERE {where}"
        order = " ORDER BY month, offence_key LIMIT ?"
        after: tuple | None = None
        if offset:
            skipped = self._rows(f"SELECT month, offence_key FROM offences WHERE {where} "
                                 "ORDER BY month, offence_key LIMIT 1 OFFSET ?",
                                 params + [offset - 1])
            if not skipped:
                yield self._df(select + order, params + [0])[list(columns)]
                return
            after = skipped[0]
        done = 0
        while True:
            n = min(batch_rows, limit - done)
            if after is None:
                df = self._df(select + order, params + [n])
            elif after[0] is None:  # NULL months sort last (both backends' default)
                df = self._df(f"{select} AND month IS NULL AND offence_key > ?{order}",
                              params + [after[1], n])
            else:
                df = self._df(f"{select} AND (month > ? OR month IS NULL OR (month = ? AND "
                              f"offence_key > ?)){order}",
                              params + [after[0], after[0], after[1], n])
            if len(df):
                m = df["month"].iloc[-1]
                after = (None if pd.isna(m) else pd.Timestamp(m).date(),
                         df["offence_key"].iloc[-1])
            done += len(df)
            yield df.drop(columns=keys) if keys else df
            if len(df) < n or done >= limit:
                return

    def offence_by_key(self, key: str, columns: tuple[str, ...]) -> pd.DataFrame:
        """The row with ``offence_key`` = ``key`` (empty when there is none)."""
        check_columns(columns)
        return self._df(f"SELECT {', '.join(columns)} FROM offences WHERE offence_key = ?",
                        [key])

    def area_counts(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        """Counts per area code for ``layer``, plus totals (matched, no location, outside)."""
        col = layer_column(layer)
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
        check_columns(columns)
        where, params = where_sql(flt)
        return self._df(f"SELECT {', '.join(columns)} FROM offences WHERE {where}", params)

    def located_values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        """Selected (allow-listed) columns of matching offences that have a location."""
        check_columns(columns)
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
        col = layer_column(f"h3_r{resolution}")
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



class ReadThrough(ABC):
    """The ``StoreReader`` queries on a store itself, each call pinning the current snapshot
    for just that call (one-off reads: the CLI, scripts, tests)."""

    @abstractmethod
    def reader(self) -> AbstractContextManager[StoreReader]:
        """Pin the current snapshot for a block."""

    def dataset_version(self) -> str | None:
        """Version of the current snapshot, or None for an empty store."""
        try:
            with self.reader() as r:
                return r.dataset_version()
        except StoreEmpty:
            return None

    def query_offences(self, flt: OffenceFilter, limit: int, offset: int, columns: tuple[str, ...]
                       ) -> tuple[pd.DataFrame, int]:
        with self.reader() as r:
            return r.query_offences(flt, limit, offset, columns)

    def offence_batches(self, flt: OffenceFilter, limit: int, offset: int,
                        columns: tuple[str, ...], batch_rows: int) -> Iterator[pd.DataFrame]:
        with self.reader() as r:  # one snapshot for every batch
            yield from r.offence_batches(flt, limit, offset, columns, batch_rows)

    def offence_by_key(self, key: str, columns: tuple[str, ...]) -> pd.DataFrame:
        with self.reader() as r:
            return r.offence_by_key(key, columns)

    def area_counts(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        with self.reader() as r:
            return r.area_counts(layer, flt)

    def points(self, flt: OffenceFilter) -> pd.DataFrame:
        with self.reader() as r:
            return r.points(flt)

    def values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        with self.reader() as r:
            return r.values(columns, flt)

    def located_values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        with self.reader() as r:
            return r.located_values(columns, flt)

    def top_locations(self, flt: OffenceFilter, n: int) -> pd.DataFrame:
        with self.reader() as r:
            return r.top_locations(flt, n)

    def h3_cells(self, resolution: int, flt: OffenceFilter) -> np.ndarray:
        with self.reader() as r:
            return r.h3_cells(resolution, flt)

    def sources(self) -> set[str]:
        with self.reader() as r:
            return r.sources()

    def months_loaded(self) -> tuple[str, ...]:
        with self.reader() as r:
            return r.months_loaded()

    def summary(self) -> dict:
        with self.reader() as r:
            return r.summary()

    def n_crime_id_other_month(self) -> int:
        with self.reader() as r:
            return r.n_crime_id_other_month()

    def quarantine(self) -> pd.DataFrame:
        with self.reader() as r:
            return r.quarantine()

    def ingests(self) -> pd.DataFrame:
        with self.reader() as r:
            return r.ingests()


def check_columns(columns: tuple[str, ...]) -> None:
    bad = [c for c in columns if c not in OFFENCE_COLUMNS]
    if bad:
        raise InvalidParameter(f"unknown column(s) {bad}")


def layer_column(layer: str) -> str:
    if layer.startswith("h3_r") and layer[4:].isdigit() and int(layer[4:]) in H3_RESOLUTIONS:
        return layer
    if layer not in LAYER_COLUMNS:
        raise InvalidParameter(f"unknown layer {layer!r}; choose one of "
                               f"{list(LAYER_COLUMNS) + [f'h3_r{r}' for r in H3_RESOLUTIONS]}")
    return LAYER_COLUMNS[layer]
