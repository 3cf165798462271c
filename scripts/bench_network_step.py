#!/usr/bin/env python
"""The network's whole step against the MUMPS step, side by side in one run, per grid.

The network's step is `SurrogateProvider.velocities` as the time loop calls it: the inputs
from T and eta (NumPy), the forward pass (torch, one thread unless --threads), the face
velocities scaled into the kernels' float64 buffers and projected there (the FFT
projection of projection.FaceProjection). The MUMPS step is `StokesProvider('direct')`'s:
refactorisation with the symbolic analysis kept, the solve, the velocities in the same
buffers (one BLAS thread). Both on the same developed-looking T (a conductive profile with
plumes); neither cost depends on it. The two are timed in turn, call by call, so load on
the machine falls on both alike, the order shuffled each round (the call right after
MUMPS's finds cold caches); medians over --repeat calls after a warm-up call.

With --architecture NAME=JSON a BuoyancyUNet of that config (BuoyancyUNetConfig's fields,
e.g. '{"width": 4, "levels": 4}') is timed too at 32x128, with random weights: the cost of
an architecture before anyone trains it.

With --eager-too each model is also timed run eagerly (PYMANTLE_FROZEN_GRAPH=0) instead of
as the frozen TorchScript graph the provider runs by default.

Models: each --laptop / --paper MODEL file (default: the one shipped for the grid, where
there is one); a name=FILE form labels it. With --breakdown the network's step is also
split into inputs, forward pass and projection (one extra timing each).

Writes a JSON record (scripts/benchlib.py). Usage:
    python scripts/bench_network_step.py [--laptop [NAME=]FILE ...] [--paper [NAME=]FILE ...]
        [--architecture NAME=JSON ...] [--repeat 30] [--threads 1] [--breakdown]
        [--eager-too] [--out docs/bench]"""
import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mpi4py import MPI  # noqa: E402

from benchlib import add_out_argument, md_table, record  # noqa: E402
from pymantle import config  # noqa: E402
from pymantle.physics import corner_viscosity, viscosity  # noqa: E402
from pymantle.providers import StokesProvider  # noqa: E402
from pymantle.providers.factory import shipped_model  # noqa: E402
from pymantle.providers.surrogate import SurrogateProvider  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--laptop", nargs="*", default=None, help="model files at 32x128")
ap.add_argument("--paper", nargs="*", default=None, help="model files at 126x504")
ap.add_argument("--repeat", type=int, default=30, help="timed calls per provider (paper: /3)")
ap.add_argument("--threads", type=int, default=1, help="torch threads of the network")
ap.add_argument("--breakdown", action="store_true", help="time inputs, forward, projection")
ap.add_argument("--architecture", nargs="*", default=[], metavar="NAME=JSON",
                help="also a BuoyancyUNet of this config with random weights, at 32x128")
ap.add_argument("--eager-too", action="store_true",
                help="also each model run eagerly (PYMANTLE_FROZEN_GRAPH=0), side by side")
add_out_argument(ap)
args = ap.parse_args()
os.environ["PYMANTLE_TORCH_THREADS"] = str(args.threads)

PHYSICS = {"q": 5.0, "gamma": 1e6, "beta": 10.0, "ra": 1.0}


def developed_temperature(grid, seed=0):
    """Conduction with internal heating plus three plumes and noise: a field like a
    running simulation's (the costs do not depend on it)."""
    x, y = grid.centres()
    rng = np.random.default_rng(seed)
    T = (1 - y) + 2.5 * y * (1 - y) + 0.2 * np.cos(3 * np.pi * x / grid.aspect) * np.sin(np.pi * y)
    return np.clip(T + 0.01 * rng.standard_normal(grid.shape), 0.0, 1.5)


def labelled(items, grid) -> dict:
    """{name: file} from NAME=FILE or FILE items (None: the shipped model, if any)."""
    if items is None:
        path = shipped_model(grid)
        return {"shipped": path} if path else {}
    out = {}
    for it in items:
        name, _, path = it.rpartition("=")
        out[name or Path(path).stem] = path
    return out


def random_weight_models(items, grid, folder) -> dict:
    """{name: file} of BuoyancyUNets with random weights, one per NAME=JSON config item:
    a step's cost does not depend on the weights, so an architecture can be timed before
    anyone trains it."""
    import json
    from pymantle.ml.checkpoint import save_model
    from pymantle.ml.networks.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
    out = {}
    for it in items:
        name, _, text = it.partition("=")
        cfg = {**json.loads(text), "dtype": "float32"}
        model = BuoyancyUNet(BuoyancyUNetConfig(**cfg))
        path = Path(folder) / f"{name}.pt"
        save_model(path, model.state_dict(), model={"class": "BuoyancyUNet", "config": cfg},
                   grid={"nx": grid.nx, "ny": grid.ny, "aspect": grid.aspect},
                   normalisation={"q": [0, 10], "log_gamma": [5, 6], "log_beta": [0.5, 1.5]},
                   scaling={"kind": "buoyancy"})
        out[f"{name} (random weights)"] = str(path)
    return out


