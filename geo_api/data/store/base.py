"""The store interface: the API and analysis code depend on this, not on DuckDB."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FLAG_COLUMNS = ("knife_enabled", "under_25", "night_time_economy", "after_school",
                "vrn_serious_violence", "alcohol", "domestic", "public_place",
                "knife_sharp_instrument")
LAYER_COLUMNS = {"npa": "npa_code", "ward": "ward_code", "sector": "sector_code",
                 "lsoa": "lsoa_code", "lad": "lad_code", "oa": "oa_code"}
H3_RESOLUTIONS = (7, 8, 9, 10)


@dataclass(frozen=True)
class OffenceFilter:
    """Which offences an analysis uses. Times are naive local (Europe/London) datetimes.

    Rows dated only to the month (police.uk) match when their month overlaps
    [``start``, ``end``); rows with a time match when ``start <= occurred_at < end``.
    """

    start: datetime | None = None
    end: datetime | None = None
    group: str = "all"
    crime_categories: tuple[str, ...] = ()
    flags: dict[str, bool] = field(default_factory=dict)
    source: str | None = None
    bbox_lonlat: tuple[float, float, float, float] | None = None  # EPSG:4326 OGC bbox
    hours: tuple[int, int] | None = None  # time-of-day window [from, to) in hours, may wrap

    def describe(self) -> dict:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end_exclusive": self.end.isoformat() if self.end else None,
            "group": self.group,
            "crime_categories": list(self.crime_categories),
            "flags": dict(self.flags),
            "source": self.source,
            "bbox_lonlat": list(self.bbox_lonlat) if self.bbox_lonlat else None,
            "hours": list(self.hours) if self.hours else None,
        }


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did (counts are rows)."""

    file: str
    kind: str
    sha256: str
    n_rows: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    no_location: int
    dataset_version: str
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    n_warnings: int = 0
