"""The store contract: ``Store`` and ``StoreReader`` (the services depend on these, not on
DuckDB or PostgreSQL), with the values that cross it - ``OffenceFilter`` (which offences),
``FileBatch`` (one validated file to write) and the ingest reports.

Backends: ``duckdb_store.DuckDBStore`` (embedded, the default) and
``postgis_store.PostGISStore`` (``GEO_API_DATABASE_URL``); both read with the shared SQL of
``queries.SQLReader``. ``tests/test_store_contract.py`` runs the same checks on both.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FLAG_COLUMNS = ("knife_enabled", "under_25", "night_time_economy", "after_school",
                "vrn_serious_violence", "alcohol", "domestic", "public_place",
                "knife_sharp_instrument")
LAYER_COLUMNS = {"npa": "npa_code", "ward": "ward_code", "sector": "sector_code",
                 "lsoa": "lsoa_code", "lad": "lad_code", "oa": "oa_code"}
H3_RESOLUTIONS = (7, 8, 9, 10)


def _month_start(t: datetime) -> datetime:
    return datetime(t.year, t.month, 1)


def _next_month(m: datetime) -> datetime:
    return datetime(m.year + m.month // 12, m.month % 12 + 1, 1)


# MONTH_RULE: a record dated only by month (police.uk) counts when the interval covers at
# least half of its month (UK time); a month covered only in part is named in meta.warnings.


def month_parts(start: datetime | None, end: datetime | None
                ) -> list[tuple[datetime, float, bool]]:
    """The calendar months [``start``, ``end``) covers only in part: (month, share of it
    covered, counted?) - counted when the share is at least a half (``MONTH_RULE``)."""
    out: list[tuple[datetime, float, bool]] = []
    for t in (start, end):
        if t is None:
            continue
        m = _month_start(t if t is start else t - timedelta(microseconds=1))
        if any(m == o[0] for o in out):
            continue
        nxt = _next_month(m)
        lo = max(m, start) if start is not None else m
        hi = min(nxt, end) if end is not None else nxt
        gap = (nxt - m) - max(hi - lo, timedelta(0))
        if gap > timedelta(seconds=1):  # (an inclusive end at hh:mm:59 covers its month)
            share = 1 - gap / (nxt - m)
            out.append((m, share, share >= 0.5))
    return out


@dataclass(frozen=True)
class OffenceFilter:
    """Which offences an analysis uses. Times are naive local (Europe/London) datetimes.

    Rows with a time match when ``start <= occurred_at < end``. Rows dated only to the
    month (police.uk) match when their month is one of ``month_span`` (``MONTH_RULE``: the
    interval covers at least half of it), so "April to June" in any spelling - months,
    dates, or RFC 3339 instants in UTC or UK time - gives April to June.
    """

    start: datetime | None = None
    end: datetime | None = None
    group: str = "all"
    crime_categories: tuple[str, ...] = ()
    flags: dict[str, bool] = field(default_factory=dict)
    source: str | None = None
    bbox_lonlat: tuple[float, float, float, float] | None = None  # EPSG:4326 OGC bbox
    hours: tuple[int, int] | None = None  # time-of-day window [from, to) in hours, may wrap
    # "city" or "force": only offences whose district (joined at ingest) is the city's, or
    # any of the force's (``STUDY_AREA_SQL``); None: wherever they are
    study_area: str | None = None

    def month_span(self) -> tuple[datetime | None, datetime | None]:
        """[first, end) of the months whose month-dated records match (None: open); first
        == end when the interval covers no month by half."""
        parts = {m: counted for m, _, counted in month_parts(self.start, self.end)}
        first = end = None
        if self.start is not None:
            m = _month_start(self.start)
            first = m if parts.get(m, True) else _next_month(m)
        if self.end is not None:
            m = _month_start(self.end - timedelta(microseconds=1))
            end = _next_month(m) if parts.get(m, True) else m
        if first is not None and end is not None and end < first:
            end = first
        return first, end

    def describe(self) -> dict:
        a, b = self.month_span()
        if self.start is None and self.end is None:
            months = None
        elif a is not None and b is not None and a >= b:
            months = "none"
        else:
            last = b - timedelta(days=1) if b is not None else None
            months = f"{f'{a:%Y-%m}' if a else '..'}/{f'{last:%Y-%m}' if last else '..'}"
        return {
            "start": self.start.isoformat() if self.start else None,
            "end_exclusive": self.end.isoformat() if self.end else None,
            "month_dated": months,
            "group": self.group,
            "crime_categories": list(self.crime_categories),
            "flags": dict(self.flags),
            "source": self.source,
            "bbox_lonlat": list(self.bbox_lonlat) if self.bbox_lonlat else None,
            "hours": list(self.hours) if self.hours else None,
            "study_area": self.study_area,
        }


class IngestCountError(RuntimeError):
    """Internal error: a file's counts do not add up to its rows (a bug, not bad input)."""


