#!/usr/bin/env python
"""Every velocity mode's speed against its error, on the same runs, side by side: the
network's modes (plain, every N steps extrapolated, the README's first command), momentum
skipping (skip-N, and with the velocities extrapolated between solves), the Galerkin solver
with a direct solve every N steps, and PETSc's Krylov solvers with and without its reuse of
earlier solutions as initial guesses (-ksp_guess_type fischer and pod, the classical
relatives of the Galerkin correction).

The network's modes: surrogate (every step), surrogate-every-N, hybrid (with the Galerkin
correction and MUMPS every 20 steps), hybrid-every-N, and first-command (configs/hybrid.nml:
hybrid-every-3). Runs `pymantle evaluate` for each mode on the test split of a campaign (or of a preset's
seeded sampling, --preset: no campaign needed), all in one --out folder (the MUMPS
references are run once and reused; a finished run is reused by a later call). Per mode:
the median of the time loop's speed-up over MUMPS's (the run files' wall_time), the median
and worst profile MAE and mean-T MAE over the runs, and the fraction of direct solves.
Writes OUT/modes.csv, OUT/modes.md, a figure (speed-up against the median and the worst
error, both metrics, with the front of modes that nothing is both faster and more
accurate than) and a JSON record (scripts/benchlib.py, docs/bench by default).

    .venv/bin/python scripts/mode_front.py --preset laptop --out modes [--model FILE]
        [--end-time 0.1] [--modes surrogate,hybrid,skip-10,...] [--figure FILE]
"""
import argparse
import csv
from pathlib import Path

import numpy as np

from benchlib import add_out_argument, md_table, record
from pymantle.campaign import PRESETS
from pymantle.evaluate import evaluate, preset_specs

#: mode label -> (evaluate provider, its keyword arguments)
MODES = {
    "lagged": ("lagged", {}),
    "lagged-fischer": ("lagged-fischer", {}),
    "lagged-pod": ("lagged-pod", {}),
    "skip-10": ("skip", {"skip": 10}),
    "skip-100": ("skip", {"skip": 100}),
    "skip-extrapolate-10": ("skip-extrapolate", {"skip": 10}),
    "skip-extrapolate-100": ("skip-extrapolate", {"skip": 100}),
    "galerkin-refresh-20": ("galerkin-refresh", {"skip": 20}),
    "galerkin-refresh-100": ("galerkin-refresh", {"skip": 100}),
    "surrogate": ("surrogate", {}),
    "surrogate-every-2": ("surrogate-every", {"every": 2}),
    "surrogate-every-4": ("surrogate-every", {"every": 4}),
    "hybrid": ("hybrid", {}),
    "hybrid-every-2": ("hybrid-every", {"every": 2}),
    "first-command": ("first-command", {}),          # hybrid-every-3: configs/hybrid.nml
    "hybrid-every-4": ("hybrid-every", {"every": 4}),
}
NETWORK = ("surrogate", "surrogate-every-2", "surrogate-every-4", "hybrid", "hybrid-every-2",
           "first-command", "hybrid-every-4")
METRICS = ("profile_mae", "mean_T_mae")


def summarise(label, rows) -> dict:
    ok = [r for r in rows if r.get("status") != "blew up"]
    out = {"mode": label, "runs": len(rows), "blew_up": len(rows) - len(ok),
           "speedup_median": float(np.median([r["speedup"] for r in ok])),
           "speedup_min": float(np.min([r["speedup"] for r in ok])),
           "direct_fraction": float(np.mean([r["direct_fraction"] for r in ok]))}
    for m in METRICS:
        v = [r[m] for r in ok]
        out[f"{m}_median"], out[f"{m}_worst"] = float(np.median(v)), float(np.max(v))
    return out


def on_front(row, rows, key) -> bool:
    """No other mode is both faster and more accurate (in `key`)."""
    return not any(o is not row and o["speedup_median"] > row["speedup_median"]
                   and o[key] < row[key] for o in rows)


