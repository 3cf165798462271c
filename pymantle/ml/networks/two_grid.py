"""The two-grid buoyancy U-net: the whole box on a coarse grid, the fine grid's detail by
a small fine network (beyond the study; the model shipped for the paper grid).

Stokes flow is set by the buoyancy of the whole box, and its large scales are smooth
wherever the viscosity is: a coarse grid holds them. What a coarse grid cannot hold are
the fine grid's thin thermal boundary layers and plume conduits, and the flow's response
to them is local. A network trained on one grid has learnt that grid's cell size (the
laptop network applied to 126x504 inputs is off by 77-119 %), so the coarse part always
runs on the grid it was trained on:

1. the fine inputs (buoyancy.py: T'/a, log10(eta/eta_w), y; the scale s is the fine
   field's) are restricted to the coarse grid by area-weighted averages (`Remap`);
2. the coarse network (BuoyancyUNet, initialised from the laptop model's weights) gives
   coarse face velocities u/s, v/s, not yet projected;
3. they are interpolated linearly onto the fine faces (constant beyond the outermost
   coarse points: free slip has no normal gradient of the tangential velocity);
4. a fine U-net of few levels sees the fine inputs and that flow (averaged to the cell
   centres) and adds its correction on the fine faces;
5. the discrete Helmholtz projection (projection.py) makes the sum divergence-free.

Steps 1-3 are fixed matrices (one product per side), so the cost is the coarse network's
(~2-3 ms on a CPU thread), the fine network's few levels, and the projection.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .buoyancy import N_CHANNELS
from .buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
from .projection import DivergenceFreeProjection, box_projection
from .unet import UNet, UNetConfig


def overlap_matrix(n_coarse: int, n_fine: int) -> np.ndarray:
    """(n_coarse, n_fine): the average over each coarse cell of a fine cell-centred field
    on [0, 1], weighted by the overlap of the cells (rows sum to 1)."""
    ec, ef = np.linspace(0, 1, n_coarse + 1), np.linspace(0, 1, n_fine + 1)
    lo = np.maximum(ec[:-1, None], ef[None, :-1])
    hi = np.minimum(ec[1:, None], ef[None, 1:])
    w = np.clip(hi - lo, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)


def interpolation_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(len(dst), len(src)): linear interpolation between the points src (increasing),
    constant beyond the first and the last."""
    M = np.zeros((len(dst), len(src)))
    for i, x in enumerate(np.clip(dst, src[0], src[-1])):
        k = min(np.searchsorted(src, x, side="right") - 1, len(src) - 2)
        t = (x - src[k]) / (src[k + 1] - src[k])
        M[i, k], M[i, k + 1] = 1.0 - t, t
    return M


class Remap(nn.Module):
    """Restriction of centre fields (fine -> coarse) and interpolation of face velocities
    (coarse -> fine) between two uniform grids of the same box, as separable matrices."""

    def __init__(self, fine: tuple[int, int], coarse: tuple[int, int]):
        super().__init__()
        (nyf, nxf), (nyc, nxc) = fine, coarse
        centres = lambda n: (np.arange(n) + 0.5) / n              # noqa: E731
        faces = lambda n: np.arange(n + 1) / n                    # noqa: E731
        mats = {"ry": overlap_matrix(nyc, nyf), "rx": overlap_matrix(nxc, nxf),
                "uy": interpolation_matrix(centres(nyc), centres(nyf)),
                "ux": interpolation_matrix(faces(nxc), faces(nxf)),
                "vy": interpolation_matrix(faces(nyc), faces(nyf)),
                "vx": interpolation_matrix(centres(nxc), centres(nxf))}
        for k, m in mats.items():
            self.register_buffer(k, torch.from_numpy(m).float(), persistent=False)

    def restrict(self, x):
        return self.ry @ x @ self.rx.t()

    def prolong(self, u, v):
        return self.uy @ u @ self.ux.t(), self.vy @ v @ self.vx.t()


def faces_to_centres(u, v):
    """Face velocities averaged to the cell centres (B, 2, ny, nx)."""
    return torch.cat([0.5 * (u[..., :, 1:] + u[..., :, :-1]),
                      0.5 * (v[..., 1:, :] + v[..., :-1, :])], dim=1)


@dataclass
class TwoGridConfig:
    coarse: dict = field(default_factory=dict)     # BuoyancyUNetConfig of the coarse part
    coarse_shape: tuple = (32, 128)                # (ny, nx) the coarse part runs on
    width: int = 8                                 # the fine U-net's first level
    levels: int = 3
    convs_per_level: int = 1
    max_width: int = 32
    norm: str = "none"
    activation: str = "relu"
    output: str = "projected"                      # (the provider's projection switch)
    dtype: torch.dtype = torch.float32


class TwoGridUNet(nn.Module):
    """See the module docstring; forward(x) takes the fine inputs (B, 3, ny, nx) and gives
    the projected fine face velocities (u/s, v/s), as BuoyancyUNet does."""

    def __init__(self, config: TwoGridConfig | None = None, aspect: float = 4.0):
        super().__init__()
        cfg = self.config = config or TwoGridConfig()
        dtype = getattr(torch, cfg.dtype) if isinstance(cfg.dtype, str) else cfg.dtype
        self.aspect = float(aspect)
        coarse = dict(cfg.coarse)
        coarse["dtype"] = dtype
        self.coarse = BuoyancyUNet(BuoyancyUNetConfig(**coarse), aspect=aspect)
        self.fine = UNet(UNetConfig(
            variant="two-grid", width=cfg.width, levels=cfg.levels,
            convs_per_level=cfg.convs_per_level, norm=cfg.norm, activation=cfg.activation,
            max_width=cfg.max_width, padding="zeros", output="direct",
            in_channels=N_CHANNELS + 2, residual=False, dtype=dtype), aspect=aspect)
        self.fine.head = nn.Conv2d(self.fine.head.in_channels, 2, 1)
        nn.init.zeros_(self.fine.head.weight)     # starts as the coarse flow, interpolated
        nn.init.zeros_(self.fine.head.bias)
        self.to(dtype)
        self._remaps: dict = {}

    def remap(self, ny: int, nx: int) -> Remap:
        key = (ny, nx)
        if key not in self._remaps:
            self._remaps[key] = Remap(key, tuple(self.config.coarse_shape))
        return self._remaps[key]

    def projection(self, ny: int, nx: int) -> DivergenceFreeProjection:
        return box_projection(ny, nx, self.aspect)

    def faces(self, x):
        """The fine face velocities before the projection."""
        ny, nx = x.shape[-2:]
        remap = self.remap(ny, nx).to(x.device, x.dtype)
        uc, vc = self.coarse.faces(remap.restrict(x).contiguous())
        u, v = remap.prolong(uc, vc)
        h = self.fine.features(torch.cat([x, faces_to_centres(u, v)], dim=1))
        u = u + F.pad(h[:, :1, :, 1:], (1, 1, 0, 0))    # interior faces; walls stay 0
        v = v + F.pad(h[:, 1:, 1:, :], (0, 0, 1, 1))
        return u, v

    def forward(self, x):
        ny, nx = x.shape[-2:]
        u, v = self.faces(x)
        return self.projection(ny, nx).to(x.device)(u, v)