@dataclass(frozen=True, eq=False)
class FileBatch:
    """One validated file ready to write: its good rows (with ``line``) as ``frame``, or as
    ``table`` (Arrow) when an ingest worker prepared it for a store that reads Arrow
    (its ``arrow_columns``): cheaper to pass between processes than a DataFrame, and what
    DuckDB reads without a conversion in the writer. ``arrow()`` gives them as Arrow either
    way.

    ``quarantine`` has one row per error of the bad rows (line, field, message, value);
    ``quarantined`` counts the distinct bad rows.
    """

    file: str
    kind: str
    sha256: str
    rows_read: int
    frame: pd.DataFrame | None
    quarantine: pd.DataFrame | None = None
    quarantined: int = 0
    table: pa.Table | None = None

    def __post_init__(self):
        if (self.frame is None) == (self.table is None):
            raise ValueError("a FileBatch holds its rows as frame or as table, not both")

    @property
    def n_rows(self) -> int:
        return len(self.frame) if self.frame is not None else self._table.num_rows

    @property
    def rejected(self) -> int:
        """Rows read that will be neither stored nor quarantined."""
        return self.rows_read - self.n_rows - self.quarantined

    @property
    def no_location(self) -> int:
        if self.frame is not None:
            return int((~self.frame["has_location"]).sum())
        return self.n_rows - (pc.sum(self._table["has_location"]).as_py() or 0)

    @property
    def _table(self) -> pa.Table:
        """``table`` when the rows are held as Arrow (``__post_init__``: frame or table)."""
        return cast(pa.Table, self.table)

    def arrow(self, columns: Iterable[str]) -> pa.Table:
        """These columns of the rows as an Arrow table."""
        columns = list(columns)
        if self.frame is None:
            return self._table.select(columns)
        # an object column with every value missing (most of the force-export fields in a
        # police.uk file) is an Arrow null column, made without inspecting each object
        # (from_pandas infers null for None; for NaN it would say double - stored as NULL
        # alike); the rest converted on one thread: a file's columns convert
        # in milliseconds, less than a thread pool's start-up, and an ingest's workers keep
        # the other cores busy
        frame = self.frame
        empty = {c for c in columns if frame[c].dtype == object and frame[c].isna().all()}
        rest = pa.Table.from_pandas(frame[[c for c in columns if c not in empty]],
                                    preserve_index=False, nthreads=1)
        nulls = pa.nulls(len(frame))
        return pa.table([nulls if c in empty else rest[c] for c in columns], names=columns)

    def as_arrow(self, columns: Iterable[str]) -> FileBatch:
        """This batch with its rows (these columns) as ``table`` instead of ``frame``."""
        return dataclasses.replace(self, frame=None, table=self.arrow(columns))


COUNTED = ("inserted", "updated", "unchanged", "quarantined", "rejected")


@dataclass(frozen=True)
class FileReport:
    """What one file of an ingest did; every row read is counted exactly once in ``COUNTED``.

    ``outcomes_changed`` counts updated rows whose outcome differs; ``crime_id_other_month``
    counts police.uk rows whose Crime ID was already stored (or seen earlier in the batch)
    under another month. Raises ``IngestCountError`` if the counts do not add up.
    """

    file: str
    kind: str
    sha256: str
    rows_read: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    rejected: int = 0
    outcomes_changed: int = 0
    crime_id_other_month: int = 0
    no_location: int = 0

    def __post_init__(self):
        counts = [getattr(self, c) for c in COUNTED]
        if sum(counts) != self.rows_read or min(counts) < 0:
            raise IngestCountError(
                f"{self.file}: counts do not add up: read {self.rows_read} != "
                + " + ".join(f"{c} {getattr(self, c)}" for c in COUNTED))


