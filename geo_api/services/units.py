"""Analysis units: H3 cells, a fishnet or a boundary layer over a study area, with counts
per filter and a neighbour matrix. One ``UnitSpec`` names them everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from geo_api.analysis.grids import (
    distance_band,
    fishnet,
    fishnet_counts,
    h3_adjacency,
    h3_counts,
    h3_polygons_lonlat,
    h3_study_cells,
)
from geo_api.analysis.places import name_places
from geo_api.crs import lonlat_to_metric, to_io
from geo_api.data.array_cache import cached_array
from geo_api.data.boundaries import CITY_LAD
from geo_api.data.store.base import OffenceFilter
from geo_api.errors import InvalidParameter
from geo_api.services.budget import check_units
from geo_api.services.disclosure import min_records
from geo_api.services.study_areas import (
    STUDY_AREAS,
    in_study_area,
    study_area_lonlat,
    study_area_m,
)

if TYPE_CHECKING:
    import geopandas as gpd

MAX_FISHNET_CELLS = 200_000


@dataclass(frozen=True)
class UnitSpec:
    """Which units an analysis uses.

    ``grid``: "h3" (k-ring neighbours), "fishnet" (square cells, distance-band neighbours,
    default band 1.5 x cell: the 8 surrounding cells) or a boundary layer name (queen
    contiguity; the layer's extent is the study area).
    """

    grid: str = "h3"
    study_area: str = "city"
    resolution: int = 9
    k: int = 1
    fishnet_cell_size_m: float = 250.0
    fishnet_band_m: float | None = None

    def describe(self) -> dict:
        return asdict(self)


def points_in(svc, flt: OffenceFilter, study_area: str) -> tuple[np.ndarray, np.ndarray]:
    """x_m, y_m (EPSG:27700) of matching offences in the study area."""
    pts = svc.store.points(in_study_area(flt, study_area))
    return pts["x_m"].to_numpy(), pts["y_m"].to_numpy()


@dataclass
class Units:
    """Analysis units of a grid or layer: ids, areas and a counter; adjacency built lazily.

    Build once per request and count per filter, so comparisons and monthly series do not
    rebuild cells or weights for every period.
    """

    ids: list[str]
    area_km2: np.ndarray
    definition: dict
    _count: Callable[[OffenceFilter], np.ndarray]
    _adjacency: Callable[[], sp.csr_matrix]
    _centres: Callable[[], tuple[np.ndarray, np.ndarray]]
    _assign: Callable[[pd.DataFrame], np.ndarray]
    assign_columns: tuple[str, ...] = ("x_m", "y_m")

    @cached_property
    def centres_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit centres (EPSG:27700 metres): H3 cell centres, fishnet cell centres, or a
        point inside each polygon."""
        return self._centres()

    def assign(self, offences: pd.DataFrame) -> np.ndarray:
        """Index of the unit each offence row falls in (-1: none), from
        ``assign_columns``."""
        return self._assign(offences)

    def counts(self, flt: OffenceFilter) -> np.ndarray:
        """Offences per unit for ``flt`` (zeros included)."""
        return self._count(flt)

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        return self._adjacency()


def _definition(spec: UnitSpec, n_units: int, text: str, **extra) -> dict:
    """The units' echo in ``meta``: every spec field (None where it does not apply)."""
    out = {"grid": spec.grid, "study_area": spec.study_area, "resolution": None, "k_ring": None,
           "fishnet_cell_size_m": None, "fishnet_band_m": None, "contiguity": None,
           "n_units": n_units, "study_area_definition": text}
    return {**out, **extra}


_H3: dict[tuple, tuple[np.ndarray, Callable[[], sp.csr_matrix]]] = {}


def _h3_units(svc, spec: UnitSpec):
    """(cells, adjacency builder) of the H3 units of ``spec``, built once per boundary set:
    pure geometry, shared by every request (the counts are read per request); the cells are
    kept beside the store for the next process."""
    key = (svc.boundaries.version, spec.study_area, spec.resolution, spec.k)
    if key not in _H3:  # (the cells: kept on disk too, for the next process)
        name = f"h3-cells-{svc.boundaries.version}-{spec.study_area}-r{spec.resolution}.npy"
        cells = cached_array(svc.join_cache_dir / name, lambda: h3_study_cells(
            study_area_lonlat(svc, spec.study_area), spec.resolution))
        _H3[key] = (cells, cache(lambda: h3_adjacency(cells, spec.k)))
    return _H3[key]


def analysis_units(svc, spec: UnitSpec) -> Units:
    """Units for ``spec`` over its study area (a layer is its own study area); refused
    (422) before anything is built when it would exceed the work budget."""

    check_units(svc, spec)
    if spec.grid == "h3":
        if spec.resolution not in (7, 8, 9, 10):
            raise InvalidParameter("resolution must be 7, 8, 9 or 10 (the stored H3 resolutions)")
        cells, adjacency = _h3_units(svc, spec)
        return Units(
            ids=[f"{int(c):x}" for c in cells.tolist()],
            area_km2=np.full(len(cells), h3.average_hexagon_area(spec.resolution, unit="km^2")),
            definition=_definition(spec, len(cells),
                                   f"H3 cells that overlap {STUDY_AREAS[spec.study_area]}, each "
                                   "counting the study area's offences in it; cells without "
                                   "offences count as zeros",
                                   resolution=spec.resolution, k_ring=spec.k),
            _count=lambda f: h3_counts(cells, svc.store.h3_cells(
                spec.resolution, in_study_area(f, spec.study_area))),
            _adjacency=adjacency,
            _centres=lambda: _h3_centres(cells),
            _assign=lambda df: _index_of(cells, df[f"h3_r{spec.resolution}"]),
            assign_columns=(f"h3_r{spec.resolution}",))
    if spec.grid == "fishnet":
        size = spec.fishnet_cell_size_m
        band = spec.fishnet_band_m or 1.5 * size
        cx, cy = fishnet(study_area_m(svc, spec.study_area), size)
        if len(cx) > MAX_FISHNET_CELLS:
            raise InvalidParameter(f"fishnet_cell_size_m too small for this study area (over "
                                   f"{MAX_FISHNET_CELLS:,} cells)")

        def count_cells(f):
            return fishnet_counts(cx, cy, size, *points_in(svc, f, spec.study_area))

        return Units(
            ids=[f"{int(a)}_{int(b)}" for a, b in zip(cx, cy)],
            area_km2=np.full(len(cx), (size / 1000) ** 2),
            definition=_definition(spec, len(cx),
                                   f"square cells that overlap {STUDY_AREAS[spec.study_area]}, "
                                   "each counting the study area's offences in it (ids are "
                                   "centre easting_northing); zeros included",
                                   fishnet_cell_size_m=size, fishnet_band_m=band),
            _count=count_cells, _adjacency=lambda: distance_band(cx, cy, band),
            _centres=lambda: (cx, cy),
            _assign=lambda df: _index_of(
                np.array([f"{int(a)}_{int(b)}" for a, b in zip(cx, cy)]),
                [f"{int(a)}_{int(b)}" for a, b in zip(
                    np.floor(df["x_m"] / size) * size + size / 2,
                    np.floor(df["y_m"] / size) * size + size / 2)]
                if len(df) else []))
    layer = svc.boundaries.get(spec.grid)
    codes = layer.gdf["code"]

    def count(f):
        c, _ = svc.store.area_counts(spec.grid, f)
        return codes.map(c.set_index("code")["count"]).fillna(0).to_numpy(float)

    def queen():
        from libpysal.weights import Queen  # noqa: PLC0415 - lazy: heavy import (libpysal)

        return Queen.from_dataframe(layer.gdf, use_index=False, silence_warnings=True).sparse

    def centres():
        pts = layer.gdf.geometry.representative_point()
        return pts.x.to_numpy(), pts.y.to_numpy()

    code_col = f"{spec.grid}_code"
    return Units(ids=codes.tolist(), area_km2=layer.gdf.area.to_numpy() / 1e6,
                 definition=_definition(spec, len(codes),
                                        f"all {len(codes)} areas of layer {spec.grid}; areas "
                                        "without offences count as zeros", contiguity="queen",
                                        study_area=f"layer {spec.grid}"),
                 _count=count, _adjacency=queen, _centres=centres,
                 _assign=lambda df: _index_of(codes.to_numpy(), df[code_col]),
                 assign_columns=(code_col,))


def _index_of(ids, values) -> np.ndarray:
    """Position of each value in ``ids`` (-1 where absent)."""
    lookup = pd.Index(ids)
    return lookup.get_indexer(pd.Index(values)).astype(np.int64)


def _h3_centres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat, lon = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells.tolist()]).T \
        if len(cells) else (np.array([]), np.array([]))
    return lonlat_to_metric(lon, lat)


