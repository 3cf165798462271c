"""The maximum principle of the energy equation, and the hybrid rollout's T clip
(docs/theory.md section 7).

Without the extended-Boussinesq terms the energy equation is

    dT/dt + u . grad T = lap T + H(t),    div u = 0,    H(t) >= 0,

with T fixed on the top and bottom walls and no heat flux through the side walls. Two
bounds follow for any divergence-free flow (the maximum principle):

    T(x, t) >= T_lo       = min(min T_0, T_top, T_bottom)                (no heat sink)
    T(x, t) <= T_hi(t)    = max(max T_0, T_top, T_bottom) + int_0^t H    (comparison with
                                                                          uniform heating)

They hold for the discrete scheme as well: every stage of the SSP-RK2 step
(fortran/energy.f90) is a convex combination of neighbouring values (limited upwind
advection of a discretely divergence-free flow, explicit diffusion within
`EnergySolver.time_step`'s bound) plus H dt. A Stokes solution keeps T inside them; so
does any exactly divergence-free field, whatever its error (the shipped network's
projected velocities, the Galerkin correction's).

With the EBA terms (di > 0) the adiabatic term -Di (T + T_s) v cools rising fluid and the
viscous dissipation heats: only T + T_s > 0 (a positive absolute temperature) is kept,
so the lower bound is -T_s and there is no upper one.

The study's hybrid rollout clipped T to [0, 2] after every step. That clip changed fields
a reference run keeps (a cold start's values just below 0, a restart or profile outside
the range), so it changed the physics of those runs; the clip here acts only on values
that no divergence-free flow can produce, i.e. on the effect of a flow's error (a
velocity field that is not divergence-free, such as the study's co-located stream
function, or float32 round-off in one).
"""
from __future__ import annotations

import numpy as np

from .physics import ISOTOPES


def heat_input(t: float, q0: float, law: str = "constant", decay_rate: float = 0.0) -> float:
    """int_0^t H(t') dt' of the heating laws of `physics.heating_rate`."""
    if law == "constant":
        return q0 * t
    if law == "decay":
        return q0 * sum(c * -np.expm1(-lam * t) / lam for lam, c in ISOTOPES)
    if law == "exponential":
        return q0 * t if decay_rate == 0.0 else q0 * float(-np.expm1(-decay_rate * t)) / decay_rate
    raise ValueError(f"unknown heating law {law!r}")


class TemperatureBounds:
    """The bounds of the module docstring for one run: `lower` and `upper(t)`; `clip`
    brings a field back inside them. They come from the run's initial field; a checkpoint
    keeps them (`as_state`), since a resumed run does not read that field again."""

    def __init__(self, lower: float, upper0: float, physics: dict):
        self.lower, self._upper0, self.physics = float(lower), float(upper0), physics

    @classmethod
    def from_initial(cls, T0: np.ndarray, physics: dict, t_top: float = 0.0,
                     t_bottom: float = 1.0) -> "TemperatureBounds":
        if physics.get("di", 0.0) > 0.0:
            return cls(-physics.get("t_surface", 0.0), np.inf, physics)
        walls = (t_top, t_bottom)
        return cls(min(float(np.min(T0)), *walls), max(float(np.max(T0)), *walls), physics)

    @classmethod
    def from_state(cls, state: dict, T: np.ndarray, physics: dict) -> "TemperatureBounds":
        """The bounds a checkpoint kept; from its T for a checkpoint written before they
        were kept (tighter than the initial field's or equal, by the principle itself)."""
        if "temperature_lower" in state:
            return cls(state["temperature_lower"], state["temperature_upper0"], physics)
        return cls.from_initial(T, physics)

    def as_state(self) -> dict:
        return {"temperature_lower": self.lower, "temperature_upper0": self._upper0}

    def upper(self, t: float) -> float:
        if not np.isfinite(self._upper0):
            return np.inf
        ph = self.physics
        return self._upper0 + heat_input(t, ph["q"], ph.get("heating", "constant"),
                                         ph.get("decay_rate", 0.0))

    def clip(self, T: np.ndarray, t: float) -> float:
        """Clip T in place to [lower, upper(t)]; returns the largest change made (0 when T
        was inside)."""
        lo, hi = self.lower, self.upper(t)
        excess = max(lo - float(T.min()), float(T.max()) - hi, 0.0)
        if excess > 0.0:
            np.clip(T, lo, hi, out=T)
        return excess
