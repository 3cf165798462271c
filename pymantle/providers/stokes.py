"""The Stokes-solver providers: a PETSc solve every step, every N steps (skipping), or for
the first steps and the refreshes of another provider (warm-up)."""
from __future__ import annotations

from ..grid import Grid
from ..physics import face_buoyancy
from .base import VelocityProvider


class StokesProvider(VelocityProvider):
    def __init__(self, grid: Grid, ra: float, method: str, comm=None, **solver_kw):
        self.name = method
        self.ra = ra
        from ..stokes import StokesSolver   # PETSc and the kernels: not needed by the CNN
        self.solver = StokesSolver(grid, method=method, comm=comm, **solver_kw)
        self._guess = None

    solved = True

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
        self.solved = self._last is None or step % self.every == 0
        if self.solved:
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


class WarmupProvider(VelocityProvider):
    """The full solver for the first N steps, then another provider (the study: 2); with
    `every` > 0 the full solver also takes every `every`-th step. The other provider is
    handed each full solution (`restore`), so a Galerkin memory restarts from it."""

    def __init__(self, warm: VelocityProvider, then: VelocityProvider, steps: int,
                 every: int = 0):
        self.warm, self.then, self.steps, self.every = warm, then, steps, every
        self.approximate = then.approximate
        self.name = then.name if not every else f"{then.name}-refresh{every}"

    def _full(self, step):
        return step < self.steps or (self.every > 0 and step % self.every == 0)

    def prefetch(self, step, T):
        if not self._full(step):
            self.then.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        if not self._full(step):
            out = self.then.velocities(step, T, eta_c, eta_n)
            self.last_residual, self.solved = self.then.last_residual, self.then.solved
            return out
        self.last_residual, self.solved = float("nan"), True
        u, v, p, its = self.warm.velocities(step, T, eta_c, eta_n)
        self.then.restore(u, v, p)          # the last flow, for a provider that keeps it
        return u, v, p, its

    def restore(self, u, v, p):
        self.warm.restore(u, v, p)
        self.then.restore(u, v, p)

    def force_refresh(self):
        self.warm.force_refresh()

    def close(self):
        self.warm.close()
        self.then.close()
