"""The Stokes-solver providers: a PETSc solve every step, every N steps (skipping), or for
the first steps and the refreshes of another provider (warm-up)."""
from __future__ import annotations

import numpy as np

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
    """Another provider every N steps (the study's momentum skipping: a Stokes solve every
    100), its velocities reused in between, or (extrapolate) extrapolated linearly in time
    from its last two calls:

        w(n) = w_b + min((n - n_b) / (n_b - n_a), 1) (w_b - w_a)

    for calls at steps n_a < n_b. Steps stand in for time: over N steps the time step,
    set by the flow, changes little. A linear combination of divergence-free fields is
    divergence-free, so the energy step's conservation holds between calls too; the
    weight is capped at 1 so that a short baseline (a call forced right after a regular
    one) is never stretched. Whatever forgets the history (a checkpoint step, a resume,
    a direct refresh handed in by `restore`) makes the next step a call, so a resumed run
    repeats the straight one exactly."""

    def __init__(self, inner: VelocityProvider, every: int, extrapolate: bool = False):
        self.inner, self.every, self.extrapolate = inner, every, extrapolate
        self.name = f"{inner.name}-{'extrap' if extrapolate else 'skip'}{every}"
        self.approximate = inner.approximate
        self._last = None
        self._calls: list = []          # extrapolate: the last two (step, u, v, p)
        self._out = None                # extrapolate: the buffers handed out between calls

    def _call_due(self, step) -> bool:
        if self.extrapolate:
            return not self._calls or step % self.every == 0
        return self._last is None or step % self.every == 0

    def prefetch(self, step, T):
        if self._call_due(step):
            self.inner.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        self.solved = self._call_due(step) and self.inner.solved
        if self._call_due(step):
            u, v, p, its = self.inner.velocities(step, T, eta_c, eta_n)
            if self.extrapolate:
                self._calls = self._calls[-1:] + [(step, u.copy(), v.copy(), p.copy())]
            self._last = (u, v, p)
            return u, v, p, its
        if self.extrapolate:
            return (*self._extrapolated(step), -1)
        return (*self._last, -1)

    def _extrapolated(self, step):
        n_b, u_b, v_b, p_b = self._calls[-1]
        if len(self._calls) < 2:
            return u_b, v_b, p_b
        n_a, u_a, v_a, _ = self._calls[0]
        w = min((step - n_b) / (n_b - n_a), 1.0)
        if self._out is None:
            self._out = (u_b.copy(), v_b.copy())
        u, v = self._out
        np.subtract(u_b, u_a, out=u)
        u *= w
        u += u_b
        np.subtract(v_b, v_a, out=v)
        v *= w
        v += v_b
        return u, v, p_b

    def restore(self, u, v, p):
        self._last = (u, v, p)
        self._calls = []
        self.inner.restore(u, v, p)

    def force_refresh(self):
        self._calls = []
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
        self.then.force_refresh()

    def close(self):
        self.warm.close()
        self.then.close()