def interleaved(calls: dict, repeat: int) -> dict:
    """Median seconds per call of each callable, called in turn `repeat` times, in an order
    shuffled every round (seeded): the call right after MUMPS's finds the caches cold
    (measured: the same network 3.06 ms there against 2.50 ms elsewhere), and a fixed or
    rotated order would always put the same one there."""
    for f in calls.values():
        f()                                                    # warm-up
    times = {k: [] for k in calls}
    rng = np.random.default_rng(0)
    names = list(calls)
    for _ in range(repeat):
        for k in rng.permutation(names):
            t0 = time.perf_counter()
            calls[k]()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def breakdown(prov, T, eta, repeat) -> dict:
    from pymantle.ml.networks.buoyancy import buoyancy_inputs
    x_np, _ = buoyancy_inputs(T, eta, prov.y, 1.0)
    x = torch.from_numpy(x_np)[None].float().contiguous(memory_format=torch.channels_last)
    u, v = prov._views[0]

    def forward():
        with torch.inference_mode():
            prov.faces(x)
    return interleaved({"inputs": lambda: buoyancy_inputs(T, eta, prov.y, 1.0),
                        "forward": forward,
                        "projection": lambda: prov._project(u, v)}, repeat)


rows, results = [], {}
for preset, models_arg in (("laptop", args.laptop), ("paper", args.paper)):
    grid = config.load(None, [f"grid.preset='{preset}'"]).grid()
    models = labelled(models_arg, grid)
    if preset == "laptop" and args.architecture:
        import tempfile
        models.update(random_weight_models(args.architecture, grid, tempfile.mkdtemp()))
    if not models:
        print(f"{preset}: no model file (none shipped, none given): skipped")
        continue
    repeat = args.repeat if preset == "laptop" else max(args.repeat // 3, 3)
    T = developed_temperature(grid)
    y = grid.centres()[1]
    eta = viscosity(T, y, PHYSICS["gamma"], PHYSICS["beta"])
    eta_n = corner_viscosity(eta)
    direct = StokesProvider(grid, 1.0, "direct", comm=MPI.COMM_SELF)
    provs = {name: SurrogateProvider(grid, PHYSICS, path) for name, path in models.items()}
    if args.eager_too:
        os.environ["PYMANTLE_FROZEN_GRAPH"] = "0"
        for name, path in list(models.items()):
            provs[f"{name} (eager)"] = SurrogateProvider(grid, PHYSICS, path)
            models[f"{name} (eager)"] = path
        del os.environ["PYMANTLE_FROZEN_GRAPH"]
    calls = {"MUMPS": lambda: direct.velocities(0, T, eta, eta_n)}
    calls.update({name: (lambda p=p: p.velocities(0, T, eta, eta_n)) for name, p in provs.items()})
    med = interleaved(calls, repeat)
    for name, sec in med.items():
        row = {"grid": f"{preset} {grid.ny}x{grid.nx}", "step": name, "ms": sec * 1e3,
               "mumps_over_this": med["MUMPS"] / sec}
        if name != "MUMPS":
            row["model"] = models[name]
            row["parameters"] = sum(p.numel() for p in provs[name].model.parameters())
            if args.breakdown and provs[name].project_here:
                row.update({f"{k}_ms": v * 1e3
                            for k, v in breakdown(provs[name], T, eta, repeat).items()})
            key = name.replace(" (eager)", "-eager").replace(" (random weights)", "")
            results[f"{preset}_{key}_ratio"] = med["MUMPS"] / sec
            results[f"{preset}_{key}_ms"] = sec * 1e3
        rows.append(row)
    results[f"{preset}_mumps_ms"] = med["MUMPS"] * 1e3
    direct.close()

cols = [("grid", "grid", ""), ("step", "step", ""), ("ms", "ms", ".2f"),
        ("MUMPS / this", "mumps_over_this", ".1f"), ("parameters", "parameters", "")]
if args.breakdown:
    cols += [("inputs ms", "inputs_ms", ".3f"), ("forward ms", "forward_ms", ".2f"),
             ("projection ms", "projection_ms", ".3f")]
notes = (f"The network's whole step (inputs, forward pass on {args.threads} torch thread(s), "
         "scaled faces projected in float64 into the kernels' buffers) against the MUMPS step "
         "(refactorisation with the analysis kept, solve; 1 BLAS thread), timed in turn "
         "(the order shuffled each round), "
         f"median of {args.repeat} calls at 32x128 and {max(args.repeat // 3, 3)} at 126x504.")
result = "RESULT " + " ".join(f"{k}={v:.3g}" for k, v in results.items())
record("bench_network_step", "the network's step against the MUMPS step", notes, rows,
       result, out=args.out, table=md_table(rows, cols),
       settings={"repeat": args.repeat, "threads": args.threads, "laptop": args.laptop,
                 "paper": args.paper, "breakdown": args.breakdown,
                 "eager_too": args.eager_too, "architecture": args.architecture})
