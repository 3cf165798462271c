#!/usr/bin/env python
"""Per-step cost of every velocity provider in the time loop, side by side in one run, at
the laptop grid (32x128) and the paper grid (126x504) on this CPU: direct (MUMPS), lagged,
iterative (BiCGStab), skip-100 and the surrogate (full-size network with random weights in
float32 and float64: the cost does not depend on the weights). The speed-up is the
surrogate step against the direct step, both measured here.
Usage: python scripts/bench_rollout.py [--steps 20] [--threads 2]"""
import argparse
import os
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from benchlib import append, random_model_file  # noqa: E402
from pymantle import config  # noqa: E402
from pymantle.simulation import Simulation  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)

rows, res = [], {}
with tempfile.TemporaryDirectory() as tmp:
    for preset, steps in (("laptop", args.steps * 5), ("paper", args.steps)):
        base = [f"grid.preset='{preset}'", "output.progress=.false.", "output.plots=.false.",
                "output.snapshot_every=100000", "output.checkpoint_every=100000",
                "time.end_time=10.0", f"time.max_steps={steps}", "stokes.warmup_steps=0",
                "initial.kind='conductive'", "initial.amplitude=0.05"]
        g = config.load(None, base).grid()
        models = {dt: random_model_file(f"{tmp}/{preset}-{dt}.pt", g.nx, g.ny, dt)
                  for dt in ("float32", "float64")}
        runs = {"direct": [], "lagged": ["stokes.solver='lagged'"],
                "iterative": ["stokes.solver='iterative'"], "skip-100": ["stokes.every=100"],
                "surrogate-f32": ["stokes.solver='surrogate'", f"stokes.model='{models['float32']}'"],
                "surrogate-f64": ["stokes.solver='surrogate'", f"stokes.model='{models['float64']}'"]}
        for name, extra in runs.items():
            if preset == "paper" and name == "iterative":
                continue                      # minutes per solve at this size on 2 cores
            cfg = config.load(None, base + extra + [f"output.directory='{tmp}/{preset}-{name}'"])
            r = Simulation(cfg).run()
            ms = r.wall_time / r.steps * 1e3
            res[(preset, name)] = ms
            rows.append(f"| {preset} {g.ny}x{g.nx} | {name} | {ms:.1f} |")
sp = {p: res[(p, "direct")] / min(res[(p, "surrogate-f32")], res[(p, "surrogate-f64")])
      for p in ("laptop", "paper")}
body = (f"Per-step wall time in the time loop (CPU, {args.threads} torch threads, 1 BLAS "
        "thread; the network's cost does not depend on its weights):\n\n"
        "| grid | provider | ms per step |\n|---|---|---|\n" + "\n".join(rows)
        + f"\n\nSurrogate speed-up over the direct step: laptop {sp['laptop']:.2f}x, "
          f"paper {sp['paper']:.2f}x.")
append("bench_rollout: velocity providers in the time loop", body,
       f"RESULT speedup_laptop={sp['laptop']:.2f} speedup_paper={sp['paper']:.2f} "
       f"direct_ms_paper={res[('paper', 'direct')]:.0f} "
       f"surrogate_ms_paper={min(res[('paper', 'surrogate-f32')], res[('paper', 'surrogate-f64')]):.0f}")
