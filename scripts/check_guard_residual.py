"""How does the guard's residual (stokes_residual.py) follow a provider's real error? For
every stored test-split snapshot of a campaign: the relative L2 error of the surrogate's
(u, v) against the stored exact solution and the residual rho of the same velocities, and
the same pair for the previous snapshot's flow (100 steps stale: what momentum skipping
uses). Prints the quantiles of rho and the rank correlation of rho with the error, which
set a sensible &stokes guard_tol (docs/results.md, "The guard").

    .venv/bin/python scripts/check_guard_residual.py CAMPAIGN [--model FILE] [--split test]
"""
import argparse
from pathlib import Path

import netCDF4
import numpy as np
from scipy.stats import spearmanr

from pymantle.campaign import DONE, Campaign, read_index
from pymantle.grid import Grid
from pymantle.physics import corner_viscosity
from pymantle.providers import SurrogateProvider, shipped_model
from pymantle.stokes_residual import MomentumCurlResidual


def rel(u, v, ur, vr):
    return np.sqrt((np.sum((u - ur) ** 2) + np.sum((v - vr) ** 2))
                   / (np.sum(ur ** 2) + np.sum(vr ** 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("campaign")
    ap.add_argument("--model")
    ap.add_argument("--split", default="test")
    a = ap.parse_args()
    model = a.model or shipped_model(Grid.from_preset("laptop"))
    camp = Campaign(Path(a.campaign), "", 0)
    net, stale = [], []
    for r in read_index(a.campaign):
        if r["split"] != a.split or r["status"] not in DONE:
            continue
        with netCDF4.Dataset(camp.sim_dir(r["sim"]) / "run.nc") as ds:
            g = Grid(nx=ds.dimensions["x"].size, ny=ds.dimensions["y"].size, aspect=float(ds.aspect))
            prov = SurrogateProvider(g, {"ra": float(ds.ra), "q": r["Q"], "gamma": r["gamma"],
                                         "beta": r["beta"]}, model)
            res = MomentumCurlResidual(g, float(ds.ra))
            steps = np.asarray(ds["snapshot_step"][:])
            prev = None
            for k in np.flatnonzero(steps % 100 == 0):
                T, eta = (np.asarray(ds[n][k], float) for n in ("T", "eta"))
                ur, vr = (np.asarray(ds[n][k], float) for n in ("u", "v"))
                en = corner_viscosity(eta)
                u, v, _, _ = prov.velocities(int(steps[k]), T, eta, en)
                net.append((res(T, u, v, eta, en), rel(u, v, ur, vr)))
                if prev is not None:
                    stale.append((res(T, *prev, eta, en), rel(*prev, ur, vr)))
                prev = (ur, vr)
    for name, pairs in (("surrogate", net), ("previous snapshot (100 steps stale)", stale)):
        rho, err = np.array(pairs).T
        q = np.percentile(rho, [10, 50, 90, 95, 99])
        print(f"{name}: {len(rho)} snapshots; rho quantiles 10/50/90/95/99 %: "
              + " / ".join(f"{x:.3g}" for x in q)
              + f"; relative L2 median {np.median(err):.3g}; Spearman(rho, error) "
              f"{spearmanr(rho, err)[0]:.2f}")


if __name__ == "__main__":
    main()
