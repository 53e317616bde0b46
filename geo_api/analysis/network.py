"""Walking distances on a street network (pure: numpy/scipy).

The network is an undirected graph of nodes (EPSG:27700 metres) and edges with lengths in
metres. A point (demand or site) joins the network at its nearest node; its walking
distance to another point is the straight-line distance to its node, plus the shortest path
between the two nodes, plus the other point's distance to its node. Snapping to the
nearest node rather than the nearest edge over-states distances: by at most half an edge
for points on a street (OSM town streets have short edges), but by up to twice the gap for
points away from any node (parks, squares, large sites), where two points at the same spot
150 m from the network are 300 m apart. Use an extract with footpaths where that matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

SOURCES_PER_BATCH = 64  # Dijkstra sources per batch: bounds memory at 64 x nodes floats


@dataclass(frozen=True)
class WalkingNetwork:
    """Nodes ``x_m``/``y_m`` and undirected edges ``u``-``v`` of ``length_m``."""

    x_m: np.ndarray
    y_m: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    source: str = "network"

    def __post_init__(self):
        if len(self.x_m) == 0 or len(self.u) == 0:
            raise ValueError("the street network has no nodes or no edges")
        if len(self.u) != len(self.v) or len(self.u) != len(self.length_m):
            raise ValueError("u, v and length_m must have the same length")
        if np.any(np.asarray(self.length_m) < 0):
            raise ValueError("edge lengths must be non-negative")

    @cached_property
    def graph(self) -> sp.csr_matrix:
        n = len(self.x_m)
        # duplicate edges: keep the shortest (csgraph would add them up otherwise)
        key = np.minimum(self.u, self.v).astype(np.int64) * n + np.maximum(self.u, self.v)
        order = np.lexsort((self.length_m, key))
        first = np.ones(len(order), dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        keep = order[first]
        u, v, w = self.u[keep], self.v[keep], np.asarray(self.length_m, float)[keep]
        w = np.maximum(w, 1e-9)  # zero-length edges must stay edges
        g = sp.coo_matrix((np.concatenate([w, w]), (np.concatenate([u, v]),
                                                    np.concatenate([v, u]))), shape=(n, n))
        return g.tocsr()

    @cached_property
    def _tree(self) -> cKDTree:
        return cKDTree(np.column_stack([self.x_m, self.y_m]))

    @cached_property
    def n_components(self) -> int:
        return int(connected_components(self.graph, directed=False)[0])

    def snap(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each point and the straight-line distance to it (metres)."""
        if len(xy) == 0:
            return np.array([], dtype=np.int64), np.array([], dtype=float)
        d, i = self._tree.query(xy, k=1)
        return np.asarray(i, dtype=np.int64), np.asarray(d, dtype=float)

    def within_radius(self, demand_xy: np.ndarray, site_xy: np.ndarray, radius_m: float
                      ) -> sp.csr_matrix:
        """Sparse boolean (demand x sites): True where walking distance <= ``radius_m``."""
        n_d, n_s = len(demand_xy), len(site_xy)
        if n_d == 0 or n_s == 0:
            return sp.csr_matrix((n_d, n_s), dtype=bool)
        d_node, d_snap = self.snap(demand_xy)
        s_node, s_snap = self.snap(site_xy)
        rows, cols = [], []
        for start in range(0, n_s, SOURCES_PER_BATCH):
            idx = np.arange(start, min(start + SOURCES_PER_BATCH, n_s))
            dist = dijkstra(self.graph, directed=False, indices=s_node[idx],
                            limit=radius_m * (1 + 1e-9) + 1e-6)
            total = dist[:, d_node] + d_snap[None, :] + s_snap[idx, None]
            source_i, demand_i = np.nonzero(total <= radius_m * (1 + 1e-12))
            rows.append(demand_i)
            cols.append(idx[source_i])
        r, c = np.concatenate(rows), np.concatenate(cols)
        m = sp.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(n_d, n_s))
        m.sort_indices()
        return m

    def nearest_site_distance_m(self, demand_xy: np.ndarray, site_xy: np.ndarray,
                                limit_m: float = np.inf) -> np.ndarray:
        """Walking distance from each demand point to its nearest site (inf beyond
        ``limit_m`` or when not connected)."""
        if len(site_xy) == 0:
            return np.full(len(demand_xy), np.inf)
        d_node, d_snap = self.snap(demand_xy)
        s_node, s_snap = self.snap(site_xy)
        # a site's snap distance is folded in by a virtual source joined to its node
        n = len(self.x_m)
        g = self.graph.tocoo()
        best = np.full(n, np.inf)
        np.minimum.at(best, s_node, s_snap)  # sites sharing a node: the closest one counts
        nodes = np.flatnonzero(np.isfinite(best))
        src = np.full(len(nodes), n)
        w = np.maximum(best[nodes], 1e-9)
        aug = sp.coo_matrix((np.concatenate([g.data, w, w]),
                             (np.concatenate([g.row, src, nodes]),
                              np.concatenate([g.col, nodes, src]))), shape=(n + 1, n + 1))
        dist = dijkstra(aug.tocsr(), directed=False, indices=n,
                        limit=limit_m * (1 + 1e-9) + 1e-6)
        return dist[d_node] + d_snap
