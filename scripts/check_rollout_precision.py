#!/usr/bin/env python
"""What does float32 cost in the rollout? (issue 4: pick the inference precision from it.)

Runs the hybrid surrogate twice on the same test runs of a campaign: with the shipped
float32 model, and with the very same weights in float64 (a model file written here, with
its own digest). Both are compared with the direct reference through `pymantle evaluate`,
which reuses finished runs in --eval-dir (same namelist), so the reference and the float32
runs of an earlier evaluation are not recomputed. Reports, per run, the profile MAE and
mean-T MAE of each against the reference, and the difference between the two rollouts'
final temperature fields; writes a JSON record (scripts/benchlib.py) into docs/bench/.
Usage: python scripts/check_rollout_precision.py CAMPAIGN [--eval-dir DIR] [--sims 8,15,41]
       [--end-time 0.1]   (a few minutes on 2 cores: the float64 runs are ~2x slower)"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

from pymantle import open_run  # noqa: E402
from pymantle.evaluate import evaluate  # noqa: E402
from pymantle.ml.checkpoint import load_model_file, save_model  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("campaign")
ap.add_argument("--eval-dir", default="evaluation")
ap.add_argument("--sims", default="8,15,41")
ap.add_argument("--end-time", type=float, default=0.1)
ap.add_argument("--out", default=None, help="folder of the JSON record (default docs/bench)")
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

notes = (f"The shipped weights run in float32 and in float64, hybrid rollouts to t = {args.end_time} "
         "from the hot start, each compared with the direct reference.")
table_rows, worst = [], 0.0
for sim in sims:
    a, b = rows[("float32", sim)], rows[("float64", sim)]
    (Ta, ta), (Tb, tb) = finals[("float32", sim)], finals[("float64", sim)]
    d = float(np.abs(Ta - Tb).max()) if Ta.shape == Tb.shape and abs(ta - tb) < 1e-9 else float("nan")
    worst = max(worst, abs(a["profile_mae"] - b["profile_mae"]))
    table_rows.append({"sim": sim, "profile_mae_f32": a["profile_mae"], "profile_mae_f64": b["profile_mae"],
                       "mean_T_mae_f32": a["mean_T_mae"], "mean_T_mae_f64": b["mean_T_mae"],
                       "max_abs_dT_final": d, "wall_s_f32": a["wall_time"], "wall_s_f64": b["wall_time"]})
table = benchlib.md_table(table_rows, [
    ("sim", "sim", "d"), ("profile MAE f32", "profile_mae_f32", ".4g"),
    ("profile MAE f64", "profile_mae_f64", ".4g"), ("mean-T MAE f32", "mean_T_mae_f32", ".4g"),
    ("mean-T MAE f64", "mean_T_mae_f64", ".4g"), ("max abs T difference at the end", "max_abs_dT_final", ".3g"),
    ("wall s f32", "wall_s_f32", ".1f"), ("wall s f64", "wall_s_f64", ".1f")])
benchlib.record("check_rollout_precision", "float32 against float64 in the hybrid rollout", notes,
                table_rows, f"RESULT max_profile_mae_change={worst:.3g}", out=args.out,
                settings=vars(args), table=table)
