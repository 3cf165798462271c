"""The interface every termination criterion implements."""
from __future__ import annotations


class TerminationCriterion:
    """One rule that may end a run. `reached` returns the run's status ('finished',
    'steady', ...) when the rule is met at step n (time t), else None."""

    #: asked even when an earlier criterion already stops the run at this step
    asked_when_stopping = False

    def needs_diagnostics(self, n: int) -> bool:
        """Whether `reached` reads this step's diagnostics (computed before it is asked)."""
        return False

    def reached(self, n: int, t: float, diag: dict | None, hist: dict) -> str | None:
        raise NotImplementedError