def plot(rows, path, xlabel):
    """Speed against the median and the worst of both errors; the exact solvers (every step
    solved) sit below the approximate modes' range, drawn at its floor as down triangles."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), sharex=True)
    for i, m in enumerate(METRICS):
        for j, stat in enumerate(("median", "worst")):
            ax, key = axes[i, j], f"{m}_{stat}"
            approx = [r for r in rows if r["direct_fraction"] < 1]
            floor = min(r[key] for r in approx if r[key] > 0) / 4
            for k, r in enumerate(sorted(rows, key=lambda r: r["speedup_median"])):
                exact = r["direct_fraction"] >= 1
                y = floor if exact else r[key]
                net = r["mode"] in NETWORK
                ax.scatter(r["speedup_median"], y, s=70 if net else 30,
                           marker="v" if exact else ("*" if net else "o"),
                           color="C3" if net else ("grey" if exact else "C0"),
                           edgecolor="k" if on_front(r, rows, key) else "none", zorder=3)
                ax.annotate(r["mode"], (r["speedup_median"], y), fontsize=6.5,
                            xytext=(4, 4 if k % 2 else -9), textcoords="offset points")
            front = sorted((r for r in rows if on_front(r, rows, key)),
                           key=lambda r: r["speedup_median"])
            ax.step([r["speedup_median"] for r in front],
                    [floor if r["direct_fraction"] >= 1 else r[key] for r in front],
                    where="post", color="grey", lw=0.8, ls="--", zorder=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            ax.set_ylabel(f"{stat} {m.replace('_', ' ').replace('mae', 'MAE')} over the runs")
            if i == 1:
                ax.set_xlabel(xlabel)
    fig.suptitle("Every mode's speed against its error (red stars: the network's modes; "
                 "outlined: on the front; dashed: the front;\ngrey triangles: exact solvers, "
                 "their errors far below the axis)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=140)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign", nargs="?", help="campaign folder (its finished test runs)")
    ap.add_argument("--preset", choices=sorted(PRESETS),
                    help="instead of CAMPAIGN: the test split of this preset's seeded sampling")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", required=True, help="folder of the runs (reused when rerun)")
    ap.add_argument("--model")
    ap.add_argument("--end-time", type=float, default=0.1)
    ap.add_argument("--modes", default=",".join(MODES), help="comma list of " + ", ".join(MODES))
    ap.add_argument("--figure", help="the figure's path (default RUNS/modes.png)")
    ap.add_argument("--speed-record", help="a scripts/bench_time_loop.py record: its "
                    "side-by-side ratios replace the runs' own (each run's wall time was "
                    "measured alone, under whatever load the machine had)")
    add_out_argument(ap)
    a = ap.parse_args()
    if (a.campaign is None) == (a.preset is None):
        ap.error("give either a CAMPAIGN folder or --preset")
    where = {}
    if a.preset:
        where["specs"], where["grid_preset"] = preset_specs(a.preset, a.seed)
    rows, per_run = [], []
    for label in a.modes.split(","):
        provider, kw = MODES[label]
        res = evaluate(a.campaign, a.runs, ("direct", provider), end_time=a.end_time,
                       model=a.model, echo=lambda *_: None, **where, **kw)
        mine = [r for r in res if r["provider"] == provider]
        per_run += [{**r, "mode": label} for r in mine]
        rows.append(summarise(label, mine))
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in rows[-1].items()), flush=True)
    if a.speed_record:
        import json
        bench = {r["mode"]: r["direct_over_this"] for r in
                 json.loads(Path(a.speed_record).read_text())["rows"]}
        for r in rows:
            r["speedup_runs"] = r.pop("speedup_median")
            r.pop("speedup_min")
            r["speedup_median"] = bench.get(r["mode"], r["speedup_runs"])
    runs = Path(a.runs)
    with open(runs / "modes.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cols = [("mode", "mode", ""), ("speed-up", "speedup_median", ".2f"),
            ("direct solves", "direct_fraction", ".3f")]
    cols += [(f"{m} {s}", f"{m}_{s}", ".2e") for m in METRICS for s in ("median", "worst")]
    table = md_table(rows, cols)
    (runs / "modes.md").write_text(table + "\n")
    figure = Path(a.figure or runs / "modes.png")
    plot(rows, figure, "time loop speed-up over MUMPS, measured side by side" if a.speed_record
         else "time loop speed-up over MUMPS (median over the runs)")
    fronts = {f"{m}_{s}": [r["mode"] for r in rows if on_front(r, rows, f"{m}_{s}")]
              for m in METRICS for s in ("median", "worst")}
    speed = (f"the time loop's speed-up over MUMPS measured side by side ({a.speed_record}; "
             "speedup_runs: the runs' own, measured one after the other)" if a.speed_record
             else "the median over the runs of the time loop's speed-up over MUMPS (wall_time "
             "of the run files, each mode's run and its MUMPS reference in one call)")
    notes = (f"Modes on the {rows[0]['runs']} test runs to t = {a.end_time}: {speed}; "
             "the median and worst profile and mean-T MAE. Front (nothing both faster "
             "and more accurate): " + "; ".join(f"{k}: {', '.join(v)}" for k, v in fronts.items())
             + f". Figure: {figure}.")
    res = {f"{r['mode']}_speedup": r["speedup_median"] for r in rows}
    result = "RESULT " + " ".join(f"{k}={v:.3g}" for k, v in res.items())
    record("mode_front", "every mode's speed against its error", notes, rows + per_run,
           result, out=a.out, table=table,
           settings={"preset": a.preset, "campaign": a.campaign, "end_time": a.end_time,
                     "model": a.model, "modes": a.modes})


if __name__ == "__main__":
    main()