def location_units(svc, flt: OffenceFilter, study_area: str = "city",
                   max_points: int = 20_000) -> Units:
    """Map points as units: every distinct offence location matching ``flt`` (its period
    too) in the study area, each with the Voronoi cell around it clipped to the area (its
    area for PAI), Delaunay neighbours as contiguity; an offence anywhere counts in the cell
    it falls in (its nearest unit). On police.uk data these are the anonymised map points; on
    a force export, exact locations (point-level: analysts only)."""
    from scipy.spatial import Delaunay  # noqa: PLC0415 - lazy: heavy import (scipy)

    area = study_area_m(svc, study_area)
    pts = svc.store.located_values(("x_m", "y_m"), in_study_area(flt, study_area))
    x, y = pts["x_m"].round(1).to_numpy(), pts["y_m"].round(1).to_numpy()
    xy = np.unique(np.column_stack([x, y]), axis=0)
    if len(xy) < 4:
        raise InvalidParameter("grid=location: fewer than four distinct locations match")
    if len(xy) > max_points:
        raise InvalidParameter(f"work budget: {len(xy):,} distinct locations; the limit is "
                               f"{max_points:,}. Cheaper: grid=h3 or a narrower group")
    cells = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=area)
    polys = np.array(shapely.get_parts(cells))
    # Voronoi parts come in no set order: give each point the part that contains it
    tree = shapely.STRtree(polys)
    owner = tree.query(shapely.points(xy), predicate="within")
    order = np.empty(len(xy), dtype=np.int64)
    order[owner[0]] = owner[1]
    area_km2 = shapely.area(shapely.intersection(polys[order], area)) / 1e6
    ids = [f"{int(a)}_{int(b)}" for a, b in xy]
    from scipy.spatial import cKDTree  # noqa: PLC0415 - lazy: heavy import (scipy)

    nearest = cKDTree(xy)

    def locate(df: pd.DataFrame) -> np.ndarray:
        """The Voronoi cell (nearest unit) each offence falls in; -1 outside the study area
        (by its district code, ``assign_columns``)."""
        if not len(df):
            return np.array([], dtype=np.int64)
        px, py = df["x_m"].to_numpy(float), df["y_m"].to_numpy(float)
        k = nearest.query(np.column_stack([px, py]))[1].astype(np.int64)
        inside = (df["lad_code"].eq(CITY_LAD) if study_area == "city"
                  else df["lad_code"].notna()).to_numpy()
        return np.where(inside, k, -1)

    def count(f: OffenceFilter) -> np.ndarray:
        k = locate(svc.store.located_values(("x_m", "y_m", "lad_code"),
                                            in_study_area(f, study_area)))
        return np.bincount(k[k >= 0], minlength=len(xy)).astype(float)

    def adjacency() -> sp.csr_matrix:
        tri = Delaunay(xy)
        a, b = tri.vertex_neighbor_vertices
        rows = np.repeat(np.arange(len(xy)), np.diff(a))
        m = sp.csr_matrix((np.ones(len(b)), (rows, b)), shape=(len(xy), len(xy)))
        return ((m + m.T) > 0).astype(float).tocsr()

    return Units(ids=ids, area_km2=np.maximum(area_km2, 1e-6),
                 definition=_definition(
                     UnitSpec(grid="location", study_area=study_area), len(ids),
                     f"distinct offence locations in {STUDY_AREAS[study_area]} (police.uk map "
                     "points), each with its Voronoi cell clipped to the area as its area; "
                     "Delaunay neighbours", contiguity="delaunay"),
                 _count=count, _adjacency=adjacency, _centres=lambda: (xy[:, 0], xy[:, 1]),
                 _assign=locate, assign_columns=("x_m", "y_m", "lad_code"))


