#!/usr/bin/env python
"""Rollouts of the network's modes against the reference and momentum skipping, with a
record: `pymantle evaluate` on a campaign's runs, then per provider the errors of every
run, and in how many runs the network alone beats skip-100 (and skip-10) in profile and
mean-T MAE, whether any blew up, and the time loop's speed-up over MUMPS per run.

    python scripts/check_rollouts.py CAMPAIGN --runs DIR --providers direct,skip,surrogate,...
        [--sims 5,8,...] [--grid paper --from-campaign --reference-steps 2000]
        [--end-time 0.1] [--skips 10,100] [--every 4] [--model FILE] [--out docs/bench]

The providers are `pymantle evaluate`'s; 'skip' runs once per --skips value. The runs are
kept in --runs and reused by a later call with the same settings (so the MUMPS references
run once). Speed-ups come from each run's own wall time: compare them only between runs
made on a machine under the same load (scripts/bench_time_loop.py measures the same
modes side by side). Writes a JSON record (scripts/benchlib.py)."""
import argparse

import numpy as np

from benchlib import add_out_argument, md_table, record
from pymantle.evaluate import evaluate


def label(row, skip):
    return f"skip-{skip}" if row["provider"] in ("skip", "skip-extrapolate") and skip else \
        row["provider"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--providers", required=True)
    ap.add_argument("--sims")
    ap.add_argument("--split", default="test")
    ap.add_argument("--grid")
    ap.add_argument("--from-campaign", action="store_true")
    ap.add_argument("--reference-steps", type=int)
    ap.add_argument("--end-time", type=float, default=0.1)
    ap.add_argument("--skips", default="100,10")
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--model")
    add_out_argument(ap)
    a = ap.parse_args()
    sims = [int(s) for s in a.sims.split(",")] if a.sims else None
    provs = a.providers.split(",")
    kw = dict(split=a.split, sims=sims, end_time=a.end_time, model=a.model, every=a.every,
              grid=a.grid, from_campaign=a.from_campaign, reference_steps=a.reference_steps,
              echo=print)
    rows = []
    for i, skip in enumerate(int(s) for s in a.skips.split(",")):
        mine = [p for p in provs if p.startswith("skip")] if i else provs
        for r in evaluate(a.campaign, a.runs, ("direct", *mine), skip=skip, **kw):
            r = {**r, "mode": label(r, skip) + ("-extrapolate" if r["provider"] ==
                                                  "skip-extrapolate" else "")}
            if i == 0 or r["provider"] != "direct":
                rows.append(r)
    by = {}
    for r in rows:
        by.setdefault(r["sim"], {})[r["mode"]] = r
    modes = sorted({r["mode"] for r in rows})
    summary = []
    for m in modes:
        ok = [v[m] for v in by.values() if m in v and v[m].get("status") != "blew up"]
        s = {"mode": m, "runs": sum(m in v for v in by.values()),
             "blew_up": sum(m in v and v[m].get("status") == "blew up" for v in by.values()),
             "speedup_median": float(np.median([r["speedup"] for r in ok])) if ok else None,
             "profile_mae_median": float(np.median([r["profile_mae"] for r in ok])) if ok else None,
             "mean_T_mae_median": float(np.median([r["mean_T_mae"] for r in ok])) if ok else None}
        for base in ("skip-100", "skip-10"):
            for met in ("profile_mae", "mean_T_mae"):
                s[f"beats_{base}_{met}"] = sum(
                    m in v and base in v and v[m].get(met, np.inf) < v[base].get(met, np.inf)
                    for v in by.values())
        summary.append(s)
    table = md_table(summary, [("mode", "mode", ""), ("runs", "runs", ""),
                               ("blew up", "blew_up", ""),
                               ("speed-up (median)", "speedup_median", ".2f"),
                               ("profile MAE (median)", "profile_mae_median", ".2e"),
                               ("mean-T MAE (median)", "mean_T_mae_median", ".2e"),
                               ("< skip-100: profile", "beats_skip-100_profile_mae", ""),
                               ("< skip-100: mean T", "beats_skip-100_mean_T_mae", ""),
                               ("< skip-10: profile", "beats_skip-10_profile_mae", ""),
                               ("< skip-10: mean T", "beats_skip-10_mean_T_mae", "")])
    where = (f"{a.grid or 'the campaign'} grid, "
             + ("from the campaign runs' last states, " if a.from_campaign else "hot start, ")
             + (f"the reference {a.reference_steps} steps" if a.reference_steps
                else f"to t = {a.end_time}"))
    notes = (f"Rollouts on {len(by)} runs of {a.campaign} ({where}): per mode the medians "
             "over the runs and in how many runs it beats skip-100 and skip-10 in each error.")
    result = "RESULT " + " ".join(
        f"{s['mode']}_beats_skip100={s['beats_skip-100_profile_mae']}+"
        f"{s['beats_skip-100_mean_T_mae']}/{s['runs']}" for s in summary)
    record("check_rollouts", "rollouts of the network's modes against skipping", notes,
           summary + rows, result, out=a.out, table=table,
           settings={k: v for k, v in vars(a).items() if k != "out"})


if __name__ == "__main__":
    main()
