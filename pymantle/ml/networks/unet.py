"""U-net baselines that learn the whole time step (docs/theory.md section 7, Agarwal et al. 2025).

(T, u, v) at snapshot k -> (T, u, v) at snapshot k+1 (snapshots are 100 solver steps apart in
the real campaigns), unlike the Stokes surrogate, which maps T to the velocities of the same
instant and leaves the time stepping to the solver.

Inputs (B, 9, ny, nx) at the cell centres, built by `step_data.step_input_channels`:

    0 x/4            1 y/4            2 log10(clip(eta, 1e-8, 1))/8
    3 Q              4 log10 gamma    5 log10 beta     (min-max normalised, training split)
    6 T              7 u_c/s          8 v_c/s

i.e. the 7 channels of `inputs.input_channels`, in their order, followed by the velocities of
snapshot k averaged from the MAC faces to the cell centres and scaled by the Eq. 4 scale s.

Outputs: T_next (B, 1, ny, nx), u/s (B, 1, ny, nx+1) on the vertical faces, v/s (B, 1, ny+1, nx)
on the horizontal faces, all at snapshot k+1. T_next = T + the network's increment (a
residual: the step changes T little, so the network learns the change, not the field).

Architecture (the classic U-net): `levels` resolutions, channels width * 2**level; at each
level of the encoder `convs_per_level` x (conv k x k, GroupNorm, GELU), 2x2 average pooling
(ceil_mode, so odd sizes work: 9 -> 5 -> 3 -> 2 -> 1) between levels; at each level of the
decoder, the coarser output bilinearly upsampled to exactly the skip's size (so odd sizes need
no padding or cropping), concatenated with the encoder output of that level (skip), then
`convs_per_level` x (conv, GroupNorm, GELU); a 1x1 convolution to the output channels.
The coarsest level is shared by encoder and decoder (its convs count as the encoder's).

Variants (`UNetConfig.for_variant`):

- unet1: parameter-matched to the zero-padding Stokes surrogate (237,953), no tricks:
  zero padding, u and v predicted at the centres and averaged to the faces with zero normal
  velocity on the walls (`centres_to_faces`), plain MAE loss.
- unet2: as unet1 with the base width chosen so its forward pass costs about the
  zero-padding surrogate's (see below: that makes it wider than unet1, not narrower).
- unet3: the tricks: boundary-learned padding (`make_conv("learned")`), velocities from a
  stream function on the MAC grid (`stream_to_mac_velocity`, divergence-free to round-off,
  zero normal velocity on the walls), the surrogate's loss for u, v plus MAE on T. Same
  width as unet1; with nine filter banks per convolution it is parameter-matched to the
  surrogate with the same (learned) padding (2,133,385), not to the zero-padding one.
- unet4: as unet3, time-matched to the learned-padding surrogate.

Parameter counts (kernel 3, 9 inputs) and forward times of one 32x128 sample on 1 CPU thread,
float64 (pymantle's inference dtype), inference mode, best of 7 interleaved runs, measured
side by side with the surrogates on the same busy 2-core machine (load ~5, +-10 % noise):

    model                              params    forward ms
    surrogate, zero padding           237,953       111
    surrogate, learned padding      2,133,385       117
    unet1  width  5, zeros            289,818         7.6   (+22 % params vs zero surrogate)
    unet2  width 32, zeros         11,784,771       114     (time vs zero surrogate)
    unet3  width  5, learned        2,597,172        15     (+22 % params vs learned surrogate)
    unet4  width 22, learned       50,112,988       107     (time vs learned surrogate)

How unet2 and unet4 were time-matched: a sweep over the base width (4..32), timed as above
in an earlier run (surrogates 102 ms zeros, 89 ms learned), picking the width whose forward
time is closest to the surrogate with the same padding (zeros: 26 -> 74 ms, 30 -> 93 ms,
32 -> 99 ms; learned: 22 -> 92 ms, 23 -> 101 ms). The time-matched U-nets are *wider* than
the parameter-matched ones, not narrower: a U-net of base width w costs about
288 w^2 + 81 w multiply-adds per pixel (every level costs about the same: channels x2, so
weights x4, per level against pixels /4), the surrogate about 95,000 (its 5x5 convolutions
at full resolution and its 87-channel head), so at about equal parameters unet1 does ~1/13
of the surrogate's arithmetic and runs ~15x faster. In float32 (mkldnn) the ratios shift
(surrogate 15.5 ms zeros, 37 ms learned; U-net zeros width 16 12 ms, 24 24 ms; learned
width 16 35 ms), which would give widths ~18 (zeros) and ~17 (learned): the matched width
depends on the machine and dtype, the ordering (time-matched wider) does not.

Stream output: the stream function is `output_scale` (10, as in the surrogate) times the
network's output. On the ci data (u/s ~ 0.04, dy = 1/8) that gain makes the velocity part of
the tricks loss dominate at the start (~500 against T's ~0.1) and a tiny net then hardly
learns the T increment; output_scale=1 trains much better there. Kept at 10 for parity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .layers import centres_to_faces, make_conv, stream_to_mac_velocity

VARIANTS = ("unet1", "unet2", "unet3", "unet4")
OUTPUTS = ("direct", "stream_mac")
INPUT_CHANNELS = ("x/4", "y/4", "log10_eta/8", "Q", "log10_gamma", "log10_beta", "T",
                  "u_c/s", "v_c/s")
T_CHANNEL = 6

_VARIANT_SETTINGS = {
    "unet1": dict(width=5, padding="zeros", output="direct"),
    "unet2": dict(width=32, padding="zeros", output="direct"),
    "unet3": dict(width=5, padding="learned", output="stream_mac"),
    "unet4": dict(width=22, padding="learned", output="stream_mac"),
}


@dataclass
class UNetConfig:
    """Sizes and variant of `UNet`; the defaults are unet1's."""
    variant: str = "unet1"
    width: int = 5                 # channels at the finest level; doubled per level
    levels: int = 5
    convs_per_level: int = 3
    kernel_size: int = 3
    groups: int = 4                # GroupNorm groups (gcd with the channel count)
    norm: str = "group"            # "group" (GroupNorm) or "none"
    activation: str = "gelu"       # "gelu" or "relu"
    max_width: int = 0             # cap on the channels of the coarse levels (0: none)
    decoder_convs: int = 0         # convolutions per decoder level (0: convs_per_level)
    padding: str = "zeros"         # make_conv mode: "zeros", "replicate", "learned"
    output: str = "direct"         # "direct" (centres -> faces) or "stream_mac"
    in_channels: int = len(INPUT_CHANNELS)
    output_scale: float = 10.0     # stream function = output_scale * network output
    residual: bool = True          # T_next = T + increment (T is input channel 6)
    dtype: torch.dtype = torch.float64

    @property
    def with_tricks(self) -> bool:
        return self.output == "stream_mac"

    @classmethod
    def for_variant(cls, name: str, **overrides) -> "UNetConfig":
        """The configuration of variant `name` ("unet1".."unet4"), fields overridable."""
        if name not in _VARIANT_SETTINGS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")
        return replace(cls(variant=name, **_VARIANT_SETTINGS[name]), **overrides)


