#!/usr/bin/env python
"""Full reference steps (Stokes + energy + diagnostics) at 32x128, all modes on the same
spun-up state, side by side: direct (MUMPS refactorisation every step, analysis kept),
lagged (stale factorisation preconditioning GMRES), and the plain fresh factorisation
every step (new analysis too), the baseline the surrogate's speed-up is measured against.
Writes a JSON record (scripts/benchlib.py).
Usage: python scripts/bench_step.py [--steps 300] [--out docs/bench]"""
import argparse
import os
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from benchlib import add_out_argument, md_table, record  # noqa: E402
from pymantle import config  # noqa: E402
from pymantle.providers import StokesProvider  # noqa: E402
from pymantle.simulation import Simulation  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--steps", type=int, default=300)
add_out_argument(ap)
args = ap.parse_args()

with tempfile.TemporaryDirectory() as tmp:
    base = ["output.progress=.false.", "output.plots=.false.", "output.snapshot_every=100000"]
    # spin-up: the default case past its initial transient (convection established)
    spin = config.load(None, base + [f"output.directory='{tmp}/spin'", "time.end_time=0.05"])
    Simulation(spin).run()
    ms = {}
    for mode in ("direct", "lagged", "fresh"):
        cfg = config.load(None, base + [
            f"output.directory='{tmp}/{mode}'", "initial.kind='restart'",
            f"initial.file='{tmp}/spin'", "time.end_time=10.0", f"time.max_steps={args.steps}",
            f"stokes.solver='{'direct' if mode == 'fresh' else mode}'",
            f"output.checkpoint_every={10 * args.steps}"])
        prov = None
        if mode == "fresh":
            g = cfg.grid()
            prov = StokesProvider(g, 1.0, "direct", reuse_symbolic=False)
        res = Simulation(cfg, provider=prov).run()
        ms[mode] = res.wall_time / res.steps * 1e3
rows = [{"mode": k, "ms_per_step": v} for k, v in ms.items()]
ratio = ms["fresh"] / min(ms["direct"], ms["lagged"])
record("bench_step", "full reference step at 32x128",
       f"Full step at 32x128 (default case after spin-up to t = 0.05, {args.steps} steps, "
       "1 process, 1 BLAS thread; includes viscosity, assembly, Stokes, diagnostics, "
       f"energy step). fresh / faster mode: {ratio:.2f}x",
       rows, f"RESULT step_ms_laptop={min(ms['direct'], ms['lagged']):.1f} "
       f"step_ms_fresh_lu={ms['fresh']:.1f} step_ms_direct={ms['direct']:.1f} "
       f"step_ms_lagged={ms['lagged']:.1f} fresh_over_faster={ratio:.2f}",
       out=args.out, settings={"steps": args.steps},
       table=md_table(rows, [("mode", "mode", ""), ("ms per step", "ms_per_step", ".1f")]))
