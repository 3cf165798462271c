#!/usr/bin/env python
"""The study's cold start on a fresh parameter set (Q 5.859, gamma 9.513e5,
beta 4.387) on the laptop grid from the study's cold start to t = 0.1, with MUMPS every step
(the reference), momentum skipping (skip-100) and the network alone, and the evaluation's
errors against the reference. Before the clip was bounded by the maximum principle
(temperature_bounds.py) the network's mean-T error here was 3.6e-4, set by the [0, 2] clip
that warmed the first step's sub-zero cells; skip-100's was 6.5e-9.

Writes a JSON record (scripts/benchlib.py) and the runs into --runs.
Usage: python scripts/check_cold_start.py [--runs cold-start] [--model FILE] [--out docs/bench]"""
import argparse

from benchlib import add_out_argument, md_table, record
from pymantle.evaluate import RunSpec, evaluate

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--runs", default="cold-start", help="folder of the three runs")
ap.add_argument("--model", help="surrogate model file (default: the shipped one)")
ap.add_argument("--end-time", type=float, default=0.1)
add_out_argument(ap)
a = ap.parse_args()

spec = RunSpec("cold", 0, 5.859, 9.513e5, 4.387)


def cold(cfg):
    cfg["initial"]["kind"] = "cold"


rows = evaluate(None, a.runs, ("direct", "skip", "surrogate"), specs=[spec],
                grid_preset="laptop", end_time=a.end_time, model=a.model, modify=cold,
                echo=lambda *_: None)
by = {r["provider"]: r for r in rows}
table = md_table(rows, [("provider", "provider", ""), ("steps", "steps", ""),
                        ("mean-T MAE", "mean_T_mae", ".2e"),
                        ("profile MAE", "profile_mae", ".2e"), ("Vrms", "Vrms", ".4g"),
                        ("speed-up", "speedup", ".2f")])
ok = by["surrogate"]["mean_T_mae"] < by["skip"]["mean_T_mae"]
notes = (f"Cold start (T = 0 inside, the perturbation reflected at 0), Q {spec.Q}, gamma "
         f"{spec.gamma:g}, beta {spec.beta}, laptop grid, to t = {a.end_time}. The network "
         f"alone: mean-T MAE {by['surrogate']['mean_T_mae']:.2e}, profile MAE "
         f"{by['surrogate']['profile_mae']:.2e}; skip-100: {by['skip']['mean_T_mae']:.2e}, "
         f"{by['skip']['profile_mae']:.2e}.")
result = (f"RESULT surrogate_mean_T_mae={by['surrogate']['mean_T_mae']:.3g} "
          f"surrogate_profile_mae={by['surrogate']['profile_mae']:.3g} "
          f"skip100_mean_T_mae={by['skip']['mean_T_mae']:.3g} "
          f"skip100_profile_mae={by['skip']['profile_mae']:.3g} "
          f"network_ahead_in_mean_T={int(ok)}")
record("check_cold_start", "the cold start against momentum skipping", notes, rows, result,
       out=a.out, table=table, settings={"end_time": a.end_time, "model": a.model})
