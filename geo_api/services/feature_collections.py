"""The service's data as collections of features, for OGC API - Features and - Tiles.

Each collection is built by the same service functions the REST endpoints use (no second
implementation of queries, joins or hot spots):

- one per boundary layer (``npa``, ``ward``, ``sector``, ``lsoa``, ``lad``, ``oa``): the
  polygons with their population and deprivation attributes;
- ``offences``: the offence records (analysts only, never where the deployment serves
  aggregates only), paged in the store;
- ``stats-{layer}``: counts, shares and rates per 1,000 residents per area
  (``Service.area_stats``) for a period and offence group;
- ``hotspots-gi``: Getis-Ord Gi* on H3 resolution 9 cells (``hotspots.gi``), every study
  cell with its label;
- ``hotspots-kde``: quartic kernel density cells (``hotspots.kde``) at the disclosure floors.

Derived collections default to the latest 3 loaded months and violence, robbery and weapons
offences (as the maps do); ``datetime`` and ``group`` choose others. Frames are GeoDataFrames
in EPSG:27700 (the one CRS rule) with an ``id`` column, cached per dataset version,
boundaries version and selection.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_api.analysis.defaults import DEFAULT_GROUP, DEFAULT_PERMUTATIONS, DEFAULT_SEED
from geo_api.analysis.grids import h3_polygons_lonlat
from geo_api.crs import METRIC_EPSG, to_io
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import Forbidden, NotFound
from geo_api.services import hotspots
from geo_api.services.access import RANK
from geo_api.services.disclosure import min_records
from geo_api.services.filters import latest_period, with_period
from geo_api.services.hotspots import Significance
from geo_api.services.lru import LRU
from geo_api.services.study_areas import study_area_lonlat
from geo_api.services.units import UnitSpec

OFFENCE_COLUMNS = ("offence_key", "source", "month", "occurred_at", "crime_category",
                   "ho_code", "outcome", "location_text", "violence_robbery_weapons",
                   "vrn_serious_violence", "knife_enabled", "under_25", "night_time_economy",
                   "npa_code", "ward_code", "sector_code", "lsoa_code", "lad_code", "h3_r9",
                   "lon", "lat")


class KdeParams(TypedDict):
    """The KDE collection's parameters (``hotspots.kde`` keywords, and its cell floor)."""

    bandwidth_m: float
    cell_size_m: float
    kernel: str
    study_area: str
    min_share_of_max: float


KDE: KdeParams = {"bandwidth_m": 300.0, "cell_size_m": 100.0, "kernel": "quartic",
                  "study_area": "city", "min_share_of_max": 0.05}
GI_RESOLUTION = 9
FRAMES = LRU(64)


@dataclass(frozen=True)
class Collection:
    id: str
    kind: str  # boundary | offences | stats | gi | kde
    title: str
    description: str
    role: str = "public"  # the least role that may read it
    layer: str | None = None  # boundary layer (boundary, stats)
    tile_layer: str | None = None  # the /tiles layer serving it (None: not tiled)
    geometry: str = "Polygons"  # Points | Polygons (OGC "vectorType"-like hint)

    @property
    def derived(self) -> bool:
        """Computed for a selection (period and group) rather than stored."""
        return self.kind in ("stats", "gi", "kde")

    @property
    def temporal(self) -> bool:
        return self.kind != "boundary"


