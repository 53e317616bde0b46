"""KDE against an exact direct sum, hand values, and count conservation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo_api.analysis.kde import _linear_bin, arcgis_bandwidth_m, kde_exact, kde_grid


def clustered(n, seed=0):
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(452000, 464000, 20), rng.uniform(298000, 310000, 20)
    k = rng.integers(0, 20, n)
    return cx[k] + rng.normal(0, 400, n), cy[k] + rng.normal(0, 400, n)


@pytest.mark.parametrize("kernel, tol, bandwidth_m, cell_size_m", [
    ("quartic", 1e-9, 300, 50),
    # the documented claim: Gaussian within 0.3% where density >= 1% of the peak, for
    # bandwidths from 1.2 to 6 cells (the ArcGIS default rule gives small ones on dense data)
    ("gaussian", 3e-3, 300, 50), ("gaussian", 3e-3, 150, 50), ("gaussian", 3e-3, 100, 50),
    ("gaussian", 3e-3, 60, 50), ("gaussian", 3e-3, 500, 100), ("gaussian", 3e-3, 75, 25)])
def test_grid_matches_exact_kde_where_density_matters(kernel, tol, bandwidth_m, cell_size_m):
    x, y = clustered(3000)
    g = kde_grid(x, y, bandwidth_m=bandwidth_m, cell_size_m=cell_size_m, kernel=kernel,
                 extent_m=(452000, 298000, 464000, 310000))
    X, Y = g.centres()
    # every k-th cell each way (at most 1/9 of the grid) keeps the exact sum cheap
    k = max(3, 150 // cell_size_m)
    X, Y, got = X[::k, ::k], Y[::k, ::k], g.density_per_km2[::k, ::k]
    exact = kde_exact(x, y, X, Y, bandwidth_m, kernel).reshape(X.shape)
    m = exact >= 0.01 * exact.max()
    assert m.sum() > 1000
    rel = np.abs(got[m] - exact[m]) / exact[m]
    assert rel.max() <= tol


def test_gaussian_binning_steps_keep_cell_centres_on_the_lattice():
    from geo_api.analysis.kde import gaussian_substeps

    assert gaussian_substeps(50, 600, 100, 100) == 1  # 50 m <= 60 m: the cells themselves
    assert gaussian_substeps(50, 300, 100, 100) == 3  # 50/3 m <= 30 m, odd
    assert gaussian_substeps(50, 100, 100, 100) == 5
    assert gaussian_substeps(50, 60, 100, 100) == 9
    assert gaussian_substeps(50, 60, 2000, 2000) == 1  # within the lattice budget
    # one point on a cell centre: the grid's peak is that cell, whatever the steps
    for h in (60, 100, 300):
        g = kde_grid(np.array([1025.0]), np.array([2025.0]), bandwidth_m=h, cell_size_m=50,
                     kernel="gaussian", extent_m=(0, 0, 3000, 4000))
        iy, ix = np.unravel_index(g.density_per_km2.argmax(), g.density_per_km2.shape)
        assert (ix, iy) == (20, 40)
        assert g.density_per_km2.max() == pytest.approx(1e6 / (2 * np.pi * h * h), rel=3e-3)


def test_single_point_hand_value_and_units():
    # One point at a cell centre: quartic peak = 3 / (pi h^2) per m^2 -> * 1e6 per km^2.
    g = kde_grid(np.array([1025.0]), np.array([2025.0]), bandwidth_m=100, cell_size_m=50,
                 kernel="quartic", extent_m=(0, 0, 3000, 4000))
    assert g.density_per_km2.max() == pytest.approx(3 / (np.pi * 100**2) * 1e6)
    iy, ix = np.unravel_index(g.density_per_km2.argmax(), g.density_per_km2.shape)
    assert (ix, iy) == (20, 40)  # row 0 is the south edge
    # 50 m cells; neighbours at 50 m: (1 - 0.25)^2 of the peak
    assert g.density_per_km2[iy, ix + 1] / g.density_per_km2.max() == pytest.approx(0.5625)


@pytest.mark.parametrize("kernel", ["quartic", "gaussian"])
def test_mass_is_conserved_inside_the_extent(kernel):
    x, y = clustered(2000, seed=3)
    g = kde_grid(x, y, 300, 25, kernel)
    cell_km2 = (25 / 1000) ** 2
    assert g.density_per_km2.sum() * cell_km2 == pytest.approx(2000, rel=5e-3)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 999), st.floats(0, 999)), min_size=1, max_size=200))
def test_linear_binning_conserves_counts(points):
    x, y = np.array(points).T
    grid = _linear_bin(x.astype(float), y.astype(float), -50.0, -50.0, 50.0, 24, 24, np.ones(len(x)))
    assert grid.sum() == pytest.approx(len(x))
    assert grid.min() >= -1e-12


@pytest.mark.parametrize("x, y, expected_m", [
    # standard-distance branch: four corners of a 100 m square; SD = Dm = 70.711 m and
    # SD < 1.2011 Dm, so h = 0.9 x 70.711 x 4^-0.2 = 48.2298 m (worked by hand)
    ([0.0, 100.0, 0.0, 100.0], [0.0, 0.0, 100.0, 100.0], 48.2298),
    # median branch: nine points at 0 and one at 1,000 m; mean 100, SD = 300 m, Dm = 100 m,
    # sqrt(1/ln 2) x 100 = 120.112 < 300, so h = 0.9 x 120.112 x 10^-0.2 = 68.2071 m
    ([0.0] * 9 + [1000.0], [0.0] * 10, 68.2071),
])
def test_arcgis_bandwidth_by_hand(x, y, expected_m):
    assert arcgis_bandwidth_m(np.array(x), np.array(y)) == pytest.approx(expected_m, abs=1e-4)


def test_bad_parameters():
    with pytest.raises(ValueError, match="kernel"):
        kde_grid(np.array([0.0]), np.array([0.0]), 100, 10, kernel="epanechnikov")
    with pytest.raises(ValueError, match="positive"):
        kde_grid(np.array([0.0]), np.array([0.0]), 0, 10)
