"""A lazy torch Dataset over a campaign's NetCDF files (docs/theory.md sections 3-5).

Each item is one stored snapshot: the network inputs (7 channels at the cell centres:
x/4, y/4, log10(clip(eta, 1e-8, 1))/8, Q, gamma, beta min-max normalised over the training
split with gamma and beta in log10, and T) and the targets u/s, v/s on the MAC faces, s
from the velocity scaling (Eq. 4). Files are opened on demand and a few are kept open, so
the campaign never has to fit in memory. The channels and the scale are built by
inputs.py (no I/O), which inference shares.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..networks.inputs import (ETA_CLIP, N_CHANNELS, InputNormalisation, VelocityScaling,  # noqa: F401
                     input_channels)


class CampaignDataset:
    """Shared part of the datasets over a campaign: the index, the training-split input
    normalisation, the velocity scaling, and a small cache of open run files (opened on
    demand, least recently used closed first)."""

    def __init__(self, directory, scaling: VelocityScaling | None = None,
                 normalisation: InputNormalisation | None = None, max_open=8, dtype=np.float64):
        self.directory = Path(directory)
        from ...campaign_index import DONE, Campaign, read_index   # needs f90nml: imported lazily
        rows = read_index(self.directory)
        self.index_rows = rows
        self.rows = {r["sim"]: r for r in rows}
        train = [r for r in rows if r["split"] == "train" and r["status"] in DONE]
        if not train:
            raise ValueError(f"{directory}: no finished training simulations")
        self.normalisation = normalisation or InputNormalisation.from_rows(train)
        self.scaling = scaling or VelocityScaling()
        self.camp = Campaign(self.directory, "", 0)
        self.dtype = dtype
        self.items: list[tuple[int, int]] = []
        self._open: OrderedDict = OrderedDict()
        self._max_open = max_open

    def __len__(self):
        return len(self.items)

    def _dataset(self, sim):
        import netCDF4
        from ...output import CorruptFile
        if sim in self._open:
            self._open.move_to_end(sim)
            return self._open[sim]
        path = self.camp.sim_dir(sim) / "run.nc"
        try:
            ds = netCDF4.Dataset(path)
        except OSError as exc:
            raise CorruptFile(f"{path}: unreadable or truncated NetCDF file ({exc}); "
                              "rerun the campaign to regenerate it") from None
        try:
            require_uniform_rows(ds, path)
        except Exception:
            ds.close()
            raise
        self._open[sim] = ds
        if len(self._open) > self._max_open:
            self._open.popitem(last=False)[1].close()
        return ds

    def scale(self, sim) -> float:
        """The Eq. 4 velocity scale s of simulation `sim`."""
        r = self.rows[sim]
        return float(self.scaling.scale(r["Q"], r["gamma"], r["beta"])[0])

    def params(self, sim):
        r = self.rows[sim]
        return self.normalisation.params(r["Q"], r["gamma"], r["beta"])

    def tensor(self, a):
        import torch
        return torch.from_numpy(np.ascontiguousarray(a, dtype=self.dtype))

    def close(self):
        for ds in self._open.values():
            ds.close()
        self._open.clear()


class SnapshotDataset(CampaignDataset):
    """torch-compatible map-style dataset (len, getitem) of (inputs, u/s, v/s)."""

    def __init__(self, directory, split="train", first=200, later=800, seed=0,
                 scaling: VelocityScaling | None = None,
                 normalisation: InputNormalisation | None = None, max_open=8, dtype=np.float64):
        super().__init__(directory, scaling, normalisation, max_open, dtype)
        from ...campaign_index import select_snapshots
        self.items = select_snapshots(self.directory, split, first, later, seed)

    def __getitem__(self, k):
        sim, snap = self.items[k]
        ds = self._dataset(sim)
        try:
            T = np.asarray(ds["T"][snap], dtype=float)
            eta = np.asarray(ds["eta"][snap], dtype=float)
            u = np.asarray(ds["u"][snap], dtype=float)
            v = np.asarray(ds["v"][snap], dtype=float)
            x, y = np.meshgrid(np.asarray(ds["x"][:]), np.asarray(ds["y"][:]))
        except (OSError, RuntimeError, IndexError) as exc:
            from ...output import CorruptFile
            raise CorruptFile(f"{ds.filepath()}: snapshot {snap} unreadable ({exc})") from None
        s = self.scale(sim)
        inp = input_channels(T, eta, x, y, self.params(sim))
        return self.tensor(inp), self.tensor(u / s), self.tensor(v / s)


def require_uniform_rows(ds, where) -> None:
    """The surrogate's channels and losses assume equal row heights: refuse a run file of
    a wall-refined grid (&grid refine_walls > 0) instead of mis-scaling it silently."""
    import numpy as np
    yf = np.asarray(ds["y_face"][:], dtype=float)
    if not np.allclose(np.diff(yf), 1.0 / (len(yf) - 1), rtol=1e-9, atol=0.0):
        from ...config import ConfigError
        raise ConfigError(f"{where}: a wall-refined grid (&grid refine_walls > 0); the "
                          "surrogate supports uniform grids only")
