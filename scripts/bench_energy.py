#!/usr/bin/env python
"""The Fortran energy step against the vectorised NumPy version of the same step
(pymantle/energy_numpy.py), side by side on the same state: cells per second and the
speed-up. Target (issue 2): >= 10x.  Usage: python scripts/bench_energy.py"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from benchlib import append, best_of  # noqa: E402
from pymantle import energy_numpy  # noqa: E402
from pymantle.energy import EnergySolver  # noqa: E402
from pymantle.grid import Grid  # noqa: E402


def velocities(g, seed=0):
    rng = np.random.default_rng(seed)
    psi = np.zeros(g.corner_shape)
    psi[1:-1, 1:-1] = rng.standard_normal((g.ny - 1, g.nx - 1))
    return (psi[1:] - psi[:-1]) / g.dy * 100, -(psi[:, 1:] - psi[:, :-1]) / g.dx * 100


rows, speedups = [], []
for ny in (32, 64, 126):
    g = Grid(nx=4 * ny, ny=ny, aspect=4.0)
    u, v = velocities(g)
    T0 = np.random.default_rng(1).random(g.shape)
    es = EnergySolver(g)
    dt = es.time_step(u, v)
    T = T0.copy()
    n = max(1, 20000 // ny)
    t_f = best_of(lambda: es.step(T, u, v, 5.0, dt), repeat=5, number=n)
    t_np = best_of(lambda: energy_numpy.step_ssprk2(T0, u, v, 5.0, g.dx, g.dy, dt), repeat=5,
                   number=max(1, n // 20))
    cells = g.nx * g.ny
    speedups.append(t_np / t_f)
    rows.append(f"| {g.ny}x{g.nx} | {t_f * 1e3:.3f} | {cells / t_f / 1e6:.1f} | "
                f"{t_np * 1e3:.3f} | {cells / t_np / 1e6:.2f} | {t_np / t_f:.1f}x |")
body = ("Energy step (SSP-RK2, van Leer TVD advection + diffusion), one thread:\n\n"
        "| grid | Fortran ms | Fortran Mcells/s | NumPy ms | NumPy Mcells/s | speed-up |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows))
append("bench_energy: Fortran vs NumPy energy step", body,
       f"RESULT speedup={speedups[0]:.1f} speedup_64={speedups[1]:.1f} "
       f"speedup_paper={speedups[2]:.1f}")
