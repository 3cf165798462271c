"""Diagnostics of one state (wrapping fortran/diagnostics.f90).

Nu_top, Nu_bottom  conservative wall heat flux / temperature drop (per unit length)
Vrms               sqrt(area mean of |u|^2)
T_mean             area mean of T
urms_top, umax_top surface velocity
work               area mean of T v (on the faces where buoyancy acts)
dissipation        area mean of tau:grad u; Ra * work = dissipation for any Stokes solution
div_max            largest |div u| over the cells
"""
from __future__ import annotations

import numpy as np

from . import _kernels
from .grid import Grid

_D = _kernels.diagnostics

#: Names, long names of the time-series diagnostics written every step (CF long_name).
HISTORY_FIELDS = {
    "Nu_top": "Nusselt number at the top wall (conservative boundary flux)",
    "Nu_bottom": "Nusselt number at the bottom wall (conservative boundary flux)",
    "Vrms": "root-mean-square velocity",
    "T_mean": "mean temperature",
    "urms_top": "root-mean-square surface velocity",
    "umax_top": "maximum surface velocity",
    "work": "mean buoyancy work (T v)",
    "dissipation": "mean viscous dissipation (tau:grad u)",
    "div_max": "maximum absolute velocity divergence",
    "heating": "internal heating rate Q(t)",
    "dt": "time step",
    "stokes_iterations": "Krylov iterations of the Stokes solve (-1: velocities reused)",
    "stokes_residual": "relative curl of the momentum residual of the provider's velocities "
                       "before the guard (&stokes guard_tol; NaN: no guard)",
    "direct_solve": "1 where the step's velocities came from a Stokes solve, 0 where a "
                    "network, a Galerkin solve or a skipped step gave them",
}


def compute(grid: Grid, T, u, v, eta_c, eta_n, t_bottom=1.0, t_top=0.0) -> dict[str, float]:
    hy = grid.dy_c
    nu_top, nu_bot = _D.nusselt(T.T, hy, t_bottom, t_top)
    urms_top, umax_top = _D.surface_velocity(u.T)
    phi = _D.dissipation(u.T, v.T, eta_c.T, eta_n.T, grid.dx, hy)
    div = _D.divergence(u.T, v.T, grid.dx, hy)
    if grid.uniform:        # the plain means, bit-identical to the uniform-only code
        vrms = _D.rms_velocity(u.T, v.T)
        work = _D.buoyancy_work(T.T, v.T)
        t_mean, phi_mean = T.mean(), phi.mean()
    else:
        vrms = _D.rms_velocity_w(u.T, v.T, hy)
        work = _D.buoyancy_work_w(T.T, v.T, hy)
        t_mean, phi_mean = area_mean(grid, T), area_mean(grid, phi.T)
    return {
        "Nu_top": float(nu_top), "Nu_bottom": float(nu_bot), "Vrms": float(vrms),
        "T_mean": float(t_mean), "urms_top": float(urms_top), "umax_top": float(umax_top),
        "work": float(work), "dissipation": float(phi_mean),
        "div_max": float(np.abs(div).max()),
    }


def area_mean(grid: Grid, f: np.ndarray) -> float:
    """Area mean of a cell-centred field (ny, nx): rows weighted by their heights."""
    if grid.uniform:
        return float(f.mean())
    return float((f.mean(axis=1) * grid.dy_c).sum())


def profile(T: np.ndarray) -> np.ndarray:
    """Horizontally averaged temperature at the cell-centre heights."""
    return _D.horizontal_profile(T.T)


def divergence(grid: Grid, u, v) -> np.ndarray:
    return _D.divergence(u.T, v.T, grid.dx, grid.dy_c).T
