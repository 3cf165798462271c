#!/usr/bin/env python
"""A model file's card numbers, in one record: what it is, the data and training it came
from and their cost, and its accuracy on a campaign split no training saw.

    python scripts/check_model.py MODEL CAMPAIGN [--train-dir DIR] [--split test]
        [--data-campaign DIR ...] [--out docs/bench]

- the network: class, configuration, parameters, the training record the file carries
  (recipe, epochs, samples seen, box, campaign);
- the training's cost: the sum of the epochs' seconds in TRAIN_DIR/training.csv (the
  trainer's log) and their count;
- the data's cost: for each --data-campaign (default: CAMPAIGN), the sum of its runs' wall
  times (index.csv: core-seconds, one run per core), their steps and stored snapshots;
- the accuracy (pymantle.ml.evaluation.accuracy) on --split: per run and pooled over the
  snapshots of the runs with Vrms > 1 (relative L2 of (u, v), energy-norm error).

Writes a JSON record (scripts/benchlib.py), docs/bench by default."""
import argparse
import csv
import json
from pathlib import Path

from benchlib import add_out_argument, md_table, record
from pymantle.campaign_index import read_index
from pymantle.ml.checkpoint import load_model_file
from pymantle.ml.evaluation.accuracy import accuracy, summary


def campaign_cost(directory) -> dict:
    rows = read_index(directory)
    meta = json.loads((Path(directory) / "campaign.json").read_text())
    return {"campaign": str(directory), "preset": meta.get("preset"), "box": meta.get("box"),
            "refine": meta.get("refine"), "runs": len(rows),
            "splits": {s: sum(r["split"] == s for r in rows) for s in ("train", "cv", "test")},
            "steps": sum(r["steps"] for r in rows),
            "snapshots": sum(r["n_snapshots"] for r in rows),
            "core_hours": sum(r["wall_time"] for r in rows) / 3600.0}


def training_cost(train_dir) -> dict:
    with open(Path(train_dir) / "training.csv") as fh:
        hist = list(csv.DictReader(fh))
    return {"epochs": len(hist), "seconds": sum(float(h["seconds"]) for h in hist),
            "samples": sum(int(h["samples"]) for h in hist),
            "best_val_loss": min(float(h["val_loss"]) for h in hist)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("campaign", help="the campaign whose --split is measured")
    ap.add_argument("--split", default="test")
    ap.add_argument("--train-dir", help="the training's folder (its training.csv)")
    ap.add_argument("--data-campaign", nargs="*", help="campaigns the data came from "
                    "(default: CAMPAIGN)")
    add_out_argument(ap)
    a = ap.parse_args()
    payload = load_model_file(a.model)
    import torch
    n_params = sum(t.numel() for t in payload["state_dict"].values()
                   if isinstance(t, torch.Tensor))
    tr = dict(payload.get("training", {}))
    tr.pop("config", None)
    rows = accuracy(a.campaign, a.model, a.split)
    s = summary(rows)
    data = [campaign_cost(d) for d in (a.data_campaign or [a.campaign])]
    extra = {"model": {"file": a.model, "class": payload["model"]["class"],
                       "config": payload["model"]["config"], "parameters": n_params,
                       "grid": payload["grid"], "training": tr, "sha256": payload["sha256"]},
             "data": data,
             "training_cost": training_cost(a.train_dir) if a.train_dir else None,
             "accuracy_summary": s}
    for r in rows:
        r.pop("per_snapshot"), r.pop("per_snapshot_energy")
    table = md_table(rows, [("sim", "sim", ""), ("Q", "Q", ".2f"), ("gamma", "gamma", ".3g"),
                            ("beta", "beta", ".3g"), ("Vrms", "vrms_median", ".3g"),
                            ("rel L2 median", "rel_l2_median", ".3f"),
                            ("rel L2 p90", "rel_l2_p90", ".3f"),
                            ("energy-norm error", "energy_error_median", ".3f"),
                            ("snapshots", "snapshots", "")])
    notes = (f"{payload['model']['class']} {a.model} on the {a.split} split of {a.campaign}: "
             f"median relative L2 of (u, v) over the snapshots of the {s['vigorous_runs']} "
             f"runs with Vrms > 1 {s['rel_l2_median_vigorous']:.3f} (worst run's median "
             f"{s['rel_l2_worst_vigorous']:.3f}), energy-norm error "
             f"{s['energy_median_vigorous']:.3f}. Data: "
             + "; ".join(f"{d['campaign']} {d['runs']} runs, {d['snapshots']} snapshots, "
                         f"{d['core_hours']:.2f} core-hours" for d in data)
             + (f". Training: {extra['training_cost']['epochs']} epochs, "
                f"{extra['training_cost']['seconds'] / 60:.0f} minutes"
                if a.train_dir else "") + ".")
    result = (f"RESULT rel_l2_median_vigorous={s['rel_l2_median_vigorous']:.4g} "
              f"rel_l2_worst_vigorous={s['rel_l2_worst_vigorous']:.4g} "
              f"energy_median_vigorous={s['energy_median_vigorous']:.4g} "
              f"data_core_hours={sum(d['core_hours'] for d in data):.3g}")
    record("check_model", "a model file: data, training, accuracy", notes, rows, result,
           out=a.out, table=table, extra=extra,
           settings={"model": a.model, "campaign": a.campaign, "split": a.split,
                     "train_dir": a.train_dir, "data_campaign": a.data_campaign})


if __name__ == "__main__":
    main()
