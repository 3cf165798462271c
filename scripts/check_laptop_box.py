#!/usr/bin/env python
"""Does the laptop grid (32 rows) resolve the laptop campaign box? Runs the box's most
vigorous corner (Q = 10, largest gamma, smallest beta) at 32 and 64 rows from the hot start
and compares the time-averaged Nu_top (and Vrms, mean T) over the second half of the run.
Criterion (issue 3): Nu changes by less than 10 %. Appends the result to docs/campaign.md.
Usage: python scripts/check_laptop_box.py [--end-time 0.2]   (about an hour on 2 cores)"""
import argparse
import datetime
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pymantle import config, open_run  # noqa: E402
from pymantle.campaign import PRESETS  # noqa: E402
from pymantle.simulation import Simulation  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--end-time", type=float, default=0.2)
ap.add_argument("--out", default="box-check")
args = ap.parse_args()

box = PRESETS["laptop"]
q, gamma, beta = box.q[1], box.gamma[1], box.beta[0]
means = {}
for ny in (32, 64):
    cfg = config.load(None, [f"grid.ny={ny}", f"physics.q={q}", f"physics.gamma={gamma}",
                             f"physics.beta={beta}", f"time.end_time={args.end_time}",
                             f"output.directory='{args.out}/ny{ny}'", "output.snapshot_every=1000",
                             "output.checkpoint_every=2000"])
    res = Simulation(cfg).run()
    ds = open_run(res.run_file)
    t = ds["history_time"].values
    late = t >= 0.5 * t[-1]
    w = ds["dt"].values[late]
    means[ny] = {k: float(np.sum(ds[k].values[late] * w) / np.sum(w))
                 for k in ("Nu_top", "Vrms", "T_mean")}
    means[ny]["wall"] = res.wall_time
    ds.close()
rel = {k: abs(means[64][k] - means[32][k]) / abs(means[64][k]) for k in ("Nu_top", "Vrms", "T_mean")}
ok = rel["Nu_top"] < 0.10
lines = [f"\n## Laptop box check ({datetime.datetime.now():%Y-%m-%d %H:%M})\n",
         f"Corner Q = {q}, gamma = {gamma:.3g}, beta = {beta}, hot start to t = {args.end_time}; "
         "time means over the second half.\n",
         "| quantity | 32 rows | 64 rows | relative change |", "|---|---|---|---|"]
lines += [f"| {k} | {means[32][k]:.4g} | {means[64][k]:.4g} | {rel[k]:.2%} |"
          for k in ("Nu_top", "Vrms", "T_mean")]
lines.append(f"\nWall time: {means[32]['wall']:.0f} s (32 rows), {means[64]['wall']:.0f} s (64 rows). "
             f"Criterion Nu change < 10 %: {'met' if ok else 'NOT met'}.\n")
doc = Path(__file__).resolve().parent.parent / "docs" / "campaign.md"
with open(doc, "a") as fh:
    fh.write("\n".join(lines))
print("\n".join(lines))
print(f"RESULT nu_change={rel['Nu_top']:.4f} pass={'true' if ok else 'false'}")
