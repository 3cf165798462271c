"""Training packs: a campaign's selected snapshots in one portable .npz file.

A pack lets the network train where the solver is not installed (a GPU node with torch
alone: no PETSc, no Fortran kernels, no netCDF4). It holds, per snapshot, T and the stream
function of the scaled velocities on the cell corners, both float32, and per simulation
its parameters; the viscosity channel and the face velocities are rebuilt on load, and
`write_pack` checks that rebuild against the campaign before it writes anything:

    psi[0, :] = 0,  psi[j+1, i] = psi[j, i] + dy u[j, i] / s      (u = d psi / dy)
    v[j, i] / s = -(psi[j, i+1] - psi[j, i]) / dx                    (exact when div u = 0)

so a snapshot costs 33 kB instead of the 115 kB of its network input and targets.
`pymantle pack CAMPAIGN OUT.npz`; `pymantle train OUT.npz` trains on it.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..networks.inputs import InputNormalisation, VelocityScaling, pack_inputs, step_inputs  # noqa: F401

FORMAT = "pymantle-training-pack-1"


class PackError(ValueError):
    """A file that is not a readable training pack (one line, names the file)."""


def stream_from_u(u: np.ndarray, dy: float) -> np.ndarray:
    """Stream function on the cell corners (ny+1, nx+1) with psi = 0 on the bottom wall."""
    ny, nxp = u.shape
    psi = np.zeros((ny + 1, nxp))
    psi[1:] = np.cumsum(u * dy, axis=0)
    return psi


def velocities_from_stream(psi: np.ndarray, dx: float, dy: float):
    return (psi[1:] - psi[:-1]) / dy, -(psi[:, 1:] - psi[:, :-1]) / dx


def write_pack(campaign, path, n_train: int = 0, n_cv: int = 0, first: int = 200,
               later: int = 800, seed: int = 0, progress: bool = True, sims=None) -> dict:
    """Pack the campaign's selected train and cv snapshots (n_train / n_cv > 0: a random
    subset of that many; sims: only these simulations, every selected snapshot of each, so
    that their consecutive pairs are there for the U-nets) into `path`, written atomically.
    Returns a summary dict."""
    import netCDF4
    from tqdm import tqdm
    from ...campaign_index import Campaign
    from ...output import run_physics
    from .data import SnapshotDataset
    from .scaling import fit_from_campaign
    scaling = fit_from_campaign(campaign, "train")
    train = SnapshotDataset(campaign, "train", first, later, seed, scaling=scaling)
    cv = SnapshotDataset(campaign, "cv", first, later, seed, scaling=scaling,
                         normalisation=train.normalisation)
    camp = Campaign(Path(campaign), "", 0)
    rng = np.random.default_rng(seed)
    out = {"T": [], "psi": [], "sim": [], "snap": [], "split": []}
    worst_v, worst_eta = 0.0, 0.0
    aspect = None
    physics = {}
    for split, ds, n in (("train", train, n_train), ("cv", cv, n_cv)):
        idx = np.arange(len(ds))
        if sims is not None:
            keep = set(sims)
            idx = np.array([k for k in idx if ds.items[k][0] in keep], int)
        elif n and n < len(ds):
            idx = np.sort(rng.choice(len(ds), n, replace=False))
        for k in tqdm(idx, desc=f"pack {split}", disable=not progress):
            sim, snap = ds.items[k]
            if sim not in physics:
                with netCDF4.Dataset(camp.sim_dir(sim) / "run.nc") as nc:
                    physics[sim] = run_physics(nc)
                    aspect = float(nc.aspect)
            x, us, vs = (t.numpy() for t in ds[k])
            ny, nx = x.shape[-2:]
            dx, dy = aspect / nx, 1.0 / ny
            T = x[6].astype(np.float32)
            psi = stream_from_u(us, dy).astype(np.float32)
            _, v_back = velocities_from_stream(psi.astype(float), dx, dy)
            worst_v = max(worst_v, float(np.abs(v_back - vs).max() / max(np.abs(vs).max(), 1e-30)))
            rebuilt = pack_inputs(T.astype(float), physics[sim], aspect, train.normalisation)
            worst_eta = max(worst_eta, float(np.abs(rebuilt[2] - x[2]).max()))
            for key, val in (("T", T), ("psi", psi), ("sim", sim), ("snap", snap),
                             ("split", split == "cv")):
                out[key].append(val)
    # float32 storage: ~1e-7 relative per value, summed over <= ny rows of the column
    if worst_v > 1e-4 or worst_eta > 1e-4:
        raise PackError(f"{campaign}: the rebuilt v (relative error {worst_v:.1e}) or "
                        f"viscosity channel (error {worst_eta:.1e}) differs from the campaign; "
                        "are its velocities divergence-free?")
    packed = sorted(physics)
    meta = {"format": FORMAT, "campaign": str(campaign), "aspect": aspect,
            "normalisation": train.normalisation.to_dict(), "scaling": scaling.to_dict(),
            "physics": {str(s): physics[s] for s in packed}, "first": first, "later": later,
            "seed": seed, "check": {"v_rel": worst_v, "log_eta": worst_eta}}
    arrays = {"T": np.stack(out["T"]), "psi": np.stack(out["psi"]),
              "sim": np.array(out["sim"], np.int32), "snap": np.array(out["snap"], np.int32),
              "cv": np.array(out["split"], bool), "meta": np.array(json.dumps(meta))}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")      # same folder: the rename is atomic
    try:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"path": str(path), "train": int((~arrays["cv"]).sum()), "cv": int(arrays["cv"].sum()),
            "bytes": path.stat().st_size, **meta["check"]}


def is_pack(path) -> bool:
    return Path(path).is_file() and str(path).endswith(".npz")


class PackDataset:
    """The torch-compatible dataset over one split of a pack; same items as SnapshotDataset
    ((inputs, u/s, v/s) tensors), with `items`, `normalisation` and `scaling`."""

    def __init__(self, path, split="train", dtype=np.float64):
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise PackError(f"{path}: not a pymantle training pack "
                                    f"(format {meta.get('format')!r}, expected {FORMAT})")
                sel = z["cv"] if split == "cv" else ~z["cv"]
                self.T, self.psi = z["T"][sel], z["psi"][sel]
                sims, snaps = z["sim"][sel], z["snap"][sel]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            if isinstance(exc, PackError):
                raise
            raise PackError(f"{path}: unreadable or truncated training pack ({exc})") from None
        self.meta = meta
        self.items = [(int(a), int(b)) for a, b in zip(sims, snaps)]
        n = meta["normalisation"]
        self.normalisation = InputNormalisation(tuple(n["q"]), tuple(n["log_gamma"]),
                                                tuple(n["log_beta"]))
        self.scaling = VelocityScaling.from_dict(meta["scaling"])
        self.aspect = float(meta["aspect"])
        self.dtype = dtype

    def __len__(self):
        return len(self.items)

    def __getitem__(self, k):
        import torch
        sim, _ = self.items[k]
        T = self.T[k].astype(float)
        ny, nx = T.shape
        inp = pack_inputs(T, self.meta["physics"][str(sim)], self.aspect, self.normalisation)
        u, v = velocities_from_stream(self.psi[k].astype(float), self.aspect / nx, 1.0 / ny)
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=self.dtype))  # noqa: E731
        return to(inp), to(u), to(v)

    def close(self):
        pass


class PackStepDataset(PackDataset):
    """Consecutive snapshot pairs k -> k+1 of a pack, for the U-net baselines: the same items
    as `step_data.StepPairDataset` ((inputs_k (9 channels), T_{k+1}, u_{k+1}/s, v_{k+1}/s)).

    Only pairs whose both snapshots were packed are used; the laptop campaign's runs hold
    fewer than the 200 + 800 selected snapshots, so there that is every pair."""

    def __init__(self, path, split="train", dtype=np.float64):
        super().__init__(path, split, dtype)
        self.snapshots = self.items             # (sim, snapshot) of the packed arrays
        where = {item: k for k, item in enumerate(self.snapshots)}
        #: (position of snapshot k, position of snapshot k+1) in the pack's arrays
        self.pairs = [(k, where[(sim, snap + 1)]) for k, (sim, snap) in enumerate(self.snapshots)
                      if (sim, snap + 1) in where]
        #: (sim, k) of each pair k -> k+1, as in StepPairDataset
        self.items = [self.snapshots[a] for a, _ in self.pairs]

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        import torch
        a, b = self.pairs[i]
        sim, _ = self.items[i]
        ny, nx = self.T[a].shape
        dx, dy = self.aspect / nx, 1.0 / ny
        u0, v0 = velocities_from_stream(self.psi[a].astype(float), dx, dy)
        inp = step_inputs(self.T[a].astype(float), self.meta["physics"][str(sim)], self.aspect,
                          self.normalisation, u0, v0)
        u1, v1 = velocities_from_stream(self.psi[b].astype(float), dx, dy)
        to = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=self.dtype))  # noqa: E731
        return to(inp), to(self.T[b].astype(float)), to(u1), to(v1)
