"""Profile predictor (Agarwal et al. 2024, used by the study's "profile" start): a small
network mapping (Q, gamma, beta, depth) to the late-time horizontally averaged temperature,
trained on a campaign's finished training simulations (time mean of T_profile over the last
half of each run's snapshots). Its prediction, written as a text file (y, T), starts a run
with `&initial kind = 'profile'`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .inputs import InputNormalisation


def late_profiles(campaign_dir, split="train", late=0.5):
    """(rows, y, profiles): each finished simulation's time-mean late T profile."""
    import netCDF4
    from ...campaign_index import DONE, Campaign, read_index
    camp = Campaign(Path(campaign_dir), "", 0)
    rows = [r for r in read_index(campaign_dir) if r["split"] == split and r["status"] in DONE]
    profs, y = [], None
    for r in rows:
        with netCDF4.Dataset(camp.sim_dir(r["sim"]) / "run.nc") as ds:
            p = np.asarray(ds["T_profile"][:], dtype=float)
            y = np.asarray(ds["y"][:], dtype=float)
        profs.append(p[int(len(p) * (1 - late)):].mean(axis=0))
    return rows, y, np.array(profs)


class ProfilePredictor:
    def __init__(self, normalisation: InputNormalisation, hidden=64, seed=0):
        import torch
        from torch import nn
        torch.manual_seed(seed)
        self.norm = normalisation
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                                 nn.GELU(), nn.Linear(hidden, 1)).double()

    def _features(self, Q, gamma, beta, y):
        q, g, b = self.norm.params(np.asarray(Q, float), np.asarray(gamma, float),
                                   np.asarray(beta, float))
        return np.stack(np.broadcast_arrays(q, g, b, y), axis=-1)

    def fit(self, rows, y, profiles, epochs=2000, lr=3e-3):
        import torch
        X = np.concatenate([self._features(r["Q"], r["gamma"], r["beta"], y) for r in rows])
        # learn the departure from the conductive line, which fixes the walls' trend
        Y = (profiles - (1 - y)[None]).ravel()
        X, Y = torch.from_numpy(X), torch.from_numpy(Y)[:, None]
        opt = torch.optim.Adam(self.net.parameters(), lr)
        for _ in range(epochs):
            opt.zero_grad()
            loss = torch.mean((self.net(X) - Y) ** 2)
            loss.backward()
            opt.step()
        return float(loss.detach())

    def predict(self, Q, gamma, beta, y):
        import torch
        with torch.no_grad():
            d = self.net(torch.from_numpy(self._features(Q, gamma, beta, y))).numpy()[:, 0]
        return np.clip((1 - y) + d, 0.0, 2.0)

    def save(self, path):
        import torch
        torch.save({"format": "pymantle-profile-predictor", "state_dict": self.net.state_dict(),
                    "normalisation": {k: list(map(float, v)) for k, v in
                                      self.norm.to_dict().items()}}, path)

    @classmethod
    def load(cls, path):
        import torch
        p = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(p, dict) or p.get("format") != "pymantle-profile-predictor":
            raise ValueError(f"{path} is not a pymantle profile predictor")
        n = p["normalisation"]
        obj = cls(InputNormalisation(tuple(n["q"]), tuple(n["log_gamma"]), tuple(n["log_beta"])))
        obj.net.load_state_dict(p["state_dict"])
        return obj


def train_profile_predictor(campaign_dir, epochs=2000) -> tuple[ProfilePredictor, float]:
    rows, y, profs = late_profiles(campaign_dir)
    pp = ProfilePredictor(InputNormalisation.from_rows(rows))
    return pp, pp.fit(rows, y, profs, epochs=epochs)


def write_profile(path, y, T):
    """Text file with columns y, T (what &initial kind = 'profile' reads)."""
    np.savetxt(path, np.c_[y, T], header="y T (predicted horizontally averaged temperature)")