def unit_shapes_lonlat(svc, spec: UnitSpec | None, ids) -> gpd.GeoDataFrame:
    """The shapes of units ``ids`` (GeoDataFrame with ``id``, EPSG:4326) for maps and
    GeoJSON: H3 hexagons, fishnet squares, layer polygons; map points (``spec`` None) as a
    40 m disc."""
    import geopandas as gpd  # noqa: PLC0415 - lazy: heavy import (geopandas)


    ids = list(ids)
    if spec is None:
        xy = [tuple(map(float, i.split("_"))) for i in ids]
        discs = [shapely.Point(x, y).buffer(40) for x, y in xy]
        return to_io(gpd.GeoDataFrame({"id": ids}, geometry=discs, crs=27700))
    if spec.grid == "h3":
        geoms = h3_polygons_lonlat(np.array([int(i, 16) for i in ids], dtype=np.uint64))
        return gpd.GeoDataFrame({"id": ids}, geometry=geoms, crs=4326)
    if spec.grid == "fishnet":
        half = spec.fishnet_cell_size_m / 2
        xy = [tuple(map(float, i.split("_"))) for i in ids]
        boxes = [shapely.box(x - half, y - half, x + half, y + half) for x, y in xy]
        return to_io(gpd.GeoDataFrame({"id": ids}, geometry=boxes, crs=27700))
    g = svc.boundaries.get(spec.grid).gdf
    g = g.set_index("code").loc[ids].reset_index().rename(columns={"code": "id"})
    return to_io(g[["id", "geometry"]])


