#!/usr/bin/env python
"""Per-step cost of every velocity provider in the time loop, side by side in one run, at
the laptop grid (32x128) and the paper grid (126x504) on this CPU: direct (MUMPS,
refactorising with the analysis kept), fresh-lu (new analysis and factorisation every step:
the study's reference), lagged, iterative (BiCGStab), skip-100, the shipped network (the
buoyancy-scaled U-net, alone and with the guard's residual every step: speedup_laptop and
speedup_paper), the study's surrogate (full-size network with random weights in float32 and
float64: the cost does not depend on the weights), the float32 surrogate with the Galerkin correction (without and with memory),
the network-free galerkin provider (and, composed from it and direct, galerkin with a
direct solve every 100 steps), and host-only (velocities handed over ready-made: the loop's
own cost, what is left of a step when a GPU computes the velocities). The speed-up is the surrogate step
against the direct step, both measured here. With --gpu-json (a scripts/gpu_check.py
result with its "step" section) it also composes the GPU hybrid step at the paper grid:
host-only here + the GPU provider's host-to-host time there, against direct and fresh-lu;
and, where the file has it, the whole step as measured on the GPU machine (its own host
running the Fortran kernels in the loop's pipelined order) against the same two.
Each time is the mean of the loop's iterations after the first (timed around the provider),
which leaves out one-off start costs such as MUMPS's symbolic analysis.
Writes a JSON record (scripts/benchlib.py): every provider's per-step and average cost, and
the ratios. Usage: python scripts/bench_rollout.py [--steps 20] [--threads 2] [--gpu-json FILE]
[--out docs/bench]"""
import argparse
import os
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from benchlib import (add_out_argument, md_table, random_buoyancy_model_file,  # noqa: E402
                      random_model_file, record)
from pymantle import config  # noqa: E402
import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402
from pymantle.providers import StokesProvider, VelocityProvider, make_provider  # noqa: E402
from pymantle.simulation import Simulation  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--gpu-json", help="gpu_check.py results with a 'step' section")
add_out_argument(ap)
args = ap.parse_args()
torch.set_num_threads(args.threads)
os.environ["PYMANTLE_TORCH_THREADS"] = str(args.threads)   # the providers' network too


class StepClock(VelocityProvider):
    """Passes everything to the provider it wraps and notes the time of each velocities()
    call: consecutive notes are one whole iteration of the time loop apart."""

    def __init__(self, inner):
        self.inner, self.name, self.ticks = inner, inner.name, []

    def velocities(self, step, T, eta_c, eta_n):
        self.ticks.append(time.perf_counter())
        return self.inner.velocities(step, T, eta_c, eta_n)

    def prefetch(self, step, T):
        self.inner.prefetch(step, T)

    def restore(self, u, v, p):
        self.inner.restore(u, v, p)

    def force_refresh(self):
        self.inner.force_refresh()

    def close(self):
        self.inner.close()


class ReadyVelocities(VelocityProvider):
    """Hands over the same stored velocities every step: times the loop without a solve.
    They are one convection cell per unit width (a MAC stream function that is zero on the
    walls): divergence-free, with no flow through the walls."""
    name = "host-only"

    def __init__(self, grid):
        import numpy as np
        xf, yf = np.meshgrid(grid.x_f, grid.y_f)             # cell corners (ny+1, nx+1)
        psi = 10.0 * np.sin(np.pi * xf) * np.sin(np.pi * yf)
        psi[:, [0, -1]] = psi[[0, -1], :] = 0.0
        self.u = np.diff(psi, axis=0) / np.diff(grid.y_f)[:, None]
        self.v = -np.diff(psi, axis=1) / grid.dx
        self.p = np.zeros(grid.shape)

    def velocities(self, step, T, eta_c, eta_n):
        return self.u, self.v, self.p, 0


