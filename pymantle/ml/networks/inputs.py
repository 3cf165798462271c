"""The network's inputs and output scale, with no I/O (what inference needs).

The study's 7 channels at the cell centres (docs/theory.md sections 3-5): x/4, y/4,
log10(clip(eta, 1e-8, 1))/8, Q, gamma, beta min-max normalised over the training split
with gamma and beta in log10, and T; the U-net baselines' 9 (those, then the centred
u/s, v/s); and the per-simulation velocity scale of Eq. 4 (docs/theory.md section 4):

    s(Q, gamma, beta) = headroom * exp(a1 Q/10 + a2 ln(gamma) + a3 ln(beta))

The network learns u/s and v/s; a scale multiplies velocities without shifting their mean,
so mass conservation survives. Reading campaigns (datasets, the fit of the scale) lives
in data.py, step_data.py and scaling.py, which build on this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ETA_CLIP = (1e-8, 1.0)
N_CHANNELS = 7

#: The study's published coefficients.
PAPER_COEFFICIENTS = (1.80167667, 0.4330392, -0.46052953)


def _design(Q, gamma, beta):
    return np.column_stack([np.asarray(Q, float) / 10.0, np.log(gamma), np.log(beta)])


@dataclass(frozen=True)
class VelocityScaling:
    coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS
    headroom: float = 5.0

    def scale(self, Q, gamma, beta):
        a = np.asarray(self.coefficients)
        return self.headroom * np.exp(_design(np.atleast_1d(Q), np.atleast_1d(gamma),
                                              np.atleast_1d(beta)) @ a)

    @classmethod
    def fit(cls, Q, gamma, beta, u_max, v_max, headroom: float = 5.0) -> "VelocityScaling":
        """No-intercept fit of ln(u_max) and ln(v_max), stacked, on [Q/10, ln g, ln b]."""
        X = _design(Q, gamma, beta)
        y = np.concatenate([np.log(u_max), np.log(v_max)])
        coef, *_ = np.linalg.lstsq(np.vstack([X, X]), y, rcond=None)
        return cls(tuple(float(c) for c in coef), headroom)

    def to_dict(self) -> dict:
        return {"coefficients": list(self.coefficients), "headroom": self.headroom}

    @classmethod
    def from_dict(cls, d: dict) -> "VelocityScaling":
        return cls(tuple(float(c) for c in d["coefficients"]), float(d["headroom"]))


@dataclass(frozen=True)
class InputNormalisation:
    """Min-max ranges of Q, log10 gamma and log10 beta over the training split."""
    q: tuple[float, float]
    log_gamma: tuple[float, float]
    log_beta: tuple[float, float]

    @staticmethod
    def _mm(v, rng):
        lo, hi = rng
        return (v - lo) / (hi - lo) if hi > lo else 0.0 * v

    def params(self, Q, gamma, beta):
        return (self._mm(Q, self.q), self._mm(np.log10(gamma), self.log_gamma),
                self._mm(np.log10(beta), self.log_beta))

    @classmethod
    def from_rows(cls, rows):
        q = [r["Q"] for r in rows]
        g = [np.log10(r["gamma"]) for r in rows]
        b = [np.log10(r["beta"]) for r in rows]
        return cls((min(q), max(q)), (min(g), max(g)), (min(b), max(b)))

    def to_dict(self):
        return {"q": list(self.q), "log_gamma": list(self.log_gamma),
                "log_beta": list(self.log_beta)}


def input_channels(T, eta, x, y, params) -> np.ndarray:
    """(7, ny, nx) network input from fields at the cell centres."""
    ny, nx = T.shape
    leta = np.log10(np.clip(eta, *ETA_CLIP)) / 8.0
    q, g, b = params
    return np.stack([np.broadcast_to(x / 4.0, (ny, nx)), np.broadcast_to(y / 4.0, (ny, nx)),
                     leta, np.full((ny, nx), q), np.full((ny, nx), g), np.full((ny, nx), b), T])


def pack_inputs(T, ph, aspect, normalisation: InputNormalisation) -> np.ndarray:
    """The (7, ny, nx) network input rebuilt from T and the simulation's parameters."""
    from ...physics import viscosity
    ny, nx = T.shape
    x, y = np.meshgrid((np.arange(nx) + 0.5) * aspect / nx, (np.arange(ny) + 0.5) / ny)
    eta = viscosity(T, y, ph["gamma"], ph["beta"], ph["eta_min"], ph["eta_max"])
    return input_channels(T, eta, x, y, normalisation.params(ph["q"], ph["gamma"], ph["beta"]))


def centred_velocities(u, v):
    """MAC face velocities u (ny, nx+1), v (ny+1, nx) averaged to the cell centres."""
    return 0.5 * (u[..., :, 1:] + u[..., :, :-1]), 0.5 * (v[..., 1:, :] + v[..., :-1, :])


def step_input_channels(T, eta, x, y, params, u_s, v_s) -> np.ndarray:
    """(9, ny, nx) U-net input: `input_channels` + centred u/s, v/s (unet.INPUT_CHANNELS).

    u_s (ny, nx+1) and v_s (ny+1, nx) are the face velocities already divided by s.
    """
    uc, vc = centred_velocities(np.asarray(u_s, float), np.asarray(v_s, float))
    return np.concatenate([input_channels(T, eta, x, y, params), uc[None], vc[None]])


def step_inputs(T, physics: dict, aspect: float, normalisation: InputNormalisation, u_s,
                v_s) -> np.ndarray:
    """The same (9, ny, nx) input from T, the run's parameters and u/s, v/s alone (the
    viscosity and coordinate channels rebuilt, as `pack_inputs` does)."""
    uc, vc = centred_velocities(np.asarray(u_s, float), np.asarray(v_s, float))
    return np.concatenate([pack_inputs(T, physics, aspect, normalisation), uc[None], vc[None]])
