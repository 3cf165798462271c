#!/usr/bin/env python
"""The time loop's cost per step of each velocity mode against MUMPS's, side by side in one
run: every mode runs the same N steps from the same developed state, the modes in turn,
and the whole round is repeated; the figure per mode is the median over the rounds of its
mean time per step (the loop's wall time over N steps: velocities, energy step,
diagnostics, output), and its ratio to MUMPS's in the same round.

Modes (namelist settings over the case): direct (MUMPS every step), lagged, lagged-fischer,
lagged-pod (GMRES preconditioned by the last factorisation; with PETSc's initial guesses
from earlier solutions), surrogate (the network every step), surrogate-every-N (the network
every N steps, extrapolated in between), hybrid (the network, its Galerkin correction,
MUMPS every 20 steps), hybrid-every-N (the same, the learned step every N steps), skip-N
(MUMPS every N steps), skip-extrapolate-N (extrapolated between), galerkin-refresh-N (the
Galerkin solver, MUMPS every N), first-command (configs/hybrid.nml: hybrid-every-3).

    python scripts/bench_time_loop.py --grid laptop [--steps 100] [--rounds 3]
        [--start RUN.nc] [--model FILE] [--modes direct,surrogate,...] [--out docs/bench]

--start: a run file whose last snapshot (interpolated onto the grid) starts every mode
(a developed state; default: the conductive profile with a 5 % perturbation). The network
runs on one thread (PYMANTLE_TORCH_THREADS=1, the default), BLAS on one."""
import argparse
import os
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("PYMANTLE_TORCH_THREADS", "1")

import numpy as np  # noqa: E402

from benchlib import add_out_argument, md_table, record  # noqa: E402
from pymantle import config  # noqa: E402
from pymantle.evaluate import PROVIDER_SETTINGS  # noqa: E402
from pymantle.simulation import Simulation  # noqa: E402


def _stokes(settings: dict) -> list[str]:
    fmt = lambda v: (".true." if v else ".false.") if isinstance(v, bool) else (  # noqa: E731
        f"'{v}'" if isinstance(v, str) else str(v))
    return [f"stokes.{k}={fmt(v)}" for k, v in settings.items()]


def mode_settings(name: str) -> list[str]:
    """The &stokes overrides of a mode name (module docstring): the settings of the
    `pymantle evaluate` provider it names (evaluate.PROVIDER_SETTINGS), a trailing -N
    filling the provider's interval (every N, or a direct solve every N)."""
    head, _, n = name.rpartition("-")
    provider, number = (head, int(n)) if n.isdigit() else (name, None)
    settings = PROVIDER_SETTINGS.get(provider)
    needs = {v for v in (settings or {}).values() if v in ("SKIP", "EVERY", "GUARD")}
    if settings is None or needs - {"SKIP", "EVERY"} or bool(needs) != (number is not None):
        raise SystemExit(f"unknown mode {name!r}")
    return _stokes({k: number if v in needs else v for k, v in settings.items()})


def one_round(modes, base, steps, tmp, k):
    out = {}
    for m in modes:
        cfg = config.load(None, base + mode_settings(m) + [
            f"time.max_steps={steps}", f"output.directory='{tmp}/{k}-{m}'"])
        t0 = time.perf_counter()
        res = Simulation(cfg, resume=False).run()
        out[m] = (time.perf_counter() - t0, res.wall_time / res.steps * 1e3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="laptop")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--start", help="run file whose last snapshot starts every mode")
    ap.add_argument("--model", help="the network's model file (default: the shipped one)")
    ap.add_argument("--modes", default="direct,lagged,lagged-fischer,lagged-pod,skip-10,"
                                       "skip-100,skip-extrapolate-10,skip-extrapolate-100,"
                                       "galerkin-refresh-20,galerkin-refresh-100,surrogate,"
                                       "surrogate-every-2,surrogate-every-4,hybrid,"
                                       "hybrid-every-2,first-command,hybrid-every-4")
    add_out_argument(ap)
    a = ap.parse_args()
    modes = a.modes.split(",")
    base = [f"grid.preset='{a.grid}'", "output.progress=.false.", "output.plots=.false.",
            "output.snapshot_every=1000000", "output.checkpoint_every=1000000",
            "time.end_time=100.0"]
    base += ([ "initial.kind='restart'", f"initial.file='{a.start}'", "initial.snapshot=-1",
               "initial.interpolate=.true."] if a.start else
             ["initial.kind='conductive'", "initial.amplitude=0.05"])
    if a.model:
        base.append(f"stokes.model='{a.model}'")
    per = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.rounds):
            r = one_round(modes, base, a.steps, tmp, k)
            for m in modes:
                per[m].append(r[m][1])
            print(f"round {k + 1}: " + ", ".join(f"{m} {r[m][1]:.2f} ms" for m in modes),
                  flush=True)
    ratios = {m: float(np.median([d / x for d, x in zip(per["direct"], per[m])]))
              for m in modes}
    rows = [{"grid": a.grid, "mode": m, "ms_per_step": float(np.median(per[m])),
             "ms_per_step_rounds": per[m], "direct_over_this": ratios[m]} for m in modes]
    table = md_table(rows, [("grid", "grid", ""), ("mode", "mode", ""),
                            ("ms per step", "ms_per_step", ".2f"),
                            ("MUMPS / this", "direct_over_this", ".1f")])
    notes = (f"The time loop per step ({a.grid} grid, {a.steps} steps per mode and round, "
             f"{a.rounds} rounds, modes in turn; the loop's wall time over the steps, median "
             "over the rounds; ratio to MUMPS's in the same round, median over the rounds). "
             f"Start: {a.start or 'conductive profile + 5 % perturbation'}; network "
             "on one thread.")
    result = "RESULT " + " ".join(f"{m}_ratio={ratios[m]:.3g}" for m in modes)
    record("bench_time_loop", "the time loop per step of each mode against MUMPS's", notes,
           rows, result, out=a.out, table=table,
           settings={"grid": a.grid, "steps": a.steps, "rounds": a.rounds, "start": a.start,
                     "model": a.model, "modes": a.modes})


if __name__ == "__main__":
    main()
