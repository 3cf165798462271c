"""A pressure-free error measure of any velocity field: the curl of the momentum residual.

For face velocities w = (u, v) the discrete momentum equations of the MAC Stokes system
read K w + G p = b (K the viscous operator, G the pressure gradient, b = Ra T y_hat on the
faces). The discrete curl C (faces -> interior corners,
(C r)_c = d r_u/dy - d r_v/dx) annihilates every discrete gradient on a uniform MAC grid,
C G = 0, so

    rho(w) = |C (K w - b)|_2 / |C b|_2

is zero for the Stokes solution whatever its pressure, needs no pressure at all (the
network predicts none), and grows with the part of w that violates momentum balance.
It costs a few array passes (matrix-free, below).
`&stokes guard_tol` sends a step whose rho exceeds the tolerance to the direct solver
(providers.GuardedProvider). The normalisation by |C b| (the driving's own curl) makes
rho comparable between a near-conductive start and a vigorous plume.
"""
from __future__ import annotations

import numpy as np

from .config import ConfigError
from .grid import Grid


class MomentumCurlResidual:
    """rho(w) of the module docstring, for one uniform grid and Rayleigh number.

    K w is applied matrix-free, stress by stress, exactly as stokes_assembly.f90 writes
    the momentum rows (normal stresses 2 eta_c du/dx at the centres, shear stresses
    eta_n (du/dy + dv/dx) at the interior corners, zero on the wall corners: free slip);
    tests/test_stokes_guard.py holds it equal to the assembled operator. At 126x504 that
    is a few array passes instead of an O(N) assembly and a sparse product."""

    def __init__(self, grid: Grid, ra: float, smoothed: bool = True):
        if not grid.uniform:
            raise ConfigError(f"&stokes guard_tol: needs a uniform grid (refine_walls = 0); "
                              f"this one has refine_walls = {grid.refine}")
        self.grid, self.ra, self.smoothed = grid, float(ra), smoothed
        self.dx, self.dy = grid.dx, 1.0 / grid.ny
        self._sxy = np.zeros((grid.ny + 1, grid.nx + 1))

    def momentum_residual(self, T, u, v, eta_c, eta_n):
        """(r_u, r_v) = K w - b on the interior faces, with p = 0: (ny, nx-1), (ny-1, nx)."""
        dx, dy = self.dx, self.dy
        sxx = 2.0 * eta_c * (u[:, 1:] - u[:, :-1]) / dx
        syy = 2.0 * eta_c * (v[1:] - v[:-1]) / dy
        sxy = self._sxy
        sxy[1:-1, 1:-1] = eta_n[1:-1, 1:-1] * ((u[1:, 1:-1] - u[:-1, 1:-1]) / dy
                                               + (v[1:-1, 1:] - v[1:-1, :-1]) / dx)
        ru = -(sxx[:, 1:] - sxx[:, :-1]) / dx - (sxy[1:, 1:-1] - sxy[:-1, 1:-1]) / dy
        rv = -(syy[1:] - syy[:-1]) / dy - (sxy[1:-1, 1:] - sxy[1:-1, :-1]) / dx
        rv -= self.ra * 0.5 * (T[:-1] + T[1:])          # the buoyancy, interior v faces
        return ru, rv

    def curl(self, ru, rv):
        """C r at the interior corners (ny-1, nx-1) from the interior-face residuals."""
        return (ru[1:] - ru[:-1]) / self.dy - (rv[:, 1:] - rv[:, :-1]) / self.dx

    def smooth(self, c):
        """L^-2 c with L the five-point Laplacian on the interior corners (zero on the
        walls), by type-1 sine transforms (its eigenvectors): two orders of derivative
        fewer, so grid-scale ripples no longer drown the error of the flow itself."""
        from scipy.fft import dstn, idstn
        return idstn(dstn(c, type=1) / self._lam2, type=1)

    def _eigenvalues(self, shape):
        ny, nx = shape
        ly = (2.0 - 2.0 * np.cos(np.pi * np.arange(1, ny + 1) / (ny + 1))) / self.dy ** 2
        lx = (2.0 - 2.0 * np.cos(np.pi * np.arange(1, nx + 1) / (nx + 1))) / self.dx ** 2
        return (ly[:, None] + lx[None, :]) ** 2

    def __call__(self, T, u, v, eta_c, eta_n) -> float:
        ru, rv = self.momentum_residual(T, u, v, eta_c, eta_n)
        buoy = self.ra * 0.5 * (T[:-1] + T[1:])
        drive = (buoy[:, 1:] - buoy[:, :-1]) / self.dx            # C b at the corners
        c = self.curl(ru, rv)
        if self.smoothed:
            if not hasattr(self, "_lam2"):
                self._lam2 = self._eigenvalues(c.shape)
            c, drive = self.smooth(c), self.smooth(drive)
        return float(np.sqrt(np.sum(np.square(c))) / max(np.sqrt(np.sum(np.square(drive))),
                                                           1e-300))
