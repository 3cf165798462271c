"""The residual guard: another provider's velocities, checked every step."""
from __future__ import annotations

from ..grid import Grid
from .base import VelocityProvider


class GuardedProvider(VelocityProvider):
    """Another provider's velocities, checked every step by the pressure-free residual of
    stokes_residual.py; a step whose residual exceeds `tol` takes the direct solve
    instead, and the inner provider is handed that solution (a Galerkin memory restarts
    from it). `last_residual` is the inner provider's residual at the latest step (the
    history's stokes_residual) and `fallbacks` counts the direct solves it caused."""

    def __init__(self, inner: VelocityProvider, direct: VelocityProvider, grid: Grid,
                 ra: float, tol: float):
        from ..stokes_residual import MomentumCurlResidual
        self.inner, self.direct, self.tol = inner, direct, tol
        self.approximate = inner.approximate
        self.residual = MomentumCurlResidual(grid, ra)
        self.name = f"{inner.name}-guard"
        self.last_residual = float("nan")
        self.fallbacks = 0

    def prefetch(self, step, T):
        self.inner.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        u, v, p, its = self.inner.velocities(step, T, eta_c, eta_n)
        self.last_residual = self.residual(T, u, v, eta_c, eta_n)
        self.solved = self.last_residual > self.tol
        if self.solved:
            u, v, p, its = self.direct.velocities(step, T, eta_c, eta_n)
            self.inner.restore(u, v, p)
            self.fallbacks += 1
        return u, v, p, its

    def restore(self, u, v, p):
        self.inner.restore(u, v, p)
        self.direct.restore(u, v, p)

    def force_refresh(self):
        self.direct.force_refresh()
        self.inner.force_refresh()

    def close(self):
        self.inner.close()
        self.direct.close()
