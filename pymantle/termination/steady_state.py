"""Stop at steady state (&time steady_tol), as the published benchmarks are run."""
from __future__ import annotations

from .base import TerminationCriterion

#: steps between the samples of the steady-state tests
SAMPLE_EVERY = 50


class SteadyState(TerminationCriterion):
    """Every SAMPLE_EVERY steps, the relative change of Nu_top, Nu_bottom and Vrms since
    the previous sample, per unit model time, is below steady_tol:

        max_k |X_k(t) - X_k(t_prev)| / |X_k(t)| / (t - t_prev) < steady_tol.
    """
    asked_when_stopping = True       # it must see every sample to keep its reference
    keys = ("Nu_top", "Nu_bottom", "Vrms")

    def __init__(self, tol: float):
        self.tol = tol
        self.ref: tuple[float, dict] | None = None     # (time, diagnostics) of the last sample

    def needs_diagnostics(self, n):
        return n % SAMPLE_EVERY == 0

    def rate(self, t: float, diag: dict) -> float | None:
        """Relative change per unit time since the last sample (None without one)."""
        if self.ref is None or t <= self.ref[0]:
            return None
        t0, d0 = self.ref
        return max(abs(diag[k] - d0[k]) / max(abs(diag[k]), 1e-300)
                   for k in self.keys) / (t - t0)

    def reached(self, n, t, diag, hist):
        if n % SAMPLE_EVERY:
            return None
        rate = self.rate(t, diag)
        self.ref = (t, diag)
        return "steady" if rate is not None and rate < self.tol else None
