#!/usr/bin/env python
"""Direct Stokes solve at 32x128, 64x256 and 128x512 (assembly, fresh factorisation,
refactorisation with the analysis kept, triangular solve), the fitted growth exponent of
the fresh solve with the number of unknowns, and the same matrix solved by
scipy.sparse.linalg.spsolve (SuperLU) side by side. Writes a JSON record (scripts/benchlib.py).
Usage: python scripts/bench_stokes.py [--rows 32,64,128] [--out docs/bench]"""
import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as sla  # noqa: E402

from benchlib import add_out_argument, best_of, md_table, record  # noqa: E402
from pymantle.grid import Grid  # noqa: E402
from pymantle.physics import corner_viscosity, face_buoyancy, viscosity  # noqa: E402
from pymantle.stokes import StokesSolver  # noqa: E402


def state(g):
    """A convecting-looking temperature (plumes over a conductive profile), study-like
    viscosity contrasts (gamma 1e6, beta 10)."""
    x, y = g.centres()
    T = np.clip(1 - y + 0.3 * np.sin(np.pi * y) * np.cos(3 * np.pi * x / g.aspect), 0, 1)
    eta_c = viscosity(T, y, 1e6, 10.0)
    return T, eta_c, corner_viscosity(eta_c)


ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--rows", default="32,64,128", help="grid rows (nx = 4 ny), comma-separated")
add_out_argument(ap)
args = ap.parse_args()

rows, ns, fresh = [], [], []
for ny in (int(r) for r in args.rows.split(",")):
    g = Grid(nx=4 * ny, ny=ny, aspect=4.0)
    T, eta_c, eta_n = state(g)
    fy = face_buoyancy(T, 1.0)
    s = StokesSolver(g, "direct")
    op = s.op
    kc, bs = op.scales(eta_c)
    t_asm = best_of(lambda: op.csr(eta_c, eta_n, kc, bs), repeat=5, number=5)
    rep = 3 if ny < 128 else 2
    t_fresh = best_of(lambda: StokesSolver(g, "direct", reuse_symbolic=False).solve(eta_c, eta_n, fy),
                      repeat=rep)
    s.solve(eta_c, eta_n, fy)
    t_refac = best_of(lambda: s.solve(eta_c, eta_n, fy), repeat=rep)
    t_tri = best_of(lambda: s.ksp.solve(s.b, s.x), repeat=5)
    ip, ind, val = op.csr(eta_c, eta_n, kc, bs)
    A = sp.csr_matrix((val, ind, ip), shape=(op.nrows, op.nrows)).tocsc()
    b = op.rhs(fy)
    t_sp = best_of(lambda: sla.spsolve(A, b), repeat=1 if ny == 128 else 2)
    x_sp = sla.spsolve(A, b)
    u_sp = op.split(x_sp)[0]
    r = s.solve(eta_c, eta_n, fy)
    agree = np.abs(u_sp - r.u).max() / np.abs(r.u).max()
    ns.append(op.nrows)
    fresh.append(t_fresh)
    rows.append({"grid": f"{g.ny}x{g.nx}", "unknowns": op.nrows, "assembly_ms": t_asm * 1e3,
                 "fresh_ms": t_fresh * 1e3, "refactor_ms": t_refac * 1e3,
                 "triangular_solve_ms": t_tri * 1e3, "scipy_ms": t_sp * 1e3,
                 "scipy_over_fresh": t_sp / t_fresh, "agree": agree})
exponent = np.polyfit(np.log(ns), np.log(fresh), 1)[0] if len(ns) > 1 else np.nan
exponent = float(exponent) if len(ns) > 1 else float("nan")
table = md_table(rows, [("grid", "grid", ""), ("unknowns", "unknowns", "d"),
                        ("assembly ms", "assembly_ms", ".2f"), ("fresh ms", "fresh_ms", ".1f"),
                        ("refactor ms", "refactor_ms", ".1f"),
                        ("triangular solve ms", "triangular_solve_ms", ".2f"),
                        ("SciPy ms", "scipy_ms", ".1f"), ("SciPy / fresh", "scipy_over_fresh", ".1f"),
                        ("agree", "agree", ".1e")])
record("bench_stokes", "direct Stokes solve",
       "Direct Stokes (MUMPS LDL^T, METIS ordering, 1 process, 1 BLAS thread); fresh = new "
       "analysis + factorisation + solve; refactor = numeric factorisation + solve with the "
       "analysis kept (what `direct` does every step); SciPy = spsolve (SuperLU) on the same "
       "matrix; 'agree' = max |u_scipy - u_petsc| / max |u|. "
       f"Fresh-solve time grows like N^{exponent:.2f} with N unknowns.",
       rows, f"RESULT exponent={exponent:.2f} fresh_ms_laptop={fresh[0] * 1e3:.1f} "
       f"fresh_ms_largest={fresh[-1] * 1e3:.0f}",
       out=args.out, settings={"rows": args.rows}, table=table)
