#!/usr/bin/env python
"""Cost of one Galerkin correction call (pymantle/galerkin_correction.py) at the laptop
grid (32x128) and the paper grid (126x504), for several lattices: the band matrix summed
by the Fortran kernel, its banded Cholesky solve, and the whole call, for the span of the
network-free `galerkin` provider (memory and hats) and of the corrected surrogate (the
network's field as well). Side by side, on the same matrix: a dense Cholesky of the
unpacked band (what the correction did before session 8), where it fits in a few seconds.
The state is synthetic (a perturbed conductive T, gamma = 1e6, beta = 10, and a smooth
random flow), which does not change the cost. One BLAS thread, as in the time loop.
Writes a JSON record (scripts/benchlib.py).
Usage: python scripts/bench_galerkin.py [--nodes-paper 9,17,25,33] [--out docs/bench]"""
import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402

from benchlib import add_out_argument, best_of, md_table, record  # noqa: E402
from pymantle.galerkin_correction import GalerkinCorrection, dense_from_band  # noqa: E402
from pymantle.grid import Grid  # noqa: E402
from pymantle.physics import corner_viscosity, viscosity  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--nodes-paper", default="9,17,25,33")
ap.add_argument("--dense-max", type=int, default=4000,
                help="largest K given the dense solve too (its cost grows like K^3)")
add_out_argument(ap)
args = ap.parse_args()


def state(g: Grid, seed=0):
    """T, the viscosities, and two independent smooth flows (the network's, the last)."""
    x, y = g.centres()
    rng = np.random.default_rng(seed)
    T = np.clip(1 - y + 0.2 * np.sin(np.pi * x / 2) * np.sin(np.pi * y)
                + 0.02 * rng.standard_normal(g.shape), 0, 1)
    eta_c = viscosity(T, y, 1e6, 10.0)
    flows = []
    for _ in range(2):
        psi = np.zeros(g.corner_shape)
        psi[1:-1, 1:-1] = gaussian_filter(rng.standard_normal((g.ny - 1, g.nx - 1)), 4)
        flows.append(np.diff(psi, axis=0) / g.dy)
    return T, eta_c, corner_viscosity(eta_c), *flows


def dense_solve(A, r):
    """The pre-session-8 solve (GalerkinCorrection._solve at commit caf3f9c): drop the
    empty rows, scale to a unit diagonal, dense Cholesky with a ridge of 1e-12."""
    d = np.diag(A).copy()
    keep = d > 1e-14 * d.max()
    s = 1.0 / np.sqrt(d[keep])
    As = A[np.ix_(keep, keep)]
    As *= s[:, None]
    As *= s[None, :]
    f = scipy.linalg.cho_factor(As + 1e-12 * np.eye(len(As)), overwrite_a=True,
                                check_finite=False)
    return s * scipy.linalg.cho_solve(f, r[keep] * s, check_finite=False)


rows, res = [], {}
cases = [((32, 128), 9)] + [((126, 504), int(n)) for n in args.nodes_paper.split(",")]
for (ny, nx), nodes in cases:
    g = Grid(nx=nx, ny=ny, aspect=4.0)
    T, eta_c, eta_n, u, last = state(g)
    for span, u_in in (("no network (galerkin)", 0 * u), ("network + memory", u)):
        gc = GalerkinCorrection(g, 1e5, nodes, 4 * (nodes - 1) + 1, memory=True)
        gc.remember(last)                                       # a last flow for the memory
        prev = gc.previous.copy()
        fields = np.array([f for f in (gc.stream_function(u_in), prev) if f.any()])
        ab = gc.matrix(fields, eta_c, eta_n)
        r = np.random.default_rng(1).standard_normal(ab.shape[1])
        t_mat = best_of(lambda: gc.matrix(fields, eta_c, eta_n))
        t_solve = best_of(lambda: GalerkinCorrection._solve(ab.copy(), r))

        def call():
            gc.previous = prev
            gc.correct(T, u_in, eta_c, eta_n)
        t_call = best_of(call)
        k = ab.shape[1]
        if k <= args.dense_max:
            A = dense_from_band(ab)
            c = np.zeros(k)
            keep = np.diag(A) > 1e-14 * np.diag(A).max()
            c[keep] = dense_solve(A, r)
            # the same solution, so the same correction (to the ridge's rounding)
            assert np.allclose(c, GalerkinCorrection._solve(ab.copy(), r), rtol=1e-6,
                               atol=1e-8 * np.abs(c).max())
            t_dense = best_of(lambda: dense_solve(A, r), repeat=2)
        else:
            t_dense = None
        res[(ny, nodes, span)] = (t_call, t_solve, t_dense)
        rows.append({"grid": f"{ny}x{nx}", "nodes": f"{nodes} x {4 * (nodes - 1) + 1}",
                     "span": span, "K": k, "ku": ab.shape[0] - 1, "matrix_ms": t_mat * 1e3,
                     "banded_solve_ms": t_solve * 1e3,
                     "dense_solve_ms": None if t_dense is None else t_dense * 1e3,
                     "dense_over_banded": None if t_dense is None else t_dense / t_solve,
                     "whole_call_ms": t_call * 1e3})

table = md_table(rows, [("grid", "grid", ""), ("nodes", "nodes", ""), ("span", "span", ""),
                        ("K", "K", "d"), ("ku", "ku", "d"), ("matrix (ms)", "matrix_ms", ".1f"),
                        ("banded solve (ms)", "banded_solve_ms", ".1f"),
                        ("dense solve (ms)", "dense_solve_ms", ".1f"),
                        ("dense / banded", "dense_over_banded", ".0f"),
                        ("whole call (ms)", "whole_call_ms", ".1f")])
paper = [n for (ny, n, _) in res if ny == 126]
top = max(paper)
result = (f"RESULT galerkin_call_ms_laptop9={res[(32, 9, 'no network (galerkin)')][0] * 1e3:.1f} "
          f"galerkin_call_ms_paper{top}={res[(126, top, 'no network (galerkin)')][0] * 1e3:.1f} "
          f"corrected_call_ms_paper{top}={res[(126, top, 'network + memory')][0] * 1e3:.1f}")
with_dense = [key for key, v in res.items() if key[0] == 126 and v[2] is not None]
if with_dense:
    key = max(with_dense, key=lambda kk: (kk[1], kk[2]))
    result += f" banded_over_dense_solve_paper{key[1]}={res[key][2] / res[key][1]:.0f}"
record("bench_galerkin", "one Galerkin correction call",
       "One Galerkin correction call on a synthetic state, 1 BLAS thread, best of 5 (dense: "
       "best of 2). K counts span functions including the wall hats the solve drops; ku is "
       "the half-bandwidth. The dense column is a dense Cholesky of the unpacked band (the "
       "solve before the banded one) on the same matrix.",
       rows, result, out=args.out, settings={"nodes_paper": args.nodes_paper,
                                             "dense_max": args.dense_max}, table=table)
