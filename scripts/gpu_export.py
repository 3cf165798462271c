#!/usr/bin/env python
"""Prepare the inputs of scripts/gpu_train_check.sh in .gpu/ (ignored by git; the device
tool carries it): a training pack of the laptop campaign (pymantle pack) and one Stokes
system at the paper grid (126x504) from a campaign temperature field interpolated onto it,
with the previous step's solution (the warm start) and the direct (MUMPS) solution, to time
a GPU BiCGStab on the very matrix the CPU solvers solve; and the test runs' first snapshots
(T of every snapshot up to --test-snapshots, u and v of the first, the parameters) for the
U-net rollouts on the GPU.
Usage: python scripts/gpu_export.py CAMPAIGN [--sim N] [--what pack,stokes,test-runs]"""
import json
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from pymantle.campaign import Campaign, read_index  # noqa: E402
from pymantle.energy import EnergySolver  # noqa: E402
from pymantle.grid import Grid  # noqa: E402
from pymantle.output import interpolate_temperature, read_snapshot  # noqa: E402
from pymantle.physics import corner_viscosity, face_buoyancy, viscosity  # noqa: E402
from pymantle.stokes import StokesOperator, StokesSolver  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("campaign")
ap.add_argument("--sim", type=int, help="simulation (default: the test run of largest gamma)")
ap.add_argument("--out", default=".gpu")
ap.add_argument("--what", default="pack,stokes,test-runs")
ap.add_argument("--test-snapshots", type=int, default=41)
args = ap.parse_args()
out = Path(args.out)
out.mkdir(exist_ok=True)
what = args.what.split(",")
if "test-runs" in what:
    import netCDF4
    from pymantle.output import run_physics
    arrays, meta = {}, {}
    camp = Campaign(Path(args.campaign), "", 0)
    for r in read_index(args.campaign):
        if r["split"] != "test" or r["n_snapshots"] < 2:
            continue
        with netCDF4.Dataset(camp.sim_dir(r["sim"]) / "run.nc") as nc:
            arrays[f"T_{r['sim']}"] = np.asarray(nc["T"][:args.test_snapshots], np.float32)
            arrays[f"u_{r['sim']}"] = np.asarray(nc["u"][0], float)
            arrays[f"v_{r['sim']}"] = np.asarray(nc["v"][0], float)
            meta[r["sim"]] = {"physics": run_physics(nc), "aspect": float(nc.aspect)}
    np.savez_compressed(out / "test_runs.npz", meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {out / 'test_runs.npz'}: {len(meta)} test runs")
if "pack" in what and not (out / "pack.npz").exists():
    subprocess.run([sys.executable, "-m", "pymantle.cli", "pack", args.campaign,
                    str(out / "pack.npz"), "--train", "1000", "--cv", "200", "--no-progress"],
                   check=True)

if "stokes" not in what:
    sys.exit(0)
rows = [r for r in read_index(args.campaign) if r["split"] == "test"]
row = next(r for r in rows if r["sim"] == args.sim) if args.sim is not None else \
    max(rows, key=lambda r: r["gamma"])
g = Grid(nx=504, ny=126, aspect=4.0)
snap = read_snapshot(Campaign(Path(args.campaign), "", 0).sim_dir(row["sim"]) / "run.nc", -1, g,
                     interpolate=True)
T = snap["T"]
_, y = g.centres()


def state(T):
    eta_c = viscosity(T, y, row["gamma"], row["beta"])
    return eta_c, corner_viscosity(eta_c), face_buoyancy(T, 1.0)


solver = StokesSolver(g, method="direct")
eta_c, eta_n, fy = state(T)
prev = solver.solve(eta_c, eta_n, fy)
en = EnergySolver(g)
dt = en.time_step(prev.u, prev.v)
en.step(T, prev.u, prev.v, row["Q"], dt)           # one time step later: the next system
eta_c, eta_n, fy = state(T)
t0 = time.perf_counter()
ref = solver.solve(eta_c, eta_n, fy)
t_direct = time.perf_counter() - t0
op = StokesOperator(g, pin=True)
kc, bscale = op.scales(eta_c)
indptr, indices, vals = op.csr(eta_c, eta_n, kc, bscale)
b = op.rhs(fy)


def vec(u, v, p):
    p = np.ravel(p) - np.ravel(p)[0]            # the pinned system has p(1,1) = 0
    return np.concatenate([np.ravel(u), np.ravel(v), p / kc])


x_ref, x0 = vec(ref.u, ref.v, ref.p), vec(prev.u, prev.v, prev.p)
A = sp.csr_matrix((vals, indices, indptr), shape=(op.nrows, op.nrows))
res_ref = np.linalg.norm(b - A @ x_ref) / np.linalg.norm(b)
# Jacobi: the velocity diagonal; on the pressure rows the inverse-viscosity Schur diagonal
pop = StokesOperator(g, pin=True, pblock=True)
pi, pj, pv = pop.csr(eta_c, eta_n, kc, bscale)
P = sp.csr_matrix((pv, pj, pi), shape=(op.nrows, op.nrows))
d = P.diagonal()
m_inv = np.where(np.abs(d) > 0, 1.0 / np.where(d == 0, 1.0, d), 1.0)
np.savez_compressed(out / "stokes_paper.npz", indptr=indptr.astype(np.int32),
                    indices=indices.astype(np.int32), values=vals, b=b, x0=x0, x_ref=x_ref,
                    m_inv=m_inv, direct_seconds=t_direct, res_ref=res_ref,
                    sim=row["sim"], gamma=row["gamma"], beta=row["beta"], Q=row["Q"])
print(f"sim {row['sim']} (Q {row['Q']:.2f}, gamma {row['gamma']:.3g}, beta {row['beta']:.3g}): "
      f"{op.nrows} unknowns, {len(vals)} nonzeros; direct solve {t_direct * 1e3:.0f} ms, "
      f"residual {res_ref:.1e}; wrote {out / 'stokes_paper.npz'} "
      f"({(out / 'stokes_paper.npz').stat().st_size / 2**20:.1f} MiB)")
