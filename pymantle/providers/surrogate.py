"""The network in place of the Stokes solve; the ML side is reached through
pymantle.ml.inference only (model loading, device policy, buffers, CUDA graphs)."""
from __future__ import annotations


from ..grid import Grid
from .base import VelocityProvider


class SurrogateProvider(VelocityProvider):
    """The CNN in place of the Stokes solve (docs/theory.md sections 5 and 7).

    The network's scaled face velocities are multiplied by the Eq. 4 scale s and written
    into two NumPy arrays allocated once; torch views the same memory, so the Fortran
    energy kernel reads the network's output without a copy per step (on a GPU: one
    transfer per step into those buffers). No pressure is predicted (p = 0)."""

    name = "surrogate"
    approximate = True

    def __init__(self, grid: Grid, physics: dict, model_path: str, autocast: str = "none"):
        import numpy as np
        import torch
        from ..ml.inference import load_surrogate, place_model, run_parameters, velocity_blocks
        self.model, self.dtype, payload, self.buoyancy = load_surrogate(grid, model_path)
        self.device, self.conv_impl, self.channels_last = place_model(self.model, self.dtype)
        cuda = self.device.type == "cuda"
        self.physics = physics
        self.params, self.scale = run_parameters(payload, physics, self.buoyancy)
        self._say_if_outside(payload, physics, model_path)
        self.grid = grid
        self.x, self.y = grid.centres()
        self.p = np.zeros(grid.shape)
        # The buffers the kernels read: u and v are views of one float64 block; on a GPU it
        # is pinned host memory, filled by one device-to-host copy per step. Two blocks are
        # used in turn, so that the next step's velocities (prefetched while the loop still
        # takes this step's diagnostics) never land in the u, v being read. The CPU runs
        # the same protocol, computing at once, so the tests exercise it.
        self._blocks, self._views, self._tviews = velocity_blocks(grid, pinned=cuda)
        self._slot = 0                                  # the block of the latest velocities
        self.u, self.v = self._views[0]
        self._graph = None
        # Mixed precision (GPU only; on the CPU the model's dtype is used as is)
        self.autocast = getattr(torch, autocast) if cuda and autocast != "none" else None
        self._pending = None                            # step of a prefetch in flight
        # The pipelined GPU path (device-side inputs, CUDA graph) serves the study's
        # network; the buoyancy U-net's inputs need whole-field means, built on the host.
        self.gpu_pipeline = cuda and not self.buoyancy
        # The buoyancy U-net's projection on the host, by fast cosine transforms into the
        # float64 buffers (projection.FaceProjection), instead of the model's dense products
        self.project_here = (self.buoyancy and not cuda
                             and self.model.config.output == "projected")
        if self.project_here:
            from ..ml.inference import frozen_faces
            from ..ml.networks.projection import FaceProjection
            self._project = FaceProjection(grid.ny, grid.nx, grid.dx, 1.0 / grid.ny)
            self.faces = frozen_faces(self.model, grid.shape, self.dtype, self.channels_last)
        if self.gpu_pipeline:
            self._done = torch.cuda.Event()
            self._setup_device_inputs()
            from ..switches import cuda_graph
            if cuda_graph():
                self._capture()

    @staticmethod
    def _say_if_outside(payload, physics, model_path):
        """One line at the start of a run whose parameters lie outside the network's
        training box: its velocities are then an extrapolation (the model card says how
        far it carries, docs/models/)."""
        import sys
        from ..ml.inference import outside_box, training_box
        far = outside_box(physics, training_box(payload))
        if far:
            print(f"note: {', '.join(far)}: outside the box the network {model_path} was "
                  "trained in; its velocities extrapolate (see its model card, docs/models/)",
                  file=sys.stderr, flush=True)

    def _setup_device_inputs(self):
        """On a GPU only T travels each step: the five constant channels live on the device
        and the viscosity channel is computed there (Eq. 2 in log space, then the clips of
        the physics and of `input_channels`), which takes ~3 ms of NumPy off the CPU per
        step at 126x504."""
        import numpy as np
        import torch
        from ..ml.inference import ETA_CLIP, input_channels
        g, ph = self.grid, self.physics
        const = input_channels(np.zeros(g.shape), np.ones(g.shape), self.x, self.y, self.params)
        self._in_dev = torch.as_tensor(const[None], dtype=self.dtype, device=self.device)
        self._T_host = torch.zeros(g.shape, dtype=self.dtype,
                                   pin_memory=self.device.type == "cuda")
        self._T_dev = self._T_host.to(self.device)
        from ..physics import viscosity_log10_terms
        self._lg, lb, self._eta_lims = viscosity_log10_terms(
            self.y, ph["gamma"], ph["beta"], ph.get("eta_min", 0.0), ph.get("eta_max", 0.0))
        self._lb = torch.as_tensor(lb, dtype=self.dtype, device=self.device)
        self._clip_lims = tuple(float(np.log10(c)) for c in ETA_CLIP)

    def _device_inputs(self):
        from ..physics import viscosity_log10_torch
        leta = viscosity_log10_torch(self._T_dev, self._lg, self._lb, self._eta_lims)
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
        from ..ml.inference import capture_graph
        graph, out = capture_graph(self._device_forward)
        if graph is not None:
            self._out_dev = out
        self._graph = graph

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
        from ..ml.inference import buoyancy_inputs, input_channels
        if self.buoyancy:
            inputs, scale = buoyancy_inputs(T, eta_c, self.y, self.physics["ra"])
        else:
            inputs, scale = input_channels(T, eta_c, self.x, self.y, self.params), self.scale
        x = torch.from_numpy(inputs)[None].to(self.device, self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        self._slot = 1 - self._slot
        u_t, v_t = self._tviews[self._slot]
        with torch.inference_mode():
            if self.project_here:           # faces, scaled, then projected in float64
                u, v = self.faces(x)
            else:
                u, v = self.model(x)
            u_t.copy_(u[0, 0].mul_(scale))
            v_t.copy_(v[0, 0].mul_(scale))
        if self.project_here:
            self._project(*self._views[self._slot])

    def prefetch(self, step, T):
        # Idempotent per step: the loop asks at the end of a step for the next one and
        # again at the top of that step, with the same T.
        if self._pending == step:
            return
        if self.gpu_pipeline:
            self._launch(T)
        else:                        # at once, with the loop's viscosity law (bit-identical)
            from ..physics import viscosity
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