def rows_geojson(svc, spec: UnitSpec | None, rows: list[dict], meta: dict) -> dict:
    """Unit rows as an RFC 7946 FeatureCollection (lon/lat, 6 decimals): each row's unit
    shape with the row as properties, and ``meta``."""

    shapes = unit_shapes_lonlat(svc, spec, [r["id"] for r in rows])
    geoms = [json.loads(shapely.to_geojson(shapely.set_precision(g, 1e-6))) for g in
             shapes.geometry]
    return {"type": "FeatureCollection", "meta": meta,
            "features": [{"type": "Feature", "id": r["id"], "geometry": g, "properties": r}
                         for r, g in zip(rows, geoms)]}


def streets_in_units(svc, flt: OffenceFilter, units: Units, order, n: int = 3
                     ) -> dict[int, list[str]]:
    """For each unit index in ``order``: its ``n`` most common place names among the
    offences matching ``flt`` - real streets, each once, a police.uk stock label only beside
    its nearest street ("Shopping area off Vaughan Way"), no blanks (``analysis.places``).
    Under disclosure control only names resting on at least ``k`` offences."""

    order = list(order)
    if not order:
        return {}
    cols = tuple(dict.fromkeys((*units.assign_columns, "location_text", "x_m", "y_m")))
    df = svc.store.located_values(cols, flt)
    unit = units.assign(df) if len(df) else np.array([], dtype=np.int64)
    named = name_places(unit, df["location_text"].tolist(), df["x_m"].to_numpy(float),
                        df["y_m"].to_numpy(float), order, n)
    least = min_records()
    return {i: [name for name, k in named[i] if k >= least] for i in order}
