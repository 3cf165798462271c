"""The buoyancy-scaled U-net surrogate (pymantle's shipped network; beyond the study).

T and eta -> MAC face velocities (u, v), in four parts, each chosen by measurement on the
laptop campaign (docs/guide/training.md, "Why this network"):

1. Inputs and scale from the Stokes equation itself (buoyancy.py): the lateral anomaly
   T'/a, log10(eta/eta_f) and y; the network predicts u/s, v/s with the snapshot's own
   s = Ra a / eta_f, so a near-conductive start and a vigorous plume are the same task.
2. A U-net (unet.UNet's encoder-decoder: avg-pool down, bilinear up, skips) whose coarse
   levels see the whole box: Stokes flow is global, a 32x128 box needs a receptive field
   of the box, which five levels give at a few per cent of the study's arithmetic.
3. Face outputs: channel 0 at cell (j, i) is u on the cell's left face (i >= 1) and
   channel 1 is v on its bottom face (j >= 1); the wall faces are 0 (free slip, no
   through-flow). No averaging from the centres, so nothing smooths the boundary layers.
4. The discrete Helmholtz projection (projection.py) makes them exactly divergence-free
   and can only reduce their L2 error.

`output = "stream_mac"` swaps 3-4 for the study's stream function on the MAC grid (for the
comparison); `"faces"` leaves out the projection.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .buoyancy import N_CHANNELS
from .layers import stream_to_mac_velocity
from .projection import DivergenceFreeProjection, box_projection
from .unet import UNet, UNetConfig

OUTPUTS = ("projected", "faces", "stream_mac")


@dataclass
class BuoyancyUNetConfig:
    width: int = 16                # channels at the finest level, doubled per level
    levels: int = 5
    convs_per_level: int = 2
    kernel_size: int = 3
    groups: int = 4
    norm: str = "group"            # "group" or "none" (unet.UNetConfig)
    activation: str = "gelu"       # "gelu" or "relu"
    max_width: int = 0             # cap on the coarse levels' channels (0: none)
    decoder_convs: int = 0         # per decoder level (0: convs_per_level)
    padding: str = "zeros"
    output: str = "projected"
    output_scale: float = 1.0      # stream_mac only: psi = output_scale * network output
    in_channels: int = N_CHANNELS
    dtype: torch.dtype = torch.float32


class BuoyancyUNet(nn.Module):
    """See the module docstring. aspect is the box width (height 1); dx and dy are taken
    from the input's shape at each call, so one model serves any uniform grid."""

    def __init__(self, config: BuoyancyUNetConfig | None = None, aspect: float = 4.0):
        super().__init__()
        cfg = self.config = config or BuoyancyUNetConfig()
        if cfg.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {cfg.output!r}")
        dtype = getattr(torch, cfg.dtype) if isinstance(cfg.dtype, str) else cfg.dtype
        self.aspect = float(aspect)
        self.backbone = UNet(UNetConfig(
            variant="buoyancy", width=cfg.width, levels=cfg.levels,
            convs_per_level=cfg.convs_per_level, kernel_size=cfg.kernel_size,
            groups=cfg.groups, norm=cfg.norm, activation=cfg.activation,
            max_width=cfg.max_width, decoder_convs=cfg.decoder_convs,
            padding=cfg.padding, output="direct",
            in_channels=cfg.in_channels, residual=False, dtype=dtype), aspect=aspect)
        self.backbone.head = nn.Conv2d(cfg.width, 1 if cfg.output == "stream_mac" else 2, 1)
        self.to(dtype)

    def projection(self, ny: int, nx: int) -> DivergenceFreeProjection:
        return box_projection(ny, nx, self.aspect)

    def forward(self, x):
        """(u/s (B,1,ny,nx+1), v/s (B,1,ny+1,nx)) from the inputs (B, 3, ny, nx)."""
        ny, nx = x.shape[-2:]
        if self.config.output == "stream_mac":
            h = self.backbone.features(x)
            return stream_to_mac_velocity(self.config.output_scale * h, self.aspect / nx, 1.0 / ny)
        u, v = self.faces(x)
        if self.config.output == "projected":
            proj = self.projection(ny, nx)
            u, v = proj.to(x.device)(u, v)
        return u, v

    def faces(self, x):
        """The face velocities before the projection ("projected", "faces" outputs)."""
        h = self.backbone.features(x)
        u = F.pad(h[:, :1, :, 1:], (1, 1, 0, 0))       # interior vertical faces; walls 0
        v = F.pad(h[:, 1:, 1:, :], (0, 0, 1, 1))       # interior horizontal faces; walls 0
        return u, v
