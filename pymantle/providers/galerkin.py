"""Another provider's velocities, Galerkin-corrected (galerkin_correction.py)."""
from __future__ import annotations

from ..config import ConfigError
from ..grid import Grid
from .base import VelocityProvider


class GalerkinCorrectedProvider(VelocityProvider):
    """Another provider's velocities, Galerkin-corrected (galerkin_correction.py)."""

    approximate = True

    def __init__(self, inner: VelocityProvider, grid: Grid, ra: float, nodes: int,
                 memory: bool = False):
        from ..galerkin_correction import GalerkinCorrection
        self.inner = inner
        self.name = f"{inner.name}-galerkin"
        # Square lattice cells, but two grid cells between nodes at least
        nodes_x = min(int(round(grid.aspect * (nodes - 1))) + 1, grid.nx // 2 + 1)
        try:
            self.correction = GalerkinCorrection(grid, ra, nodes, nodes_x, memory=memory)
        except ValueError as exc:
            raise ConfigError(f"&stokes correction_nodes = {nodes}: {exc}") from None
        # One BLAS thread while this provider lives: after each K x K Cholesky, OpenBLAS's
        # worker threads spin on the cores the network's convolutions need (57 against
        # 110 ms per step at 32x128, measured). MUMPS at 32x128 is no slower with one.
        from threadpoolctl import threadpool_limits
        self._blas = threadpool_limits(1, user_api="blas")

    def prefetch(self, step, T):
        self.inner.prefetch(step, T)

    def velocities(self, step, T, eta_c, eta_n):
        u, _, p, its = self.inner.velocities(step, T, eta_c, eta_n)
        u, v = self.correction.correct(T, u, eta_c, eta_n)
        return u, v, p, its

    def restore(self, u, v, p):
        self.inner.restore(u, v, p)
        self.correction.remember(u)

    def force_refresh(self):
        self.inner.force_refresh()

    def close(self):
        self._blas.restore_original_limits()
        self.inner.close()
