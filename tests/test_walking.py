"""Walking vs straight-line coverage on a SYNTHETIC street grid with a river and one bridge.

The grid is written as a real ``.osm.pbf`` with pyosmium, so the reader is tested too.
Nothing here is real OpenStreetMap data."""

from __future__ import annotations

import numpy as np
import osmium
import pytest

from geo_api.analysis.coverage import nearest_site_distance_m, within_radius
from geo_api.analysis.network import WalkingNetwork
from geo_api.analysis.siting import mclp
from geo_api.crs import metric_to_lonlat
from geo_api.data.osm import walking_network
from geo_api.errors import InvalidParameter

X0, Y0 = 458000.0, 304000.0  # Leicester city centre (EPSG:27700)
STEP = 100.0  # street spacing
NX = 11  # 1 km wide
SOUTH_ROWS = (0, 1, 2)  # streets y = 0, 100, 200
NORTH_ROWS = (4, 5, 6)  # y = 400..600; the river runs along y = 300 with no streets
BRIDGE_COL = 10  # the only crossing, at the east end (x = 1000)


def write_river_grid(path, extra_ways=()):
    """Streets every 100 m on both banks; one bridge; plus optional extra tagged ways."""
    rows = SOUTH_ROWS + NORTH_ROWS
    node_id = {}
    xs, ys = [], []
    for r in rows + (3,):
        for c in range(NX):
            node_id[(r, c)] = len(node_id) + 1
            xs.append(X0 + c * STEP)
            ys.append(Y0 + r * STEP)
    lon, lat = metric_to_lonlat(np.asarray(xs), np.asarray(ys))
    w = osmium.SimpleWriter(str(path))
    try:
        for (key, i), lo, la in zip(node_id.items(), lon, lat):
            w.add_node(osmium.osm.mutable.Node(id=i, location=(lo, la)))
        way = 1

        def add(nodes, tags):
            nonlocal way
            w.add_way(osmium.osm.mutable.Way(id=way, nodes=nodes, tags=tags))
            way += 1

        for bank in (SOUTH_ROWS, NORTH_ROWS):
            for r in bank:  # east-west streets
                add([node_id[(r, c)] for c in range(NX)], {"highway": "residential"})
            for c in range(NX):  # north-south streets within the bank
                add([node_id[(r, c)] for r in bank], {"highway": "residential"})
        add([node_id[(2, BRIDGE_COL)], node_id[(3, BRIDGE_COL)], node_id[(4, BRIDGE_COL)]],
            {"highway": "footway", "bridge": "yes"})
        for nodes, tags in extra_ways:
            add([node_id[n] for n in nodes], tags)
    finally:
        w.close()


@pytest.fixture
def river_pbf(tmp_path):
    p = tmp_path / "river_grid_SYNTHETIC.osm.pbf"
    write_river_grid(p)
    return p


def test_reader_builds_the_grid(river_pbf):
    net = walking_network(river_pbf)
    assert len(net.x_m) == 6 * NX + 1  # the river row has only the bridge node
    assert net.n_components == 1
    assert net.length_m.min() == pytest.approx(STEP, abs=0.05)


def test_motorway_and_private_ways_do_not_cross_the_river(tmp_path):
    p = tmp_path / "with_motorway.osm.pbf"
    write_river_grid(p, extra_ways=[
        ([(2, 0), (3, 0), (4, 0)], {"highway": "motorway"}),
        ([(2, 1), (3, 1), (4, 1)], {"highway": "service", "access": "private"}),
        ([(2, 2), (3, 2), (4, 2)], {"highway": "path", "foot": "no"})])
    net = walking_network(p)
    site = np.array([[X0, Y0 + 200.0]])
    demand = np.array([[X0, Y0 + 400.0]])
    assert net.nearest_site_distance_m(demand, site)[0] == pytest.approx(2 * 1000 + 200, abs=1)


