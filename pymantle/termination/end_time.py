"""Stop at &time end_time."""
from __future__ import annotations

from .base import TerminationCriterion


class EndTime(TerminationCriterion):
    """The model time reached end_time (to a relative 1e-12: the last step is cut to land
    on it, and the sum of the steps may round just below)."""

    def __init__(self, end_time: float):
        self.end_time = end_time

    def reached(self, n, t, diag, hist):
        return "finished" if t >= self.end_time * (1 - 1e-12) else None
