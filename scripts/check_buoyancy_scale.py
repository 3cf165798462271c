"""Which viscosity average scales the flow? The spread of ln(Vrms / s) over every stored
snapshot of a campaign, for s = Ra a / eta_avg with several averages of eta, and for the
study's per-run Eq. 4 scale (docs/guide/training.md, "Buoyancy scaling").

    .venv/bin/python scripts/check_buoyancy_scale.py CAMPAIGN [--split train]
"""
import argparse
from pathlib import Path

import netCDF4
import numpy as np

from pymantle.campaign import DONE, Campaign, read_index
from pymantle.ml.training.scaling import VelocityScaling

AVERAGES = {
    "fluidity (1/mean(1/eta))": lambda e, w: 1.0 / np.mean(1.0 / e),
    "geometric": lambda e, w: np.exp(np.mean(np.log(e))),
    "arithmetic": lambda e, w: np.mean(e),
    "median": lambda e, w: np.median(e),
    "anomaly-weighted fluidity": lambda e, w: np.sum(w) / np.sum(w / e),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("campaign")
    ap.add_argument("--split", default="train")
    a = ap.parse_args()
    rows = [r for r in read_index(a.campaign) if r["split"] == a.split and r["status"] in DONE]
    camp = Campaign(Path(a.campaign), "", 0)
    logs = {k: [] for k in [*AVERAGES, "Eq. 4 (per run, paper coefficients)"]}
    for r in rows:
        with netCDF4.Dataset(camp.sim_dir(r["sim"]) / "run.nc") as ds:
            steps = np.asarray(ds["snapshot_step"][:])
            for k in np.flatnonzero(steps % 100 == 0):
                T, eta = np.asarray(ds["T"][k], float), np.asarray(ds["eta"][k], float)
                u, v = np.asarray(ds["u"][k], float), np.asarray(ds["v"][k], float)
                vrms = np.sqrt((np.sum(u * u) + np.sum(v * v)) / (u.size + v.size))
                an = T - T.mean(axis=1, keepdims=True)
                amp = np.sqrt(np.mean(an * an))
                if vrms <= 0 or amp <= 0:
                    continue
                for name, f in AVERAGES.items():
                    logs[name].append(np.log(vrms / (float(ds.ra) * amp / f(eta, an * an))))
                s4 = VelocityScaling(headroom=1.0).scale(r["Q"], r["gamma"], r["beta"])[0]
                logs["Eq. 4 (per run, paper coefficients)"].append(np.log(vrms / s4))
    print(f"{len(rows)} {a.split} runs, {len(logs['geometric'])} snapshots")
    print("| scale | std of ln(Vrms/s) | range of ln(Vrms/s) |\n|---|---|---|")
    for name, v in logs.items():
        v = np.asarray(v)
        print(f"| {name} | {v.std():.2f} | {v.min():.1f} .. {v.max():.1f} |")


if __name__ == "__main__":
    main()
