"""Vectorised NumPy version of the Fortran energy step (fortran/energy.f90).

Not used by the solver: it is the independent reference the tests compare the Fortran
kernel against, and the baseline scripts/bench_energy.py measures the kernel's speed-up
over. Same scheme: flux-form advection with MUSCL face values and a van Leer (or other)
limiter, five-point diffusion with ghost cells, SSP-RK2.
"""
from __future__ import annotations

import numpy as np


def _limited_slope(dl, dr, limiter):
    same = dl * dr > 0
    if limiter == "upwind":
        return np.zeros_like(dl)
    if limiter == "minmod":
        s = np.sign(dl) * np.minimum(np.abs(dl), np.abs(dr))
    elif limiter == "vanleer":
        with np.errstate(divide="ignore", invalid="ignore"):
            s = 2 * dl * dr / (dl + dr)
    elif limiter == "mc":
        s = np.sign(dl) * np.minimum(np.minimum(2 * np.abs(dl), 2 * np.abs(dr)),
                                     0.5 * np.abs(dl + dr))
    elif limiter == "superbee":
        s = np.sign(dl) * np.maximum(np.minimum(2 * np.abs(dl), np.abs(dr)),
                                     np.minimum(np.abs(dl), 2 * np.abs(dr)))
    else:
        raise ValueError(limiter)
    return np.where(same, s, 0.0)


def ghosts(T, tbot=1.0, ttop=0.0):
    """(ny+2, nx+2) array with Dirichlet top/bottom and insulating side ghost cells."""
    g = np.pad(T, 1, mode="edge")
    g[0, :] = 2 * tbot - g[1, :]
    g[-1, :] = 2 * ttop - g[-2, :]
    return g


def rhs(T, u, v, s, dx, dy, kappa=1.0, tbot=1.0, ttop=0.0, limiter="vanleer"):
    g = ghosts(T, tbot, ttop)
    # x faces 1..nx-1 (interior): cells left L = i-1, right R = i in T's columns
    ci = g[1:-1, :]                       # rows of real cells, all ghost columns
    tl2, tl, tr, tr2 = ci[:, :-3], ci[:, 1:-2], ci[:, 2:-1], ci[:, 3:]
    ui = u[:, 1:-1]
    pos = tl + 0.5 * _limited_slope(tl - tl2, tr - tl, limiter)
    neg = tr + 0.5 * _limited_slope(tr - tr2, tl - tr, limiter)
    fx = np.zeros_like(u)
    fx[:, 1:-1] = ui * np.where(ui > 0, pos, neg)
    cj = g[:, 1:-1]
    tb2, tb, tt, tt2 = cj[:-3], cj[1:-2], cj[2:-1], cj[3:]
    vi = v[1:-1, :]
    pos = tb + 0.5 * _limited_slope(tb - tb2, tt - tb, limiter)
    neg = tt + 0.5 * _limited_slope(tt - tt2, tb - tt, limiter)
    fy = np.zeros_like(v)
    fy[1:-1, :] = vi * np.where(vi > 0, pos, neg)
    lap = (kappa * (g[1:-1, 2:] - 2 * T + g[1:-1, :-2]) / dx**2
           + kappa * (g[2:, 1:-1] - 2 * T + g[:-2, 1:-1]) / dy**2)
    return -(fx[:, 1:] - fx[:, :-1]) / dx - (fy[1:] - fy[:-1]) / dy + lap + s


def step_ssprk2(T, u, v, s, dx, dy, dt, kappa=1.0, tbot=1.0, ttop=0.0, limiter="vanleer"):
    """Return T advanced by dt (the Fortran kernel works in place)."""
    t1 = T + dt * rhs(T, u, v, s, dx, dy, kappa, tbot, ttop, limiter)
    return 0.5 * T + 0.5 * (t1 + dt * rhs(t1, u, v, s, dx, dy, kappa, tbot, ttop, limiter))
