#!/usr/bin/env python
"""Compare finished runs with a reference run: the evaluation's metrics (pymantle.evaluate.
compare: late-time profile MAE, mean-T MAE, field correlations, final Nu and Vrms, the
dissipation/work check, steps, wall time) as a Markdown table, and a PNG of Vrms, Nu_top
and mean T against time.

Usage: python scripts/compare_runs.py REF_DIR RUN_DIR [RUN_DIR ...] [--png FILE] [--late 0.5]
Each DIR holds a run.nc (an output directory of `pymantle run`)."""
import argparse
from pathlib import Path

from pymantle.evaluate import compare
from pymantle.output import open_run

ap = argparse.ArgumentParser(description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("ref")
ap.add_argument("runs", nargs="+")
ap.add_argument("--png", help="figure of the histories")
ap.add_argument("--late", type=float, default=0.5,
                help="fraction of the snapshots averaged for the profile (default 0.5)")
args = ap.parse_args()

ref = open_run(args.ref)
runs = {Path(d).name: open_run(d) for d in args.runs}
keys = ("steps", "wall_time", "profile_mae", "mean_T_mae", "corr_T", "corr_v", "Nu_top", "Vrms",
        "dissipation_over_work")
fmt = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)  # noqa: E731
print("| run | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1))
print(f"| {Path(args.ref).name} (reference) | " + " | ".join(
    fmt(v) for v in (int(ref.sizes["step"]), float(ref.attrs.get("wall_time", float("nan"))),
                     0.0, 0.0, 1.0, 1.0, float(ref["Nu_top"][-1]), float(ref["Vrms"][-1]),
                     float("nan"))) + " |")
for name, ds in runs.items():
    m = compare(ref, ds, late=args.late)
    print(f"| {name} | " + " | ".join(fmt(m[k]) for k in keys) + " |")
if args.png:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, ds in [(Path(args.ref).name + " (reference)", ref), *runs.items()]:
        for ax, key in zip(axes, ("Vrms", "Nu_top", "T_mean")):
            ax.plot(ds["history_time"], ds[key], label=name,
                    ls="--" if ds is ref else "-", lw=1.2)
    for ax, key in zip(axes, ("Vrms", "Nu_top", "mean T")):
        ax.set_xlabel("time")
        ax.set_ylabel(key)
    axes[1].set_yscale("log")            # a hot start begins at Nu in the hundreds
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"wrote {args.png}")
for ds in (ref, *runs.values()):
    ds.close()
