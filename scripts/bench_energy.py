#!/usr/bin/env python
"""The Fortran energy step against the vectorised NumPy version of the same step
(pymantle/energy_numpy.py), side by side on the same state: cells per second and the
speed-up. Target (issue 2): >= 10x. Writes a JSON record (scripts/benchlib.py).
Usage: python scripts/bench_energy.py [--rows 32,64,126] [--out docs/bench]"""
import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from benchlib import add_out_argument, best_of, md_table, record  # noqa: E402
from pymantle import energy_numpy  # noqa: E402
from pymantle.energy import EnergySolver  # noqa: E402
from pymantle.grid import Grid  # noqa: E402


def velocities(g, seed=0):
    rng = np.random.default_rng(seed)
    psi = np.zeros(g.corner_shape)
    psi[1:-1, 1:-1] = rng.standard_normal((g.ny - 1, g.nx - 1))
    return (psi[1:] - psi[:-1]) / g.dy * 100, -(psi[:, 1:] - psi[:, :-1]) / g.dx * 100


ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--rows", default="32,64,126", help="grid rows (nx = 4 ny), comma-separated")
add_out_argument(ap)
args = ap.parse_args()

rows = []
for ny in (int(r) for r in args.rows.split(",")):
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
    rows.append({"grid": f"{g.ny}x{g.nx}", "ny": g.ny, "nx": g.nx, "fortran_ms": t_f * 1e3,
                 "fortran_mcells_per_s": cells / t_f / 1e6, "numpy_ms": t_np * 1e3,
                 "numpy_mcells_per_s": cells / t_np / 1e6, "speedup": t_np / t_f})
table = md_table(rows, [("grid", "grid", ""), ("Fortran ms", "fortran_ms", ".3f"),
                        ("Fortran Mcells/s", "fortran_mcells_per_s", ".1f"),
                        ("NumPy ms", "numpy_ms", ".3f"), ("NumPy Mcells/s", "numpy_mcells_per_s", ".2f"),
                        ("speed-up", "speedup", ".1f")])
names = {32: "speedup", 64: "speedup_64", 126: "speedup_paper"}
result = "RESULT " + " ".join(f"{names.get(r['ny'], 'speedup_' + str(r['ny']))}={r['speedup']:.1f}"
                              for r in rows)
record("bench_energy", "Fortran vs NumPy energy step",
       "Energy step (SSP-RK2, van Leer TVD advection + diffusion), one thread; best of 5:",
       rows, result, out=args.out, settings={"rows": args.rows}, table=table)
