"""Application service: ties settings, boundaries, store and the pure analysis together.

Used by the API and the CLI alike, so both give the same answers.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from geo_api import __version__
from geo_api.analysis.area_stats import area_statistics
from geo_api.data.boundaries import BoundarySet, layer_table, load_boundaries
from geo_api.data.ingest.classify import OFFENCE_GROUPS, POLICE_UK_CAVEAT
from geo_api.data.store.base import OffenceFilter
from geo_api.data.store.duckdb_store import DuckDBStore
from geo_api.errors import StoreEmpty
from geo_api.services.sites import SiteSets
from geo_api.settings import Settings


class Service:
    """One per process: boundaries loaded once, join indexes built on first ingest."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.boundaries: BoundarySet = load_boundaries(
            settings.boundaries_dir, settings.npa_file, settings.npa_code_field,
            settings.npa_name_field)
        self.store = DuckDBStore(settings.store_dir)
        self.site_sets = SiteSets(settings.store_dir / "site_sets")
        self._joins = None
        self._joins_lock = threading.Lock()

    @property
    def joins(self):
        from geo_api.data.ingest.pipeline import build_join_indexes

        with self._joins_lock:
            if self._joins is None:
                self._joins = build_join_indexes(self.boundaries)
            return self._joins

    def close(self) -> None:
        self.store.close()

    @contextmanager
    def pinned(self) -> Iterator[Service]:
        """This service with its store pinned to the current snapshot for the block.

        The API holds one per request, so every query of a request reads the same snapshot
        and a concurrent ingest's swap never closes a connection a request is using. On an
        empty store the unpinned service is yielded (its reads raise ``StoreEmpty``).
        """
        try:
            ctx = self.store.reader()
            reader = ctx.__enter__()
        except StoreEmpty:
            yield self
            return
        view = copy.copy(self)
        view.store = reader
        try:
            yield view
        finally:
            ctx.__exit__(None, None, None)

    # -- ingest -----------------------------------------------------------------------
    def ingest_paths(self, paths: list[Path], kind: str = "auto", on_error: str = "reject",
                     outside_area: str | None = None, progress: bool = True):
        from geo_api.data.ingest.pipeline import ingest_files

        return ingest_files(self.store, self.joins, paths, kind=kind, on_error=on_error,
                            outside_area=outside_area, progress=progress)

    def demo_files(self) -> list[Path]:
        return sorted((self.settings.demo_dir / "police_uk").glob("*.csv"))

    # -- reads ------------------------------------------------------------------------
    def caveats(self, flt: OffenceFilter) -> list[str]:
        out = []
        if "police_uk" in self.store.sources():
            out.append(POLICE_UK_CAVEAT)
        if flt.group in ("vrn_serious_violence", "knife_enabled_serious_violence") or flt.hours:
            out.append("VRN classification, flags and times exist only for force-export rows; "
                       "police.uk rows never match this filter.")
        return out

    def meta(self, flt: OffenceFilter, **params) -> dict:
        """The ``meta`` block every analysis result carries."""
        return {"filters": flt.describe(), "dataset_version": self.store.dataset_version(),
                "boundaries_version": self.boundaries.version, "api_version": __version__,
                "caveats": self.caveats(flt), **params}

    def area_stats(self, layer: str, flt: OffenceFilter) -> tuple[pd.DataFrame, dict]:
        """Per-area statistics for a boundary layer and filter, with totals."""
        lyr = self.boundaries.get(layer)
        counts, totals = self.store.area_counts(layer, flt)
        table = area_statistics(layer_table(lyr), counts)
        meta = self.meta(flt, layer=layer, layer_approximate=lyr.meta["approximate"],
                         population_method=lyr.meta["population_method"],
                         share_denominator="offences matching the filter located in any area of "
                                           "this layer", ci_method="share: Wilson score 95%; "
                                           "rate: exact Poisson (Garwood) 95%", **totals)
        return table, meta

    def groups(self) -> dict[str, str]:
        return dict(OFFENCE_GROUPS)