def test_walking_distance_goes_round_by_the_bridge(river_pbf):
    net = walking_network(river_pbf)
    site = np.array([[X0, Y0 + 200.0]])  # south bank, west end
    demand = np.array([[X0, Y0 + 400.0],  # across the river: 200 m straight, 2.2 km on foot
                       [X0 + 100.0, Y0 + 200.0]])  # same bank, 100 m along the street
    straight = nearest_site_distance_m(demand, site)
    walk = net.nearest_site_distance_m(demand, site)
    assert straight == pytest.approx([200.0, 100.0])
    assert walk == pytest.approx([1000 + 200 + 1000, 100.0], abs=0.5)
    assert within_radius(demand, site, 250.0).toarray().ravel().tolist() == [True, True]
    assert net.within_radius(demand, site, 250.0).toarray().ravel().tolist() == [False, True]


def test_snap_distance_is_added_at_both_ends(river_pbf):
    net = walking_network(river_pbf)
    site = np.array([[X0 + 30.0, Y0 + 200.0 - 40.0]])  # 50 m off node (0, 2)
    demand = np.array([[X0 + 200.0, Y0 + 200.0 + 30.0]])  # 30 m off node (2, 2)
    assert net.nearest_site_distance_m(demand, site)[0] == pytest.approx(50 + 200 + 30, abs=0.5)
    m = net.within_radius(demand, site, 280.5)
    assert m.nnz == 1 and net.within_radius(demand, site, 279.5).nnz == 0


def test_mclp_chooses_differently_when_walking(river_pbf):
    """Demand sits on the north bank; the only candidates are on the south bank at the
    west end (close as the crow flies) and on the north bank (close on foot)."""
    net = walking_network(river_pbf)
    demand = np.array([[X0 + c * STEP, Y0 + 400.0] for c in range(3)])
    sites = np.array([[X0 + 100.0, Y0 + 200.0],  # south bank: 200 m across the water
                      [X0 + 100.0, Y0 + 600.0]])  # north bank: 200 m along streets
    w = np.array([1.0, 5.0, 1.0])
    straight = mclp(within_radius(demand, sites, 250.0), w, 1)
    walking = mclp(net.within_radius(demand, sites, 250.0), w, 1)
    # as the crow flies the south-bank site reaches all three (224 m): it looks best
    assert list(straight.chosen) == [0] and straight.covered_weight == 7.0
    # on foot it reaches nobody; the north-bank site reaches the middle point (200 m)
    assert net.within_radius(demand, sites, 250.0).toarray()[:, 0].sum() == 0
    assert list(walking.chosen) == [1] and walking.covered_weight == 5.0


def test_network_validation():
    with pytest.raises(ValueError):
        WalkingNetwork(np.array([0.0]), np.array([0.0]), np.array([], int), np.array([], int),
                       np.array([]))


def test_unreadable_or_empty_extract_is_a_clear_error(tmp_path):
    bad = tmp_path / "not_osm.osm.pbf"
    bad.write_bytes(b"this is not a pbf")
    with pytest.raises(InvalidParameter, match="cannot read"):
        walking_network(bad)
    empty = tmp_path / "empty.osm.pbf"
    w = osmium.SimpleWriter(str(empty))
    w.add_node(osmium.osm.mutable.Node(id=1, location=(-1.13, 52.63)))
    w.close()
    with pytest.raises(InvalidParameter, match="no walkable ways"):
        walking_network(empty)


def test_radius_is_inclusive_on_the_network_too():
    """Floating-point path sums at the radius count as within it, as for straight lines."""
    x = np.array([0.0, 0.1, 0.30000000000000004])
    net = WalkingNetwork(x, np.zeros(3), np.array([0, 1]), np.array([1, 2]),
                         np.array([0.1, 0.2]))
    site, demand = np.array([[0.0, 0.0]]), np.array([[0.30000000000000004, 0.0]])
    assert net.within_radius(demand, site, 0.3).nnz == 1
    x = np.array([0.0, 66.7, 133.3, 200.0])
    net = WalkingNetwork(x, np.zeros(4), np.array([0, 1, 2]), np.array([1, 2, 3]),
                         np.array([66.7, 66.6, 66.7]))
    d = net.nearest_site_distance_m(np.array([[200.0, 0.0]]), np.array([[0.0, 0.0]]), 200.0)
    assert np.isfinite(d[0]) and d[0] == pytest.approx(200.0)
