"""Snapshot accuracy of a surrogate model file on a campaign split (docs/surrogate.md).

For every stored snapshot on the regular schedule (the exact Stokes solutions; see
buoyancy_unet.BuoyancySnapshotDataset) of every finished simulation of the split, the
model predicts (u, v) from the stored T through the solver's own `SurrogateProvider`
(the inference seam the time loop uses), and is compared with the stored velocities:

    relative L2   |(u, v) - (u, v)_ref|_2 / |(u, v)_ref|_2
    Eq. 4 error   rms(|(u, v) - (u, v)_ref|) / s_Eq4, with s_Eq4 the study's velocity scale
                  fitted on the training split (for near-conductive runs, whose relative
                  error measures a flow of ~1e-4 of that scale)

    python -m pymantle.ml.accuracy CAMPAIGN [--model FILE] [--split test] [--out CSV]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def _rows(campaign, split):
    from ..campaign import DONE, read_index
    return [r for r in read_index(campaign) if r["split"] == split and r["status"] in DONE]


def run_accuracy(campaign, model: str, row: dict, eq4_scale: float) -> dict:
    """Per-snapshot errors of one simulation, summarised."""
    import netCDF4
    from mpi4py import MPI  # noqa: F401  (PETSc-free provider, but the package imports it)
    from ..campaign import Campaign
    from ..grid import Grid
    from ..physics import corner_viscosity
    from ..providers import SurrogateProvider
    path = Campaign(Path(campaign), "", 0).sim_dir(row["sim"]) / "run.nc"
    rel, eq4, vrms = [], [], []
    with netCDF4.Dataset(path) as ds:
        ny, nx = ds.dimensions["y"].size, ds.dimensions["x"].size
        grid = Grid(nx=nx, ny=ny, aspect=float(ds.aspect))
        physics = {"ra": float(ds.ra), "q": row["Q"], "gamma": row["gamma"],
                   "beta": row["beta"]}
        prov = SurrogateProvider(grid, physics, model)
        steps = np.asarray(ds["snapshot_step"][:])
        every = int(steps[1] - steps[0]) if len(steps) > 1 else 1
        for k in np.flatnonzero(steps % max(every, 1) == 0):
            T, eta = (np.asarray(ds[n][k], dtype=float) for n in ("T", "eta"))
            u_ref, v_ref = (np.asarray(ds[n][k], dtype=float) for n in ("u", "v"))
            u, v, _, _ = prov.velocities(int(steps[k]), T, eta, corner_viscosity(eta))
            err = np.sqrt(np.sum((u - u_ref) ** 2) + np.sum((v - v_ref) ** 2))
            ref = np.sqrt(np.sum(u_ref ** 2) + np.sum(v_ref ** 2))
            n_faces = u_ref.size + v_ref.size
            rel.append(err / max(ref, 1e-300))
            eq4.append(err / np.sqrt(n_faces) / eq4_scale)
            vrms.append(ref / np.sqrt(n_faces))
    prov.close()
    return {"sim": row["sim"], "Q": row["Q"], "gamma": row["gamma"], "beta": row["beta"],
            "snapshots": len(rel), "vrms_median": float(np.median(vrms)),
            "rel_l2_median": float(np.median(rel)), "rel_l2_p90": float(np.percentile(rel, 90)),
            "eq4_error_median": float(np.median(eq4)), "per_snapshot": rel}


def accuracy(campaign, model: str, split: str = "test") -> list[dict]:
    from .scaling import fit_from_campaign
    scaling = fit_from_campaign(campaign, "train")
    out = []
    for r in _rows(campaign, split):
        s = float(scaling.scale(r["Q"], r["gamma"], r["beta"])[0])
        out.append(run_accuracy(campaign, model, r, s))
    return out


def summary(rows: list[dict], vigorous: float = 1.0) -> dict:
    """The median relative L2 over every snapshot of the runs with Vrms > `vigorous` (the
    issue's measure), and the worst of those runs' medians."""
    vig = [r for r in rows if r["vrms_median"] > vigorous]
    pooled = [e for r in vig for e in r["per_snapshot"]]
    nan = float("nan")
    return {"runs": len(rows), "vigorous_runs": len(vig),
            "rel_l2_median_vigorous": float(np.median(pooled)) if pooled else nan,
            "rel_l2_worst_vigorous": max((r["rel_l2_median"] for r in vig), default=nan)}


def main(argv=None) -> int:
    from ..providers import shipped_model
    from ..grid import Grid
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign")
    ap.add_argument("--model", help="model file (default: the shipped laptop model)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", help="CSV of the per-run rows")
    a = ap.parse_args(argv)
    model = a.model or shipped_model(Grid.from_preset("laptop"))
    rows = accuracy(a.campaign, model, a.split)
    for r in rows:
        print(f"sim {r['sim']:3d}  Q {r['Q']:5.2f}  gamma {r['gamma']:.2e}  beta {r['beta']:5.1f}"
              f"  Vrms {r['vrms_median']:9.3g}  rel L2 median {r['rel_l2_median']:.3f}"
              f"  p90 {r['rel_l2_p90']:.3f}  err/s_Eq4 {r['eq4_error_median']:.2e}"
              f"  ({r['snapshots']} snapshots)")
    s = summary(rows)
    print(f"{a.split}: median relative L2 over the snapshots of the {s['vigorous_runs']} runs "
          f"with Vrms > 1: {s['rel_l2_median_vigorous']:.3f} (worst run's median "
          f"{s['rel_l2_worst_vigorous']:.3f})")
    if a.out:
        with open(a.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[k for k in rows[0] if k != "per_snapshot"],
                               extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
