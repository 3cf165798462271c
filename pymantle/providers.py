"""Velocity providers: whatever turns a temperature field into face velocities.

    direct | lagged | iterative | multigrid   PETSc Stokes solvers (stokes.py)
    skip-N                                    any of those every N steps (momentum skipping)
    surrogate                                 the CNN (pymantle.ml, once a model exists)

Every provider returns (u, v, p, iterations) on the MAC faces; iterations = -1 marks
velocities reused without a solve.
"""
from __future__ import annotations

from .config import Config, ConfigError
from .grid import Grid
from .physics import face_buoyancy
from .stokes import StokesSolver


class VelocityProvider:
    name = "base"

    def velocities(self, step: int, T, eta_c, eta_n):
        raise NotImplementedError

    def restore(self, u, v, p):
        """Hand the provider the velocities of a checkpoint (previous solution)."""

    def force_refresh(self):
        """Drop cached factorisations (called at checkpoint steps for reproducibility)."""

    def close(self):
        pass


class StokesProvider(VelocityProvider):
    def __init__(self, grid: Grid, ra: float, method: str, comm=None, **solver_kw):
        self.name = method
        self.ra = ra
        self.solver = StokesSolver(grid, method=method, comm=comm, **solver_kw)
        self._guess = None

    def velocities(self, step, T, eta_c, eta_n):
        res = self.solver.solve(eta_c, eta_n, face_buoyancy(T, self.ra),
                                initial_guess=self._guess)
        self._guess = None
        return res.u, res.v, res.p, res.iterations

    def restore(self, u, v, p):
        self._guess = (u, v, p)

    def force_refresh(self):
        self.solver.force_refresh()

    def close(self):
        self.solver.destroy()


class SkipProvider(VelocityProvider):
    """Solve every N steps and reuse the velocities in between (the study's baseline)."""

    def __init__(self, inner: VelocityProvider, every: int):
        self.inner, self.every = inner, every
        self.name = f"{inner.name}-skip{every}"
        self._last = None

    def velocities(self, step, T, eta_c, eta_n):
        if self._last is None or step % self.every == 0:
            u, v, p, its = self.inner.velocities(step, T, eta_c, eta_n)
            self._last = (u, v, p)
            return u, v, p, its
        return (*self._last, -1)

    def restore(self, u, v, p):
        self._last = (u, v, p)
        self.inner.restore(u, v, p)

    def force_refresh(self):
        self.inner.force_refresh()

    def close(self):
        self.inner.close()


def make_provider(cfg: Config, grid: Grid, comm=None) -> VelocityProvider:
    st = cfg["stokes"]
    method = st["solver"]
    if method == "surrogate":
        raise ConfigError("&stokes solver = 'surrogate': no trained surrogate model is "
                          "available in this version; allowed now: direct, lagged, "
                          "iterative, multigrid")
    prov: VelocityProvider = StokesProvider(
        grid, cfg["physics"]["ra"], method, comm=comm, rtol=st["rtol"],
        max_lagged_its=st["max_lagged_its"], relaxation=st["relaxation"],
        petsc_options=st["petsc_options"])
    if st["every"] > 1:
        prov = SkipProvider(prov, st["every"])
    return prov
