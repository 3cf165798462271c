"""Snapshot accuracy of a surrogate model file on a campaign split (docs/guide/training.md).

For every stored snapshot on the regular schedule (the exact Stokes solutions; see
training.buoyancy_data.BuoyancySnapshotDataset) of every finished simulation of the split, the
model predicts (u, v) from the stored T through the solver's own `SurrogateProvider`
(the inference seam the time loop uses), and is compared with the stored velocities:

    relative L2   |(u, v) - (u, v)_ref|_2 / |(u, v)_ref|_2
    energy error  |e|_K / |w_ref|_K, |w|_K^2 = w^T K w the viscous dissipation of w (the
                  Stokes problem's own norm: errors in the stiff lid weigh by its viscosity)
    Eq. 4 error   rms(|(u, v) - (u, v)_ref|) / s_Eq4, with s_Eq4 the study's velocity scale
                  fitted on the training split (for near-conductive runs, whose relative
                  error measures a flow of ~1e-4 of that scale)

    python -m pymantle.ml.evaluation.accuracy CAMPAIGN [--model FILE] [--split test] [--out CSV]
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def dissipation(u, v, eta_c, eta_n, dx: float, dy: float) -> float:
    """sum 2 eta_c (du/dx^2 + dv/dy^2) + sum eta_n (du/dy + dv/dx)^2 over centres and
    interior corners (free slip: no shear on the wall corners): w^T K w / (dx dy)."""
    exx, eyy = np.diff(u, axis=1) / dx, np.diff(v, axis=0) / dy
    exy = np.diff(u[:, 1:-1], axis=0) / dy + np.diff(v[1:-1], axis=1) / dx
    return float(np.sum(2.0 * eta_c * (exx ** 2 + eyy ** 2)) + np.sum(eta_n[1:-1, 1:-1] * exy ** 2))


def _rows(campaign, split):
    from ...campaign_index import DONE, read_index
    return [r for r in read_index(campaign) if r["split"] == split and r["status"] in DONE]


def run_accuracy(campaign, model: str, row: dict, eq4_scale: float) -> dict:
    """Per-snapshot errors of one simulation, summarised."""
    import netCDF4
    from mpi4py import MPI  # noqa: F401  (PETSc-free provider, but the package imports it)
    from ...campaign_index import Campaign
    from ...grid import Grid
    from ...physics import corner_viscosity
    from ...providers import SurrogateProvider
    path = Campaign(Path(campaign), "", 0).sim_dir(row["sim"]) / "run.nc"
    rel, eq4, vrms, energy = [], [], [], []
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
            eta_n = corner_viscosity(eta)
            u, v, _, _ = prov.velocities(int(steps[k]), T, eta, eta_n)
            d = (grid.dx, 1.0 / grid.ny)
            energy.append(np.sqrt(dissipation(u - u_ref, v - v_ref, eta, eta_n, *d)
                                  / max(dissipation(u_ref, v_ref, eta, eta_n, *d), 1e-300)))
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
            "eq4_error_median": float(np.median(eq4)),
            "energy_error_median": float(np.median(energy)), "per_snapshot": rel,
            "per_snapshot_energy": energy}


def accuracy(campaign, model: str, split: str = "test") -> list[dict]:
    from ..training.scaling import fit_from_campaign
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
    energy = [e for r in vig for e in r["per_snapshot_energy"]]
    return {"runs": len(rows), "vigorous_runs": len(vig),
            "rel_l2_median_vigorous": float(np.median(pooled)) if pooled else nan,
            "energy_median_vigorous": float(np.median(energy)) if energy else nan,
            "rel_l2_worst_vigorous": max((r["rel_l2_median"] for r in vig), default=nan)}


def _campaign_grid(campaign) -> str:
    """The grid preset a campaign ran on (its campaign.json's preset)."""
    import json
    from ...campaign import PRESETS
    return PRESETS[json.loads((Path(campaign) / "campaign.json").read_text())["preset"]].grid


def main(argv=None) -> int:
    from ...providers import shipped_model
    from ...grid import Grid
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign")
    ap.add_argument("--model", help="model file (default: the one shipped for the "
                                    "campaign's grid)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", help="CSV of the per-run rows")
    a = ap.parse_args(argv)
    model = a.model or shipped_model(Grid.from_preset(_campaign_grid(a.campaign)))
    rows = accuracy(a.campaign, model, a.split)
    for r in rows:
        print(f"sim {r['sim']:3d}  Q {r['Q']:5.2f}  gamma {r['gamma']:.2e}  beta {r['beta']:5.1f}"
              f"  Vrms {r['vrms_median']:9.3g}  rel L2 median {r['rel_l2_median']:.3f}"
              f"  p90 {r['rel_l2_p90']:.3f}  energy {r['energy_error_median']:.3f}"
              f"  err/s_Eq4 {r['eq4_error_median']:.2e}"
              f"  ({r['snapshots']} snapshots)")
    s = summary(rows)
    print(f"{a.split}: median relative L2 over the snapshots of the {s['vigorous_runs']} runs "
          f"with Vrms > 1: {s['rel_l2_median_vigorous']:.3f} (worst run's median "
          f"{s['rel_l2_worst_vigorous']:.3f}); energy-norm error {s['energy_median_vigorous']:.3f}")
    if a.out:
        with open(a.out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=[k for k in rows[0]
                                               if not k.startswith("per_snapshot")],
                               extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
