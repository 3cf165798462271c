#!/usr/bin/env python
"""The GPU checks of issues 4 and 5 in one run (called by scripts/gpu_train_check.sh).

Needs torch with CUDA and the inputs that scripts/gpu_export.py writes to .gpu/ (a
training pack of the laptop campaign and one paper-grid Stokes system); neither PETSc nor
the Fortran kernels are needed. Sections, each timed and each allowed to fail alone:

  forward   full-size network forward pass, laptop and paper grids, float32/float64,
            channels_last off/on; training samples/s at both grids (batch 16)
  provider  the solver's SurrogateProvider on the GPU (pinned buffers, one upload and one
            download per step), eager and as a CUDA graph, at both grids
  bicgstab  torch BiCGStab (Jacobi, under-relaxation 0.99) on the paper-grid Stokes matrix
  train     the laptop recipe (float32, 40 x 1,024 samples) and the study's recipe (float64,
            every snapshot each epoch) on the pack, by the project's Trainer, within a budget
  precision the provider with &stokes autocast = none / bfloat16 / float16 (CUDA graph):
            time per call and the velocity difference against no autocast (shipped laptop
            model on a campaign field; random weights at the paper grid)
  impl      the provider's forward pass computed several ways (nine-bank vs stacked learned
            padding, TF32 on/off, channels_last, cudnn.benchmark): ms per call and per graph
            replay, kernels per forward, velocity error against float64; training samples/s
  step      the hybrid step at the paper grid on this machine's host and GPU, serial,
            overlapped and pipelined (the loop's order), with and without strip streams;
            the Fortran kernels through ctypes (--kernels) where f2py's do not import
  compile   torch.compile of the provider's network at the paper grid, inside the CUDA graph
  parallel  the ablation variants (pymantle.ml.evaluation.ablation) and the four U-net baselines, each
            trained by the Trainer in its own process at once on the one GPU (the laptop
            grid leaves it launch-bound, so processes overlap), a short common recipe
            (--epochs x 1,024 samples); then the ablation report and the U-nets' rollouts on
            the campaign's test runs (inputs .gpu/test_runs.npz)

Writes OUT/gpu_results.json and the trainings' CSV files and float32 model.
Usage: python scripts/gpu_check.py [--out DIR] [--train-budget 150]"""
import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import random_model_file  # noqa: E402
from pymantle.ml.training.losses import surrogate_loss  # noqa: E402
from pymantle.ml.networks.study import StokesSurrogate, SurrogateConfig  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--out", default="gpu_out")
ap.add_argument("--inputs", default=".gpu")
ap.add_argument("--train-budget", type=float, default=150.0, help="seconds per training")
ap.add_argument("--sections", default="forward,provider,step,bicgstab,train")
ap.add_argument("--smoke", action="store_true", help="tiny sizes, any device: checks the script")
ap.add_argument("--epochs", type=int, default=12, help="parallel section: epochs per model")
ap.add_argument("--variants", help="impl section: only these variants (names joined by _)")
ap.add_argument("--kernels", help="step section: a scripts/build_ctypes_kernels.sh build, "
                "used where the f2py kernels do not import")
ap.add_argument("--workers", default="ablate,unet",
                help="parallel section: which trainings (ablate, unet or both)")
ap.add_argument("--ablate-variants", help="parallel section: only these ablation variants "
                "(comma-separated names of pymantle.ml.evaluation.ablation.VARIANTS)")
ap.add_argument("--worker", help=argparse.SUPPRESS)     # ablate:NAME or unet:NAME (internal)
args = ap.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
PAR_DIR = Path(tempfile.gettempdir()) / "gpu-parallel"
PAR_RECIPE = dict(epochs=args.epochs, samples_per_epoch=1024,
                  milestones=tuple(round(args.epochs * f) for f in (0.5, 0.75, 0.9)))
if args.smoke:
    PAR_RECIPE.update(epochs=1, samples_per_epoch=32, milestones=(1,))
