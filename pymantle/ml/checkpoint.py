"""Model files: weights plus the metadata the solver needs to use them, loaded safely.

A model file is a torch.save'd dict of plain types and tensors only, so it loads with
torch.load(weights_only=True) (no pickled code runs):

    format "pymantle-surrogate", format_version, pymantle_version
    model      the network's configuration (SurrogateConfig as a dict) and its class name
    grid       {"nx", "ny", "aspect"} the grid it was trained on
    normalisation  min-max ranges of Q, log10 gamma, log10 beta (input channels 4-6)
    scaling    the Eq. 4 coefficients and headroom
    training   free-form provenance (campaign, epochs, losses)
    state_dict the weights
    sha256     digest of everything above (format version 2; version 1 covered the weights
               only): altered weights or metadata, or a truncated file, are refused
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

FORMAT = "pymantle-surrogate"
FORMAT_VERSION = 2


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason in one line."""


def weights_digest(state_dict) -> str:
    import torch
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def payload_digest(payload: dict) -> str:
    """SHA-256 of a model file's metadata (canonical JSON) and weights, without "sha256"."""
    meta = {k: v for k, v in payload.items() if k not in ("state_dict", "sha256")}
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    h.update(weights_digest(payload["state_dict"]).encode())
    return h.hexdigest()


def recorded_digest_matches(payload: dict) -> bool:
    if payload["format_version"] < 2:               # version 1: the weights only
        return weights_digest(payload["state_dict"]) == payload["sha256"]
    return payload_digest(payload) == payload["sha256"]


def save_model(path, state_dict, *, model: dict, grid: dict, normalisation: dict,
               scaling: dict, training: dict | None = None) -> Path:
    """Write a model file atomically (temporary file + rename)."""
    import torch
    from .._version import __version__
    # Metadata as plain Python types only (a NumPy scalar would break weights_only loads).
    plain = lambda d: json.loads(json.dumps(d, default=float))  # noqa: E731
    payload = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "pymantle_version": __version__,
        "model": plain(model), "grid": plain(grid), "normalisation": plain(normalisation),
        "scaling": plain(scaling), "training": plain(training or {}),
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
    }
    payload["sha256"] = payload_digest(payload)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


_REQUIRED = ("format", "format_version", "model", "grid", "normalisation", "scaling",
             "state_dict", "sha256")


CLASSES = {"StokesSurrogate": "Stokes surrogate", "BuoyancyUNet": "Stokes surrogate",
           "TwoGridUNet": "Stokes surrogate",
           "UNet": "whole-step U-net baseline"}
#: The model classes that replace the Stokes solve (what `&stokes model` may name).
STOKES_SURROGATES = ("StokesSurrogate", "BuoyancyUNet", "TwoGridUNet")


def load_model_file(path, expect_grid: dict | None = None, expect_class: str | None = None) -> dict:
    """Read and check a model file; ModelFileError names what is wrong."""
    import torch
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelFileError(f"model file {str(path)!r} is not a readable torch file "
                             f"(weights_only load failed: {msg[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"model file {str(path)!r} is not a pymantle surrogate model")
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise ModelFileError(f"model file {str(path)!r} lacks {', '.join(missing)}")
    if payload["format_version"] > FORMAT_VERSION:
        raise ModelFileError(f"model file {str(path)!r} has format version "
                             f"{payload['format_version']}; this pymantle reads <= {FORMAT_VERSION}")
    if not recorded_digest_matches(payload):
        raise ModelFileError(f"model file {str(path)!r}: weights or metadata do not match "
                             "their recorded SHA-256 (file tampered with or corrupted)")
    cls = payload["model"].get("class", "StokesSurrogate")
    allowed = STOKES_SURROGATES if expect_class in STOKES_SURROGATES else (expect_class,)
    if expect_class is not None and cls not in allowed:
        raise ModelFileError(f"model file {str(path)!r} holds a {CLASSES.get(cls, cls)} "
                             f"({cls}), not a {CLASSES.get(expect_class, expect_class)}")
    g = payload["grid"]
    if expect_grid is not None:
        for k in ("nx", "ny"):
            if int(g[k]) != int(expect_grid[k]):
                raise ModelFileError(f"model file {str(path)!r} was trained on a {g['ny']}x{g['nx']} "
                                     f"grid; this run has {expect_grid['ny']}x{expect_grid['nx']}")
        if abs(float(g["aspect"]) - float(expect_grid["aspect"])) > 1e-12:
            raise ModelFileError(f"model file {str(path)!r} was trained with aspect "
                                 f"{g['aspect']}; this run has {expect_grid['aspect']}")
    norm = payload["normalisation"]
    for k in ("q", "log_gamma", "log_beta"):
        lo, hi = norm.get(k, (0, 0))
        if not hi > lo:
            raise ModelFileError(f"model file {str(path)!r}: normalisation range {k} = "
                                 f"{norm.get(k)} is empty")
    return payload


def to_bytes(payload) -> bytes:
    """Serialise a payload in memory (tests use it to tamper with files)."""
    import torch
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()
