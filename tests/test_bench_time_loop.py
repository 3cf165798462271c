"""scripts/bench_time_loop.py's mode names are `pymantle evaluate`'s providers with their
interval: the settings each mode runs with, and the names it refuses."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from bench_time_loop import mode_settings  # noqa: E402


def test_modes_take_the_providers_settings_and_their_interval():
    assert mode_settings("skip-10") == ["stokes.solver='direct'", "stokes.every=10"]
    assert mode_settings("galerkin-refresh-20") == ["stokes.solver='galerkin'",
                                                    "stokes.refresh_every=20"]
    assert mode_settings("first-command") == mode_settings("hybrid") + [
        "stokes.every=3", "stokes.extrapolate=.true."]
    assert mode_settings("hybrid-every-3") == mode_settings("first-command")


@pytest.mark.parametrize("name", ["skip", "surrogate-3", "nope", "surrogate-guard-1"])
def test_a_mode_without_its_interval_or_with_one_too_many_is_refused(name):
    with pytest.raises(SystemExit, match="unknown mode"):
        mode_settings(name)