NORMS = ("group", "none")
ACTIVATIONS = ("gelu", "relu")


def _block(cfg: UNetConfig, in_ch: int, out_ch: int, convs: int = 0) -> nn.Sequential:
    """convs (default convs_per_level) x (conv, [GroupNorm], activation), the first one
    in_ch -> out_ch."""
    if cfg.norm not in NORMS or cfg.activation not in ACTIVATIONS:
        raise ValueError(f"norm must be one of {NORMS} and activation one of {ACTIVATIONS}, "
                         f"got {cfg.norm!r}, {cfg.activation!r}")
    mods = []
    for i in range(convs or cfg.convs_per_level):
        mods.append(make_conv(in_ch if i == 0 else out_ch, out_ch, cfg.kernel_size,
                              cfg.padding))
        if cfg.norm == "group":
            mods.append(nn.GroupNorm(math.gcd(out_ch, cfg.groups), out_ch))
        mods.append(nn.GELU() if cfg.activation == "gelu" else nn.ReLU(inplace=True))
    return nn.Sequential(*mods)


def level_widths(cfg: UNetConfig) -> list[int]:
    """Channels per level: width doubled per level, capped at max_width (if set)."""
    ch = [cfg.width * 2 ** level for level in range(cfg.levels)]
    return [min(c, cfg.max_width) for c in ch] if cfg.max_width else ch


class UNet(nn.Module):
    """U-net for one snapshot step; see the module docstring.

    aspect is the box width L (height 1): dx = aspect/nx and dy = 1/ny are taken from the
    input's shape at every call (needed by the stream-function output).
    """

    def __init__(self, config: UNetConfig | None = None, aspect: float = 4.0):
        super().__init__()
        cfg = self.config = config or UNetConfig()
        if cfg.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {cfg.output!r}")
        if cfg.levels < 1 or cfg.convs_per_level < 1 or cfg.width < 1:
            raise ValueError("levels, convs_per_level and width must be at least 1")
        self.aspect = float(aspect)
        ch = level_widths(cfg)
        self.encoder = nn.ModuleList(
            _block(cfg, cfg.in_channels if level == 0 else ch[level - 1], ch[level])
            for level in range(cfg.levels))
        # decoder[level] for level = levels-2 .. 0 (index = level): [up(level+1), skip] -> ch
        self.decoder = nn.ModuleList(
            _block(cfg, ch[level + 1] + ch[level], ch[level], cfg.decoder_convs)
            for level in range(cfg.levels - 1))
        self.n_out = 3 if cfg.output == "direct" else 2      # dT, (u_c, v_c) or stream fn
        self.head = nn.Conv2d(ch[0], self.n_out, 1)          # 1x1: no padding involved
        dtype = getattr(torch, cfg.dtype) if isinstance(cfg.dtype, str) else cfg.dtype
        self.to(dtype)

    def features(self, x):
        """Head output at the cell centres (B, n_out, ny, nx)."""
        skips = []
        z = x
        for level, block in enumerate(self.encoder):
            if level:
                z = F.avg_pool2d(z, 2, ceil_mode=True)
            z = block(z)
            skips.append(z)
        for level in range(len(self.decoder) - 1, -1, -1):
            skip = skips[level]
            z = F.interpolate(z, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            z = self.decoder[level](torch.cat([z, skip], dim=1))
        return self.head(z)

    def forward(self, x):
        """(T_next (B,1,ny,nx), u/s (B,1,ny,nx+1), v/s (B,1,ny+1,nx)) at snapshot k+1."""
        ny, nx = x.shape[-2:]
        h = self.features(x)
        T_next = h[:, :1]
        if self.config.residual:
            T_next = x[:, T_CHANNEL:T_CHANNEL + 1] + T_next
        if self.config.output == "direct":
            u, v = centres_to_faces(h[:, 1:2], h[:, 2:3])
        else:
            u, v = stream_to_mac_velocity(self.config.output_scale * h[:, 1:2],
                                          self.aspect / nx, 1.0 / ny)
        return T_next, u, v
