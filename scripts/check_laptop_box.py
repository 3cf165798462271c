#!/usr/bin/env python
"""Does the laptop grid (32 rows) resolve the laptop campaign box? Runs the box's most
vigorous corner (Q = 10, largest gamma, smallest beta) at 32 and 64 rows from the hot start
and compares the time-averaged Nu_top (and Vrms, mean T) over the second half of the run.
Criterion (issue 3): Nu changes by less than 10 %. Writes a JSON record (scripts/benchlib.py)
into docs/bench/ (or --out-record); the check as first run is docs/reports/2026-11-26-laptop-box-check.md.
Usage: python scripts/check_laptop_box.py [--end-time 0.2]   (about an hour on 2 cores)"""
import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib  # noqa: E402

from pymantle import config, open_run  # noqa: E402
from pymantle.campaign import PRESETS  # noqa: E402
from pymantle.simulation import Simulation  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--end-time", type=float, default=0.2)
ap.add_argument("--out", default="box-check", help="folder of the two runs")
ap.add_argument("--out-record", default=None, help="folder of the JSON record (default docs/bench)")
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
notes = (f"Corner Q = {q}, gamma = {gamma:.3g}, beta = {beta}, hot start to t = {args.end_time}; "
         "time means over the second half, at 32 and 64 rows. Criterion: Nu_top changes by < 10 %.")
rows = [{"quantity": k, "ny32": means[32][k], "ny64": means[64][k], "relative_change": rel[k]}
        for k in ("Nu_top", "Vrms", "T_mean")]
table = benchlib.md_table(rows, [("quantity", "quantity", "s"), ("32 rows", "ny32", ".4g"),
                                 ("64 rows", "ny64", ".4g"), ("relative change", "relative_change", ".2%")])
benchlib.record("check_laptop_box", "does 32 rows resolve the laptop box's vigorous corner", notes,
                rows, f"RESULT nu_change={rel['Nu_top']:.4f} pass={'true' if ok else 'false'} "
                f"wall_32_s={means[32]['wall']:.0f} wall_64_s={means[64]['wall']:.0f}",
                out=args.out_record, settings=vars(args), table=table)
