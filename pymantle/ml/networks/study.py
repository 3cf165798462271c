"""The Stokes surrogate network (docs/theory.md section 5, after Tompson et al. 2017).

Inputs: the 7 channels of `inputs.input_channels` at the cell centres (B, 7, ny, nx).
Outputs: scaled face velocities (u/s, v/s) in the MAC layout, u (B, 1, ny, nx+1) and
v (B, 1, ny+1, nx).

1. Embedding: conv in -> width, GroupNorm, GELU.
2. `levels` resolutions: the embedding average-pooled by 2 zero to levels-1 times, each
   processed by `layers_per_level` x (conv, GroupNorm, GELU) and upsampled bicubically back
   to full resolution.
3. Head on [levels..., raw inputs]: conv -> width (GroupNorm, GELU), conv (GELU), conv -> n_out.
4. Output: a stream function turned into velocities ("stream_mac", pymantle's default, or the
   study's "stream_colocated"), or u and v directly ("soft").

Parameter counts (width 16, 5 levels, 6 layers per level, kernel 5, in_channels 7):

- padding "zeros": 237,953 with the architecture as described. The study reports 211,329;
  the difference, 26,624 = (87*16 + 16*16 + 16*1) * (5*5 - 3*3), is exactly what 3x3
  instead of 5x5 kernels in the three head convolutions would save, so the study's
  zero-padding model most likely had a 3x3 head. `head_kernel_size=3` reproduces 211,329.
- padding "learned": 2,133,385 with nine full banks (weights and biases). The study reports
  2,129,153; the difference, 4,232 = 8 * 529 (529 = the summed bias sizes of all 35
  convolutions), is exactly the eight extra bias vectors per convolution, so the study's
  learned padding shared one bias over its nine weight banks. `shared_bias=True`
  reproduces 2,129,153 (with the 5x5 head: the study's two counts imply different heads).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import (GroupNorm, centres_to_faces, colocated_curl, cuda_stream, make_conv,
                     stream_to_mac_velocity, upsample_bicubic)

OUTPUTS = ("stream_mac", "stream_colocated", "soft")


@dataclass
class SurrogateConfig:
    """Sizes and variants of `StokesSurrogate`; the defaults are the study's best model.

    head_kernel_size (None = kernel_size) and shared_bias (learned padding only) are not
    in the study's description; they exist to reproduce its two parameter counts (see the
    module docstring).
    """
    in_channels: int = 7
    width: int = 16
    levels: int = 5
    layers_per_level: int = 6
    kernel_size: int = 5
    groups: int = 4
    padding: str = "learned"
    output: str = "stream_mac"
    output_scale: float = 10.0
    dtype: torch.dtype = torch.float64
    head_kernel_size: int | None = None
    shared_bias: bool = False


def _conv_block(cfg: SurrogateConfig, in_ch: int, out_ch: int, kernel_size: int,
                norm: bool = True, act: bool = True) -> nn.Sequential:
    """conv (with the configured padding) [+ GroupNorm] [+ GELU]."""
    mods = [make_conv(in_ch, out_ch, kernel_size, cfg.padding, shared_bias=cfg.shared_bias)]
    if norm:
        mods.append(GroupNorm(cfg.groups, out_ch))
    if act:
        mods.append(nn.GELU())
    return nn.Sequential(*mods)


class StokesSurrogate(nn.Module):
    """Multi-resolution CNN mapping the 7 input channels to MAC face velocities (u, v).

    aspect is the box width L (height 1): dx = aspect/nx and dy = 1/ny are taken from the
    input's shape at every call, so one model serves any grid size.
    """

    def __init__(self, config: SurrogateConfig | None = None, aspect: float = 4.0):
        super().__init__()
        cfg = self.config = config or SurrogateConfig()
        if cfg.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {cfg.output!r}")
        if cfg.levels < 1:
            raise ValueError(f"levels must be at least 1, got {cfg.levels}")
        self.aspect = float(aspect)
        k, w = cfg.kernel_size, cfg.width
        kh = cfg.head_kernel_size or k
        self.n_out = 2 if cfg.output == "soft" else 1
        self.embed = _conv_block(cfg, cfg.in_channels, w, k)
        self.levels = nn.ModuleList(
            nn.Sequential(*[_conv_block(cfg, w, w, k) for _ in range(cfg.layers_per_level)])
            for _ in range(cfg.levels))
        self.head = nn.Sequential(
            _conv_block(cfg, cfg.levels * w + cfg.in_channels, w, kh),
            _conv_block(cfg, w, w, kh, norm=False),
            _conv_block(cfg, w, self.n_out, kh, norm=False, act=False))
        # A config read back from a checkpoint may name the dtype as a string ("float64").
        dtype = getattr(torch, cfg.dtype) if isinstance(cfg.dtype, str) else cfg.dtype
        self.to(dtype)

    #: On a GPU, run the coarse levels (1..levels-1) on a second CUDA stream while the
    #: full-resolution level runs on the current one: the coarse levels are chains of
    #: small kernels that leave most of the card idle (docs/reports/2026-11-26-gpu-sessions.md). Same result.
    level_streams = False

    def _coarse_levels(self, e, ny: int, nx: int):
        """Levels 1.. : the embedding pooled l times (pooling the previous level's input
        once more), processed, and upsampled back to (ny, nx). ceil_mode keeps odd sizes
        working (63 -> 32); the last, partial window is averaged over its in-field cells
        only (no padding is involved)."""
        outs, z = [], e
        for block in self.levels[1:]:
            z = F.avg_pool2d(z, 2, ceil_mode=True)
            outs.append(upsample_bicubic(block(z), (ny, nx)))
        return outs

    def features(self, x):
        """Head output at the cell centres (B, n_out, ny, nx), before any scaling."""
        ny, nx = x.shape[-2:]
        e = self.embed(x)
        if not (self.level_streams and x.is_cuda):
            outs = [self.levels[0](e)] + self._coarse_levels(e, ny, nx)
        else:
            # Fork and join: the side stream starts after everything queued so far on the
            # current one (so it may reuse memory freed there), and the current stream
            # waits for it before the concatenation. The pattern is CUDA-graph capturable.
            main = torch.cuda.current_stream(x.device)
            side = cuda_stream(x.device, "levels")
            side.wait_stream(main)
            with torch.cuda.stream(side):
                coarse = self._coarse_levels(e, ny, nx)
            fine = self.levels[0](e)
            main.wait_stream(side)
            outs = [fine] + coarse
        return self.head(torch.cat(outs + [x], dim=1))

    def forward(self, x):
        """(u, v): u (B, 1, ny, nx+1) on the vertical faces, v (B, 1, ny+1, nx) on the
        horizontal faces, both in units of the velocity scale s."""
        return self.velocities_from_features(self.features(x), *x.shape[-2:])

    def velocities_from_features(self, h, ny: int, nx: int):
        """The second half of `forward`: head output (B, n_out, ny, nx) -> (u, v)."""
        dx, dy = self.aspect / nx, 1.0 / ny
        out = self.config.output
        if out == "soft":
            # Direct prediction at the centres, averaged to the faces; the walls get zero
            # normal velocity, mass conservation inside is left to the loss (Eq. 9).
            return centres_to_faces(h[:, :1], h[:, 1:])
        a = self.config.output_scale * h
        if out == "stream_colocated":
            # The study subtracts the spatial mean (it does not change the curl).
            a = a - a.mean(dim=(-2, -1), keepdim=True)
            return centres_to_faces(*colocated_curl(a, dx, dy))
        # stream_mac: no mean subtraction, the wall corners of psi are fixed at 0.
        return stream_to_mac_velocity(a, dx, dy)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