if args.worker:                     # one training of the parallel section, then exit
    kind, name = args.worker.split(":")
    pack = str(Path(args.inputs) / "pack.npz")
    if kind == "ablate":
        from pymantle.ml.evaluation.ablation import variant_trainer
        tr = variant_trainer(pack, name, PAR_DIR / "ablation", **PAR_RECIPE)
    else:
        from pymantle.ml.training.train import Trainer, TrainConfig
        tr = Trainer(TrainConfig.from_recipe(pack, "laptop", out=str(PAR_DIR / "unet" / name),
                                             network=name, **PAR_RECIPE))
        tr.resume()
    tr.fit(progress=False, budget_s=args.train_budget)
    print(f"{args.worker}: {tr.epoch} epochs, best cv loss {tr.best:.4g}", flush=True)
    sys.exit(0)
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
R = {"device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
     "torch": torch.__version__, "cuda": torch.version.cuda}
print(R, flush=True)
GRIDS = {"laptop": (32, 128), "paper": (126, 504)}
if args.smoke:
    GRIDS = {"laptop": (8, 32), "paper": (16, 64)}
sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
torch.set_flush_denormal(True)     # as the provider and trainer do (CPU runs)


def save():
    (out / "gpu_results.json").write_text(json.dumps(R, indent=1, default=float))


def timed(fn, repeat=10):
    fn()
    sync()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def section(name):
    def wrap(fn):
        if name not in args.sections.split(","):
            return fn
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            fn()
        except Exception:
            R[f"{name}_error"] = traceback.format_exc()
            print(R[f"{name}_error"], flush=True)
        R[f"{name}_seconds"] = time.perf_counter() - t0
        save()
        return fn
    return wrap


def train_rate(m, ny: int, nx: int, dtype, repeat: int, batch: int = 16) -> float:
    """Training samples per second of model m: Adam steps on random batches of the grid."""
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    xb = torch.randn(batch, 7, ny, nx, device=dev, dtype=dtype)
    ub = torch.randn(batch, 1, ny, nx + 1, device=dev, dtype=dtype)
    vb = torch.randn(batch, 1, ny + 1, nx, device=dev, dtype=dtype)

    def step():
        opt.zero_grad()
        up, vp = m(xb)
        loss, _ = surrogate_loss(up, vp, ub, vb, 4.0 / nx, 1.0 / ny)
        loss.backward()
        opt.step()
    return batch / timed(step, repeat)


@section("forward")
def forward():
    res = {}
    for gname, (ny, nx) in GRIDS.items():
        for dt in (torch.float32, torch.float64):
            for cl in (False, True):
                m = StokesSurrogate(SurrogateConfig(dtype=dt), aspect=4.0).to(dev, dt).eval()
                x = torch.randn(1, 7, ny, nx, dtype=dt, device=dev)
                if cl:
                    m, x = m.to(memory_format=torch.channels_last), \
                        x.contiguous(memory_format=torch.channels_last)
                with torch.inference_mode():
                    res[f"{gname}_{str(dt)[6:]}{'_cl' if cl else ''}_ms"] = \
                        timed(lambda: m(x)) * 1e3
            m = StokesSurrogate(SurrogateConfig(dtype=dt), aspect=4.0).to(dev, dt)
            res[f"{gname}_{str(dt)[6:]}_train_samples_per_s"] = train_rate(m, ny, nx, dt, 5)
            print({k: round(v, 2) for k, v in res.items() if k.startswith(gname)}, flush=True)
    R["forward"] = res


def model_file(tmp, gname, dtype):
    ny, nx = GRIDS[gname]
    return random_model_file(f"{tmp}/{gname}-{dtype}.pt", nx, ny, dtype)


def per_call_ms(p, T, eta_c, eta_n, n, warm):
    """Mean wall time of the provider's velocities() over n calls after `warm` calls."""
    for _ in range(warm):
        p.velocities(0, T, eta_c, eta_n)
    t0 = time.perf_counter()
    for _ in range(n):
        out = p.velocities(0, T, eta_c, eta_n)
    return (time.perf_counter() - t0) / n * 1e3, out


