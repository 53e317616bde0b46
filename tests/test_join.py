"""The raster+STRtree join equals an exact point-in-polygon join (smallest code on edges)."""

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_api.analysis.join import OUTSIDE, build_area_index, h3_cells, lookup


def reference(geoms, x, y):
    """Independent reference: geopandas sjoin(intersects), smallest polygon index wins."""
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=27700)
    polys = gpd.GeoDataFrame({"i": np.arange(len(geoms))}, geometry=list(geoms), crs=27700)
    j = gpd.sjoin(pts, polys, how="left", predicate="intersects")
    out = j.groupby(level=0)["i"].min().reindex(range(len(x)))
    return out.fillna(OUTSIDE).astype(int).to_numpy()


@pytest.mark.parametrize("layer", ["ward", "lsoa", "sector", "npa"])
def test_join_matches_exact_reference_on_random_and_boundary_points(boundaries, joins, layer):
    geoms = boundaries.get(layer).gdf.geometry.values
    rng = np.random.default_rng(7)
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    x = rng.uniform(xmin - 500, xmax + 500, 20_000)
    y = rng.uniform(ymin - 500, ymax + 500, 20_000)
    # Points exactly on vertices and on edge midpoints: the hard cases.
    coords = shapely.get_coordinates(shapely.boundary(geoms[:40]))
    mids = (coords[:-1] + coords[1:]) / 2
    x = np.r_[x, coords[:, 0], mids[:, 0]]
    y = np.r_[y, coords[:, 1], mids[:, 1]]
    got = lookup(joins.areas[layer], x, y)
    np.testing.assert_array_equal(got, reference(geoms, x, y))


def test_shared_edge_goes_to_smallest_code():
    a = shapely.box(0, 0, 100, 100)
    b = shapely.box(100, 0, 200, 100)
    idx = build_area_index([a, b], pixel_m=10)
    got = lookup(idx, np.array([100.0, 50.0, 150.0, 250.0, np.nan]),
                 np.array([50.0, 50.0, 50.0, 50.0, 1.0]))
    assert got.tolist() == [0, 0, 1, OUTSIDE, OUTSIDE]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 250), st.floats(-50, 150)), min_size=1, max_size=50))
def test_property_matches_reference_on_tiny_layer(points):
    geoms = np.array([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100),
                      shapely.Polygon([(20, 20), (80, 20), (50, 90)])], dtype=object)
    idx = build_area_index(geoms, pixel_m=7)
    x, y = np.array(points).T
    np.testing.assert_array_equal(lookup(idx, x, y), reference(geoms, x, y))


def test_h3_cells_contain_their_points_at_every_resolution():
    """Each resolution's cell is latlng_to_cell of the point, and its hexagon contains the
    point (an H3 parent of the r10 cell would not: about 6% of points fall outside)."""
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(52.4, 52.9, 2000), rng.uniform(-1.6, -0.6, 2000)
    cells = h3_cells(lon, lat, (7, 8, 9, 10))
    for r in (7, 8, 9, 10):
        want = [h3.str_to_int(h3.latlng_to_cell(a, b, r)) for a, b in zip(lat, lon)]
        np.testing.assert_array_equal(cells[r], np.array(want, dtype=np.uint64))
    for i in range(0, 2000, 40):
        for r in (7, 9):
            ring = [(b, a) for a, b in h3.cell_to_boundary(h3.int_to_str(int(cells[r][i])))]
            assert shapely.Polygon(ring).covers(shapely.Point(lon[i], lat[i]))
    parents = sum(h3.cell_to_parent(h3.latlng_to_cell(a, b, 10), 9)
                  != h3.latlng_to_cell(a, b, 9) for a, b in zip(lat, lon))
    assert parents > 50  # the fixture has points where the parent would be wrong


def test_h3_cell_of_the_mottisford_road_point_is_the_one_that_contains_it():
    """The point of issue 26: its r9 cell is 8919434d87bffff, not the parent of its r10."""
    cells = h3_cells(np.array([-1.134387]), np.array([52.663108]), (9, 10))
    assert h3.int_to_str(int(cells[9][0])) == "8919434d87bffff"
    assert h3.cell_to_parent(h3.int_to_str(int(cells[10][0])), 9) == "8919434d873ffff"


def test_h3_missing_coordinates_give_zero():
    cells = h3_cells(np.array([np.nan, -1.13]), np.array([np.nan, 52.63]), (9,))
    assert cells[9][0] == 0 and cells[9][1] != 0


def test_boundaries_on_pixel_edges_dense_grid():
    """Polygon edges aligned with pixel edges; points on every 2.5 m lattice node."""
    geoms = np.array([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100),
                      shapely.box(0, 100, 200, 150),
                      shapely.Polygon([(20, 20), (80, 20), (50, 90)])], dtype=object)
    idx = build_area_index(geoms, pixel_m=10)
    gx, gy = np.meshgrid(np.arange(-20, 220, 2.5), np.arange(-20, 170, 2.5))
    x, y = gx.ravel(), gy.ravel()
    np.testing.assert_array_equal(lookup(idx, x, y), reference(geoms, x, y))


def test_point_join_remembers_points_and_equals_a_fresh_join(joins):
    """PointJoin (the ingest's join, remembering points across files) gives what
    lookup_many + h3_cells give, call after call: for repeated points, new points, points
    sharing metric coordinates but not lon/lat, missing coordinates, and after it has
    started afresh at capacity."""
    from geo_api.analysis.join import PointJoin, lookup_many
    from geo_api.crs import lonlat_to_metric, metric_to_lonlat

    rng = np.random.default_rng(11)
    layers = {k: joins.areas[k] for k in ("ward", "lsoa", "oa")}
    pj = PointJoin(layers, (7, 8, 9, 10), capacity=300)
    computed = []
    compute = pj._compute
    pj._compute = lambda x, *a: (computed.append(len(x)), compute(x, *a))[1]
    xmin, ymin, xmax, ymax = shapely.total_bounds(joins.areas["oa"].geoms)
    pool_lon, pool_lat = metric_to_lonlat(rng.uniform(xmin, xmax, 400),
                                          rng.uniform(ymin, ymax, 400))
    for call in range(6):
        pick = rng.integers(0, len(pool_lon), 500)  # repeats within and across calls
        lon, lat = pool_lon[pick].copy(), pool_lat[pick].copy()
        lon[:5] = np.nan  # no location
        x, y = lonlat_to_metric(lon, lat)
        if call == 3:  # same metric point, another lon/lat: not the remembered answer
            lon[10:20] += 0.01
        areas, cells = pj(x, y, lon, lat)
        want = lookup_many(layers, x, y, workers=1)
        want_cells = h3_cells(lon, lat, (7, 8, 9, 10))
        for k in layers:
            np.testing.assert_array_equal(areas[k], want[k])
        for r in (7, 8, 9, 10):
            np.testing.assert_array_equal(cells[r], want_cells[r])
        assert len(pj.slots) <= 300
    assert (areas["oa"] >= 0).sum() > 250  # the fixture's points fall in the layers
    assert computed[0] == 500 and min(computed[1:]) < 250  # answered from memory
