"""Stop at steady state (&time steady_tol), as the published benchmarks are run."""
from __future__ import annotations

from collections import deque

from .base import TerminationCriterion

#: steps between the samples of the steady-state tests
SAMPLE_EVERY = 50
#: samples the rate is measured across (the baseline: up to BASELINE * SAMPLE_EVERY steps)
BASELINE = 20
#: relative swing of Vrms between turning points below which it is solver noise, not flow
SWING_FLOOR = 1e-4


class SteadyState(TerminationCriterion):
    """Every SAMPLE_EVERY steps: the relative change of Nu_top, Nu_bottom and Vrms per unit
    model time over the last BASELINE sample intervals (t_0 .. t) is below steady_tol:

        max_k (max X_k - min X_k over the samples) / |X_k(t)| / (t - t_0) < steady_tol.

    The spread over all samples, not the end-point difference, so that a state oscillating
    with a period near the baseline is not taken for a steady one.

    Why a long baseline: an iterative Stokes solve moves Vrms by ~1e-9 relative, and
    divided by 50 steps' time (~5e-4 at 64 rows) that alone is a 'rate' of ~2e-6, so a
    tolerance of 1e-6 measured sample to sample was never met; across 20 samples the noise
    is 20x smaller, and a run still drifting has a rate at least as large as over one.

    It also watches for a run that is not approaching steady state (a time-dependent branch,
    or a lagged spin-up that does not settle): Vrms swinging between turning points by more
    than SWING_FLOOR, with the last swings no smaller than the ones before. `warning` then
    says so (the time loop prints it once; benchmarks report it)."""
    asked_when_stopping = True       # it must see every sample to keep its reference
    keys = ("Nu_top", "Nu_bottom", "Vrms")

    def __init__(self, tol: float):
        self.tol = tol
        self.samples: deque[tuple[float, dict]] = deque(maxlen=BASELINE + 1)
        self.last_rate: float | None = None
        self.turning: list[float] = []        # Vrms at its local extrema, in order
        self.warning: str | None = None

    def needs_diagnostics(self, n):
        return n % SAMPLE_EVERY == 0

    def rate(self, t: float, diag: dict) -> float | None:
        """Relative spread per unit time since the oldest kept sample (None without one)."""
        if not self.samples or t <= self.samples[0][0]:
            return None
        spread = 0.0
        for k in self.keys:
            xs = [d[k] for _, d in self.samples] + [diag[k]]
            spread = max(spread, (max(xs) - min(xs)) / max(abs(diag[k]), 1e-300))
        return spread / (t - self.samples[0][0])

    def reached(self, n, t, diag, hist):
        if n % SAMPLE_EVERY:
            return None
        self.last_rate = self.rate(t, diag)
        self._watch_swings(diag["Vrms"])
        self.samples.append((t, {k: diag[k] for k in self.keys}))
        if self.last_rate is not None and self.last_rate < self.tol:
            # A run that settled did approach steady state: a warning from an oscillating
            # transient (said when it was true) is not the run's verdict.
            self.warning = None
            return "steady"
        return None

    def _watch_swings(self, vrms: float) -> None:
        """Record Vrms's turning points; warn once the swings stop shrinking."""
        if len(self.samples) >= 2:
            a, b = self.samples[-2][1]["Vrms"], self.samples[-1][1]["Vrms"]
            if (b - a) * (vrms - b) < 0:
                self.turning.append(b)
        swings = [abs(y - x) / max(abs(y), 1e-300) for x, y in zip(self.turning,
                                                                    self.turning[1:])]
        if self.warning is None and len(swings) >= 6 and min(swings[-6:]) > SWING_FLOOR \
                and max(swings[-2:]) >= 0.8 * max(swings[-6:-2]):
            self.warning = (f"not approaching steady state: Vrms keeps swinging between "
                            f"{min(self.turning[-4:]):.5g} and {max(self.turning[-4:]):.5g} "
                            f"(the last {len(swings[-6:])} swings do not shrink)")
