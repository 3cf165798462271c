"""Material laws and source terms of model.md section 1 (non-dimensional).

    eta(T, y) = exp(-ln(gamma) T + ln(beta) (1 - y))                      (Eq. 2)
    Q(t) = Q0 sum_i c_i exp(-lambda_i t)   (radioactive decay, four isotopes)
"""
from __future__ import annotations

import numpy as np

#: Decay constants and initial heat-production fractions of the four isotopes (model.md 1).
ISOTOPES = (
    (14.200767386369366, 0.130448695228009),
    (90.1668042856123, 0.2345333106414419),
    (4.534102158362219, 0.07981198571490902),
    (50.78194417365685, 0.55520600841564),
)


def viscosity(T, y, gamma: float, beta: float, eta_min: float = 0.0, eta_max: float = 0.0):
    """Eq. 2, optionally clipped to [eta_min, eta_max] (0 means no limit)."""
    eta = np.exp(-np.log(gamma) * T + np.log(beta) * (1.0 - y))
    if eta_min > 0.0 or eta_max > 0.0:
        eta = np.clip(eta, eta_min if eta_min > 0 else None, eta_max if eta_max > 0 else None)
    return eta


def corner_viscosity(eta_c: np.ndarray, mean: str = "geometric") -> np.ndarray:
    """Viscosity at the cell corners (ny+1, nx+1) from the four adjacent cells.

    geometric: for the exponential law this is the law evaluated at the averaged T and y,
               so a smooth field is interpolated to second order (the default).
    harmonic:  the right average across a sharp jump (shear across an interface is carried
               by the weak side): SolCx converges at second order with it, at first order
               with the stiff value on the interface (tests/test_stokes_solcx.py).
    Wall corners take the mean of the cells they touch (free slip never reads them).
    """
    pad = np.pad(eta_c, 1, mode="edge")
    quad = (pad[:-1, :-1], pad[1:, :-1], pad[:-1, 1:], pad[1:, 1:])
    if mean == "geometric":
        return np.exp(0.25 * sum(np.log(q) for q in quad))
    if mean == "harmonic":
        return 4.0 / sum(1.0 / q for q in quad)
    raise ValueError(f"corner mean {mean!r}: allowed geometric, harmonic")


def effective_rayleigh(ra: float, gamma: float, beta: float) -> float:
    """Ra_eff = Ra gamma / beta (model.md 1, inferred): Ra measured with the viscosity
    exp(ln(beta) - ln(gamma)) of hot material at the bottom relative to the top's."""
    return ra * gamma / beta


def heating_rate(t: float, q0: float, law: str = "constant", decay_rate: float = 0.0) -> float:
    """Internal heating at time t: constant, four-isotope radioactive decay, or a single
    exponential exp(-decay_rate t)."""
    if law == "constant":
        return q0
    if law == "decay":
        return q0 * sum(c * np.exp(-lam * t) for lam, c in ISOTOPES)
    if law == "exponential":
        return q0 * float(np.exp(-decay_rate * t))
    raise ValueError(f"unknown heating law {law!r}")


def face_buoyancy(T: np.ndarray, ra: float) -> np.ndarray:
    """Vertical body force Ra T on the horizontal faces (ny+1, nx); zero on the walls,
    where v is prescribed."""
    fy = np.zeros((T.shape[0] + 1, T.shape[1]))
    fy[1:-1] = ra * 0.5 * (T[:-1] + T[1:])
    return fy
