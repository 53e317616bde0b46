"""Kernel density on a metric grid (EPSG:27700) by linear binning + FFT convolution.

Kernels (2-D, integrate to 1 over the plane, ``h`` = bandwidth in metres):

- quartic (Silverman 1986 eq. 4.5; the UK crime-mapping and ArcGIS default):
  ``K(d) = 3 / (pi h^2) * (1 - (d/h)^2)^2`` for ``d < h``, else 0;
- gaussian: ``K(d) = 1 / (2 pi h^2) * exp(-d^2 / (2 h^2))``, truncated at ``4 h``
  (the truncation drops 0.03% of the mass).

Density is evaluated at cell centres and reported in offences per km^2.

- quartic: exact. The kernel's support is small (radius ``h``), so each point is added to
  the cell centres within ``h`` (numba, one grid per thread, summed). Binned FFT is not
  used because linear binning errs by up to ~25% near the compact support's edge at
  50 m cells / 300 m bandwidth.
- gaussian: linear binning to a lattice through the cell centres, at most a tenth of the
  bandwidth apart (each cell cut into an odd number of steps; padded by the kernel radius so
  points near or outside the edge contribute), and FFT convolution with a Gaussian whose
  variance is reduced by the average variance linear binning adds (``step^2 / 6`` per
  axis); max relative error <= 0.3% where density >= 1% of max (tested against the exact
  sum for bandwidths of 1.2 to 6 cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.fft as sfft

KERNELS = ("quartic", "gaussian")
GAUSSIAN_TRUNCATE = 4.0
M2_PER_KM2 = 1e6


@dataclass(frozen=True)
class KDEGrid:
    """Density per km^2 at cell centres; row 0 is the southern edge (EPSG:27700)."""

    density_per_km2: np.ndarray  # (ny, nx)
    x0_m: float  # west edge of the grid
    y0_m: float  # south edge of the grid
    cell_size_m: float
    bandwidth_m: float
    kernel: str
    n_points: int
    params: dict = field(default_factory=dict)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.density_per_km2.shape
        xs = self.x0_m + (np.arange(nx) + 0.5) * self.cell_size_m
        ys = self.y0_m + (np.arange(ny) + 0.5) * self.cell_size_m
        return np.meshgrid(xs, ys)


def kernel_values(d_m: np.ndarray, bandwidth_m: float, kernel: str) -> np.ndarray:
    """Kernel density contribution (per m^2) of one point at distance ``d_m``."""
    h = float(bandwidth_m)
    d = np.asarray(d_m, dtype=float)
    if kernel == "quartic":
        u2 = (d / h) ** 2
        return np.where(u2 < 1, 3.0 / (np.pi * h * h) * (1 - u2) ** 2, 0.0)
    if kernel == "gaussian":
        v = np.exp(-0.5 * (d / h) ** 2) / (2 * np.pi * h * h)
        return np.where(d < GAUSSIAN_TRUNCATE * h, v, 0.0)
    raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")


def kernel_radius_m(bandwidth_m: float, kernel: str) -> float:
    return bandwidth_m * (GAUSSIAN_TRUNCATE if kernel == "gaussian" else 1.0)


def arcgis_bandwidth_m(x_m: np.ndarray, y_m: np.ndarray) -> float:
    """ArcGIS default search radius: ``0.9 * min(SD, sqrt(1/ln 2) * Dm) * n^-0.2``.

    SD is the standard distance, Dm the median distance from the mean centre (metres).
    """
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    if len(x) < 2:
        raise ValueError("need at least two points for a default bandwidth")
    dx, dy = x - x.mean(), y - y.mean()
    sd = np.sqrt((dx**2).mean() + (dy**2).mean())
    dm = np.median(np.hypot(dx, dy))
    return float(0.9 * min(sd, np.sqrt(1 / np.log(2)) * dm) * len(x) ** -0.2)


@numba.njit(cache=True)
def _linear_bin(x, y, x0, y0, cell, nx, ny, weights) -> np.ndarray:
    """Bilinear weights of each point onto the 4 surrounding cell centres (mass kept).

    Points whose 4 neighbours are all outside the lattice are dropped; the caller pads
    the lattice by the kernel radius so that only points that cannot reach the output do.
    """
    grid = np.zeros((ny, nx))
    for i in range(x.shape[0]):
        fx = (x[i] - x0) / cell - 0.5
        fy = (y[i] - y0) / cell - 0.5
        if not (np.isfinite(fx) and np.isfinite(fy)):
            continue
        ix = int(np.floor(fx))
        iy = int(np.floor(fy))
        tx, ty = fx - ix, fy - iy
        for dx, dy, wt in ((0, 0, (1 - tx) * (1 - ty)), (1, 0, tx * (1 - ty)),
                           (0, 1, (1 - tx) * ty), (1, 1, tx * ty)):
            cx, cy = ix + dx, iy + dy
            if 0 <= cx < nx and 0 <= cy < ny:
                grid[cy, cx] += wt * weights[i]
    return grid


@numba.njit(cache=True, parallel=True, fastmath=True)
def _quartic_scatter(x, y, w, x0, y0, cell, nx, ny, h, n_chunks):
    out = np.zeros((n_chunks, ny, nx))
    h2 = h * h
    c = 3.0 / (np.pi * h2)
    n = x.shape[0]
    for k in numba.prange(n_chunks):
        for i in range(k * n // n_chunks, (k + 1) * n // n_chunks):
            px, py = x[i], y[i]
            wc = w[i] * c
            ix0 = max(0, int(np.ceil((px - h - x0) / cell - 0.5)))
            ix1 = min(nx - 1, int(np.floor((px + h - x0) / cell - 0.5)))
            iy0 = max(0, int(np.ceil((py - h - y0) / cell - 0.5)))
            iy1 = min(ny - 1, int(np.floor((py + h - y0) / cell - 0.5)))
            for iy in range(iy0, iy1 + 1):
                dy = y0 + (iy + 0.5) * cell - py
                dy2 = dy * dy
                row = out[k, iy]
                for ix in range(ix0, ix1 + 1):
                    dx = x0 + (ix + 0.5) * cell - px
                    u = max(1.0 - (dx * dx + dy2) / h2, 0.0)  # branchless: vectorises
                    row[ix] += wc * u * u
    return out.sum(axis=0)


# the binning lattice is at most this fraction of the bandwidth: the variance-corrected
# linear binning then errs by at most 0.3% where density >= 1% of the maximum (tested)
GAUSSIAN_BIN_SHARE = 0.1
MAX_GAUSSIAN_BINS = 16_000_000  # the sub-lattice (padded) the FFT may use


def gaussian_substeps(cell: float, h: float, nx: int, ny: int) -> int:
    """How many binning steps (odd, so cell centres stay on the lattice) a cell is cut into
    for a Gaussian KDE: enough for a step of at most ``GAUSSIAN_BIN_SHARE`` bandwidths,
    within ``MAX_GAUSSIAN_BINS``."""
    s = max(1, int(np.ceil(cell / (GAUSSIAN_BIN_SHARE * h))))
    s += 1 - s % 2
    pad = 2 * (int(np.ceil(kernel_radius_m(h, "gaussian") / cell)) + 1)
    while s > 1 and (nx + pad) * (ny + pad) * s * s > MAX_GAUSSIAN_BINS:
        s -= 2
    return s


def _gaussian_fft(x, y, w, x0, y0, cell, nx, ny, h) -> tuple[np.ndarray, int]:
    """Density at cell centres and the binning steps per cell used: points binned linearly
    on a lattice of ``cell / s`` (``gaussian_substeps``) whose nodes include the cell
    centres, convolved with a Gaussian whose variance is reduced by what the binning adds."""
    s = gaussian_substeps(cell, h, nx, ny)
    step = cell / s
    var_k = h * h - step * step / 6.0
    if var_k <= 0:
        raise ValueError("cell_size_m must be well below bandwidth_m for a Gaussian KDE")
    radius = kernel_radius_m(h, "gaussian")
    pad = int(np.ceil(radius / step)) + 1
    mx, my = nx * s, ny * s
    # lattice node j sits at x0 + (j + 0.5) * step: node i*s + (s-1)/2 is cell i's centre
    binned = _linear_bin(x, y, float(x0 - pad * step), float(y0 - pad * step), float(step),
                         mx + 2 * pad, my + 2 * pad, w)
    dens = _gaussian_conv(binned, np.sqrt(var_k), step, radius)[pad:pad + my, pad:pad + mx]
    c = (s - 1) // 2
    return np.clip(dens[c::s, c::s], 0, None), s  # FFT round-off can give -1e-18


def _gaussian_conv(grid: np.ndarray, sigma: float, step: float, radius: float) -> np.ndarray:
    """``grid`` (counts on a lattice ``step`` apart, padded by at least ``radius``)
    convolved with the 2-D Gaussian of ``sigma`` truncated at distance ``radius`` (per m^2):
    real 2-D FFTs on both cores, the lattice padded so that the circular convolution never
    wraps onto the output."""
    r = int(np.floor(radius / step))
    k = np.arange(-r, r + 1) * step
    kx, ky = np.meshgrid(k, k)
    d = np.hypot(kx, ky)
    kern = np.where(d < radius, np.exp(-0.5 * (d / sigma) ** 2) / (2 * np.pi * sigma * sigma),
                    0.0)
    ny, nx = grid.shape
    ly = sfft.next_fast_len(ny + r, real=False)
    lx = sfft.next_fast_len(nx + r, real=True)
    wrapped = np.zeros((ly, lx))  # the kernel centred on (0, 0), circularly
    wrapped[: r + 1, : r + 1] = kern[r:, r:]
    wrapped[: r + 1, lx - r:] = kern[r:, :r]
    wrapped[ly - r:, : r + 1] = kern[:r, r:]
    wrapped[ly - r:, lx - r:] = kern[:r, :r]
    spec = sfft.rfft2(grid, (ly, lx), workers=-1)
    spec *= sfft.rfft2(wrapped, workers=-1)
    return sfft.irfft2(spec, (ly, lx), workers=-1)[:ny, :nx]


def kde_grid(x_m: np.ndarray, y_m: np.ndarray, bandwidth_m: float, cell_size_m: float,
             kernel: str = "quartic", extent_m: tuple[float, float, float, float] | None = None,
             weights: np.ndarray | None = None) -> KDEGrid:
    """Kernel density surface.

    Parameters
    ----------
    x_m, y_m : point coordinates, EPSG:27700 metres.
    bandwidth_m : kernel bandwidth (quartic: search radius), metres.
    cell_size_m : output cell size, metres.
    kernel : "quartic" or "gaussian".
    extent_m : (xmin, ymin, xmax, ymax) of the output grid in metres; default: the points'
        bounding box padded by the kernel radius, snapped to the cell size.
    weights : optional weight per point (default 1).

    Returns
    -------
    KDEGrid with density in offences per km^2 at cell centres.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    if not (bandwidth_m > 0 and cell_size_m > 0):
        raise ValueError("bandwidth_m and cell_size_m must be positive")
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    radius = kernel_radius_m(bandwidth_m, kernel)
    if extent_m is None:
        if len(x) == 0:
            raise ValueError("no points and no extent")
        extent_m = (x.min() - radius, y.min() - radius, x.max() + radius, y.max() + radius)
    xmin, ymin, xmax, ymax = extent_m
    x0 = np.floor(xmin / cell_size_m) * cell_size_m
    y0 = np.floor(ymin / cell_size_m) * cell_size_m
    nx = max(1, int(np.ceil((xmax - x0) / cell_size_m)))
    ny = max(1, int(np.ceil((ymax - y0) / cell_size_m)))
    if kernel == "quartic":
        ok = np.isfinite(x) & np.isfinite(y)
        dens = _quartic_scatter(x[ok], y[ok], w[ok], float(x0), float(y0), float(cell_size_m),
                                nx, ny, float(bandwidth_m), max(1, numba.get_num_threads()))
        method = "exact point scatter (quartic support)"
    else:
        dens, steps = _gaussian_fft(x, y, w, x0, y0, float(cell_size_m), nx, ny,
                                    float(bandwidth_m))
        method = (f"linear binning on a {cell_size_m / steps:g} m lattice + FFT, "
                  "variance-corrected kernel")
    dens = dens * M2_PER_KM2
    return KDEGrid(density_per_km2=dens, x0_m=float(x0), y0_m=float(y0),
                   cell_size_m=float(cell_size_m), bandwidth_m=float(bandwidth_m), kernel=kernel,
                   n_points=len(x),
                   params={"method": method,
                           "units": "offences per km^2", "kernel_radius_m": radius})


def kde_exact(x_m, y_m, qx_m, qy_m, bandwidth_m: float, kernel: str = "quartic",
              chunk: int = 2048) -> np.ndarray:
    """Exact KDE (direct sum over points) at query points, per km^2 (reference for tests)."""
    x, y = np.asarray(x_m, float), np.asarray(y_m, float)
    qx, qy = np.asarray(qx_m, float).ravel(), np.asarray(qy_m, float).ravel()
    out = np.empty(len(qx))
    for s in range(0, len(qx), chunk):
        d = np.hypot(qx[s:s + chunk, None] - x[None, :], qy[s:s + chunk, None] - y[None, :])
        out[s:s + chunk] = kernel_values(d, bandwidth_m, kernel).sum(axis=1)
    return out * M2_PER_KM2
