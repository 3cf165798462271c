#!/usr/bin/env python
"""Which route to a network for a finer grid: the comparison, at equal training budget,
on the test split of a refined campaign (native fine snapshots no training saw).

    R0  the coarse grid's network applied to the fine grid as it is (no training)
    R1  the two-grid network, its coarse part the coarse network, its fine part untrained
        (no training: the coarse flow interpolated and projected)
    R2  the two-grid network trained on the refined campaign (--two-grid DIR)
    R3  a buoyancy U-net trained from scratch on the refined campaign, with levels enough
        to see the whole box (--scratch DIR)

R2 and R3 are the folders of two `pymantle train` calls with the same --budget, run side by
side (docs/guide/training.md gives the commands); their training.csv gives their cost and
their cv loss within the budget (the equal-budget comparison). The accuracy on the test
split is each folder's final model file's (a route chosen may be trained on past the
budget in its folder).

    python scripts/compare_routes.py COARSE_MODEL FINE_CAMPAIGN --two-grid DIR
        --scratch DIR [--work DIR] [--out docs/bench]

Writes a JSON record (scripts/benchlib.py) with the accuracy of each route (pooled median
relative L2 of (u, v) over the snapshots of the test runs with Vrms > 1, the worst run's
median, the energy-norm error) and its training samples and seconds."""
import argparse
import csv
import dataclasses
from pathlib import Path

import torch

from benchlib import add_out_argument, md_table, record
from pymantle.campaign import PRESETS
from pymantle.grid import Grid
from pymantle.ml.checkpoint import load_model_file, save_model
from pymantle.ml.evaluation.accuracy import accuracy, summary
from pymantle.ml.networks.two_grid import TwoGridConfig, TwoGridUNet


def zero_training_files(coarse_model, grid: Grid, work: Path) -> dict:
    """The model files of R0 and R1 (the coarse network's weights, no training)."""
    src = load_model_file(coarse_model)
    g = src["grid"]
    fine = {"nx": grid.nx, "ny": grid.ny, "aspect": grid.aspect}
    meta = dict(normalisation=src["normalisation"], scaling=src["scaling"],
                training=src.get("training", {}))
    work.mkdir(parents=True, exist_ok=True)
    r0 = save_model(work / "r0.pt", src["state_dict"], model=src["model"], grid=fine, **meta)
    cfg = TwoGridConfig(coarse=src["model"]["config"], coarse_shape=(int(g["ny"]), int(g["nx"])))
    net = TwoGridUNet(cfg, aspect=grid.aspect)
    net.coarse.load_state_dict(src["state_dict"])
    plain = {k: (str(v).replace("torch.", "") if isinstance(v, torch.dtype) else v)
             for k, v in dataclasses.asdict(cfg).items()}
    r1 = save_model(work / "r1.pt", net.state_dict(),
                    model={"class": "TwoGridUNet", "config": plain}, grid=fine, **meta)
    return {"R0 coarse network as it is": (r0, None), "R1 two-grid, untrained": (r1, None)}


def training(folder, budget: float | None) -> dict:
    """The training's cost, and its best cv loss within `budget` seconds of training (the
    equal-budget comparison: the epochs whose cumulative time fits the budget)."""
    with open(Path(folder) / "training.csv") as fh:
        hist = list(csv.DictReader(fh))
    out = {"epochs": len(hist), "samples": sum(int(h["samples"]) for h in hist),
           "seconds": sum(float(h["seconds"]) for h in hist)}
    if budget:
        t, within = 0.0, []
        for h in hist:
            t += float(h["seconds"])
            if t <= budget * 1.1:                  # the epoch that crosses it still counts
                within.append(h)
        out["cv_loss_at_budget"] = min(float(h["val_loss"]) for h in within)
        out["epochs_at_budget"] = len(within)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("coarse_model")
    ap.add_argument("campaign", help="the refined (fine-grid) campaign")
    ap.add_argument("--two-grid", required=True, help="R2's training folder")
    ap.add_argument("--scratch", required=True, help="R3's training folder")
    ap.add_argument("--work", default="routes", help="folder of R0's and R1's model files")
    ap.add_argument("--split", default="test")
    ap.add_argument("--budget", type=float, default=1200.0,
                    help="the trainings' equal budget in seconds (their cv loss within it)")
    add_out_argument(ap)
    a = ap.parse_args()
    import json
    preset = json.loads((Path(a.campaign) / "campaign.json").read_text())["preset"]
    grid = Grid.from_preset(PRESETS[preset].grid)
    routes = zero_training_files(a.coarse_model, grid, Path(a.work))
    routes["R2 two-grid, trained"] = (str(Path(a.two_grid) / "model.pt"), a.two_grid)
    routes["R3 from scratch, trained"] = (str(Path(a.scratch) / "model.pt"), a.scratch)
    rows = []
    for name, (model, folder) in routes.items():
        s = summary(accuracy(a.campaign, str(model), a.split))
        cost = (training(folder, a.budget) if folder else
                {"epochs": 0, "samples": 0, "seconds": 0.0})
        rows.append({"route": name, "model": str(model), **cost, **s})
        print(name, rows[-1], flush=True)
    table = md_table(rows, [("route", "route", ""), ("training samples", "samples", ""),
                            ("training s", "seconds", ".0f"),
                            ("cv loss within the budget", "cv_loss_at_budget", ".3f"),
                            ("rel L2 (median, Vrms > 1)", "rel_l2_median_vigorous", ".3f"),
                            ("worst run's median", "rel_l2_worst_vigorous", ".3f"),
                            ("energy-norm error", "energy_median_vigorous", ".3f")])
    notes = (f"Routes to a network for the {grid.ny}x{grid.nx} grid, on the {a.split} split "
             f"of {a.campaign}; the coarse network {a.coarse_model}. R2 and R3 were trained "
             f"side by side for the same wall-clock budget ({a.budget:.0f} s); their cv loss "
             "within it is the equal-budget comparison; the test accuracy is that of each "
             "folder's final model file (R2's may have been trained on past the budget: its "
             "samples and seconds say how far).")
    result = "RESULT " + " ".join(f"R{i}={r['rel_l2_median_vigorous']:.3g}"
                                  for i, r in enumerate(rows))
    record("compare_routes", "routes to a network for a finer grid, at equal budget", notes,
           rows, result, out=a.out, table=table,
           settings={k: v for k, v in vars(a).items() if k != "out"})


if __name__ == "__main__":
    main()
