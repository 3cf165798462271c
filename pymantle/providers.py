"""Velocity providers: whatever turns a temperature field into face velocities.

    direct | lagged | iterative | multigrid   PETSc Stokes solvers (stokes.py)
    skip-N                                    any of those every N steps (momentum skipping)
    surrogate                                 the CNN (pymantle.ml, once a model exists)
    surrogate-galerkin                        the CNN's flow, Galerkin-corrected
    galerkin                                  the same correction with no network (baseline)

Every provider returns (u, v, p, iterations) on the MAC faces; iterations = -1 marks
velocities reused without a solve.
"""
from __future__ import annotations

import os

from .config import Config, ConfigError
from .grid import Grid
from .physics import face_buoyancy


class VelocityProvider:
    name = "base"

    def prefetch(self, step: int, T):
        """Start computing the velocities of T for `step` without waiting for them; the
        time loop calls this before it builds the viscosity, so a GPU provider's forward
        pass overlaps that host work. `velocities` at the same step then collects them."""

    def velocities(self, step: int, T, eta_c, eta_n):
        raise NotImplementedError

    #: The guard's residual of this step's velocities (GuardedProvider; NaN: not checked).
    last_residual = float("nan")
    #: Whether this step's velocities came from a Stokes solve (the history's direct_solve:
    #: how many solves a hybrid or skipping run made).
    solved = False

    def restore(self, u, v, p):
        """Hand the provider the velocities of a checkpoint (previous solution)."""

    def force_refresh(self):
        """Drop cached factorisations (called at checkpoint steps for reproducibility)."""

    def close(self):
        pass


class StokesProvider(VelocityProvider):
    def __init__(self, grid: Grid, ra: float, method: str, comm=None, **solver_kw):
        self.name = method
        self.ra = ra
        from .stokes import StokesSolver   # PETSc and the kernels: not needed by the CNN
        self.solver = StokesSolver(grid, method=method, comm=comm, **solver_kw)
        self._guess = None

    solved = True

    def velocities(self, step, T, eta_c, eta_n):
        res = self.solver.solve(eta_c, eta_n, face_buoyancy(T, self.ra),
                                initial_guess=self._guess)
        self._guess = None
        return res.u, res.v, res.p, res.iterations

    def restore(self, u, v, p):
        self._guess = (u, v, p)

    def force_refresh(self):
        self.solver.force_refresh()

    def close(self):
        self.solver.destroy()


class SkipProvider(VelocityProvider):
    """Solve every N steps and reuse the velocities in between (the study's baseline)."""

    def __init__(self, inner: VelocityProvider, every: int):
        self.inner, self.every = inner, every
        self.name = f"{inner.name}-skip{every}"
        self._last = None

    def velocities(self, step, T, eta_c, eta_n):
        self.solved = self._last is None or step % self.every == 0
        if self.solved:
            u, v, p, its = self.inner.velocities(step, T, eta_c, eta_n)
            self._last = (u, v, p)
            return u, v, p, its
        return (*self._last, -1)

    def restore(self, u, v, p):
        self._last = (u, v, p)
        self.inner.restore(u, v, p)

    def force_refresh(self):
        self.inner.force_refresh()

    def close(self):
        self.inner.close()


