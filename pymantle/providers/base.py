"""The velocity provider interface, and the provider of no flow."""
from __future__ import annotations

from ..grid import Grid


class VelocityProvider:
    name = "base"

    def prefetch(self, step: int, T):
        """Start computing the velocities of T for `step` without waiting for them; the
        time loop calls this before it builds the viscosity, so a GPU provider's forward
        pass overlaps that host work. `velocities` at the same step then collects them."""

    def velocities(self, step: int, T, eta_c, eta_n):
        raise NotImplementedError

    #: The guard's residual of this step's velocities (GuardedProvider; NaN: not checked).
    last_residual = float("nan")
    #: Whether the velocities only approximate the Stokes solution (a network, the Galerkin
    #: correction): the time loop then keeps T within the maximum principle's bounds
    #: (temperature_bounds.py), which no divergence-free flow leaves.
    approximate = False
    #: Whether this step's velocities came from a Stokes solve (the history's direct_solve:
    #: how many solves a hybrid or skipping run made).
    solved = False

    def restore(self, u, v, p):
        """Hand the provider the velocities of a checkpoint (previous solution)."""

    def force_refresh(self):
        """Drop cached factorisations (called at checkpoint steps for reproducibility)."""

    def close(self):
        pass


class NoFlow(VelocityProvider):
    """Zero velocities: under the Galerkin correction the span is then the coarse hats (and
    the memory) alone, a coarse Stokes solve that never sees a network."""
    name = "no-flow"

    def __init__(self, grid: Grid):
        import numpy as np
        self.u, self.v, self.p = (np.zeros(s) for s in (grid.u_shape, grid.v_shape, grid.shape))

    def velocities(self, step, T, eta_c, eta_n):
        return self.u, self.v, self.p, 0
