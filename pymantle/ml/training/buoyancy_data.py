"""The buoyancy U-nets' training data: each stored snapshot of a campaign as the network's
inputs and its targets u/s, v/s with the snapshot's own buoyancy scale s
(networks/buoyancy.py), and its x-mirror image."""
from __future__ import annotations

import numpy as np

from ..networks.buoyancy import buoyancy_inputs


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
        from ...campaign_index import select_snapshots
        from .data import CampaignDataset
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
