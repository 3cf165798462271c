#!/usr/bin/env python
"""Would rescaling the network's flow to the energy balance make it more accurate?

Any Stokes solution dissipates exactly the buoyancy work it receives: with the diagnostics'
discrete forms, <tau:grad u> = Ra <T v> (tests/test_stokes_properties.py). A network's flow
u_n does not, and the one-mode Ritz step alpha * u_n with alpha = Ra <T v_n> / <tau:grad u_n>
restores the balance and minimises the energy-norm error along u_n: the Galerkin
correction with a one-function span, at the cost of two diagnostics. This checks whether it
lowers the relative L2 error of (u, v) that advection sees: for every reference run given
(run.nc of MUMPS runs), on its first, middle and last snapshot, the network's D/W, alpha
and the relative L2 error before and after. Writes a JSON record (scripts/benchlib.py).

    python scripts/check_energy_scaling.py --grid paper RUN_DIR [RUN_DIR ...] [--out docs/bench]"""
import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from benchlib import add_out_argument, md_table, record  # noqa: E402
from pymantle import _kernels, config  # noqa: E402
from pymantle.physics import corner_viscosity, viscosity  # noqa: E402
from pymantle.providers.factory import shipped_model  # noqa: E402
from pymantle.providers.surrogate import SurrogateProvider  # noqa: E402

DIAG = _kernels.diagnostics


def relative_l2(u, v, u_ref, v_ref) -> float:
    return float(np.sqrt((np.sum((u - u_ref) ** 2) + np.sum((v - v_ref) ** 2))
                         / (np.sum(u_ref ** 2) + np.sum(v_ref ** 2))))


def dissipation_over_work(grid, T, u, v, eta, eta_n, ra) -> float:
    phi = DIAG.dissipation(u.T, v.T, eta.T, eta_n.T, grid.dx, grid.dy_c).mean()
    return float(phi / (ra * DIAG.buoyancy_work(T.T, v.T)))


def snapshot_rows(grid, prov, ds, label, ra):
    q, gamma, beta = (float(ds.attrs[k]) for k in ("q", "gamma", "beta"))
    y = grid.centres()[1]
    for i in sorted({0, ds.sizes["time"] // 2, ds.sizes["time"] - 1}):
        T, u_ref, v_ref = (ds[k].values[i] for k in ("T", "u", "v"))
        eta = viscosity(T, y, gamma, beta)
        eta_n = corner_viscosity(eta)
        u, v, _, _ = prov.velocities(i, T, eta, eta_n)
        ratio = dissipation_over_work(grid, T, u, v, eta, eta_n, ra)
        alpha = 1.0 / ratio
        yield {"run": label, "Q": q, "gamma": gamma, "beta": beta, "snapshot": i,
               "reference_D_over_W": dissipation_over_work(grid, T, u_ref, v_ref, eta, eta_n, ra),
               "network_D_over_W": ratio, "alpha": alpha,
               "rel_l2": relative_l2(u, v, u_ref, v_ref),
               "rel_l2_scaled": relative_l2(alpha * u, alpha * v, u_ref, v_ref)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="folders of MUMPS runs (run.nc with u, v, T)")
    ap.add_argument("--grid", default="laptop")
    add_out_argument(ap)
    a = ap.parse_args()
    grid = config.load(None, [f"grid.preset='{a.grid}'"]).grid()
    rows = []
    for folder in a.runs:
        with xr.open_dataset(os.path.join(folder, "run.nc")) as ds:
            ra = float(ds.attrs.get("ra", 1.0))
            physics = {k: float(ds.attrs[k]) for k in ("q", "gamma", "beta")} | {"ra": ra}
            prov = SurrogateProvider(grid, physics, shipped_model(grid))
            rows += list(snapshot_rows(grid, prov, ds, os.path.basename(folder.rstrip("/")), ra))
    better = sum(r["rel_l2_scaled"] < r["rel_l2"] for r in rows)
    med = {k: float(np.median([r[k] for r in rows])) for k in ("rel_l2", "rel_l2_scaled")}
    notes = ("The shipped network's flow on snapshots of MUMPS runs, as it is and rescaled "
             "by alpha = W/D to the energy balance; relative L2 error of (u, v) against "
             f"MUMPS's. Lower after rescaling in {better} of {len(rows)} snapshots.")
    table = md_table(rows, [("run", "run", ""), ("snapshot", "snapshot", ""),
                            ("network D/W", "network_D_over_W", ".4f"),
                            ("alpha", "alpha", ".4f"), ("rel. L2", "rel_l2", ".4f"),
                            ("rel. L2 rescaled", "rel_l2_scaled", ".4f")])
    record("check_energy_scaling", "the network's flow rescaled to the energy balance", notes,
           rows, f"RESULT better={better}/{len(rows)} median_rel_l2={med['rel_l2']:.4g} "
           f"median_rel_l2_scaled={med['rel_l2_scaled']:.4g}", out=a.out, table=table,
           settings={"grid": a.grid, "runs": a.runs})


if __name__ == "__main__":
    main()
