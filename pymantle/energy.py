"""Energy equation: thin wrapper of the Fortran step (fortran/energy.f90) and the time
step control.

    dT/dt + div(u T) = lap T + Q(t) [- Di (T + T_s) v + (Di / Ra) tau:grad u]   (EBA terms)
"""
from __future__ import annotations

import numpy as np

from . import _kernels
from .grid import Grid

LIMITER_CODES = {"upwind": 0, "minmod": 1, "vanleer": 2, "mc": 3, "superbee": 4}
_EN = _kernels.energy
_DIAG = _kernels.diagnostics


class EnergySolver:
    def __init__(self, grid: Grid, limiter: str = "vanleer", courant: float = 0.5,
                 dt_max: float = 0.0, kappa: float = 1.0, t_bottom: float = 1.0,
                 t_top: float = 0.0):
        self.grid = grid
        self.limiter = LIMITER_CODES[limiter]
        self.courant, self.dt_max, self.kappa = courant, dt_max, kappa
        self.t_bottom, self.t_top = t_bottom, t_top
        self._source = np.zeros((grid.nx, grid.ny), order="F")   # reused Fortran buffer
        self._hy = grid.dy_c

    def time_step(self, u: np.ndarray, v: np.ndarray) -> float:
        """Largest stable step: Courant-limited advection, and forward-Euler positivity of
        the combined upwind advection + explicit diffusion (each SSP-RK2 stage is one)."""
        g = self.grid
        if g.uniform:
            adv = np.abs(u).max() / g.dx + np.abs(v).max() / g.dy
        else:
            # row by row: the thin wall rows carry slow vertical flow, and a global
            # max |v| over the smallest height would be needlessly small
            av = np.abs(v).max(axis=1)
            vrow = np.maximum(av[:-1], av[1:])
            adv = float((np.abs(u).max(axis=1) / g.dx + vrow / self._hy).max())
        # the smallest row bounds the diffusion limit (kappa/(h d) <= kappa/h_min^2)
        dif = 2.0 * self.kappa * (1.0 / g.dx**2 + 1.0 / g.dy_min**2)
        dt = 1.0 / (adv + dif)
        if adv > 0:
            dt = min(dt, self.courant / adv)
        if self.dt_max > 0:
            dt = min(dt, self.dt_max)
        return float(dt)

    def step(self, T: np.ndarray, u: np.ndarray, v: np.ndarray, source, dt: float) -> None:
        """Advance T (ny, nx, C-ordered) in place by dt; source is a scalar or a field."""
        g = self.grid
        if np.ndim(source) == 0:
            self._source.fill(source)
        else:
            self._source[...] = np.asarray(source).T
        # The transposes are Fortran-ordered views: no copies of T, u, v.
        if g.uniform:
            _EN.step_ssprk2(T.T, u.T, v.T, self._source, g.dx, g.dy, dt, self.kappa,
                            self.t_bottom, self.t_top, self.limiter)
        else:
            _EN.step_ssprk2_y(T.T, u.T, v.T, self._source, g.dx, self._hy, dt, self.kappa,
                              self.t_bottom, self.t_top, self.limiter)

    def source(self, t: float, dt: float, T, u, v, eta_c, eta_n, physics: dict):
        """The whole heat source of the step from t to t + dt, from the &physics group:
        the internal heating at mid-step (second order for a decaying Q; physics.
        heating_rate) plus, with di > 0, the extended-Boussinesq terms of the current
        state (eba_source). A scalar without EBA, else a field."""
        from .physics import heating_rate
        ph = physics
        q = heating_rate(t + 0.5 * dt, ph["q"], ph["heating"], ph["decay_rate"])
        if ph["di"] > 0.0:
            return q + self.eba_source(T, u, v, eta_c, eta_n, ph["di"], ph["ra"],
                                       ph["t_surface"])
        return q

    def eba_source(self, T, u, v, eta_c, eta_n, di: float, ra: float, t_surface: float):
        """Extended-Boussinesq terms at the cell centres: adiabatic heating
        -Di (T + T_s) v and viscous dissipation (Di / Ra) tau:grad u.

        The adiabatic term is built from the horizontal faces, with T averaged onto them
        exactly as the Stokes buoyancy is, so that over the box it sums to -Di <T v> (the
        sum of v over any row of faces vanishes by mass conservation), while the
        dissipation sums to Di/Ra <tau:grad u> = Di <T v> for the discrete Stokes
        solution: the two cancel to solver precision and Nu_top - Nu_bottom = Q holds at
        steady state with the EBA terms on, as it must."""
        g = self.grid
        tf = np.zeros(g.v_shape)
        tf[1:-1] = 0.5 * (T[:-1] + T[1:]) + t_surface
        flux = v * tf                                   # zero on the walls (v = 0)
        adiabatic = -di * 0.5 * (flux[:-1] + flux[1:])
        phi = _DIAG.dissipation(u.T, v.T, eta_c.T, eta_n.T, g.dx, self._hy).T
        return adiabatic + (di / ra) * phi
