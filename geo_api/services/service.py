"""Application service: ties settings, boundaries, store and the pure analysis together.

Used by the API and the CLI alike, so both give the same answers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import pandas as pd
import shapely

from geo_api import __version__
from geo_api.analysis.area_stats import area_statistics
from geo_api.data.boundaries import BoundarySet, layer_table, load_boundaries
from geo_api.data.ingest.classify import OFFENCE_GROUPS, POLICE_UK_CAVEAT
from geo_api.data.ingest.pipeline import build_join_indexes, ingest_files
from geo_api.data.store.base import OffenceFilter, Queries, Store, month_parts
from geo_api.data.store.duckdb_store import DuckDBStore
from geo_api.data.store.postgis_store import PostGISSets, PostGISStore
from geo_api.errors import InvalidParameter, StoreEmpty
from geo_api.services.sites import SiteSets
from geo_api.services.study_areas import study_area_lonlat
from geo_api.settings import Settings


class Service:
    """One per process: boundaries loaded once, join indexes built on first ingest."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.boundaries: BoundarySet = load_boundaries(
            settings.boundaries_dir, settings.npa_file, settings.npa_code_field,
            settings.npa_name_field)
        # the backend (writes, migrations) and what reads go through: the backend itself
        # (one-off reads), or one pinned snapshot in a ``pinned()`` view
        self.backend: Store
        if settings.database_url:
            pg = PostGISStore(settings.database_url, settings.database_pool_size)
            pg.publish_boundaries(self.boundaries)  # areas beside the offences
            self.backend = pg
        else:
            self.backend = DuckDBStore(settings.store_dir)
        self.store: Queries = self.backend
        # a migration of stored rows joins their areas again by the ingest's rule
        self.backend.rejoin = lambda x, y, lon, lat: self.joins.join(x, y, lon, lat)
        self.site_sets = SiteSets(settings.store_dir / "site_sets", db=self.named_sets("sites"))
        self._joins = None
        self._joins_lock = threading.Lock()

    def named_sets(self, kind: str):
        """Where named sets of ``kind`` live: the database on PostGIS deployments (every host
        sees the same), else None (files under the store directory)."""
        if not self.settings.database_url:
            return None
        return PostGISSets(self.settings.database_url, kind)

    @property
    def joins(self):
        with self._joins_lock:
            if self._joins is None:
                self._joins = build_join_indexes(self.boundaries, self.join_cache_dir)
            return self._joins

    @property
    def join_cache_dir(self) -> Path:
        """Where join rasters are kept between processes (beside the store)."""
        return self.settings.store_dir.parent / "cache"

    def close(self) -> None:
        self.backend.close()

    @contextmanager
    def pinned(self) -> Iterator[Service]:
        """This service with its store pinned to the current snapshot for the block.

        The API holds one per request, so every query of a request reads the same snapshot
        and a concurrent ingest's swap never closes a connection a request is using. On an
        empty store the unpinned service is yielded (its reads raise ``StoreEmpty``).
        """
        with ExitStack() as stack:
            try:
                reader = stack.enter_context(self.backend.reader())
            except StoreEmpty:
                yield self
                return
            view = copy.copy(self)
            view.store = reader
            yield view

    # -- ingest -----------------------------------------------------------------------
    def ingest_paths(self, paths: list[Path], kind: str = "auto", on_error: str = "reject",
                     outside_area: str | None = None, progress: bool = True):
        # worker processes are forked: only from a process with no other Python threads
        # (the command line), never from the API server
        workers = self.settings.ingest_workers if threading.active_count() == 1 else 1
        if workers > 1 and len(paths) > 1:  # the workers build the indexes they use
            return ingest_files(self.backend, self._joins, paths, kind=kind, on_error=on_error,
                                outside_area=outside_area, progress=progress,
                                workers=workers, boundaries=self.boundaries,
                                join_cache_dir=self.join_cache_dir)
        return ingest_files(self.backend, self.joins, paths, kind=kind, on_error=on_error,
                            outside_area=outside_area, progress=progress)

    def upgrade_store(self) -> bool:
        """Migrate a store written by an older schema (its derived columns computed again);
        True if it was old. ``geo_api serve`` does this before it answers anything."""
        return self.backend.upgrade(self.boundaries.version)

    def demo_files(self) -> list[Path]:
        return sorted((self.settings.demo_dir / "police_uk").glob("*.csv"))

    # -- reads ------------------------------------------------------------------------
    def caveats(self, flt: OffenceFilter) -> list[str]:
        out = []
        if "police_uk" in self.store.sources():
            out.append(POLICE_UK_CAVEAT)
        if needs_force_export(flt):
            out.append("VRN classification, flags and times exist only for force-export rows; "
                       "police.uk rows never match this filter.")
        return out

    def check_filter(self, flt: OffenceFilter) -> None:
        """Refuse (422) a filter that can only give silent zeros on the loaded data: a period
        with no data loaded, a force-export-only selection on police.uk-only data, or a bbox
        that does not touch the force area."""
        coverage(flt, self.store.months_loaded())  # raises when entirely outside
        needs = needs_force_export(flt)
        if needs and "force_export" not in self.store.sources():
            raise InvalidParameter(
                f"{needs}: only force-export records carry it. The loaded data is police.uk "
                "only, and police.uk records have no knife flag, Home Office code, ages or "
                "times of day. Load a force export, or use group=violence_robbery_weapons "
                "(the police.uk proxy).")
        if needs and flt.source == "police_uk":
            raise InvalidParameter(f"{needs}: police.uk records never have it; drop "
                                   "source=police_uk or the force-export-only filter")
        bbox = flt.bbox_lonlat
        force = study_area_lonlat(self, "force") if bbox is not None else None
        if bbox is not None and force is not None and not shapely.intersects(shapely.box(*bbox),
                                                                             force):
            b = [round(v, 4) for v in force.bounds]
            raise InvalidParameter(f"bbox: {list(bbox)} does not touch the force "
                                   f"area (lon/lat bounds {b}); is it lon,lat order in "
                                   "degrees (EPSG:4326)?")

    def _common(self, filters: list[OffenceFilter], extra_warnings=()) -> dict:
        loaded = self.store.months_loaded()
        missing, warnings = [], list(extra_warnings)
        month_dated = "police_uk" in self.store.sources()
        for flt in filters:
            m, w = coverage(flt, loaded)
            missing += [x for x in m if x not in missing]
            warnings += w + (partial_month_warnings(flt) if month_dated else [])
        return {"dataset_version": self.store.dataset_version(),
                "boundaries_version": self.boundaries.version, "api_version": __version__,
                "caveats": list(dict.fromkeys(c for f in filters for c in self.caveats(f))),
                "warnings": warnings, "months_loaded": list(loaded),
                "months_requested_missing": sorted(missing)}

    def meta(self, flt: OffenceFilter, extra_warnings=(), **params) -> dict:
        """The ``meta`` block every analysis result carries: filter, versions, caveats, data
        coverage (months loaded, requested months without data) and warnings."""
        return {"filters": flt.describe(), **self._common([flt], extra_warnings), **params}

    def compare_meta(self, before: OffenceFilter, after: OffenceFilter, **params) -> dict:
        """``meta`` of a two-period result: both filters and their combined coverage."""
        return {"filters_before": before.describe(), "filters_after": after.describe(),
                **self._common([before, after]), **params}

    def area_stats(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        """Per-area statistics for a boundary layer and filter, with totals."""
        lyr = self.boundaries.get(layer)
        counts, totals = self.store.area_counts(layer, flt)
        table = area_statistics(layer_table(lyr), counts)
        meta = self.meta(flt, analysis="area_stats", layer=layer,
                         layer_approximate=lyr.meta["approximate"],
                         population_method=lyr.meta["population_method"],
                         share_denominator="offences matching the filter located in any area of "
                                           "this layer", ci_method="share: Wilson score 95%; "
                                           "rate: exact Poisson (Garwood) 95%", **totals)
        return table, meta

    def health(self) -> dict:
        """What is loaded, for /health: never an error, also on an empty store."""
        base = {"status": "ok", "api_version": __version__,
                "boundaries_version": self.boundaries.version}
        try:
            s = self.store.summary()
        except StoreEmpty:
            return {**base, "data_loaded": False, "dataset_version": None, "n_offences": 0,
                    "message": "no data loaded: run `geo_api load-demo` or `geo_api ingest`"}
        return {**base, "data_loaded": True, "dataset_version": s["dataset_version"],
                "n_offences": s["n_offences"], "first_month": s["first_month"],
                "last_month": s["last_month"], "months_loaded": list(self.store.months_loaded()),
                "n_crime_id_other_month": s.get("n_crime_id_other_month"),
                # (no count in words: n_offences is the number, under the caller's policy)
                "message": f"offences loaded for {s['first_month']} to {s['last_month']}"}

    def groups(self) -> dict[str, str]:
        return dict(OFFENCE_GROUPS)


FORCE_ONLY_GROUPS = ("vrn_serious_violence", "knife_enabled_serious_violence")
FORCE_ONLY_FLAGS = ("knife_enabled", "under_25", "night_time_economy", "after_school",
                    "vrn_serious_violence")


def needs_force_export(flt: OffenceFilter) -> str | None:
    """Which part of the filter only force-export rows can match (None if no part)."""
    if flt.group in FORCE_ONLY_GROUPS:
        return f"group={flt.group}"
    flags = [f for f in flt.flags if f in FORCE_ONLY_FLAGS]
    if flags:
        return f"{flags[0]}={str(flt.flags[flags[0]]).lower()}"
    if flt.hours:
        return f"hours={flt.hours[0]}-{flt.hours[1]}"
    return None


def _month(dt) -> str:
    return f"{dt.year:04d}-{dt.month:02d}"


def requested_months(flt: OffenceFilter, loaded: tuple[str, ...]) -> list[str] | None:
    """Months ('YYYY-MM') a filter's period asks for: those it touches whose month-dated
    records it counts (``MONTH_RULE``), or all it touches when it counts none (e.g. one
    day); an open end is the loaded data's end; None when the filter has no period."""
    if flt.start is None and flt.end is None:
        return None
    if not loaded:
        return []
    first = _month(flt.start) if flt.start else loaded[0]
    last = _month(flt.end - timedelta(microseconds=1)) if flt.end else loaded[-1]
    if first > last:
        return []
    touched = pd.period_range(first, last, freq="M")
    a, b = flt.month_span()
    counted = [m for m in touched if (a is None or m.start_time >= a)
               and (b is None or m.start_time < b)]
    return [m.strftime("%Y-%m") for m in (counted or touched)]


def partial_month_warnings(flt: OffenceFilter) -> list[str]:
    """Say which months the period covers only in part, and whether their month-dated
    (police.uk) records were counted (``MONTH_RULE``)."""
    parts = month_parts(flt.start, flt.end)
    if not parts:
        return []
    def covers(share: float) -> str:
        return ("an instant" if share == 0 else "less than 0.1%" if share < 0.001
                else f"{share:.1%}")

    said = " and ".join(f"{covers(share)} of {m:%Y-%m} ("
                        f"{'its records are counted' if counted else 'left out'})"
                        for m, share, counted in parts)
    return [(f"datetime: police.uk records are dated by month only. The interval covers "
             f"{said}: a month counts when the interval covers at least half of it (UK "
             "time). Ask for whole months, e.g. 2020-04/2020-06, to avoid this.")]


def coverage(flt: OffenceFilter, loaded: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(requested months without data, warnings); raises ``InvalidParameter`` when no
    requested month has data (a result would be all zeros)."""
    months = requested_months(flt, loaded)
    if months is None:
        return [], []
    have = set(loaded)
    missing = [m for m in months if m not in have]
    span = f"{loaded[0]} to {loaded[-1]}" if loaded else "none"
    if len(missing) == len(months):
        asked = f"{months[0]} to {months[-1]}" if months else "a period before the loaded data"
        raise InvalidParameter(f"datetime: no data loaded for {asked}; loaded months: {span}",
                               {"months_loaded": list(loaded)})
    if not missing:
        return [], []
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return missing, [(f"datetime: {len(missing)} of the {len(months)} requested months have no "
                     f"data loaded ({shown}); the result covers the loaded months only "
                     f"(loaded: {span})")]
