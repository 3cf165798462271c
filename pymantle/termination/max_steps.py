"""Stop after &time max_steps steps."""
from __future__ import annotations

from .base import TerminationCriterion


class MaxSteps(TerminationCriterion):
    """The step count reached max_steps (the run file's status stays 'finished'; the CLI
    says that the step limit, not end_time, stopped it)."""

    def __init__(self, max_steps: int):
        self.max_steps = max_steps

    def reached(self, n, t, diag, hist):
        return "finished" if n >= self.max_steps else None
