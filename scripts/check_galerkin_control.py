#!/usr/bin/env python
"""Does the network still matter once its flow is Galerkin-corrected? (issue 5, control.)

Runs the hybrid loop on a campaign's test runs with the Galerkin correction over a span
that never sees the network: coarse hats alone, and hats plus the last step's flow
(memory). The same 2 direct warm-up steps as the surrogate runs. Compares each with the
direct reference in --eval-dir (a `pymantle evaluate` directory: its finished direct runs
and the surrogate-galerkin(-memory) runs are read, not recomputed) with the same metrics,
and prints one Markdown table: what the correction makes of no network at all, beside what
it makes of the network's flow.
Usage: python scripts/check_galerkin_control.py CAMPAIGN --eval-dir DIR [--sims 5,8,15]
       [--end-time 0.1]   (about as long as the surrogate runs themselves)"""
import argparse
import os
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from pymantle import config, open_run  # noqa: E402
from pymantle.evaluate import campaign_specs, compare, provider_config  # noqa: E402
from pymantle.providers import (GalerkinCorrectedProvider, StokesProvider,  # noqa: E402
                                VelocityProvider, WarmupProvider)
from pymantle.simulation import Simulation  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("campaign")
ap.add_argument("--eval-dir", required=True)
ap.add_argument("--sims", help="comma list (default: the test split)")
ap.add_argument("--end-time", type=float, default=0.1)
args = ap.parse_args()


class NoFlow(VelocityProvider):
    """Zero velocities: with the correction, the span holds only the hats (and memory)."""
    name = "no-flow"

    def __init__(self, grid):
        self.u, self.v, self.p = (np.zeros(s) for s in (grid.u_shape, grid.v_shape, grid.shape))

    def velocities(self, step, T, eta_c, eta_n):
        return self.u, self.v, self.p, 0


sims = [int(s) for s in args.sims.split(",")] if args.sims else None
specs, preset = campaign_specs(args.campaign, "test", sims)
ev = Path(args.eval_dir)
rows = []
for spec in specs:
    ref = open_run(ev / f"{spec.label}-direct" / "run.nc")
    for memory in (False, True):
        label = "hats-memory" if memory else "hats"
        cfg = provider_config(config.defaults(), spec, "direct", ev, args.end_time, 10**6,
                              None, 100, 50, preset)
        cfg["output"]["directory"] = str(ev / f"{spec.label}-control-{label}")
        g = cfg.grid()
        cfg["stokes"]["solver"] = "surrogate"     # clip T to [0, 2] as the hybrid loop does
        ra = cfg["physics"]["ra"]
        prov = WarmupProvider(StokesProvider(g, ra, "direct"),
                              GalerkinCorrectedProvider(NoFlow(g), g, ra, 9, memory=memory), 2)
        res = Simulation(cfg, provider=prov, resume=False).run()
        with open_run(res.run_file) as ds:
            rows.append({"sim": spec.sim, "span": label, **compare(ref, ds)})
    for prov in ("surrogate-galerkin", "surrogate-galerkin-memory"):
        run = ev / f"{spec.label}-{prov}" / "run.nc"
        if run.is_file():
            with open_run(run) as ds:
                rows.append({"sim": spec.sim, "span": prov, **compare(ref, ds)})
    ref.close()
keys = ["sim", "span", "profile_mae", "mean_T_mae", "corr_u", "corr_v", "Nu_top", "Vrms",
        "steps", "wall_time"]
print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
for r in rows:
    print("| " + " | ".join(f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k])
                            for k in keys) + " |")
