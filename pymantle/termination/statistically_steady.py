"""Stop at statistical steady state (&time stat_window, stat_tol), as campaigns run."""
from __future__ import annotations

import bisect

import numpy as np

from .base import TerminationCriterion
from .steady_state import SAMPLE_EVERY


def statistically_steady(hist: dict, window: float, tol: float) -> bool:
    """Time means of T_mean and Nu_top over [t-2w, t-w] and [t-w, t] agree to tol
    (relative). The history holds values at the start of each step and its dt."""
    t = hist["time"]
    if not t or t[-1] - t[0] < 2 * window:
        return False
    i0 = bisect.bisect_left(t, t[-1] - 2 * window)
    i1 = bisect.bisect_left(t, t[-1] - window)
    for key in ("T_mean", "Nu_top"):
        x, dt = np.asarray(hist[key][i0:]), np.asarray(hist["dt"][i0:])
        k = i1 - i0
        m1 = np.sum(x[:k] * dt[:k]) / max(np.sum(dt[:k]), 1e-300)
        m2 = np.sum(x[k:] * dt[k:]) / max(np.sum(dt[k:]), 1e-300)
        if abs(m2 - m1) > tol * max(abs(m2), 1e-12):
            return False
    return True


class StatisticallySteady(TerminationCriterion):
    """Every SAMPLE_EVERY steps: the time means of mean T and Nu_top over the last two
    windows of length stat_window agree to stat_tol (relative)."""

    def __init__(self, window: float, tol: float):
        self.window, self.tol = window, tol

    def reached(self, n, t, diag, hist):
        if n % SAMPLE_EVERY == 0 and statistically_steady(hist, self.window, self.tol):
            return "statistically steady"
        return None
