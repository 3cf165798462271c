"""Termination criteria: when a run stops, one small object per rule (as ASPECT's
termination_criteria/). Each criterion is asked once per step, in the order of
`from_config`; a criterion that returns a status ends the run at that step, after the
step's diagnostics and snapshot, and its status is what the run file and the CLI report.

A criterion that needs the step's diagnostics (Nu, Vrms, ...) says so through
`needs_diagnostics(n)`; the time loop then computes them before asking, instead of
overlapping them with the next step's velocities.
"""
from __future__ import annotations

from .base import TerminationCriterion
from .end_time import EndTime
from .max_steps import MaxSteps
from .statistically_steady import StatisticallySteady, statistically_steady
from .steady_state import SteadyState

__all__ = ["TerminationCriterion", "EndTime", "MaxSteps", "SteadyState",
           "StatisticallySteady", "statistically_steady", "from_config", "first_stop"]


def from_config(time_group: dict) -> list[TerminationCriterion]:
    """The criteria a &time group switches on, in the order they are asked."""
    crit: list[TerminationCriterion] = [EndTime(time_group["end_time"]),
                                        MaxSteps(time_group["max_steps"])]
    if time_group["steady_tol"] > 0:
        crit.append(SteadyState(time_group["steady_tol"]))
    if time_group["stat_window"] > 0:
        crit.append(StatisticallySteady(time_group["stat_window"], time_group["stat_tol"]))
    return crit


def first_stop(criteria, n: int, t: float, diag: dict | None, hist: dict) -> str | None:
    """The status that ends the run at step n, or None to go on. A later criterion's status
    wins, but one that only reads the history is not asked once an earlier one stopped the
    run; those that keep a reference sample (SteadyState) are asked at every sample."""
    status = None
    for c in criteria:
        if status is not None and not c.asked_when_stopping:
            continue
        if c.needs_diagnostics(n) and diag is None:
            continue
        s = c.reached(n, t, diag, hist)
        if s is not None:
            status = s
    return status