def file_report(batch: FileBatch, inserted: int, updated: int, unchanged: int,
                outcomes_changed: int, crime_id_other_month: int) -> FileReport:
    """A file's report from its upsert's counts (raises unless every row is counted once)."""
    return FileReport(
        file=batch.file, kind=batch.kind, sha256=batch.sha256, rows_read=batch.rows_read,
        inserted=inserted, updated=updated, unchanged=unchanged, quarantined=batch.quarantined,
        rejected=batch.rejected, outcomes_changed=outcomes_changed,
        crime_id_other_month=crime_id_other_month,
        no_location=batch.no_location)


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did: totals (counts are rows) and ``files``, one ``FileReport`` each."""

    file: str
    kind: str
    sha256: str
    n_rows: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    no_location: int
    dataset_version: str | None  # None: nothing stored yet
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    n_warnings: int = 0
    rejected: int = 0
    outcomes_changed: int = 0
    crime_id_other_month: int = 0
    files: list[FileReport] = field(default_factory=list)

    @classmethod
    def from_files(cls, files: list[FileReport], dataset_version: str | None, errors: list,
                   warnings: list) -> IngestReport:
        """Totals over ``files`` (in ingest order); ``errors``/``warnings`` keep the first 100."""
        names = [f.file for f in files]
        label = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]} ({len(names)} files)"
        sha = (files[0].sha256 if len(files) == 1 else
               hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest())
        total = {c: sum(getattr(f, c) for f in files)
                 for c in (*COUNTED, "outcomes_changed", "crime_id_other_month", "no_location")}
        return cls(file=label, kind="+".join(sorted({f.kind for f in files})), sha256=sha,
                   n_rows=sum(f.rows_read for f in files), dataset_version=dataset_version,
                   errors=errors[:100], warnings=warnings[:100], n_warnings=len(warnings),
                   files=list(files), **total)


# A store's rule to join area codes again (x_m, y_m, lon, lat -> codes) when a migration
# derives stored rows anew; the service sets it.
Join = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], pd.DataFrame]


class Queries(Protocol):
    """The read queries, on one pinned snapshot (``StoreReader``) or as one-off reads on a
    store (``Store``). Columns and layers are allow-listed (``InvalidParameter`` otherwise);
    coordinates: ``x_m``/``y_m`` EPSG:27700, ``lon``/``lat`` EPSG:4326."""

    def dataset_version(self) -> str | None:
        """Version of the snapshot's content (None: an empty store)."""
        ...

    def query_offences(self, flt: OffenceFilter, limit: int, offset: int,
                       columns: tuple[str, ...]) -> tuple[pd.DataFrame, int]:
        """Matching rows (ordered by month, key), one page, and the total number matched."""
        ...

    def offence_batches(self, flt: OffenceFilter, limit: int, offset: int,
                        columns: tuple[str, ...], batch_rows: int) -> Iterator[pd.DataFrame]:
        """The rows of ``query_offences`` in order, in batches of at most ``batch_rows`` (the
        first may be empty), each costing the database about one batch of memory (exports
        of up to a million rows)."""
        ...

    def offence_by_key(self, key: str, columns: tuple[str, ...]) -> pd.DataFrame:
        """The row with ``offence_key`` = ``key`` (empty when there is none)."""
        ...

    def area_counts(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        """Counts per area code (``code``, ``count``) of a layer (``LAYER_COLUMNS`` or
        ``h3_r<res>``) and totals: n_matched, n_no_location, n_outside_layer, n_in_layer."""
        ...

    def points(self, flt: OffenceFilter) -> pd.DataFrame:
        """``x_m``, ``y_m`` of matching offences with a location."""
        ...

    def values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        """These columns of every matching offence."""
        ...

    def located_values(self, columns: tuple[str, ...], flt: OffenceFilter) -> pd.DataFrame:
        """These columns of the matching offences that have a location."""
        ...

    def top_locations(self, flt: OffenceFilter, n: int) -> pd.DataFrame:
        """The ``n`` most frequent locations (name, lon, lat, count)."""
        ...

    def h3_cells(self, resolution: int, flt: OffenceFilter) -> np.ndarray:
        """H3 cell (uint64) of each matching offence with a location."""
        ...

    def sources(self) -> set[str]:
        """Sources present (police_uk, force_export)."""
        ...

    def months_loaded(self) -> tuple[str, ...]:
        """Months ('YYYY-MM') with at least one offence, ascending."""
        ...

    def summary(self) -> dict:
        """What the snapshot holds: versions, counts, first and last month, by source."""
        ...

    def n_crime_id_other_month(self) -> int:
        """police.uk rows whose Crime ID is stored under more than one month."""
        ...

    def quarantine(self) -> pd.DataFrame:
        """Rows refused by validation (line, field, message, value), by ingest."""
        ...

    def ingests(self) -> pd.DataFrame:
        """The ingest log: one row per file ingested."""
        ...


class StoreReader(Queries, Protocol):
    """The queries on ONE consistent snapshot: every query of a request sees the same data
    (what ``Store.reader()`` yields)."""

    @property
    def snapshot_name(self) -> str:
        """The pinned snapshot's name (a cache key)."""
        ...

    def boundaries_version(self) -> str | None:
        """Version of the boundaries the snapshot's area codes were joined with."""
        ...


class Store(Queries, Protocol):
    """The offence store: snapshot reads, one writer at a time, atomic writes.

    Guarantees every backend keeps (``tests/test_store_contract.py``): a write is all or
    nothing (readers never see half of one; a refused file leaves the store unchanged); one
    writer at a time (a second gets ``StoreBusy`` at once); each reader sees one snapshot;
    the same rows give the same ``dataset_version`` in any order.
    """

    # columns an ingest worker hands this store as Arrow (None: as a DataFrame)
    arrow_columns: tuple[str, ...] | None
    # the ingest's join, for a migration that joins area codes again (the service sets it)
    rejoin: Join | None

    def reader(self) -> AbstractContextManager[StoreReader]:
        """Pin the current snapshot for the block (``StoreEmpty`` if there is none)."""
        ...

    def write_lock(self) -> AbstractContextManager[None]:
        """The one-writer lock, taken at once or refused with ``StoreBusy``; re-entrant."""
        ...

    def write(self, files: Iterable[FileBatch], boundaries_version: str
              ) -> tuple[list[FileReport], str | None]:
        """Upsert each file in order, all in one atomic write; the reports and the new
        dataset version (unchanged if nothing changed)."""
        ...

    def upgrade(self, boundaries_version: str) -> bool:
        """Migrate rows of an older schema now; True if it did."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