rows, res = [], {}
with tempfile.TemporaryDirectory() as tmp:
    for preset, steps in (("laptop", args.steps * 5), ("paper", args.steps)):
        base = [f"grid.preset='{preset}'", "output.progress=.false.", "output.plots=.false.",
                "output.snapshot_every=100000", "output.checkpoint_every=100000",
                "time.end_time=10.0", "stokes.warmup_steps=0",
                "initial.kind='conductive'", "initial.amplitude=0.05"]
        g = config.load(None, base).grid()
        models = {dt: random_model_file(f"{tmp}/{preset}-{dt}.pt", g.nx, g.ny, dt)
                  for dt in ("float32", "float64")}
        shipped = random_buoyancy_model_file(f"{tmp}/{preset}-buoyancy.pt", g.nx, g.ny)
        runs = {"direct": [], "fresh-lu": [], "host-only": [],
                "lagged": ["stokes.solver='lagged'"],
                "iterative": ["stokes.solver='iterative'"], "skip-100": ["stokes.every=100"],
                "surrogate-f32": ["stokes.solver='surrogate'", f"stokes.model='{models['float32']}'"],
                "surrogate-f64": ["stokes.solver='surrogate'", f"stokes.model='{models['float64']}'"],
                "surrogate-f32-galerkin": ["stokes.solver='surrogate'", "stokes.correction='galerkin'",
                                           "stokes.correction_memory=.false.",
                                           f"stokes.model='{models['float32']}'"],
                "surrogate-f32-galerkin-memory": ["stokes.solver='surrogate'",
                                                  "stokes.correction='galerkin'",
                                                  "stokes.correction_memory=.true.",
                                                  f"stokes.model='{models['float32']}'"],
                "galerkin": ["stokes.solver='galerkin'"],
                # the shipped network (buoyancy-scaled U-net), alone and under a guard that
                # never trips (its residual's cost), and galerkin under the same guard
                "buoyancy-unet": ["stokes.solver='surrogate'", f"stokes.model='{shipped}'"],
                "buoyancy-unet-guard": ["stokes.solver='surrogate'", f"stokes.model='{shipped}'",
                                        "stokes.guard_tol=1e6"],
                "galerkin-guard": ["stokes.solver='galerkin'", "stokes.guard_tol=1e6"]}
        for name, extra in runs.items():
            if preset == "paper" and name == "iterative":
                continue                      # minutes per solve at this size on 2 cores
            cfg = config.load(None, base + extra + [
                f"time.max_steps={steps}", f"output.directory='{tmp}/{preset}-{name}'"])
            prov = {"fresh-lu": lambda: StokesProvider(g, cfg["physics"]["ra"], "direct",
                                                         reuse_symbolic=False),
                    "host-only": lambda: ReadyVelocities(g)}.get(
                name, lambda: make_provider(cfg, g, comm=PETSc.Comm(MPI.COMM_WORLD)))()
            clock = StepClock(prov)
            r = Simulation(cfg, provider=clock).run()
            # Per step: the mean loop iteration after the first, which carries the one-off
            # start (MUMPS's symbolic analysis, the first network call); a long run pays
            # the mean, not the start spread over `steps` steps.
            ms = float(np.mean(np.diff(clock.ticks)[1:])) * 1e3
            res[(preset, name)] = ms
            rows.append({"grid": f"{preset} {g.ny}x{g.nx}", "provider": name,
                         "ms_per_step": ms, "average_ms_per_step": r.wall_time / r.steps * 1e3,
                         "steps": r.steps})
sp = {p: res[(p, "direct")] / min(res[(p, "surrogate-f32")], res[(p, "surrogate-f64")])
      for p in ("laptop", "paper")}
ship = {p: res[(p, "direct")] / res[(p, "buoyancy-unet")] for p in ("laptop", "paper")}
shipg = {p: res[(p, "direct")] / res[(p, "buoyancy-unet-guard")] for p in ("laptop", "paper")}
galg = {p: res[(p, "direct")] / res[(p, "galerkin-guard")] for p in ("laptop", "paper")}
spg = {p: res[(p, "direct")] / res[(p, "surrogate-f32-galerkin")] for p in ("laptop", "paper")}
spm = {p: res[(p, "direct")] / res[(p, "surrogate-f32-galerkin-memory")] for p in ("laptop", "paper")}
spn = {p: res[(p, "direct")] / res[(p, "galerkin")] for p in ("laptop", "paper")}
# galerkin with a direct solve every 100 steps (refresh_every = 100), composed from the two
# measured steps: a run of these few steps would not see its one solve per hundred
refresh = {p: res[(p, "galerkin")] + res[(p, "direct")] / 100 for p in ("laptop", "paper")}
spr = {p: res[(p, "direct")] / refresh[p] for p in ("laptop", "paper")}
table = md_table(rows, [("grid", "grid", ""), ("provider", "provider", ""),
                        ("ms per step", "ms_per_step", ".1f"),
                        ("average ms per step", "average_ms_per_step", ".1f")])
