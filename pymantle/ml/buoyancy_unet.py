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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .buoyancy import N_CHANNELS, buoyancy_inputs
from .layers import stream_to_mac_velocity
from .projection import DivergenceFreeProjection
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
        self._projections: dict = {}

    def projection(self, ny: int, nx: int) -> DivergenceFreeProjection:
        key = (ny, nx)
        if key not in self._projections:
            self._projections[key] = DivergenceFreeProjection(ny, nx, self.aspect / nx, 1.0 / ny)
        return self._projections[key]

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


def relative_l2_loss(u_pred, v_pred, u_true, v_true, strain: str | None = None,
                     strain_weight: float = 1.0, x=None, dx: float = 1.0, dy: float = 1.0):
    """Mean over the batch of |(u, v)_pred - (u, v)_true|_2 / |(u, v)_true|_2: the accuracy
    measure itself, blind to each snapshot's magnitude; plus, with `strain`, strain_weight
    times the relative error of the strain: "h1" sqrt(E(e)/E(w)) of `strain_energy` with
    eta = 1, "energy" with the sample's relative viscosity from the inputs x (the Stokes
    problem's own norm, whose square is the dissipation of the error). L2 alone leaves
    grid-scale ripples that cost little in L2 but much in dissipation (docs/guide/training.md).
    Returns (total, parts)."""
    B = u_pred.shape[0]
    u_true, v_true = u_true.reshape(u_pred.shape), v_true.reshape(v_pred.shape)
    eu, ev = u_pred - u_true, v_pred - v_true
    num = (eu.flatten(1).square().sum(1) + ev.flatten(1).square().sum(1)).sqrt()
    den = (u_true.flatten(1).square().sum(1) + v_true.flatten(1).square().sum(1)).sqrt()
    rel = (num / den.clamp_min(1e-30)).mean()
    parts = {"rel_l2": rel.detach()}
    total = rel
    if strain is not None:
        if strain not in ("h1", "energy"):
            raise ValueError(f"strain must be 'h1', 'energy' or None, got {strain!r}")
        eta = relative_viscosity(x) if strain == "energy" else (None, None)
        e_err = strain_energy(eu, ev, dx, dy, *eta)
        e_ref = strain_energy(u_true, v_true, dx, dy, *eta)
        rel_strain = (e_err / e_ref.clamp_min(1e-30)).sqrt().mean()
        parts["rel_strain"] = rel_strain.detach()
        total = total + strain_weight * rel_strain
    parts["total"] = total.detach()
    return total, parts


def strain_energy(u, v, dx: float, dy: float, eta_c=None, eta_n=None):
    """Per sample, sum over the grid of 2 eta (du/dx^2 + dv/dy^2) at the centres plus
    eta (du/dy + dv/dx)^2 at the interior corners: the viscous dissipation of the flow
    (w^T K w of the Stokes operator; eta = 1 without viscosity: the squared H1 seminorm
    of the strain). Shapes (B, 1, ny, nx+1) and (B, 1, ny+1, nx); returns (B,)."""
    exx = (u[..., :, 1:] - u[..., :, :-1]) / dx
    eyy = (v[..., 1:, :] - v[..., :-1, :]) / dy
    exy = ((u[..., 1:, 1:-1] - u[..., :-1, 1:-1]) / dy
           + (v[..., 1:-1, 1:] - v[..., 1:-1, :-1]) / dx)
    normal, shear = 2.0 * (exx.square() + eyy.square()), exy.square()
    if eta_c is not None:
        normal, shear = normal * eta_c, shear * eta_n
    return normal.flatten(1).sum(1) + shear.flatten(1).sum(1)


def relative_viscosity(x):
    """(eta/eta_w at the centres, at the interior corners) from input channel 1, the
    corners as the geometric mean of their four cells (the solver's corner law)."""
    log_eta = 8.0 * x[:, 1:2] * float(np.log(10.0))
    return log_eta.exp(), F.avg_pool2d(log_eta, 2, stride=1).exp()


def mirror_x(x, u, v):
    """The x -> L - x image of a sample: fields mirrored, u -> -u (buoyancy.py)."""
    return x[..., ::-1], -u[..., ::-1], v[..., ::-1]


class BuoyancySnapshotDataset:
    """(inputs (3, ny, nx), u/s, v/s) per stored snapshot of a campaign split, with s the
    snapshot's buoyancy scale; items 2k and 2k+1 are snapshot k and its x-mirror image.

    Only snapshots stored on the regular schedule (step a multiple of snapshot_every) are
    used: with `configs/campaign-galerkin-trajectories.nml` those are the direct-solve
    steps, whose velocities are exact Stokes solutions of the stored T. Prepared samples
    are kept in memory (~80 kB each at 32x128 in float32): training revisits them every
    few epochs, and reading four NetCDF fields costs more than the U-net's step."""

    def __init__(self, directory, split="train", first=200, later=800, seed=0,
                 dtype=np.float32, mirror=True, max_open=8):
        from .data import CampaignDataset
        from ..campaign_index import select_snapshots
        self._files = CampaignDataset(directory, max_open=max_open, dtype=dtype)
        self.normalisation = self._files.normalisation      # kept for the model file
        self.dtype, self.mirror = dtype, mirror
        items = select_snapshots(directory, split, first, later, seed)
        self.snapshots = [it for it in items if self._on_schedule(*it)]
        self.items = [(sim, snap) for sim, snap in self.snapshots
                      for _ in range(2 if mirror else 1)]
        self._cache: dict = {}

    def _on_schedule(self, sim, snap) -> bool:
        ds = self._files._dataset(sim)
        steps = np.asarray(ds["snapshot_step"][:])
        every = int(steps[1] - steps[0]) if len(steps) > 1 else 1
        return int(steps[snap]) % max(every, 1) == 0

    def __len__(self):
        return len(self.items)

    def sample(self, k):
        """(inputs, u/s, v/s, s) of item k as NumPy arrays."""
        key = self.items[k]
        if key not in self._cache:
            self._cache[key] = self._read(*key)
        x, u, v, s = self._cache[key]
        if self.mirror and k % 2:
            x, u, v = mirror_x(x, u, v)
        return x, u, v, s

    def _read(self, sim, snap):
        """(inputs, u/s, v/s, s) of one stored snapshot, in the dataset's dtype."""
        ds = self._files._dataset(sim)
        T = np.asarray(ds["T"][snap], dtype=float)
        eta = np.asarray(ds["eta"][snap], dtype=float)
        u = np.asarray(ds["u"][snap], dtype=float)
        v = np.asarray(ds["v"][snap], dtype=float)
        y = np.asarray(ds["y"][:], dtype=float)
        x, s = buoyancy_inputs(T, eta, y[:, None], float(ds.ra))
        return tuple(a.astype(self.dtype) for a in (x, u / s, v / s)) + (s,)

    def __getitem__(self, k):
        x, u, v, _ = self.sample(k)
        t = self._files.tensor
        return t(x), t(u), t(v)

    def close(self):
        self._files.close()