def catalog(svc) -> dict[str, Collection]:
    """Every collection this service has, by id (the caller's role is not considered)."""
    out: dict[str, Collection] = {}
    for name, lyr in svc.boundaries.layers.items():
        m = lyr.meta
        out[name] = Collection(
            name, "boundary", m["title"],
            f"{m['title']} ({m['coverage']}): {len(lyr.gdf):,} areas with code, name"
            + (", residents and deprivation" if lyr.has_population else "")
            + f". Source: {m['source']}."
            + (" APPROXIMATE: replaceable by your own file." if m["approximate"] else ""),
            layer=name, tile_layer=name)
    out["offences"] = Collection(
        "offences", "offences", "Offence records",
        "One point per offence record (police.uk: the anonymised map point of the street or "
        "place; a force export: its location), with month, category, classification flags "
        "and the areas it is joined to. Filter with datetime, bbox, group, crime_category, "
        "source and the flags. Analysts only; every request is audited.",
        role="analyst", geometry="Points")
    for name, lyr in svc.boundaries.layers.items():
        if not lyr.has_population:
            continue
        out[f"stats-{name}"] = Collection(
            f"stats-{name}", "stats", f"Offences by area: {lyr.meta['title']}",
            f"Count, share of offences (Wilson 95% CI) and rate per 1,000 residents (exact "
            f"Poisson 95% CI) per {lyr.meta['title'].lower()}, for datetime (default: the "
            f"latest 3 loaded months) and group (default: {DEFAULT_GROUP}).", layer=name)
    out["hotspots-gi"] = Collection(
        "hotspots-gi", "gi", "Gi* hot and cold spots (H3 resolution 9)",
        "Getis-Ord Gi* on offence counts in H3 resolution 9 cells (about 0.1 km2) of "
        f"Leicester city, queen-like k=1 neighbours, {DEFAULT_PERMUTATIONS:,} conditional "
        f"permutations (seed {DEFAULT_SEED}), Benjamini-Hochberg FDR: every cell with its "
        "count, z-score, p-value and label (hot/cold at 90/95/99% or not significant), for "
        f"datetime (default: the latest 3 loaded months) and group (default: {DEFAULT_GROUP}). "
        "The tiles carry the "
        "hot and cold cells only.", tile_layer="gi")
    out["hotspots-kde"] = Collection(
        "hotspots-kde", "kde", "Kernel density (quartic, 300 m)",
        "Quartic kernel density of offences (bandwidth 300 m, 100 m cells, Leicester city), "
        "cells of at least 5% of the peak with density per km2 and share of the peak, for "
        "datetime (default: the latest 3 loaded months) and group (default: "
        "violence_robbery_weapons).", tile_layer="kde")
    return out


def visible(svc, role: str | None) -> list[Collection]:
    """The collections a caller with ``role`` may read (offences: analysts, and never where
    the deployment serves aggregates only)."""
    return [c for c in catalog(svc).values() if _readable(svc, c, role)]


def _readable(svc, c: Collection, role: str | None) -> bool:
    if c.kind == "offences" and svc.settings.aggregates_only:
        return False
    return role is not None and RANK[role] >= RANK[c.role]


def get(svc, collection_id: str, role: str | None) -> Collection:
    """The collection ``collection_id`` if the caller may read it (404 unknown, 403 not for
    this role)."""
    c = catalog(svc).get(collection_id)
    if c is None:
        raise NotFound(f"no collection {collection_id!r}; GET /collections lists them")
    if not _readable(svc, c, role):
        if c.kind == "offences" and svc.settings.aggregates_only:
            raise Forbidden("this deployment serves aggregates only; use the stats-* "
                            "collections")
        raise Forbidden(f"collection {collection_id!r} needs the {c.role} role")
    return c


def selection(svc, c: Collection, flt: OffenceFilter) -> OffenceFilter:
    """The filter a collection uses: derived collections default to ``DEFAULT_GROUP`` (when
    the request names no group: ``flt.group`` is None) and to the latest 3 loaded months
    (when it names no period)."""
    if flt.group is None:
        flt = dataclasses.replace(flt, group=DEFAULT_GROUP if c.derived else "all")
    if c.kind == "boundary":  # no offences involved: only bbox applies
        return flt
    if c.derived and flt.start is None and flt.end is None:
        period = latest_period(svc.store.months_loaded(), 3)
        if period:
            flt = with_period(flt, period)
    svc.check_filter(flt)
    return flt


def frame(svc, c: Collection, flt: OffenceFilter) -> tuple[gpd.GeoDataFrame, dict]:
    """The collection's features for ``flt`` (not offences: they are paged in the store) as
    (GeoDataFrame in EPSG:27700 with an ``id`` column, parameters), cached."""

    # (built under the caller's disclosure policy: a public KDE is not an analyst's)
    key = (c.id, svc.store.dataset_version() if c.kind != "boundary" else None,
           svc.boundaries.version, repr(sorted(dataclasses.asdict(flt).items()))
           if c.derived else None, min_records())
    hit = FRAMES.get(key)
    if hit is not None:
        return hit
    return FRAMES.put(key, _build(svc, c, flt))


