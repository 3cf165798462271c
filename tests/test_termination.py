"""Termination criteria (pymantle/termination/): each fed a synthetic history whose answer
is known, and the benchmark report built from them."""
import numpy as np
import pytest

from pymantle.termination import EndTime, MaxSteps, SteadyState, first_stop, from_config
from pymantle.termination.steady_state import SAMPLE_EVERY


def feed(criterion, vrms, samples=2000, dt=1e-5):
    """Ask the criterion at every sample step of a history Vrms(t); the first status."""
    for k in range(samples):
        t = k * SAMPLE_EVERY * dt
        v = vrms(t)
        s = criterion.reached(k * SAMPLE_EVERY, t, {"Nu_top": v / 100, "Nu_bottom": v / 100,
                                                    "Vrms": v}, {})
        if s:
            return s, k
    return None, samples


def test_solver_noise_does_not_keep_a_steady_run_going():
    # a steady state seen through an iterative solver: Vrms jitters by 1e-9 (relative) per
    # solve. Measured sample to sample (50 steps of 1e-5) that is a 'rate' of ~3e-6, above
    # steady_tol = 1e-6 for ever (issue 19); across the baseline it is met.
    rng = np.random.default_rng(1)
    status, k = feed(SteadyState(1e-6), lambda t: 250.0 * (1 + 1e-9 * rng.standard_normal()))
    assert status == "steady" and k <= 25


def test_a_drifting_run_is_not_steady():
    status, _ = feed(SteadyState(1e-6), lambda t: 250.0 * (1 + 1e-3 * t))     # rate 1e-3
    assert status is None


def test_an_exponential_approach_becomes_steady_with_the_rate_below_tol():
    c = SteadyState(1e-4)
    status, k = feed(c, lambda t: 250.0 * (1 - np.exp(-t / 0.05)) + 1.0, samples=20000)
    assert status == "steady" and c.last_rate < 1e-4
    t = k * SAMPLE_EVERY * 1e-5
    assert 250.0 * np.exp(-t / 0.05) / 250 / 0.05 < 1e-4 * 1.5    # not stopped early
    assert c.warning is None


def test_a_periodic_state_is_reported_as_not_approaching_steady_state():
    c = SteadyState(1e-6)
    status, _ = feed(c, lambda t: 800 + 40 * np.sin(2 * np.pi * t / 0.02))
    assert status is None
    assert c.warning and "not approaching steady state" in c.warning


def test_a_transient_that_swings_then_settles_ends_steady_without_the_warning():
    # as blankenbach-2a at 16 rows: Vrms swings without shrinking for a while (warned at the
    # time), then settles; the steady run's result must not carry the obsolete warning
    c, warned, status = SteadyState(1e-6), False, None
    for k in range(3000):
        t = k * SAMPLE_EVERY * 1e-5
        v = 800 + (40 * np.sin(2 * np.pi * t / 0.02) if t < 0.3 else 0.0)
        status = c.reached(k * SAMPLE_EVERY, t, {"Nu_top": v / 100, "Nu_bottom": v / 100,
                                                 "Vrms": v}, {})
        warned = warned or bool(c.warning)
        if status:
            break
    assert warned and status == "steady" and t > 0.3
    assert c.warning is None


def test_damped_oscillations_and_noise_raise_no_warning():
    rng = np.random.default_rng(2)
    for vrms in (lambda t: 800 + 40 * np.exp(-t / 0.005) * np.sin(2 * np.pi * t / 0.002),
                 lambda t: 800 * (1 + 1e-8 * rng.standard_normal())):
        c = SteadyState(1e-9)
        feed(c, vrms)
        assert c.warning is None


def test_order_and_status_of_the_criteria():
    crit = from_config({"end_time": 1.0, "max_steps": 10, "steady_tol": 0.0,
                        "stat_window": 0.0, "stat_tol": 0.01})
    assert [type(c) for c in crit] == [EndTime, MaxSteps]
    assert first_stop(crit, 9, 0.5, None, {}) is None
    assert first_stop(crit, 10, 0.5, None, {}) == "finished"
    assert first_stop(crit, 3, 1.0 - 1e-13, None, {}) == "finished"


def test_benchmark_lines_say_pass_or_fail_with_the_tolerance_and_the_distance():
    from pymantle.benchmarks import compare, load_case
    case = load_case("blankenbach-1a")
    lines, ok = compare(case, {"Nu_top": 4.884409 * 1.02, "Nu_bottom": 4.884409,
                               "Vrms": 42.864947}, 32)
    assert not ok
    assert lines[0].endswith("tol 0.01 FAIL") and "rel.err 2.000e-02" in lines[0]
    assert lines[1].endswith("pass")
    tosi = load_case("tosi-case1")
    vals = {q["name"]: 0.5 * (q["min"] + q["max"]) for q in tosi.reference["quantity"]}
    vals["T_mean"] = 0.7768 + 0.0763
    lines, ok = compare(tosi, vals, 64)
    assert not ok
    line = next(x for x in lines if x.startswith("T_mean"))
    assert "outside by 9.829e-02" in line and line.endswith("FAIL")
    assert all(x.endswith("inside pass") for x in lines if not x.startswith("T_mean"))
