#!/usr/bin/env python
"""Stability over long rollouts, with a record: the network alone (or another mode) for N
steps from each test run's hot start, no end time, against the campaign's stored run
(`pymantle evaluate --stability`): whether it stays bounded, and how far its late mean T
and Nu_top lie from the reference's at equal times.

    python scripts/check_stability.py CAMPAIGN --runs DIR [--steps 10000] [--model FILE]
        [--provider surrogate] [--sims ...] [--out docs/bench]

Writes a JSON record (scripts/benchlib.py)."""
import argparse

import numpy as np

from benchlib import add_out_argument, md_table, record
from pymantle.evaluate import stability

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("campaign")
ap.add_argument("--runs", required=True)
ap.add_argument("--steps", type=int, default=10_000)
ap.add_argument("--model")
ap.add_argument("--provider", default="surrogate")
ap.add_argument("--sims")
add_out_argument(ap)
a = ap.parse_args()
sims = [int(s) for s in a.sims.split(",")] if a.sims else None
rows = stability(a.campaign, a.model, a.steps, "test", sims, a.runs, provider=a.provider)
stable = sum(r["status"] == "stable" for r in rows)
dT = [abs(r["T_mean_change"]) for r in rows if r["status"] == "stable"]
dNu = [abs(r["Nu_top_change"]) for r in rows if r["status"] == "stable"]
table = md_table(rows, [("sim", "sim", ""), ("status", "status", ""), ("steps", "steps", ""),
                        ("t end", "t_end", ".3g"), ("mean T change", "T_mean_change", ".2e"),
                        ("Nu_top change", "Nu_top_change", ".2e")])
notes = (f"{a.provider} alone for {a.steps} steps from each test run's hot start: "
         f"{stable} of {len(rows)} stay bounded; the late mean T and Nu_top against the "
         "stored reference at equal times: largest relative changes "
         f"{max(dT, default=np.nan):.2e} and {max(dNu, default=np.nan):.2e}.")
result = (f"RESULT stable={stable}/{len(rows)} T_mean_change_max={max(dT, default=np.nan):.3g}"
          f" Nu_top_change_max={max(dNu, default=np.nan):.3g}")
record("check_stability", "long rollouts of the network alone", notes, rows, result,
       out=a.out, table=table, settings={k: v for k, v in vars(a).items() if k != "out"})
