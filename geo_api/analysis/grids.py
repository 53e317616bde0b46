"""Analysis grids: H3 cells and square fishnets over a study area, with neighbour matrices.

Study area rule: a cell belongs to the study area when it overlaps the study area polygon
(H3's "overlap" containment; the same for fishnet cells), so every offence in the study
area lies in one of its cells; a cell counts only the study area's offences (the caller
filters them). Cells in the study area with no offences count as zeros. h3 takes (lat, lng): only this module and
``join.py`` call it.
"""

from __future__ import annotations

import itertools

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from h3.api import basic_int as h3i
from scipy.spatial import cKDTree


def h3_study_cells(area_lonlat: shapely.Geometry, resolution: int) -> np.ndarray:
    """uint64 H3 cells that overlap ``area_lonlat`` (EPSG:4326 polygon), sorted."""
    cells: set[str] = set()
    for poly in shapely.get_parts(area_lonlat):
        if poly.geom_type != "Polygon":
            continue
        shape = h3.LatLngPoly([(y, x) for x, y in poly.exterior.coords],
                              *[[(y, x) for x, y in r.coords] for r in poly.interiors])
        cells.update(h3.polygon_to_cells_experimental(shape, resolution, contain="overlap"))
    return np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.uint64)


def h3_adjacency(cells: np.ndarray, k: int = 1) -> sp.csr_matrix:
    """Binary neighbours: other study cells within ``k`` grid steps (k-ring, no self). Each
    cell's disk comes from H3's integer API; the disks are looked up among the study cells
    in one vectorised step (27,126 force r9 cells: ~0.1 s, not 7 s a cell at a time)."""
    cells = np.asarray(cells, dtype=np.uint64)
    n = len(cells)
    disks = [h3i.grid_disk(c, k) for c in cells.tolist()]
    sizes = np.fromiter(map(len, disks), dtype=np.int64, count=n)
    flat = np.fromiter(itertools.chain.from_iterable(disks), dtype=np.uint64,
                       count=int(sizes.sum()))
    rows = np.repeat(np.arange(n), sizes)
    cols = pd.Index(cells).get_indexer(flat)
    keep = (cols >= 0) & (cols != rows)
    return sp.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))


def h3_counts(cells: np.ndarray, offence_cells: np.ndarray) -> np.ndarray:
    """Offences per study cell (offences outside the study cells are ignored)."""
    pos = pd.Index(cells.astype(np.uint64)).get_indexer(np.asarray(offence_cells, np.uint64))
    return np.bincount(pos[pos >= 0], minlength=len(cells)).astype(float)


def h3_polygons_lonlat(cells: np.ndarray) -> list[shapely.Polygon]:
    """Cell boundaries as lon/lat polygons."""
    return [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(c))])
            for c in cells.tolist()]


def fishnet(area_m: shapely.Geometry, cell_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres (x, y; EPSG:27700) of the square cells that overlap ``area_m``."""
    xmin, ymin, xmax, ymax = area_m.bounds
    x0 = np.floor(xmin / cell_size_m) * cell_size_m
    y0 = np.floor(ymin / cell_size_m) * cell_size_m
    xs = np.arange(x0 + cell_size_m / 2, xmax + cell_size_m / 2, cell_size_m)
    ys = np.arange(y0 + cell_size_m / 2, ymax + cell_size_m / 2, cell_size_m)
    mx, my = np.meshgrid(xs, ys)
    gx, gy = mx.ravel(), my.ravel()
    half = cell_size_m / 2
    shapely.prepare(area_m)
    inside = shapely.intersects(area_m, shapely.box(gx - half, gy - half, gx + half, gy + half))
    return gx[inside], gy[inside]


def fishnet_counts(cx: np.ndarray, cy: np.ndarray, cell_size_m: float, x_m, y_m) -> np.ndarray:
    """Offences per fishnet cell (by cell containment; points outside ignored)."""
    tree = cKDTree(np.column_stack([cx, cy]))
    d, idx = tree.query(np.column_stack([x_m, y_m]), p=np.inf)
    ok = d <= cell_size_m / 2
    return np.bincount(idx[ok], minlength=len(cx)).astype(float)


def distance_band(cx: np.ndarray, cy: np.ndarray, band_m: float) -> sp.csr_matrix:
    """Binary neighbours whose centres are within ``band_m`` metres (no self)."""
    tree = cKDTree(np.column_stack([cx, cy]))
    pairs = tree.query_pairs(band_m, output_type="ndarray")
    n = len(cx)
    rows = np.r_[pairs[:, 0], pairs[:, 1]]
    cols = np.r_[pairs[:, 1], pairs[:, 0]]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