def _build(svc, c: Collection, flt: OffenceFilter) -> tuple[gpd.GeoDataFrame, dict]:
    if c.kind == "boundary":
        gdf = svc.boundaries.get(c.layer).gdf
        out = gdf.assign(id=gdf["code"])
        return out, {"layer": c.layer, "approximate": svc.boundaries.get(c.layer).meta[
            "approximate"], "boundaries_version": svc.boundaries.version}
    if c.kind == "stats":
        table, meta = svc.area_stats(c.layer, flt)
        geom = svc.boundaries.get(c.layer).gdf.set_index("code").geometry
        table = table.assign(id=table["code"])
        return gpd.GeoDataFrame(table, geometry=geom.reindex(table["code"]).values,
                                crs=METRIC_EPSG), meta
    if c.kind == "gi":
        rows, meta = hotspots.gi(svc, flt, UnitSpec(grid="h3", resolution=GI_RESOLUTION),
                                 Significance())
        df = pd.DataFrame(rows).drop(columns=["undefined_reason"])
        cells = np.array([int(i, 16) for i in df["id"]], dtype=np.uint64)

        gdf = gpd.GeoDataFrame(df, geometry=h3_polygons_lonlat(cells), crs=4326)
        return gdf.to_crs(METRIC_EPSG), meta
    if c.kind == "kde":
        surface, meta = hotspots.kde(svc, flt, as_cells=True, **KDE)
        return surface, {**meta, "min_share_of_max": KDE["min_share_of_max"]}
    raise NotFound(f"collection {c.id!r} has no feature frame")


def in_bbox(gdf: gpd.GeoDataFrame, bbox_lonlat: tuple[float, float, float, float] | None
            ) -> gpd.GeoDataFrame:
    """Features whose geometry intersects the lon/lat ``bbox`` (exactly, after projecting the
    box's densified outline to EPSG:27700)."""
    if bbox_lonlat is None or gdf.empty:
        return gdf
    box = gpd.GeoSeries([shapely.segmentize(shapely.box(*bbox_lonlat), 0.001)], crs=4326)
    area = box.to_crs(METRIC_EPSG).iloc[0]
    return gdf.iloc[np.sort(gdf.sindex.query(area, predicate="intersects"))]


def offence_page(svc, flt: OffenceFilter, limit: int, offset: int, with_metric: bool
                 ) -> tuple[pd.DataFrame, int]:
    """A page of offence records (ordered by month and key) and the number matched; with
    ``with_metric`` also their EPSG:27700 coordinates (x_m, y_m)."""
    cols = OFFENCE_COLUMNS + (("x_m", "y_m") if with_metric else ())
    return svc.store.query_offences(flt, limit, offset, cols)


def offence(svc, key: str, with_metric: bool) -> pd.DataFrame:
    """One offence record by its key (404 when there is none)."""
    cols = OFFENCE_COLUMNS + (("x_m", "y_m") if with_metric else ())
    df = svc.store.offence_by_key(key, cols)
    if df.empty:
        raise NotFound(f"no offence {key!r} in the loaded data")
    return df


def extent(svc, c: Collection) -> dict:
    """The collection's spatial extent (CRS84 bbox of its boundary layer or of the force
    area) and temporal extent (the loaded months; boundaries have none)."""
    if c.kind in ("gi", "kde"):
        bounds = np.array(study_area_lonlat(svc, "city").bounds)
    else:  # offences: the force area (its nine districts)
        bounds = _layer_bounds(svc.boundaries, c.layer or "lad")
    out = {"spatial": {"bbox": [[round(float(v), 6) for v in bounds]],
                       "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}
    if c.temporal:
        months = svc.store.months_loaded() if svc.store.dataset_version() else ()
        out["temporal"] = {
            "interval": [[f"{months[0]}-01T00:00:00Z", _month_end(months[-1])]
                         if months else [None, None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return out


def _layer_bounds(boundaries, layer: str) -> np.ndarray:
    """A layer's lon/lat bounds, computed once per boundaries version."""
    key = ("bounds", boundaries.version, layer)
    hit = FRAMES.get(key)
    if hit is None:
        hit = FRAMES.put(key, to_io(boundaries.get(layer).gdf[["geometry"]]).total_bounds)
    return hit


def _month_end(month: str) -> str:
    y, m = map(int, month.split("-"))
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return f"{y:04d}-{m:02d}-01T00:00:00Z"
