"""A pressure-free error measure of any velocity field: the curl of the momentum residual.

For face velocities w = (u, v) the discrete momentum equations of the MAC Stokes system
read K w + G p = b (K the viscous operator, G the pressure gradient, b = Ra T y_hat on the
faces). The discrete curl C (faces -> interior corners,
(C r)_c = d r_u/dy - d r_v/dx) annihilates every discrete gradient on a uniform MAC grid,
C G = 0, so

    rho(w) = |C (K w - b)|_2 / |C b|_2

is zero for the Stokes solution whatever its pressure, needs no pressure at all (the
network predicts none), and grows with the part of w that violates momentum balance.
It costs one assembly of the operator's rows (Fortran, O(N)) and one sparse product.
`&stokes guard_tol` sends a step whose rho exceeds the tolerance to the direct solver
(providers.GuardedProvider). The normalisation by |C b| (the driving's own curl) makes
rho comparable between a near-conductive start and a vigorous plume.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .config import ConfigError
from .grid import Grid
from .physics import face_buoyancy
from .stokes import StokesOperator


class MomentumCurlResidual:
    """rho(w) of the module docstring, for one uniform grid and Rayleigh number."""

    def __init__(self, grid: Grid, ra: float):
        if not grid.uniform:
            raise ConfigError(f"&stokes guard_tol: needs a uniform grid (refine_walls = 0); "
                              f"this one has refine_walls = {grid.refine}")
        self.grid, self.ra = grid, float(ra)
        self.op = StokesOperator(grid, pin=False)
        self.nu = (grid.nx + 1) * grid.ny
        self.nv = grid.nx * (grid.ny + 1)
        self._x = np.zeros(self.op.nrows)

    def curl(self, ru, rv):
        """C r at the interior corners (ny-1, nx-1) from face residuals r_u, r_v."""
        g = self.grid
        return ((ru[1:, 1:-1] - ru[:-1, 1:-1]) / (1.0 / g.ny)
                - (rv[1:-1, 1:] - rv[1:-1, :-1]) / g.dx)

    def momentum_residual(self, T, u, v, eta_c, eta_n):
        """(r_u, r_v) = K w - b on the faces, with p = 0."""
        kc, bscale = self.op.scales(eta_c)
        indptr, indices, vals = self.op.csr(eta_c, eta_n, kc, bscale)
        rows = self.nu + self.nv
        K = sp.csr_matrix((vals, indices, indptr), shape=(self.op.nrows, self.op.nrows))[:rows]
        self._x[:self.nu] = u.ravel()
        self._x[self.nu:rows] = v.ravel()
        r = K @ self._x - self.op.rhs(face_buoyancy(T, self.ra))[:rows]
        return r[:self.nu].reshape(self.grid.u_shape), r[self.nu:].reshape(self.grid.v_shape)

    def __call__(self, T, u, v, eta_c, eta_n) -> float:
        ru, rv = self.momentum_residual(T, u, v, eta_c, eta_n)
        drive = np.linalg.norm(self.curl(np.zeros(self.grid.u_shape),
                                         -face_buoyancy(T, self.ra)))
        return float(np.linalg.norm(self.curl(ru, rv)) / max(drive, 1e-300))
