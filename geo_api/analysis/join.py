"""Exact, fast point -> polygon assignment and H3 cell ids.

Method: a label raster per layer (EPSG:27700) answers most points with one array lookup;
pixels touched by any polygon boundary (and their up/right neighbours, so a boundary
running along a pixel edge cannot be missed) are marked ambiguous and their points are tested exactly
with prepared polygons against an STRtree of those points. The result is identical to an exact
point-in-polygon join.

Boundary rule (deterministic): a point on an edge shared by several polygons, or inside
an overlap, is assigned to the polygon with the smallest code (polygons are sorted by
code). Points in no polygon get -1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import h3.api.numpy_int as h3n
import numpy as np
import pandas as pd
import shapely
from rasterio import features
from rasterio.transform import Affine

AMBIGUOUS = -2
OUTSIDE = -1


@dataclass(frozen=True)
class AreaIndex:
    """Label raster + prepared polygons for one layer (EPSG:27700, metres)."""

    geoms: np.ndarray  # prepared polygons
    labels: np.ndarray  # (ny, nx) int16/32: area index, OUTSIDE or AMBIGUOUS
    x0_m: float
    y0_m: float
    pixel_m: float

    @property
    def ambiguous_fraction(self) -> float:
        return float((self.labels == AMBIGUOUS).mean())


def build_area_index(geoms, pixel_m: float | None = None, max_pixels: int = 48_000_000,
                     min_pixel_m: float = 5.0) -> AreaIndex:
    """Build the index for polygons sorted by code.

    Parameters
    ----------
    geoms : array of shapely polygons in EPSG:27700 (index = area id).
    pixel_m : raster pixel size in metres; default: the smallest size >= ``min_pixel_m``
        keeping the raster under ``max_pixels``.
    """
    geoms = np.asarray(geoms, dtype=object)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    if pixel_m is None:
        pixel_m = max(min_pixel_m, float(np.sqrt((xmax - xmin) * (ymax - ymin) / max_pixels)))
    # Pad by two pixels so every polygon is strictly inside the grid.
    x0, y0 = xmin - 2 * pixel_m, ymin - 2 * pixel_m
    nx = int(np.ceil((xmax - x0) / pixel_m)) + 2
    ny = int(np.ceil((ymax - y0) / pixel_m)) + 2
    # Row 0 is the southern edge (y grows with row), so lookups need no flip.
    transform = Affine(pixel_m, 0, x0, 0, pixel_m, y0)
    # Burn in reverse so the smallest index wins where polygons overlap.
    shapes = [(g, i) for i, g in reversed(list(enumerate(geoms))) if not g.is_empty]
    labels = features.rasterize(shapes, out_shape=(ny, nx), transform=transform,
                                fill=OUTSIDE, all_touched=False,
                                dtype="int16" if len(geoms) < 32_000 else "int32")
    edges = features.rasterize([(shapely.boundary(g), 1) for g in geoms if not g.is_empty],
                               out_shape=(ny, nx), transform=transform, fill=0,
                               dtype="uint8", all_touched=True)
    # A point on a pixel edge is floored into the pixel above/right of that edge, while
    # GDAL may mark only the pixel below/left of a boundary running along it: mark the
    # up/right neighbours of every touched pixel too (2x2 dilation towards +x, +y).
    edges = edges.view(bool)  # 0/1 bytes: the same memory as booleans, no copy
    amb = edges.copy()
    amb[1:, :] |= edges[:-1, :]
    amb[:, 1:] |= edges[:, :-1]
    amb[1:, 1:] |= edges[:-1, :-1]
    labels[amb] = AMBIGUOUS
    shapely.prepare(geoms)  # indexed point-in-area tests, built once
    return AreaIndex(geoms=geoms, labels=labels, x0_m=x0, y0_m=y0, pixel_m=float(pixel_m))


def exact_lookup(index: AreaIndex, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
    """Exact assignment by ``intersects`` (smallest index on shared edges).

    The query runs polygons against an STRtree of the points so each test uses the
    polygon's prepared (indexed) point-in-area locator: O(log vertices) per point.
    """
    out = np.full(len(x_m), OUTSIDE, dtype=np.int32)
    if len(x_m) == 0:
        return out
    pts = shapely.points(x_m, y_m)
    hit, src = shapely.STRtree(pts).query(index.geoms, predicate="intersects")
    if len(src):
        order = np.lexsort((hit, src))
        src, hit = src[order], hit[order]
        first = np.r_[True, src[1:] != src[:-1]]
        out[src[first]] = hit[first]
    return out


def lookup(index: AreaIndex, x_m: np.ndarray, y_m: np.ndarray) -> np.ndarray:
    """Area index per point (EPSG:27700 metres); -1 outside every polygon or NaN coords."""
    x_m = np.asarray(x_m, dtype=np.float64)
    y_m = np.asarray(y_m, dtype=np.float64)
    ny, nx = index.labels.shape
    fx = np.floor((x_m - index.x0_m) / index.pixel_m)
    fy = np.floor((y_m - index.y0_m) / index.pixel_m)
    inside = (fx >= 0) & (fx < nx) & (fy >= 0) & (fy < ny)  # False for NaN
    out = np.full(len(x_m), OUTSIDE, dtype=np.int32)
    ix = fx[inside].astype(np.intp)
    iy = fy[inside].astype(np.intp)
    out[inside] = index.labels[iy, ix]
    amb = np.flatnonzero(out == AMBIGUOUS)
    if len(amb):
        out[amb] = exact_lookup(index, x_m[amb], y_m[amb])
    return out


def nest(idx: np.ndarray, inside_parent: np.ndarray, index: AreaIndex, x_m: np.ndarray,
         y_m: np.ndarray) -> np.ndarray:
    """A layer's area indexes made to nest in a parent area (e.g. wards in the city): -1
    where the point is not inside the parent; where it is inside the parent but in no area
    of the layer (a sliver between two boundary sets drawn from different sources), the
    nearest area. So the layer's counts add up to the parent's, whichever set drew them.

    Parameters
    ----------
    idx : area index per point (``lookup``), -1 for none
    inside_parent : whether each point is in the parent area
    index : the layer's ``AreaIndex`` (its polygons, EPSG:27700)
    x_m, y_m : the points, EPSG:27700 metres
    """
    out = np.where(inside_parent, idx, OUTSIDE).astype(np.int32)
    fill = np.flatnonzero(inside_parent & (out < 0))
    if len(fill):
        tree = shapely.STRtree(index.geoms)
        out[fill] = tree.nearest(shapely.points(np.asarray(x_m)[fill], np.asarray(y_m)[fill]))
    return out


# --- H3 ---------------------------------------------------------------------------------
def h3_cells(lon: np.ndarray, lat: np.ndarray, resolutions=(7, 8, 9, 10)) -> dict[int, np.ndarray]:
    """H3 cell ids (uint64; 0 where coords are NaN) containing each point, per resolution.

    Every resolution is ``h3.latlng_to_cell`` of the point itself, never the parent of a finer
    cell: an H3 parent does not cover all of its children's area, so a parent would put about
    6% of points in a hexagon whose polygon does not contain them. Computed once per distinct
    coordinate (lat, lng order is handled here and nowhere else).
    """

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    ok = np.isfinite(lon) & np.isfinite(lat)
    out = {r: np.zeros(len(lon), dtype=np.uint64) for r in resolutions}
    if ok.any():
        # Distinct coordinates via a hash factorize of lat + i*lon (police.uk rows share
        # snap points, so this saves most h3 calls); np.unique(axis=0) is 8x slower.
        inv, uniq = pd.factorize(lat[ok] + 1j * lon[ok])
        la, lo = uniq.real.tolist(), uniq.imag.tolist()
        for r in resolutions:
            ids = np.fromiter((h3n.latlng_to_cell(a, b, r) for a, b in zip(la, lo)),
                              dtype=np.uint64, count=len(la))
            out[r][ok] = ids[inv]
    return out


def lookup_many(indexes: dict[str, AreaIndex], x_m: np.ndarray, y_m: np.ndarray,
                workers: int = 2) -> dict[str, np.ndarray]:
    """``lookup`` for several layers; layers run in threads (numpy/shapely release the GIL)."""

    x_m = np.asarray(x_m, dtype=np.float64)
    y_m = np.asarray(y_m, dtype=np.float64)
    if workers <= 1 or len(indexes) == 1:
        return {k: lookup(v, x_m, y_m) for k, v in indexes.items()}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {k: pool.submit(lookup, v, x_m, y_m) for k, v in indexes.items()}
        return {k: f.result() for k, f in futures.items()}


class PointJoin:
    """``lookup_many`` and ``h3_cells`` for streams of points that repeat across batches,
    remembering each distinct point's answer: police.uk publishes every crime at one of a
    fixed set of anonymised map points, so most of a file's points were joined already by
    an earlier file of the same ingest.

    Exact: a remembered answer is used only for a point with the same metric and lon/lat
    coordinates (bit for bit); anything else (a new point, missing coordinates) is computed
    as ``lookup_many`` and ``h3_cells`` would. Bounded: at ``capacity`` points it starts
    afresh (about 80 bytes a point for 7 layers and 4 resolutions, plus the dictionary)."""

    def __init__(self, indexes: dict[str, AreaIndex], resolutions=(7, 8, 9, 10),
                 capacity: int = 500_000):
        self.indexes, self.resolutions, self.capacity = indexes, tuple(resolutions), capacity
        self.slots: dict[complex, int] = {}
        self.lonlat = np.empty((capacity, 2), dtype=np.float64)
        self.areas = np.empty((len(indexes), capacity), dtype=np.int32)
        self.cells = np.empty((len(self.resolutions), capacity), dtype=np.uint64)

    def _compute(self, x_m, y_m, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        idx = lookup_many(self.indexes, x_m, y_m, workers=1)
        cells = h3_cells(lon, lat, self.resolutions)
        return (np.stack([idx[k] for k in self.indexes]),
                np.stack([cells[r] for r in self.resolutions]))

    def __call__(self, x_m, y_m, lon, lat) -> tuple[dict[str, np.ndarray], dict[int, np.ndarray]]:
        """(area index per layer, H3 cells per resolution) of each point, as ``lookup_many``
        and ``h3_cells`` give them."""
        x_m, y_m, lon, lat = (np.asarray(a, dtype=np.float64) for a in (x_m, y_m, lon, lat))
        n = len(x_m)
        areas = np.full((len(self.indexes), n), OUTSIDE, dtype=np.int32)
        cells = np.zeros((len(self.resolutions), n), dtype=np.uint64)
        ok = np.isfinite(x_m) & np.isfinite(y_m) & np.isfinite(lon) & np.isfinite(lat)
        rows = np.flatnonzero(ok)
        codes, uniq = pd.factorize(x_m[rows] + 1j * y_m[rows])
        slots = np.fromiter((self.slots.get(c, -1) for c in uniq.tolist()), dtype=np.int64,
                            count=len(uniq))
        slot = slots[codes]
        hit = slot >= 0
        hit[hit] = ((self.lonlat[slot[hit], 0] == lon[rows[hit]])
                    & (self.lonlat[slot[hit], 1] == lat[rows[hit]]))
        areas[:, rows[hit]] = self.areas[:, slot[hit]]
        cells[:, rows[hit]] = self.cells[:, slot[hit]]
        todo = np.r_[np.flatnonzero(~ok), rows[~hit]]
        if len(todo):
            areas[:, todo], cells[:, todo] = self._compute(x_m[todo], y_m[todo], lon[todo],
                                                           lat[todo])
        self._remember(uniq, slots, codes, rows, areas, cells, lon, lat)
        return (dict(zip(self.indexes, areas, strict=True)),
                dict(zip(self.resolutions, cells, strict=True)))

    def _remember(self, uniq, slots, codes, rows, areas, cells, lon, lat) -> None:
        new = np.flatnonzero(slots < 0)  # distinct points not remembered yet
        if not len(new):
            return
        if len(self.slots) + len(new) > self.capacity:
            self.slots = {}
            new = new[: self.capacity]
        first = np.zeros(len(uniq), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
        at = rows[first[new]]  # each new point's first row
        start = len(self.slots)
        dest = np.arange(start, start + len(new))
        self.lonlat[dest, 0], self.lonlat[dest, 1] = lon[at], lat[at]
        self.areas[:, dest] = areas[:, at]
        self.cells[:, dest] = cells[:, at]
        self.slots.update(zip(uniq[new].tolist(), dest.tolist(), strict=True))