class SurrogateProvider(VelocityProvider):
    """The CNN in place of the Stokes solve (model.md sections 5 and 7).

    The network's scaled face velocities are multiplied by the Eq. 4 scale s and written
    into two NumPy arrays allocated once; torch views the same memory, so the Fortran
    energy kernel reads the network's output without a copy per step (on a GPU: one
    transfer per step into those buffers). No pressure is predicted (p = 0)."""

    name = "surrogate"

    def __init__(self, grid: Grid, physics: dict, model_path: str, autocast: str = "none"):
        import numpy as np
        import torch
        from .ml.checkpoint import ModelFileError, load_model_file
        from .ml.data import InputNormalisation
        from .ml.layers import set_conv_impl, set_strip_streams
        from .ml.models import StokesSurrogate, SurrogateConfig
        from .ml.scaling import VelocityScaling
        try:
            payload = load_model_file(model_path, expect_grid={"nx": grid.nx, "ny": grid.ny,
                                                               "aspect": grid.aspect},
                                      expect_class="StokesSurrogate")
        except ModelFileError as exc:
            raise ConfigError(f"&stokes model: {exc}") from None
        mc = dict(payload["model"]["config"])
        self.dtype = getattr(torch, str(mc.get("dtype", "float64")))
        mc["dtype"] = self.dtype
        # The buoyancy-scaled U-net takes (T'/a, log eta/eta_f, y) and its own scale every
        # step (ml/buoyancy.py); the study's network takes 7 channels and the Eq. 4 scale.
        self.buoyancy = payload["model"].get("class") == "BuoyancyUNet"
        if self.buoyancy:
            from .ml.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
            self.model = BuoyancyUNet(BuoyancyUNetConfig(**mc), aspect=grid.aspect)
        else:
            self.model = StokesSurrogate(SurrogateConfig(**mc), aspect=grid.aspect)
        self.model.to(self.dtype)
        self.model.load_state_dict(payload["state_dict"])
        self.model.eval()
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        cuda = self.device.type == "cuda"
        # Subnormal float32 activations slow x86 convolutions by ~10x (measured); flush them.
        torch.set_flush_denormal(True)
        # The same network, computed the way each device runs it fastest (docs/gpu.md):
        # nine small convolutions per layer on the CPU, few large ones on a GPU.
        self.conv_impl = os.environ.get("PYMANTLE_CONV_IMPL", "auto" if cuda else "banks")
        try:
            set_conv_impl(self.model, self.conv_impl)
        except ValueError as exc:
            raise ConfigError(f"environment PYMANTLE_CONV_IMPL: {exc}") from None
        self.model.level_streams = cuda and os.environ.get("PYMANTLE_LEVEL_STREAMS") != "0"
        set_strip_streams(self.model, cuda and os.environ.get("PYMANTLE_STRIP_STREAMS") != "0")
        if cuda:
            # No TF32 convolutions (torch's default on NVIDIA GPUs; the switch is
            # process-wide): their 10-bit mantissa puts 1-8 % errors into the velocities,
            # which are differences of neighbouring stream-function values (measured on
            # the shipped model, docs/gpu.md).
            torch.backends.cudnn.allow_tf32 = False
        # channels_last: faster for float32 on the CPU (bench_model)
        self.channels_last = self.dtype == torch.float32 and not cuda
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        n = payload["normalisation"]
        norm = InputNormalisation(tuple(n["q"]), tuple(n["log_gamma"]), tuple(n["log_beta"]))
        scaling = None if self.buoyancy else VelocityScaling.from_dict(payload["scaling"])
        self.physics = physics
        self.params = norm.params(physics["q"], physics["gamma"], physics["beta"])
        self.scale = (None if self.buoyancy else
                      float(scaling.scale(physics["q"], physics["gamma"], physics["beta"])[0]))
        self.grid = grid
        self.x, self.y = grid.centres()
        self.p = np.zeros(grid.shape)
        nu, nv = int(np.prod(grid.u_shape)), int(np.prod(grid.v_shape))
        # The buffers the kernels read: u and v are views of one float64 block; on a GPU it
        # is pinned host memory, filled by one device-to-host copy per step. Two blocks are
        # used in turn, so that the next step's velocities (prefetched while the loop still
        # takes this step's diagnostics) never land in the u, v being read. The CPU runs
        # the same protocol, computing at once, so the tests exercise it.
        self._blocks = [torch.zeros(nu + nv, dtype=torch.float64, pin_memory=cuda)
                        for _ in range(2)]
        self._views = [(b.numpy()[:nu].reshape(grid.u_shape), b.numpy()[nu:].reshape(grid.v_shape))
                       for b in self._blocks]
        self._tviews = [(b[:nu].view(grid.u_shape), b[nu:].view(grid.v_shape))
                        for b in self._blocks]
        self._slot = 0                                  # the block of the latest velocities
        self.u, self.v = self._views[0]
        self._graph = None
        # Mixed precision (GPU only; on the CPU the model's dtype is used as is)
        self.autocast = getattr(torch, autocast) if cuda and autocast != "none" else None
        self._pending = None                            # step of a prefetch in flight
        # The pipelined GPU path (device-side inputs, CUDA graph) serves the study's
        # network; the buoyancy U-net's inputs need whole-field means, built on the host.
        self.gpu_pipeline = cuda and not self.buoyancy
        if self.gpu_pipeline:
            self._done = torch.cuda.Event()
            self._setup_device_inputs()
            if os.environ.get("PYMANTLE_CUDA_GRAPH", "1") != "0":
                self._capture()

    def _setup_device_inputs(self):
        """On a GPU only T travels each step: the five constant channels live on the device
        and the viscosity channel is computed there (Eq. 2 in log space, then the clips of
        the physics and of `input_channels`), which takes ~3 ms of NumPy off the CPU per
        step at 126x504."""
        import numpy as np
        import torch
        from .ml.data import ETA_CLIP, input_channels
        g, ph = self.grid, self.physics
        const = input_channels(np.zeros(g.shape), np.ones(g.shape), self.x, self.y, self.params)
        self._in_dev = torch.as_tensor(const[None], dtype=self.dtype, device=self.device)
        self._T_host = torch.zeros(g.shape, dtype=self.dtype,
                                   pin_memory=self.device.type == "cuda")
        self._T_dev = self._T_host.to(self.device)
        ln10 = float(np.log(10.0))
        self._lg = -float(np.log(ph["gamma"])) / ln10
        self._lb = torch.as_tensor(float(np.log(ph["beta"])) / ln10 * (1.0 - self.y),
                                   dtype=self.dtype, device=self.device)
        lo, hi = ph.get("eta_min", 0.0), ph.get("eta_max", 0.0)
        self._eta_lims = (np.log10(lo) if lo > 0 else None, np.log10(hi) if hi > 0 else None)
        self._clip_lims = tuple(float(np.log10(c)) for c in ETA_CLIP)

    def _device_inputs(self):
        leta = self._T_dev * self._lg + self._lb                 # log10 eta
        if self._eta_lims != (None, None):
            leta = leta.clamp(*self._eta_lims)
        self._in_dev[0, 2] = leta.clamp(*self._clip_lims) / 8.0
        self._in_dev[0, 6] = self._T_dev

    def _device_forward(self):
        """Network on the device input buffer -> one float64 vector [u*s, v*s] on the device."""
        import torch
        self._device_inputs()
        x = self._in_dev
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.autocast is None:
            u, v = self.model(x)
        else:
            # cache off: autocast's weight-cast cache does not survive CUDA graph capture
            with torch.autocast("cuda", dtype=self.autocast, cache_enabled=False):
                h = self.model.features(x)
            u, v = self.model.velocities_from_features(h.to(self.dtype), *x.shape[-2:])
        return torch.cat([u.reshape(-1), v.reshape(-1)]).mul_(self.scale).to(torch.float64)

    def _capture(self):
        """Record the forward pass as one CUDA graph: the network launches hundreds of small
        kernels (nine filter banks per layer), and a graph replays them without the
        per-launch cost of eager mode. Falls back to eager mode if capture fails."""
        import torch
        try:
            with torch.no_grad():
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):
                    for _ in range(3):                  # warm-up: cuDNN picks its kernels
                        self._device_forward()
                torch.cuda.current_stream().wait_stream(side)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    self._out_dev = self._device_forward()
            self._graph = graph
        except RuntimeError as exc:                     # pragma: no cover (GPU only)
            import warnings
            warnings.warn(f"CUDA graph capture failed ({exc}); running the network eagerly")
            self._graph = None

    def _launch(self, T):
        """Queue upload, forward pass and download on the GPU; returns at once. The
        download goes to the block not handed out last (see __init__)."""
        import torch
        self._T_host.numpy()[...] = T                   # pinned staging, then one upload
        self._T_dev.copy_(self._T_host, non_blocking=True)
        with torch.no_grad():
            if self._graph is not None:
                self._graph.replay()
                out = self._out_dev
            else:
                out = self._device_forward()
        self._slot = 1 - self._slot
        self._blocks[self._slot].copy_(out, non_blocking=True)   # one download
        self._done.record()

    def _forward_cpu(self, T, eta_c):
        """The network on the host, into the block not handed out last."""
        import torch
        from .ml.data import input_channels
        if self.buoyancy:
            from .ml.buoyancy import buoyancy_inputs
            inputs, scale = buoyancy_inputs(T, eta_c, self.y, self.physics["ra"])
        else:
            inputs, scale = input_channels(T, eta_c, self.x, self.y, self.params), self.scale
        x = torch.from_numpy(inputs)[None].to(self.device, self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self._slot = 1 - self._slot
        u_t, v_t = self._tviews[self._slot]
        with torch.inference_mode():
            u, v = self.model(x)
            u_t.copy_(u[0, 0].mul_(scale))
            v_t.copy_(v[0, 0].mul_(scale))

    def prefetch(self, step, T):
        # Idempotent per step: the loop asks at the end of a step for the next one and
        # again at the top of that step, with the same T.
        if self._pending == step:
            return
        if self.gpu_pipeline:
            self._launch(T)
        else:                        # at once, with the loop's viscosity law (bit-identical)
            from .physics import viscosity
            ph = self.physics
            self._forward_cpu(T, viscosity(T, self.y, ph["gamma"], ph["beta"],
                                           ph.get("eta_min", 0.0), ph.get("eta_max", 0.0)))
        self._pending = step

    def velocities(self, step, T, eta_c, eta_n):
        if self._pending != step:                       # not prefetched
            if self.gpu_pipeline:                       # eta_c is rebuilt on the device
                self._launch(T)
            else:
                self._forward_cpu(T, eta_c)
        self._pending = None
        if self.gpu_pipeline:
            self._done.synchronize()                    # the download has landed
        self.u, self.v = self._views[self._slot]
        return self.u, self.v, self.p, 0


class GalerkinCorrectedProvider(VelocityProvider):
    """Another provider's velocities, Galerkin-corrected (galerkin_correction.py)."""

    def __init__(self, inner: VelocityProvider, grid: Grid, ra: float, nodes: int,
                 memory: bool = False):
        from .galerkin_correction import GalerkinCorrection
        self.inner = inner
        self.name = f"{inner.name}-galerkin"
        # Square lattice cells, but two grid cells between nodes at least
        nodes_x = min(int(round(grid.aspect * (nodes - 1))) + 1, grid.nx // 2 + 1)
        try:
            self.correction = GalerkinCorrection(grid, ra, nodes, nodes_x, memory=memory)
        except ValueError as exc:
            raise ConfigError(f"&stokes correction_nodes = {nodes}: {exc}") from None
        # One BLAS thread while this provider lives: after each K x K Cholesky, OpenBLAS's
        # worker threads spin on the cores the network's convolutions need (57 against
        # 110 ms per step at 32x128, measured). MUMPS at 32x128 is no slower with one.
        from threadpoolctl import threadpool_limits
        self._blas = threadpool_limits(1, user_api="blas")

    def prefetch(self, step, T):
        self.inner.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        u, _, p, its = self.inner.velocities(step, T, eta_c, eta_n)
        u, v = self.correction.correct(T, u, eta_c, eta_n)
        return u, v, p, its

    def restore(self, u, v, p):
        self.inner.restore(u, v, p)
        self.correction.remember(u)

    def close(self):
        self._blas.restore_original_limits()
        self.inner.close()


class NoFlow(VelocityProvider):
    """Zero velocities: under the Galerkin correction the span is then the coarse hats (and
    the memory) alone, a coarse Stokes solve that never sees a network."""
    name = "no-flow"

    def __init__(self, grid: Grid):
        import numpy as np
        self.u, self.v, self.p = (np.zeros(s) for s in (grid.u_shape, grid.v_shape, grid.shape))

    def velocities(self, step, T, eta_c, eta_n):
        return self.u, self.v, self.p, 0


class WarmupProvider(VelocityProvider):
    """The full solver for the first N steps, then another provider (the study: 2); with
    `every` > 0 the full solver also takes every `every`-th step. The other provider is
    handed each full solution (`restore`), so a Galerkin memory restarts from it."""

    def __init__(self, warm: VelocityProvider, then: VelocityProvider, steps: int,
                 every: int = 0):
        self.warm, self.then, self.steps, self.every = warm, then, steps, every
        self.name = then.name if not every else f"{then.name}-refresh{every}"

    def _full(self, step):
        return step < self.steps or (self.every > 0 and step % self.every == 0)

    def prefetch(self, step, T):
        if not self._full(step):
            self.then.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        if not self._full(step):
            out = self.then.velocities(step, T, eta_c, eta_n)
            self.last_residual, self.solved = self.then.last_residual, self.then.solved
            return out
        self.last_residual, self.solved = float("nan"), True
        u, v, p, its = self.warm.velocities(step, T, eta_c, eta_n)
        self.then.restore(u, v, p)          # the last flow, for a provider that keeps it
        return u, v, p, its

    def restore(self, u, v, p):
        self.warm.restore(u, v, p)
        self.then.restore(u, v, p)

    def force_refresh(self):
        self.warm.force_refresh()

    def close(self):
        self.warm.close()
        self.then.close()


class GuardedProvider(VelocityProvider):
    """Another provider's velocities, checked every step by the pressure-free residual of
    stokes_residual.py; a step whose residual exceeds `tol` takes the direct solve
    instead, and the inner provider is handed that solution (a Galerkin memory restarts
    from it). `last_residual` is the inner provider's residual at the latest step (the
    history's stokes_residual) and `fallbacks` counts the direct solves it caused."""

    def __init__(self, inner: VelocityProvider, direct: VelocityProvider, grid: Grid,
                 ra: float, tol: float):
        from .stokes_residual import MomentumCurlResidual
        self.inner, self.direct, self.tol = inner, direct, tol
        self.residual = MomentumCurlResidual(grid, ra)
        self.name = f"{inner.name}-guard"
        self.last_residual = float("nan")
        self.fallbacks = 0

    def prefetch(self, step, T):
        self.inner.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        u, v, p, its = self.inner.velocities(step, T, eta_c, eta_n)
        self.last_residual = self.residual(T, u, v, eta_c, eta_n)
        self.solved = self.last_residual > self.tol
        if self.solved:
            u, v, p, its = self.direct.velocities(step, T, eta_c, eta_n)
            self.inner.restore(u, v, p)
            self.fallbacks += 1
        return u, v, p, its

    def restore(self, u, v, p):
        self.inner.restore(u, v, p)
        self.direct.restore(u, v, p)

    def force_refresh(self):
        self.direct.force_refresh()

    def close(self):
        self.inner.close()
        self.direct.close()


def shipped_model(grid: Grid) -> str:
    """The model file shipped for a grid preset (pymantle/models/<preset>.pt)."""
    from pathlib import Path
    for name, p in {"laptop": (32, 128)}.items():
        if (grid.ny, grid.nx) == p:
            return str(Path(__file__).resolve().parent / "models" / f"{name}.pt")
    return ""


def _correction_nodes(st: dict, grid: Grid) -> int:
    """Lattice nodes over the box height: as set, or (0) about four cells between nodes
    and at least 9: 9 at 32 rows, 33 at 126. Four cells is the laptop grid's lattice since
    session 6; at 126x504 it brought the onset of convection within 3 %, where 9 nodes
    were 38 % late (docs/reports/2026-11-study-network-and-galerkin.md). The banded solve keeps it affordable."""
    most = grid.ny // 2 + 1                             # two cells between nodes at least
    nodes = st["correction_nodes"] or min(most, max(9, round(grid.ny / 4) + 1))
    if nodes > most:
        raise ConfigError(f"&stokes correction_nodes = {nodes}: allowed 0 (auto) or "
                          f"3..{most} (ny/2 + 1) on this grid")
    return nodes


def _warm(cfg: Config, grid: Grid, then: VelocityProvider, comm) -> VelocityProvider:
    """`then`, guarded if &stokes guard_tol > 0, after the configured direct warm-up steps
    (the study: 2); the warm-up, the refreshes and the guard share one direct solver."""
    st = cfg["stokes"]
    if st["warmup_steps"] == 0 and st["refresh_every"] == 0 and st["guard_tol"] == 0:
        return then
    direct = StokesProvider(grid, cfg["physics"]["ra"], "direct", comm=comm,
                            petsc_options=st["petsc_options"])
    if st["guard_tol"] > 0:
        then = GuardedProvider(then, direct, grid, cfg["physics"]["ra"], st["guard_tol"])
    if st["warmup_steps"] == 0 and st["refresh_every"] == 0:
        return then
    return WarmupProvider(direct, then, st["warmup_steps"], st["refresh_every"])


def make_provider(cfg: Config, grid: Grid, comm=None) -> VelocityProvider:
    st = cfg["stokes"]
    method = st["solver"]
    if method in ("surrogate", "galerkin") and not grid.uniform:
        raise ConfigError(f"&grid refine_walls = {grid.refine}: the {method} provider supports "
                          "uniform grids only (refine_walls = 0); use a Stokes solver")
    if st["correction"] != "none" and method != "surrogate":
        raise ConfigError(f"&stokes correction = {st['correction']!r}: applies to solver = "
                          "'surrogate' only (allowed here: 'none')")
    if st["refresh_every"] and method not in ("surrogate", "galerkin"):
        raise ConfigError(f"&stokes refresh_every = {st['refresh_every']}: applies to solver = "
                          "'surrogate' or 'galerkin' only (allowed here: 0; a Stokes solver "
                          "skips solves with every = N)")
    if st["guard_tol"] and method not in ("surrogate", "galerkin"):
        raise ConfigError(f"&stokes guard_tol = {st['guard_tol']}: applies to solver = "
                          "'surrogate' or 'galerkin' only (allowed here: 0)")
    if st["every"] > 1 and method in ("surrogate", "galerkin"):
        raise ConfigError(f"&stokes every = {st['every']}: applies to the Stokes solvers only "
                          f"(allowed with solver = '{method}': 1; refresh_every = N runs the "
                          "direct solver every N steps)")
    if method == "galerkin":
        gal = GalerkinCorrectedProvider(NoFlow(grid), grid, cfg["physics"]["ra"],
                                        _correction_nodes(st, grid), st["correction_memory"])
        gal.name = "galerkin"
        return _warm(cfg, grid, gal, comm)
    if method == "surrogate":
        nodes = _correction_nodes(st, grid) if st["correction"] == "galerkin" else 0
        path = st["model"] or shipped_model(grid)
        if not path:
            raise ConfigError(f"&stokes model: no model file given and none is shipped for a "
                              f"{grid.ny}x{grid.nx} grid; train one (pymantle train) and set "
                              "&stokes model = 'path/model.pt'")
        from pathlib import Path
        if Path(path).is_dir():
            raise ConfigError(f"&stokes model = {path!r} is a folder; name the model file "
                              "in it (e.g. its model.pt)")
        if not Path(path).is_file():
            raise ConfigError(f"&stokes model = {path!r}: file not found (`pymantle train` "
                              "writes one)")
        surrogate = SurrogateProvider(grid, cfg["physics"], path, st["autocast"])
        if st["correction"] == "galerkin":
            surrogate = GalerkinCorrectedProvider(surrogate, grid, cfg["physics"]["ra"], nodes,
                                                  st["correction_memory"])
        return _warm(cfg, grid, surrogate, comm)
    prov: VelocityProvider = StokesProvider(
        grid, cfg["physics"]["ra"], method, comm=comm, rtol=st["rtol"],
        max_lagged_its=st["max_lagged_its"], relaxation=st["relaxation"],
        petsc_options=st["petsc_options"])
    if st["every"] > 1:
        prov = SkipProvider(prov, st["every"])
    return prov
