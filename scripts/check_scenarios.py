#!/usr/bin/env python
"""The study's unseen scenarios for a network, against momentum skipping (skip-100), on the
test runs of a campaign: cold start, linear start, the EBA energy equation, decaying
heating and a start from a predicted steady profile (pymantle.evaluate.SCENARIOS). For each
scenario and run: the MUMPS reference, skip-100 and the network alone, and the
evaluation's errors against the reference; per scenario, in how many runs the network beats
skip-100 in profile MAE and in mean-T MAE.

The profile scenario trains the profile predictor on the campaign (`pymantle profile`) and
starts every run from its prediction for that run's parameters.

    python scripts/check_scenarios.py CAMPAIGN --runs DIR [--model FILE] [--sims 5,8,...]
        [--scenarios cold,linear,eba,decay,profile] [--end-time 0.05] [--out docs/bench]

Writes a JSON record (scripts/benchlib.py)."""
import argparse
from pathlib import Path

import numpy as np

from benchlib import add_out_argument, md_table, record
from pymantle.campaign_index import read_index
from pymantle.evaluate import scenario


def profiles(campaign, sims, folder: Path) -> str:
    """Predicted steady profiles per simulation: FOLDER/profile-{sim}.txt."""
    from pymantle.ml.networks.profile import (ProfilePredictor, late_profiles,
                                              train_profile_predictor, write_profile)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "profile_predictor.pt"
    if path.is_file():
        pp = ProfilePredictor.load(path)
    else:
        pp, _ = train_profile_predictor(campaign)
        pp.save(path)
    _, y, _ = late_profiles(campaign)
    rows = {r["sim"]: r for r in read_index(campaign)}
    for sim in sims:
        r = rows[sim]
        write_profile(folder / f"profile-{sim}.txt", y,
                      pp.predict(r["Q"], r["gamma"], r["beta"], y))
    return str(folder / "profile-{sim}.txt")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign")
    ap.add_argument("--runs", required=True, help="folder of the runs (reused when rerun)")
    ap.add_argument("--model")
    ap.add_argument("--sims", help="comma list (default: the test split)")
    ap.add_argument("--scenarios", default="cold,linear,eba,decay,profile")
    ap.add_argument("--end-time", type=float, default=0.05)
    add_out_argument(ap)
    a = ap.parse_args()
    sims = ([int(s) for s in a.sims.split(",")] if a.sims else
            [r["sim"] for r in read_index(a.campaign) if r["split"] == "test"])
    rows, summary = [], {}
    for name in a.scenarios.split(","):
        prof = profiles(a.campaign, sims, Path(a.runs) / "profiles") if name == "profile" else None
        res = scenario(name, a.campaign, a.model, str(Path(a.runs) / name), sims, a.end_time,
                       profile_file=prof, providers=("direct", "skip", "surrogate"),
                       echo=lambda *_: None)
        by = {}
        for r in res:
            by.setdefault(r["sim"], {})[r["provider"]] = r
            rows.append({**r, "scenario": name})
        wins = {m: sum(v["surrogate"].get(m, np.inf) < v["skip"].get(m, np.inf)
                       for v in by.values()) for m in ("profile_mae", "mean_T_mae")}
        blew = sum(v["surrogate"].get("status") == "blew up" for v in by.values())
        summary[name] = {"runs": len(by), "profile_wins": wins["profile_mae"],
                         "mean_T_wins": wins["mean_T_mae"], "blew_up": blew,
                         "surrogate_profile_mae_median": float(np.median(
                             [v["surrogate"].get("profile_mae", np.nan) for v in by.values()])),
                         "skip_profile_mae_median": float(np.median(
                             [v["skip"].get("profile_mae", np.nan) for v in by.values()])),
                         "surrogate_mean_T_mae_median": float(np.median(
                             [v["surrogate"].get("mean_T_mae", np.nan) for v in by.values()])),
                         "skip_mean_T_mae_median": float(np.median(
                             [v["skip"].get("mean_T_mae", np.nan) for v in by.values()]))}
        print(name, summary[name], flush=True)
    srows = [{"scenario": k, **v} for k, v in summary.items()]
    table = md_table(srows, [("scenario", "scenario", ""), ("runs", "runs", ""),
                             ("network ahead: profile", "profile_wins", ""),
                             ("network ahead: mean T", "mean_T_wins", ""),
                             ("network profile MAE", "surrogate_profile_mae_median", ".2e"),
                             ("skip-100 profile MAE", "skip_profile_mae_median", ".2e"),
                             ("network mean-T MAE", "surrogate_mean_T_mae_median", ".2e"),
                             ("skip-100 mean-T MAE", "skip_mean_T_mae_median", ".2e"),
                             ("blew up", "blew_up", "")])
    notes = (f"The study's unseen scenarios on {len(sims)} test runs of {a.campaign} to "
             f"t = {a.end_time} (decay: its own end time), the network "
             f"{a.model or '(shipped)'} alone against skip-100, medians over the runs.")
    result = "RESULT " + " ".join(f"{k}_profile_wins={v['profile_wins']}/{v['runs']} "
                                  f"{k}_mean_T_wins={v['mean_T_wins']}/{v['runs']}"
                                  for k, v in summary.items())
    record("check_scenarios", "the study's unseen scenarios against skip-100", notes,
           srows + rows, result, out=a.out, table=table,
           settings={"campaign": a.campaign, "model": a.model, "sims": sims,
                     "scenarios": a.scenarios, "end_time": a.end_time})


if __name__ == "__main__":
    main()
