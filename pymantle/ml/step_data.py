"""Consecutive snapshot pairs for the U-net baselines (model.md section 7).

Each item is one step of a stored run, snapshot k -> k+1 (100 solver steps apart in the real
campaigns, `snapshot_every` of the preset in general):

    inputs (9, ny, nx) at k     `step_input_channels`: the 7 channels of
                                `data.input_channels` (x/4, y/4, log10 eta/8, Q, gamma,
                                beta normalised, T) then u_c/s, v_c/s, the face velocities
                                of snapshot k averaged to the cell centres, over s (Eq. 4)
    T_{k+1} (ny, nx)
    u_{k+1}/s (ny, nx+1), v_{k+1}/s (ny+1, nx) on the MAC faces

as torch tensors. All n-1 pairs of every finished simulation of the split are used (no
subsampling as in the surrogate's `select_snapshots`: the pairs must be consecutive). Files
are opened on demand and a few kept open, like `data.SnapshotDataset`.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..campaign import DONE, Campaign, read_index
from ..output import CorruptFile
from .data import InputNormalisation, input_channels
from .scaling import VelocityScaling


def centred_velocities(u, v):
    """MAC face velocities u (ny, nx+1), v (ny+1, nx) averaged to the cell centres."""
    return 0.5 * (u[..., :, 1:] + u[..., :, :-1]), 0.5 * (v[..., 1:, :] + v[..., :-1, :])


def step_input_channels(T, eta, x, y, params, u_s, v_s) -> np.ndarray:
    """(9, ny, nx) U-net input: `data.input_channels` + centred u/s, v/s (unet.INPUT_CHANNELS).

    u_s (ny, nx+1) and v_s (ny+1, nx) are the face velocities already divided by s.
    """
    uc, vc = centred_velocities(np.asarray(u_s, float), np.asarray(v_s, float))
    return np.concatenate([input_channels(T, eta, x, y, params), uc[None], vc[None]])


class StepPairDataset:
    """torch-compatible map-style dataset of (inputs_k, T_{k+1}, u_{k+1}/s, v_{k+1}/s)."""

    def __init__(self, campaign_dir, split="train", scaling: VelocityScaling | None = None,
                 normalisation: InputNormalisation | None = None, max_open=8,
                 dtype=np.float64):
        self.directory = Path(campaign_dir)
        rows = read_index(self.directory)
        self.rows = {r["sim"]: r for r in rows}
        train = [r for r in rows if r["split"] == "train" and r["status"] in DONE]
        if not train:
            raise ValueError(f"{campaign_dir}: no finished training simulations")
        self.normalisation = normalisation or InputNormalisation.from_rows(train)
        self.scaling = scaling or VelocityScaling()
        #: (sim, k) for every pair k -> k+1, in index order.
        self.items = [(r["sim"], k) for r in rows
                      if r["split"] == split and r["status"] in DONE
                      for k in range(r["n_snapshots"] - 1)]
        self.camp = Campaign(self.directory, "", 0)
        self.dtype = dtype
        self._open: OrderedDict = OrderedDict()
        self._max_open = max_open

    def __len__(self):
        return len(self.items)

    def _dataset(self, sim):
        import netCDF4
        if sim in self._open:
            self._open.move_to_end(sim)
            return self._open[sim]
        path = self.camp.sim_dir(sim) / "run.nc"
        try:
            ds = netCDF4.Dataset(path)
        except OSError as exc:
            raise CorruptFile(f"{path}: unreadable or truncated NetCDF file ({exc}); "
                              "rerun the campaign to regenerate it") from None
        self._open[sim] = ds
        if len(self._open) > self._max_open:
            self._open.popitem(last=False)[1].close()
        return ds

    def scale(self, sim) -> float:
        """The Eq. 4 velocity scale s of simulation `sim`."""
        r = self.rows[sim]
        return float(self.scaling.scale(r["Q"], r["gamma"], r["beta"])[0])

    def __getitem__(self, i):
        import torch
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
        r = self.rows[sim]
        s = self.scale(sim)
        params = self.normalisation.params(r["Q"], r["gamma"], r["beta"])
        inp = step_input_channels(T[0], eta, x, y, params, u[0] / s, v[0] / s)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=self.dtype))  # noqa: E731
        return t(inp), t(T[1]), t(u[1] / s), t(v[1] / s)

    def close(self):
        for ds in self._open.values():
            ds.close()
        self._open.clear()