body = (f"Per-step wall time in the time loop (CPU, {args.threads} torch threads, 1 BLAS "
        "thread; the network's cost does not depend on its weights). Per step: the mean "
        "loop iteration after the first, which carries the one-off start (MUMPS's symbolic "
        f"analysis, the first network call); over {args.steps} steps at the paper grid and "
        f"{args.steps * 5} at the laptop grid; the ratios use it. skip-100 solves once, in "
        "the first step, so its per-step figure is the reuse alone. Average: wall / steps, "
        "the start included (the measure before 2026-11-26 19:00). "
        + f"Shipped network (buoyancy-scaled U-net) over the direct step: laptop "
          f"{ship['laptop']:.2f}x, paper {ship['paper']:.2f}x; with the guard's residual every "
          f"step: laptop {shipg['laptop']:.2f}x, paper {shipg['paper']:.2f}x; galerkin with the "
          f"guard's residual: laptop {galg['laptop']:.2f}x, paper {galg['paper']:.2f}x. "
          f"The study's network (surrogate-f32/f64) over the direct step: laptop {sp['laptop']:.2f}x, "
          f"paper {sp['paper']:.2f}x; with the Galerkin correction (float32 network): "
          f"laptop {spg['laptop']:.2f}x, paper {spg['paper']:.2f}x; with memory: laptop "
          f"{spm['laptop']:.2f}x, paper {spm['paper']:.2f}x. The network-free galerkin "
          f"provider: laptop {spn['laptop']:.2f}x, paper {spn['paper']:.2f}x; with a direct "
          f"solve every 100 steps (refresh_every = 100; galerkin + direct / 100: laptop "
          f"{refresh['laptop']:.1f} ms, paper {refresh['paper']:.1f} ms): laptop "
          f"{spr['laptop']:.2f}x, paper {spr['paper']:.2f}x.")
result = (f"RESULT speedup_laptop={ship['laptop']:.2f} speedup_paper={ship['paper']:.2f} "
          f"speedup_laptop_guard={shipg['laptop']:.2f} speedup_paper_guard={shipg['paper']:.2f} "
          f"speedup_paper_galerkin_guard={galg['paper']:.2f} "
          f"speedup_laptop_study={sp['laptop']:.2f} speedup_paper_study={sp['paper']:.2f} "
          f"direct_ms_paper={res[('paper', 'direct')]:.0f} "
          f"fresh_lu_ms_paper={res[('paper', 'fresh-lu')]:.0f} "
          f"surrogate_ms_paper={min(res[('paper', 'surrogate-f32')], res[('paper', 'surrogate-f64')]):.0f} "
          f"speedup_paper_galerkin={spg['paper']:.2f} "
          f"speedup_paper_galerkin_memory={spm['paper']:.2f} "
          f"speedup_paper_galerkin_no_network={spn['paper']:.2f} "
          f"speedup_paper_galerkin_refresh100={spr['paper']:.2f}")
if args.gpu_json:
    import json
    gpu = json.load(open(args.gpu_json))
    st = gpu["step"]
    # The provider's shipped GPU configuration: strip streams on where the file has them
    sfx = "_strips" if "provider_ms_strips" in st else ""
    gpu_ms = st["provider_ms" + sfx]                    # upload, network, download per call
    hybrid = res[("paper", "host-only")] + gpu_ms
    vs = {k: res[("paper", k)] / hybrid for k in ("direct", "fresh-lu")}
    body += (f" GPU hybrid step at the paper grid, composed: host-only here "
             f"{res[('paper', 'host-only')]:.2f} ms + the surrogate provider on the "
             f"{gpu['device']} {gpu_ms:.2f} ms ({args.gpu_json}; no credit taken for "
             f"overlapping the two) = {hybrid:.2f} ms: {vs['direct']:.0f}x the direct "
             f"step, {vs['fresh-lu']:.0f}x the fresh-LU step.")
    result += (f" gpu_hybrid_ms_paper={hybrid:.2f} speedup_gpu_paper_vs_direct={vs['direct']:.0f}"
               f" speedup_gpu_paper_vs_fresh_lu={vs['fresh-lu']:.0f}")
    if "pipelined" + sfx in st and "Fortran" in st.get("kernels", ""):
        e2e = st["pipelined" + sfx]["step_ms"]          # the loop's order, on that machine
        ve = {k: res[("paper", k)] / e2e for k in ("direct", "fresh-lu")}
        body += (f" Measured whole on the GPU machine (its host runs the Fortran kernels, "
                 f"the loop's pipelined order, {st['kernels']}): {e2e:.2f} ms per step, "
                 f"{ve['direct']:.0f}x the direct step here, {ve['fresh-lu']:.0f}x the "
                 f"fresh-LU step here.")
        result += (f" gpu_step_ms_paper_measured={e2e:.2f}"
                   f" speedup_gpu_paper_measured_vs_direct={ve['direct']:.0f}")
record("bench_rollout", "velocity providers in the time loop", body, rows, result,
       out=args.out, settings={"steps": args.steps, "threads": args.threads,
                               "gpu_json": args.gpu_json}, table=table)
