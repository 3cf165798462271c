"""Material laws and source terms of docs/theory.md section 1 (non-dimensional; arXiv:2505.16041).

    eta(T, y) = exp(-ln(gamma) T + ln(beta) (1 - y))                      (Eq. 2)
    Q(t) = Q0 sum_i c_i exp(-lambda_i t)   (radioactive decay, four isotopes)
"""
from __future__ import annotations

import numpy as np

#: Decay constants and initial heat-production fractions of the four isotopes (docs/theory.md section 1).
ISOTOPES = (
    (14.200767386369366, 0.130448695228009),
    (90.1668042856123, 0.2345333106414419),
    (4.534102158362219, 0.07981198571490902),
    (50.78194417365685, 0.55520600841564),
)


def viscosity_exponents(y, gamma: float, beta: float) -> tuple[float, np.ndarray]:
    """Eq. 2 as ln eta = a T + b(y): a = -ln(gamma), b = ln(beta) (1 - y). Every form of
    the law (NumPy here and in ViscosityField, torch in viscosity_log10_torch) is built
    from these two terms."""
    return -np.log(gamma), np.log(beta) * (1.0 - np.asarray(y))


def viscosity_limits(eta_min: float = 0.0, eta_max: float = 0.0):
    """The clip of &physics eta_min / eta_max (0: no limit); None when neither is set."""
    if not (eta_min > 0.0 or eta_max > 0.0):
        return None
    return (eta_min if eta_min > 0 else None, eta_max if eta_max > 0 else None)


def viscosity(T, y, gamma: float, beta: float, eta_min: float = 0.0, eta_max: float = 0.0):
    """Eq. 2, optionally clipped to [eta_min, eta_max] (0 means no limit)."""
    a, b = viscosity_exponents(y, gamma, beta)
    eta = np.exp(a * T + b)
    limits = viscosity_limits(eta_min, eta_max)
    if limits is not None:
        eta = np.clip(eta, *limits)
    return eta


def viscosity_log10_terms(y, gamma: float, beta: float, eta_min: float = 0.0,
                          eta_max: float = 0.0):
    """Eq. 2 in log10: (a, b(y), limits) with log10 eta = a T + b(y), clipped to the
    log10 of the eta_min/eta_max limits (None: no clip). The surrogate's GPU input channel
    (viscosity_log10_torch) is built from them."""
    ln10 = float(np.log(10.0))
    a = -float(np.log(gamma)) / ln10
    b = float(np.log(beta)) / ln10 * (1.0 - np.asarray(y))
    lim = viscosity_limits(eta_min, eta_max)
    if lim is not None:
        lim = tuple(None if c is None else float(np.log10(c)) for c in lim)
    return a, b, lim


def viscosity_log10_torch(T, a: float, b, limits):
    """log10 eta = a T + b on a torch device, clipped to limits (viscosity_log10_terms);
    no allocation on the host, so that it can be captured in a CUDA graph."""
    leta = T * a + b
    if limits is not None:
        leta = leta.clamp(*limits)
    return leta


def corner_viscosity(eta_c: np.ndarray, mean: str = "geometric") -> np.ndarray:
    """Viscosity at the cell corners (ny+1, nx+1) from the four adjacent cells.

    geometric: for the exponential law this is the law evaluated at the averaged T and y,
               so a smooth field is interpolated to second order (the default).
    harmonic:  the right average across a sharp jump (shear across an interface is carried
               by the weak side): SolCx converges at second order with it, at first order
               with the stiff value on the interface (tests/test_stokes_solcx.py).
    Wall corners take the mean of the cells they touch (free slip never reads them).
    """
    if mean == "geometric":
        log_pad = np.empty((eta_c.shape[0] + 2, eta_c.shape[1] + 2))
        np.log(eta_c, out=log_pad[1:-1, 1:-1])
        return _geometric_corners(log_pad, np.empty((eta_c.shape[0] + 1, eta_c.shape[1] + 1)))
    pad = np.pad(eta_c, 1, mode="edge")
    quad = (pad[:-1, :-1], pad[1:, :-1], pad[:-1, 1:], pad[1:, 1:])
    if mean == "harmonic":
        return 4.0 / sum(1.0 / q for q in quad)
    raise ValueError(f"corner mean {mean!r}: allowed geometric, harmonic")


def _geometric_corners(log_pad: np.ndarray, out: np.ndarray) -> np.ndarray:
    """exp of the mean of the four cells' log viscosity at each corner, into out.

    log_pad (ny+2, nx+2) holds log(eta_c) inside; its one-cell frame is filled here by
    edge replication (np.pad's "edge" mode), so a wall corner averages the cells it touches.
    The sum runs in the order of the four quadrants (upper-left, lower-left, upper-right,
    lower-right), which keeps the result bit-identical to summing four padded logs."""
    log_pad[1:-1, 0], log_pad[1:-1, -1] = log_pad[1:-1, 1], log_pad[1:-1, -2]
    log_pad[0], log_pad[-1] = log_pad[1], log_pad[-2]
    np.add(log_pad[:-1, :-1], log_pad[1:, :-1], out=out)
    out += log_pad[:-1, 1:]
    out += log_pad[1:, 1:]
    out *= 0.25
    return np.exp(out, out=out)


class ViscosityField:
    """Eq. 2 at the cell centres and the (geometric-mean) corners of one grid, written
    into buffers that are reused at every call: the time loop's viscosity.

    Why buffers: at 126x504 `viscosity` + `corner_viscosity` take 1.6 ms a call, because
    each fresh 0.5 MB temporary is handed back to the kernel when freed and page-faulted in
    again at the next call; these buffers take 0.31 ms (0.35 ms for the functions where
    glibc keeps freed memory, allocator.py; measured in session 7). The values are
    bit-identical to `viscosity` followed by `corner_viscosity`. The returned arrays are
    overwritten by the next call: copy them to keep them."""

    def __init__(self, y: np.ndarray, gamma: float, beta: float, eta_min: float = 0.0,
                 eta_max: float = 0.0):
        # the depth term is the same for every T
        self.neg_log_gamma, self.depth_term = viscosity_exponents(y, gamma, beta)
        self.limits = viscosity_limits(eta_min, eta_max)
        ny, nx = np.shape(self.depth_term)
        self.eta_c = np.empty((ny, nx))
        self.eta_n = np.empty((ny + 1, nx + 1))
        self._log_pad = np.empty((ny + 2, nx + 2))

    def __call__(self, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        eta = np.multiply(T, self.neg_log_gamma, out=self.eta_c)
        eta += self.depth_term
        np.exp(eta, out=eta)
        if self.limits is not None:
            np.clip(eta, *self.limits, out=eta)
        np.log(eta, out=self._log_pad[1:-1, 1:-1])
        return eta, _geometric_corners(self._log_pad, self.eta_n)


def effective_rayleigh(ra: float, gamma: float, beta: float) -> float:
    """Ra_eff = Ra gamma / beta (docs/theory.md section 1, inferred): Ra measured with the viscosity
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