def _campaign_field(g):
    """A cv snapshot of the pack's campaign, resampled to grid g, and its physics."""
    from scipy.ndimage import map_coordinates
    from pymantle.ml.training.pack import PackDataset
    cv = PackDataset(Path(args.inputs) / "pack.npz", "cv")
    sim, _ = cv.items[len(cv) // 2]
    T0 = cv.T[len(cv) // 2].astype(float)
    zy = (np.arange(g.ny) + 0.5) / g.ny * T0.shape[0] - 0.5
    zx = (np.arange(g.nx) + 0.5) / g.nx * T0.shape[1] - 0.5
    T = map_coordinates(T0, np.meshgrid(zy, zx, indexing="ij"), order=1, mode="nearest")
    return T, cv.meta["physics"][str(sim)]


SHIPPED = Path(__file__).resolve().parent.parent / "pymantle" / "models" / "laptop.pt"


def _grid_case(gname, tmp):
    """One grid's test case: the grid, a campaign T and its physics, the viscosities, and
    the model file (the shipped one at the laptop grid, random float32 weights elsewhere
    or with --smoke)."""
    from pymantle.grid import Grid
    from pymantle.physics import corner_viscosity, viscosity
    ny, nx = GRIDS[gname]
    g = Grid(nx=nx, ny=ny, aspect=4.0)
    _, y = g.centres()
    T, ph = _campaign_field(g)
    eta_c = viscosity(T, y, ph["gamma"], ph["beta"])
    path = SHIPPED if (gname == "laptop" and not args.smoke) else \
        model_file(tmp, gname, "float32")
    return g, T, ph, eta_c, corner_viscosity(eta_c), path


def _replay_ms(p, n=200):
    """Median device time of one graph replay (no host copies), by CUDA events."""
    if p._graph is None:
        return None
    ts = []
    for _ in range(n):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        p._graph.replay()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return float(np.median(ts))


def _kernels_per_forward(p, T, eta_c, eta_n, tag):
    """Device events (kernels and copies) of one eager provider call, and the profile
    table in OUT (on a CPU: the operators instead)."""
    from torch.profiler import ProfilerActivity, profile
    cuda = dev.type == "cuda"
    p._graph = None
    p.velocities(0, T, eta_c, eta_n)
    sync()
    with profile(activities=[ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU]) as prof:
        p.velocities(0, T, eta_c, eta_n)
        sync()
    kind = torch.autograd.DeviceType.CUDA if cuda else torch.autograd.DeviceType.CPU
    with open(out / "profiles.txt", "a") as fh:
        fh.write(f"== {tag}\n" + prof.key_averages().table(
            sort_by="cuda_time_total" if cuda else "cpu_time_total", row_limit=25) + "\n")
    return sum(e.device_type == kind for e in prof.events())


@section("provider")
def provider():
    import os
    from pymantle.grid import Grid
    from pymantle.physics import corner_viscosity, viscosity
    from pymantle.providers import SurrogateProvider
    res = {}
    ph = {"q": 5.0, "gamma": 3e5, "beta": 10.0}
    with tempfile.TemporaryDirectory() as tmp:
        for gname, (ny, nx) in GRIDS.items():
            g = Grid(nx=nx, ny=ny, aspect=4.0)
            _, y = g.centres()
            T = np.clip(0.5 + 0.1 * np.random.default_rng(0).standard_normal(g.shape), 0, 1)
            eta_c = viscosity(T, y, ph["gamma"], ph["beta"])
            eta_n = corner_viscosity(eta_c)
            for dtype in ("float32", "float64"):
                path = model_file(tmp, gname, dtype)
                for graph in ("0", "1"):
                    os.environ["PYMANTLE_CUDA_GRAPH"] = graph
                    p = SurrogateProvider(g, ph, str(path))
                    ms, (u, v, _, _) = per_call_ms(p, T, eta_c, eta_n, 50, 3)
                    key = f"{gname}_{dtype}_{'graph' if p._graph is not None else 'eager'}_ms"
                    res[key] = ms
                    div = (np.diff(u, axis=1) / g.dx + np.diff(v, axis=0) / g.dy)
                    res[f"{gname}_{dtype}_max_div_rel"] = float(
                        np.abs(div).max() / max(np.abs(u).max() / g.dx, 1e-300))
                    print(key, round(ms, 3), flush=True)
    R["provider"] = res


@section("bicgstab")
def bicgstab():
    from pymantle.bicgstab_torch import bicgstab as solve, csr_tensor
    z = np.load(Path(args.inputs) / "stokes_paper.npz")
    res = {"unknowns": int(len(z["b"])), "nonzeros": int(len(z["values"])),
           "direct_cpu_seconds_export": float(z["direct_seconds"])}
    A = csr_tensor(z["indptr"], z["indices"], z["values"], device=dev)
    b, x0, m, xr = (torch.as_tensor(z[k], device=dev) for k in ("b", "x0", "m_inv", "x_ref"))
    res["x0_residual"] = float(torch.linalg.vector_norm(b - A @ x0) / torch.linalg.vector_norm(b))
    solve(A, b, x0, m, rtol=0.0, max_it=50)                          # warm-up
    for its in ((10, 20) if args.smoke else (100, 1000, 10000)):
        x, n, r, t = solve(A, b, x0, m, rtol=1e-9, max_it=its)
        err = float(torch.linalg.vector_norm(x - xr) / torch.linalg.vector_norm(xr))
        res[f"max_it_{its}"] = {"iterations": n, "residual": r, "seconds": t,
                                "error_vs_direct": err, "ms_per_iteration": t / max(n, 1) * 1e3}
        print(its, res[f"max_it_{its}"], flush=True)
        if r <= 1e-9:
            break
    R["bicgstab"] = res


def cv_loss(model, ds, dtype):
    """Loss (arXiv:2505.16041 Eqs. 6-10; docs/theory.md section 6) over the whole cv split of the pack."""
    model.eval()
    tot = 0.0
    with torch.no_grad():
        for s in range(0, len(ds), 16):
            xs, us, vs = zip(*(ds[i] for i in range(s, min(s + 16, len(ds)))))
            to = lambda t: torch.stack(t).to(dev, dtype)  # noqa: E731
            x, u, v = to(xs), to(us).unsqueeze(1), to(vs).unsqueeze(1)
            up, vp = model(x)
            loss, _ = surrogate_loss(up, vp, u, v, ds.aspect / x.shape[-1], 1.0 / x.shape[-2])
            tot += float(loss) * len(xs)
    model.train()
    return tot / len(ds)


@section("train")
def train():
    from pymantle.ml.training.pack import PackDataset
    from pymantle.ml.training.train import Trainer, TrainConfig
    pack = str(Path(args.inputs) / "pack.npz")
    cv = PackDataset(pack, "cv")
    res = {}
    for recipe in ("laptop", "paper"):
        # checkpoints (with the optimizer state) stay on the machine; CSVs and the float32
        # model come back
        cfg = TrainConfig.from_recipe(pack, recipe, out=f"{tempfile.gettempdir()}/gpu-train-{recipe}",
                                      **({"samples_per_epoch": 32, "val_samples": 16}
                                         if args.smoke else {}))
        tr = Trainer(cfg)
        planned = cfg.epochs
        t0 = time.perf_counter()
        while tr.epoch < planned and time.perf_counter() - t0 < args.train_budget:
            tr.cfg.epochs = tr.epoch + 1
            tr.fit(progress=False)
        wall = time.perf_counter() - t0
        samples = sum(h["samples"] for h in tr.history)
        res[recipe] = {"epochs_done": tr.epoch, "epochs_planned": planned, "seconds": wall,
                       "samples_per_s": samples / wall, "dtype": cfg.dtype,
                       "best_val_loss": tr.best, "final_cv_loss_full": cv_loss(tr.model, cv,
                                                                             tr.dtype),
                       "history": tr.history}
        print(recipe, {k: v for k, v in res[recipe].items() if k != "history"}, flush=True)
        import shutil
        shutil.copy(Path(cfg.out) / "training.csv", out / f"gpu-{recipe}-training.csv")
        if cfg.dtype == "float32":
            shutil.copy(Path(cfg.out) / "model.pt", out / f"gpu-{recipe}-model.pt")
        R["train"] = res
        save()


@section("precision")
def precision():
    import os
    from pymantle.providers import SurrogateProvider
    os.environ["PYMANTLE_CUDA_GRAPH"] = "1"
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for gname in GRIDS:
            g, T, ph, eta_c, eta_n, path = _grid_case(gname, tmp)
            ref = None
            for ac in ("none", "bfloat16", "float16"):
                p = SurrogateProvider(g, ph, str(path), ac)
                ms, (u, v, _, _) = per_call_ms(p, T, eta_c, eta_n, 100, 3)
                key = f"{gname}_{ac}"
                res[f"{key}_ms"] = ms
                res[f"{key}_graph"] = p._graph is not None
                if ref is None:
                    ref = (u.copy(), v.copy())
                err = np.sqrt((np.sum((u - ref[0]) ** 2) + np.sum((v - ref[1]) ** 2))
                              / (np.sum(ref[0] ** 2) + np.sum(ref[1] ** 2)))
                div = (np.diff(u, axis=1) / g.dx + np.diff(v, axis=0) / g.dy)
                res[f"{key}_rel_l2_vs_none"] = float(err)
                res[f"{key}_max_div_rel"] = float(np.abs(div).max()
                                                  / max(np.abs(u).max() / g.dx, 1e-300))
                print(key, {k: v for k, v in res.items() if k.startswith(key)}, flush=True)
            res[f"{gname}_model"] = "shipped laptop.pt" if path == SHIPPED else "random weights"
    R["precision"] = res


#: (conv impl, TF32 convolutions, channels_last, cudnn.benchmark)
IMPL_VARIANTS = [("banks", True, True, False), ("banks", False, False, False),
                 ("stacked", True, False, False), ("stacked", False, False, False),
                 ("patched", False, False, False), ("auto", False, False, False),
                 ("auto", True, False, False), ("auto", False, False, False, "streams"),
                 ("stacked", False, False, False, "streams"),
                 ("auto-nocache", False, False, False, "streams"),   # stacks rebuilt per call
                 ("auto", False, False, False, "streams", "strips")]
if args.variants:
    IMPL_VARIANTS = [v for v in IMPL_VARIANTS if "_".join(map(str, v)) in args.variants.split(",")]


@section("impl")
def impl():
    """The provider's forward pass computed different ways (same weights): nine-bank vs
    stacked learned padding, TF32 on/off, channels_last, cudnn.benchmark. Per variant: host
    to host ms per call (CUDA graph), device ms per replay, and the velocity error against
    the same network in float64 (shipped laptop model; random weights at the paper grid)."""
    import copy
    import os
    from pymantle.ml.training.data import input_channels
    from pymantle.ml.networks.layers import BoundaryConv2d, set_conv_impl, set_strip_streams
    from pymantle.providers import SurrogateProvider
    os.environ["PYMANTLE_CUDA_GRAPH"] = "0"
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for gname in GRIDS:
            g, T, ph, eta_c, eta_n, path = _grid_case(gname, tmp)
            p = SurrogateProvider(g, ph, str(path))
            x = torch.from_numpy(input_channels(T, eta_c, p.x, p.y, p.params))[None]
            if dev.type == "cuda":
                p.velocities(0, T, eta_c, eta_n)             # fills the device inputs
                x = p._in_dev
            m64 = copy.deepcopy(p.model).to(torch.float64, memory_format=torch.contiguous_format)
            set_conv_impl(m64, "banks")
            with torch.no_grad():
                u, v = m64(x.double())
            ref = torch.cat([u.reshape(-1), v.reshape(-1)]).mul_(p.scale).cpu().numpy()
            for tag in ("banks", "auto"):
                set_conv_impl(p.model, tag)
                p.channels_last = False
                p.model.to(memory_format=torch.contiguous_format)
                res[f"{gname}_{tag}_events"] = _kernels_per_forward(p, T, eta_c, eta_n,
                                                                    f"{gname}_{tag}")
            previous = None
            for conv, tf32, cl, bench, *streams in IMPL_VARIANTS:
                key = (f"{gname}_{conv}_{'tf32' if tf32 else 'fp32'}"
                       f"{'_cl' if cl else ''}{'_bench' if bench else ''}"
                       + "".join(f"_{m}" for m in streams))
                p.model.level_streams = "streams" in streams
                set_strip_streams(p.model, "strips" in streams)
                torch.backends.cudnn.allow_tf32 = tf32
                torch.backends.cudnn.benchmark = bench
                BoundaryConv2d.cache_stacks = not conv.endswith("-nocache")
                set_conv_impl(p.model, conv.removesuffix("-nocache"))
                p.channels_last = cl
                p.model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
                p._graph = None
                p._capture()
                n_calls = 5 if args.smoke else 200
                ms, (u, v, _, _) = per_call_ms(p, T, eta_c, eta_n, n_calls, 5)
                ms2, _ = per_call_ms(p, T, eta_c, eta_n, n_calls, 0)
                got = np.concatenate([u.ravel(), v.ravel()])
                res[key] = {"ms": ms, "ms_again": ms2, "replay_ms": _replay_ms(p),
                            "rel_l2_vs_float64": float(np.linalg.norm(got - ref)
                                                       / np.linalg.norm(ref)),
                            "max_abs_diff_vs_previous_variant": None if previous is None
                            else float(np.abs(got - previous).max())}
                previous = got
                print(key, res[key], flush=True)
                save()
            torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = True, False
            BoundaryConv2d.cache_stacks = True
            res[f"{gname}_model"] = "shipped laptop.pt" if path == SHIPPED else "random weights"
            R["impl"] = res
    # training throughput of the two implementations (batch 16, float32, laptop grid)
    ny, nx = GRIDS["laptop"]
    torch.backends.cudnn.allow_tf32 = True             # training keeps torch's default
    for tag in ("banks", "stacked", "auto"):
        torch.manual_seed(0)
        m = StokesSurrogate(SurrogateConfig(dtype=torch.float32), aspect=4.0).to(dev)
        set_conv_impl(m, tag)
        res[f"train_laptop_{tag}_samples_per_s"] = train_rate(m, ny, nx, torch.float32, 10)
    print({k: x for k, x in res.items() if k.startswith("train")}, flush=True)
    R["impl"] = res


def _loop_steps(model_path, T0, ph, g, out, n=300):
    """n steps of the time loop itself (Simulation.step: prefetch, viscosity, velocities,
    energy step, the next prefetch, checks and diagnostics, in the loop's own order) with
    the surrogate provider from T0, after 5 untimed ones (the warm-up's MUMPS solves among
    them). Returns the mean ms per step, the provider's share (prefetch: the network's
    launch, on a CPU the whole forward pass; velocities: the wait for its result), and the
    final T."""
    from pymantle import config
    from pymantle.simulation import Simulation
    cfg = config.load(None, [
        f"grid.nx={g.nx}", f"grid.ny={g.ny}", f"grid.aspect={g.aspect}",
        f"physics.q={ph['q']}", f"physics.gamma={ph['gamma']}", f"physics.beta={ph['beta']}",
        "stokes.solver='surrogate'", f"stokes.model='{model_path}'", "time.end_time=1e5",
        "output.snapshot_every=100000", "output.checkpoint_every=100000",
        f"output.directory='{out}'", "output.progress=.false."])
    sim = Simulation(cfg)
    s = sim.start()
    s.T[...] = T0
    spent = {"prefetch": 0.0, "velocities": 0.0}     # the provider's share of the step

    def timed(name, call):
        def wrapper(*a):
            t0 = time.perf_counter()
            r = call(*a)
            spent[name] += time.perf_counter() - t0
            return r
        return wrapper
    sim.provider.prefetch = timed("prefetch", sim.provider.prefetch)
    sim.provider.velocities = timed("velocities", sim.provider.velocities)
    for _ in range(5):
        sim.step(s)
    spent.update(prefetch=0.0, velocities=0.0)
    t0 = time.perf_counter()
    for _ in range(n):
        if sim.step(s) is not None:
            raise RuntimeError(f"the run stopped at step {s.n}")
    wall = time.perf_counter() - t0
    sim.files.abort()
    sim.provider.close()
    # prefetch: launching the network (on a CPU: all of it); velocities: the wait for it
    return ({"step_ms": wall / n * 1e3, "prefetch_ms": spent["prefetch"] / n * 1e3,
             "velocities_ms": spent["velocities"] / n * 1e3, "steps": n,
             "T_range": [float(s.T.min()), float(s.T.max())]}, s.T.copy())


@section("step")
def step():
    """The hybrid time step at the paper grid on this machine's host and GPU: the
    surrogate provider alone (float32, CUDA graph; per call, and the graph's launch and
    replay), then the time loop's own Simulation.step with it ("pipelined": the loop
    prefetches step n+1 before step n's checks and diagnostics), with and without the strip
    streams. The Fortran kernels come from the f2py module if it imports, else from
    --kernels (scripts/build_ctypes_kernels.sh: the same Fortran as a plain library, for a
    machine without gfortran); without either the loop is not timed."""
    import os
    from pymantle.grid import Grid
    os.environ["PYMANTLE_CUDA_GRAPH"] = "1"
    res = {}
    ny, nx = GRIDS["paper"]
    g = Grid(nx=nx, ny=ny, aspect=4.0)
    T0, ph = _campaign_field(g)
    try:
        try:
            from pymantle import _kernels  # noqa: F401
            res["kernels"] = "Fortran (f2py)"
        except ImportError:
            if not (args.kernels and Path(args.kernels, "libpymantle_kernels.so").is_file()):
                raise
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import kernels_ctypes
            kernels_ctypes.install(args.kernels)
            res["kernels"] = f"Fortran (ctypes, {args.kernels})"
    except ImportError as exc:
        res["kernels"] = f"none ({exc}): the loop is not timed"
    print("kernels:", res["kernels"], flush=True)
    from pymantle.physics import ViscosityField
    from pymantle.providers import SurrogateProvider
    viscosity = ViscosityField(g.centres()[1], ph["gamma"], ph["beta"])
    finals = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(model_file(tmp, "paper", "float32"))
        for strips in ("0", "1"):
            os.environ["PYMANTLE_STRIP_STREAMS"] = strips
            p = SurrogateProvider(g, ph, path)
            sfx = "_strips" if strips == "1" else ""
            res["graph" + sfx] = p._graph is not None
            res["conv_impl"] = p.conv_impl
            eta_c, eta_n = viscosity(T0)
            res["provider_ms" + sfx], _ = per_call_ms(p, T0, eta_c, eta_n, 200, 5)
            if p._graph is not None:             # the host's cost of launching the graph
                ts = []
                for _ in range(50):
                    t0 = time.perf_counter()
                    p._graph.replay()
                    ts.append(time.perf_counter() - t0)
                    torch.cuda.synchronize()
                res["graph_launch_ms" + sfx] = float(np.median(ts)) * 1e3
                res["graph_replay_ms" + sfx] = _replay_ms(p)
            p.close()
            if res["kernels"].startswith("Fortran"):
                tag = "pipelined" + sfx
                res[tag], finals[tag] = _loop_steps(path, T0, ph, g, f"{tmp}/run{strips}")
                print(tag, res[tag], flush=True)
                save()
    # The strip streams may not change the trajectory.
    if len(finals) == 2:
        res["strips_equal_plain"] = bool(np.array_equal(finals["pipelined"],
                                                        finals["pipelined_strips"]))
    R["step"] = res


@section("compile")
def compile_():
    """torch.compile (Inductor, default mode) of the provider's network at the paper grid
    (float32, auto, with and without the level streams), then captured in the provider's
    CUDA graph: what kernel fusion adds on top."""
    import os
    from pymantle.grid import Grid
    from pymantle.physics import corner_viscosity, viscosity
    from pymantle.providers import SurrogateProvider
    os.environ["PYMANTLE_CUDA_GRAPH"] = "0"
    res = {}
    ny, nx = GRIDS["paper"]
    g = Grid(nx=nx, ny=ny, aspect=4.0)
    _, y = g.centres()
    T, ph = _campaign_field(g)
    eta_c = viscosity(T, y, ph["gamma"], ph["beta"])
    eta_n = corner_viscosity(eta_c)
    with tempfile.TemporaryDirectory() as tmp:
        for streams in (True, False):
            p = SurrogateProvider(g, ph, str(model_file(tmp, "paper", "float32")))
            p.model.level_streams = streams
            p._capture()
            ms0, (u0, v0, _, _) = per_call_ms(p, T, eta_c, eta_n, 200, 5)
            ref = np.concatenate([u0.ravel(), v0.ravel()])
            t0 = time.perf_counter()
            p.model = torch.compile(p.model)
            p._graph = None
            p._capture()
            key = f"paper_{p.conv_impl}{'_streams' if streams else ''}_compiled"
            res[f"{key}_compile_s"] = time.perf_counter() - t0
            ms, (u, v, _, _) = per_call_ms(p, T, eta_c, eta_n, 200, 5)
            got = np.concatenate([u.ravel(), v.ravel()])
            res[key] = {"ms": ms, "ms_uncompiled": ms0, "graph": p._graph is not None,
                        "replay_ms": _replay_ms(p) if p._graph is not None else None,
                        "rel_l2_vs_uncompiled": float(np.linalg.norm(got - ref)
                                                      / np.linalg.norm(ref))}
            print(key, res[key], flush=True)
            R["compile"] = res
            save()
            torch._dynamo.reset()


def _workers():
    from pymantle.ml.evaluation.ablation import VARIANTS
    chosen = args.ablate_variants.split(",") if args.ablate_variants else list(VARIANTS)
    names = [f"ablate:{v}" for v in VARIANTS if v in chosen] + \
        [f"unet:unet{k}" for k in (1, 2, 3, 4)]
    names = [n for n in names if n.split(":")[0] in args.workers.split(",")]
    return names[:1] + names[-1:] if args.smoke else names


def _history(worker):
    kind, name = worker.split(":")
    f = PAR_DIR / ("ablation" if kind == "ablate" else "unet") / name / "training.csv"
    if not f.is_file():
        return []
    import csv
    return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(f))]


