#!/usr/bin/env python
"""What does float32 cost in the rollout? (issue 4: pick the inference precision from it.)

Runs the hybrid surrogate twice on the same test runs of a campaign: with the shipped
float32 model, and with the very same weights in float64 (a model file written here, with
its own digest). Both are compared with the direct reference through `pymantle evaluate`,
which reuses finished runs in --eval-dir (same namelist), so the reference and the float32
runs of an earlier evaluation are not recomputed. Reports, per run, the profile MAE and
mean-T MAE of each against the reference, and the difference between the two rollouts'
final temperature fields; appends the table to docs/surrogate.md.
Usage: python scripts/check_rollout_precision.py CAMPAIGN [--eval-dir DIR] [--sims 8,15,41]
       [--end-time 0.1]   (a few minutes on 2 cores: the float64 runs are ~2x slower)"""
import argparse
import datetime
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pymantle import open_run  # noqa: E402
from pymantle.evaluate import evaluate  # noqa: E402
from pymantle.ml.checkpoint import load_model_file, save_model  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("campaign")
ap.add_argument("--eval-dir", default="evaluation")
ap.add_argument("--sims", default="8,15,41")
ap.add_argument("--end-time", type=float, default=0.1)
args = ap.parse_args()
sims = [int(s) for s in args.sims.split(",")]
out = Path(args.eval_dir)
shipped = Path(__file__).resolve().parent.parent / "pymantle" / "models" / "laptop.pt"
p = load_model_file(shipped)
f64 = out / "laptop-float64.pt"
save_model(f64, {k: v.double() if v.is_floating_point() else v for k, v in p["state_dict"].items()},
           model={**p["model"], "config": {**p["model"]["config"], "dtype": "float64"}},
           grid=p["grid"], normalisation=p["normalisation"], scaling=p["scaling"],
           training={**p["training"], "note": "the shipped float32 weights cast to float64"})

rows, finals = {}, {}
for name, model in (("float32", None), ("float64", str(f64))):    # None: the shipped model
    res = evaluate(args.campaign, out, ("direct", "surrogate"), sims=sims,
                   end_time=args.end_time, model=model)
    for r in res:
        if r["provider"] == "surrogate":
            rows[(name, r["sim"])] = r
            ds = open_run(out / f"sim{r['sim']:04d}-surrogate" / "run.nc")
            finals[(name, r["sim"])] = (ds["T"].values[-1], float(ds["history_time"].values[-1]))
            ds.close()

lines = [f"\n## Float32 against float64 in the rollout ({datetime.datetime.now():%Y-%m-%d %H:%M})\n",
         "`python scripts/check_rollout_precision.py CAMPAIGN`: the shipped weights run in "
         f"float32 and in float64, hybrid rollouts to t = {args.end_time} from the hot start, "
         "each compared with the direct reference.\n",
         "| sim | profile MAE f32 | profile MAE f64 | mean-T MAE f32 | mean-T MAE f64 | "
         "max abs T difference f32 vs f64 at the end | wall s f32 | wall s f64 |",
         "|---|---|---|---|---|---|---|---|"]
worst = 0.0
for sim in sims:
    a, b = rows[("float32", sim)], rows[("float64", sim)]
    (Ta, ta), (Tb, tb) = finals[("float32", sim)], finals[("float64", sim)]
    d = float(np.abs(Ta - Tb).max()) if Ta.shape == Tb.shape and abs(ta - tb) < 1e-9 else float("nan")
    worst = max(worst, abs(a["profile_mae"] - b["profile_mae"]))
    lines.append(f"| {sim} | {a['profile_mae']:.4g} | {b['profile_mae']:.4g} | {a['mean_T_mae']:.4g} | "
                 f"{b['mean_T_mae']:.4g} | {d:.3g} | {a['wall_time']:.1f} | {b['wall_time']:.1f} |")
doc = Path(__file__).resolve().parent.parent / "docs" / "surrogate.md"
with open(doc, "a") as fh:
    fh.write("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"RESULT max_profile_mae_change={worst:.3g}")
