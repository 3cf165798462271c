"""Accuracy against the fraction of steps solved directly, for every way of spending direct
solves: momentum skipping (skip-N), Galerkin with a direct solve every N steps
(galerkin-refresh-N), the network with a direct solve every N steps, plain
(surrogate-refresh-N) and Galerkin-corrected (surrogate-galerkin-refresh-N), and the guard
(&stokes guard_tol) over the plain surrogate and over galerkin at several tolerances. Runs `pymantle evaluate` on a campaign's test split for
each setting (the direct references are run once and reused: one --out folder), then
writes one table (CSV + Markdown) and one figure: the worst and the median over the runs
of the profile MAE and of the mean-T MAE, against the mean fraction of direct solves.

    .venv/bin/python scripts/solve_fraction_sweep.py CAMPAIGN --out DIR [--model FILE]
        [--end-time 0.1] [--skips 10,20,50,100] [--tols 0.3,1,3] [--surrogate-tols 30,100,300]
    .venv/bin/python scripts/solve_fraction_sweep.py --preset laptop --out DIR ...

--preset draws the test split of `pymantle campaign --preset NAME --seed SEED` from the same
seeded sampling without running the campaign (the runs start from the hot start; only the
parameters come from the campaign): the same 9 runs where the campaign finished every run.
An empty list (--skips '') leaves that family out.
"""
import argparse
import csv
from pathlib import Path

import numpy as np

from pymantle.campaign import PRESETS
from pymantle.evaluate import evaluate, preset_specs


def _floats(s):
    return [float(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign", nargs="?", help="campaign folder (its finished test runs)")
    ap.add_argument("--preset", choices=sorted(PRESETS),
                    help="instead of CAMPAIGN: the test split of this preset's seeded sampling")
    ap.add_argument("--seed", type=int, default=0, help="the campaign's seed (with --preset)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model")
    ap.add_argument("--end-time", type=float, default=0.1)
    ap.add_argument("--skips", default="10,20,50,100")
    ap.add_argument("--tols", default="0.3,1,3", help="galerkin-guard tolerances")
    ap.add_argument("--surrogate-tols", default="30,100,300",
                    help="surrogate-guard tolerances")
    ap.add_argument("--network-refresh", default="20,50",
                    help="N of surrogate-refresh-N and surrogate-galerkin-refresh-N (the "
                         "network, or the Galerkin-corrected network, with MUMPS every N)")
    ap.add_argument("--replot", action="store_true",
                    help="only redraw the figure from OUT/solve_fraction.csv")
    ap.add_argument("--no-network", action="store_true",
                    help="only the settings without the network (a later full call reuses "
                         "their runs)")
    a = ap.parse_args()
    if a.replot:
        with open(Path(a.out) / "solve_fraction.csv") as fh:
            rows = [{k: (v if k == "setting" else float(v)) for k, v in r.items()}
                    for r in csv.DictReader(fh)]
        plot(rows, Path(a.out) / "solve_fraction.png")
        return
    if (a.campaign is None) == (a.preset is None):
        ap.error("give either a CAMPAIGN folder or --preset")
    where = {}
    if a.preset:
        where["specs"], where["grid_preset"] = preset_specs(a.preset, a.seed)
    quiet = lambda *_: None  # noqa: E731
    settings = [("surrogate", {}), ("galerkin", {})]
    settings += [(p, {"skip": int(n)}) for n in _floats(a.skips)
                 for p in ("skip", "galerkin-refresh")]
    settings += [("galerkin-guard", {"guard_tol": t}) for t in _floats(a.tols)]
    settings += [("surrogate-guard", {"guard_tol": t}) for t in _floats(a.surrogate_tols)]
    settings += [(p, {"skip": int(n)}) for n in _floats(a.network_refresh)
                 for p in ("surrogate-refresh", "surrogate-galerkin-refresh")]
    if a.no_network:
        settings = [(p, kw) for p, kw in settings if not p.startswith("surrogate")]
    rows = []
    for provider, kw in settings:
        res = evaluate(a.campaign, a.out, ("direct", provider), end_time=a.end_time,
                       model=a.model, echo=quiet, **where, **kw)
        mine = [r for r in res if r["provider"] == provider]
        label = provider + "".join(f"-{v:g}" for v in kw.values())
        ok = [r for r in mine if r.get("status") != "blew up"]
        row = {"setting": label, "runs": len(mine), "blew_up": len(mine) - len(ok),
               "direct_fraction": float(np.mean([r["direct_fraction"] for r in ok])),
               "profile_mae_median": float(np.median([r["profile_mae"] for r in ok])),
               "profile_mae_worst": float(np.max([r["profile_mae"] for r in ok])),
               "mean_T_mae_median": float(np.median([r["mean_T_mae"] for r in ok])),
               "mean_T_mae_worst": float(np.max([r["mean_T_mae"] for r in ok])),
               "speedup_median": float(np.median([r["speedup"] for r in ok]))}
        rows.append(row)
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in row.items()), flush=True)
    out = Path(a.out)
    with open(out / "solve_fraction.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    keys = list(rows[0])
    md = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    md += ["| " + " | ".join(f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k])
                             for k in keys) + " |" for r in rows]
    (out / "solve_fraction.md").write_text("\n".join(md) + "\n")
    plot(rows, out / "solve_fraction.png")


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.6))
    families = {"skip": ("s", "C0"), "galerkin-refresh": ("^", "C1"),
                "galerkin-guard": ("o", "C2"), "surrogate-guard": ("D", "C3"),
                "surrogate-refresh": ("v", "C4"), "surrogate-galerkin-refresh": ("P", "C5"),
                "surrogate": ("*", "C3"), "galerkin": ("*", "C2")}
    for ax, key, target in ((axes[0], "profile_mae", 1e-3), (axes[1], "mean_T_mae", 1e-4)):
        for fam, (marker, color) in families.items():
            pts = [r for r in rows if r["setting"].rsplit("-", 1)[0] == fam
                   or r["setting"] == fam]
            pts = sorted(pts, key=lambda r: r["direct_fraction"])
            if not pts:
                continue
            f = [max(r["direct_fraction"], 1e-4) for r in pts]
            ax.plot(f, [r[f"{key}_worst"] for r in pts], marker=marker, color=color, ls="-",
                    label=f"{fam} (worst run)")
            ax.plot(f, [r[f"{key}_median"] for r in pts], marker=marker, color=color,
                    ls=":", mfc="none", label=f"{fam} (median)")
        ax.axhline(target, color="k", lw=0.8, ls="--")
        ax.axvline(0.05, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("fraction of steps solved directly")
        ax.set_ylabel(key.replace("_", " ").replace("mae", "MAE"))
        ax.grid(alpha=0.3, which="both")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("Accuracy against direct solves, laptop test runs to t = 0.1 "
                 "(dashed: the targets and 5 % of steps)", fontsize=10)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(path, dpi=130)
    plt.close(fig)


if __name__ == "__main__":
    main()
