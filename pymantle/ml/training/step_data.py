"""Consecutive snapshot pairs for the U-net baselines (docs/theory.md section 7).

Each item is one step of a stored run, snapshot k -> k+1 (100 solver steps apart in the real
campaigns, `snapshot_every` of the preset in general):

    inputs (9, ny, nx) at k     `step_input_channels`: the 7 channels of
                                `inputs.input_channels` (x/4, y/4, log10 eta/8, Q, gamma,
                                beta normalised, T) then u_c/s, v_c/s, the face velocities
                                of snapshot k averaged to the cell centres, over s (Eq. 4)
    T_{k+1} (ny, nx)
    u_{k+1}/s (ny, nx+1), v_{k+1}/s (ny+1, nx) on the MAC faces

as torch tensors. All n-1 pairs of every finished simulation of the split are used (no
subsampling as in the surrogate's `select_snapshots`: the pairs must be consecutive). Files
are opened on demand and a few kept open, like `data.SnapshotDataset`. The inputs
themselves are built by inputs.py (no I/O), which inference shares.
"""
from __future__ import annotations

import numpy as np

from .data import CampaignDataset
from ..networks.inputs import (InputNormalisation, VelocityScaling, centred_velocities,  # noqa: F401
                     step_input_channels, step_inputs)


class StepPairDataset(CampaignDataset):
    """torch-compatible map-style dataset of (inputs_k, T_{k+1}, u_{k+1}/s, v_{k+1}/s)."""

    def __init__(self, campaign_dir, split="train", scaling: VelocityScaling | None = None,
                 normalisation: InputNormalisation | None = None, max_open=8,
                 dtype=np.float64):
        from ...campaign_index import DONE
        super().__init__(campaign_dir, scaling, normalisation, max_open, dtype)
        #: (sim, k) for every pair k -> k+1, in index order.
        self.items = [(r["sim"], k) for r in self.index_rows
                      if r["split"] == split and r["status"] in DONE
                      for k in range(r["n_snapshots"] - 1)]

    def __getitem__(self, i):
        from ...output import CorruptFile
        sim, k = self.items[i]
        ds = self._dataset(sim)
        try:
            T = np.asarray(ds["T"][k:k + 2], dtype=float)
            eta = np.asarray(ds["eta"][k], dtype=float)
            u = np.asarray(ds["u"][k:k + 2], dtype=float)
            v = np.asarray(ds["v"][k:k + 2], dtype=float)
            x, y = np.meshgrid(np.asarray(ds["x"][:]), np.asarray(ds["y"][:]))
        except (OSError, RuntimeError, IndexError) as exc:
            raise CorruptFile(f"{ds.filepath()}: snapshots {k}, {k + 1} unreadable "
                              f"({exc})") from None
        if T.shape[0] != 2:
            raise CorruptFile(f"{ds.filepath()}: snapshot {k + 1} missing (the index "
                              "promises more snapshots than the file holds)")
        s = self.scale(sim)
        inp = step_input_channels(T[0], eta, x, y, self.params(sim), u[0] / s, v[0] / s)
        return self.tensor(inp), self.tensor(T[1]), self.tensor(u[1] / s), self.tensor(v[1] / s)