@section("parallel")
def parallel():
    import os
    import shutil
    import subprocess
    shutil.rmtree(PAR_DIR, ignore_errors=True)
    PAR_DIR.mkdir(parents=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    procs = {}
    t0 = time.perf_counter()
    for w in _workers():
        log = open(PAR_DIR / f"{w.replace(':', '-')}.log", "w")
        cmd = [sys.executable, __file__, "--worker", w, "--inputs", args.inputs,
               "--train-budget", str(args.train_budget), "--epochs", str(args.epochs),
               "--out", str(PAR_DIR)] + (["--smoke"] if args.smoke else [])
        procs[w] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log)
    deadline = t0 + args.train_budget + 240          # budget + start-up + the last epoch
    for w, (p, log) in procs.items():
        try:
            p.wait(timeout=max(deadline - time.perf_counter(), 1))
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()
    R["parallel_seconds_training"] = time.perf_counter() - t0
    tails = {w: (PAR_DIR / f"{w.replace(':', '-')}.log").read_text()[-600:] for w in procs}
    R["parallel_logs"] = tails
    print(json.dumps(tails, indent=1)[:4000], flush=True)
    done = {w: json.loads(json.dumps(_history(w))) for w in procs}
    R["parallel_training"] = {w: {"epochs": len(h), "seconds": sum(r["seconds"] for r in h),
                                  "samples": sum(r["samples"] for r in h),
                                  "best_val_loss": min((r["val_loss"] for r in h), default=None),
                                  "history": h} for w, h in done.items()}
    save()
    # the ablation report (trains nothing more: budget 0)
    from pymantle.ml.evaluation.ablation import ablate
    names = [w.split(":")[1] for w in procs if w.startswith("ablate:") and done[w]]
    if names:
        rows = ablate(str(Path(args.inputs) / "pack.npz"), PAR_DIR / "ablation", variants=names,
                      progress=False, budget_s=0, **PAR_RECIPE)
        R["ablation"] = rows
        for f in ("ablation.md", "ablation.png"):
            shutil.copy(PAR_DIR / "ablation" / f, out / f)
        save()
    # the U-nets' rollouts on the test runs
    from pymantle.ml.checkpoint import load_model_file
    from pymantle.ml.evaluation.unet_rollout import UNetStepper, plot_errors, rollout, summary_row
    z = np.load(Path(args.inputs) / "test_runs.npz")
    meta = json.loads(str(z["meta"]))
    rows, curves = [], {}
    for w in procs:
        mpath = PAR_DIR / "unet" / w.split(":")[1] / "model.pt"
        if not w.startswith("unet:") or not mpath.is_file():
            continue
        payload = load_model_file(mpath, expect_class="UNet")
        if mpath.stat().st_size < 15 * 2**20:
            shutil.copy(mpath, out / f"{w.split(':')[1]}.pt")
        for sim, m in meta.items():
            T_ref = z[f"T_{sim}"]
            st = UNetStepper(payload, m["physics"], m["aspect"], T_ref.shape[2], T_ref.shape[1])
            r = rollout(st, T_ref, z[f"u_{sim}"], z[f"v_{sim}"])
            rows.append(summary_row(st.variant, int(sim), r))
            curves[(st.variant, int(sim))] = r["T_rms_error"]
            print(rows[-1], flush=True)
    R["unet_rollouts"] = rows
    if curves:
        plot_errors(curves, out / "unet_errors.png")


save()
print(json.dumps({k: v for k, v in R.items() if not k.endswith("error")}, default=float)[:3000])
