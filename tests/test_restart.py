"""Checkpoint/restart continues bit-identically, and a finished run can be extended."""
import numpy as np
import pytest

from conftest import make_config
from pymantle import open_run
from pymantle.providers import VelocityProvider, make_provider
from pymantle.simulation import Simulation


class KillAt(VelocityProvider):
    """Wraps a provider and dies (like a killed process) at a given step."""

    def __init__(self, inner, step):
        self.inner, self.step, self.name = inner, step, inner.name

    def velocities(self, step, T, eta_c, eta_n):
        if step == self.step:
            raise KeyboardInterrupt("simulated kill")
        return self.inner.velocities(step, T, eta_c, eta_n)

    def force_refresh(self):
        self.inner.force_refresh()


RESTART_SETTINGS = {
    "direct": ["stokes.solver='direct'"],
    "lagged": ["stokes.solver='lagged'"],
    "iterative": ["stokes.solver='iterative'"],
    "multigrid": ["stokes.solver='multigrid'"],
    "skip": ["stokes.solver='direct'", "stokes.every=4"],
    # galerkin: with a direct solve every 6 steps, whose flow the memory then keeps
    "galerkin": ["stokes.solver='galerkin'", "stokes.refresh_every=6"],
    # skipping with the velocities extrapolated between solves
    "skip-extrapolate": ["stokes.solver='direct'", "stokes.every=4", "stokes.extrapolate=.true."],
    # the shipped network (laptop grid), plain and guarded
    "surrogate": ["grid.preset='laptop'", "stokes.solver='surrogate'"],
    "surrogate-guard": ["grid.preset='laptop'", "stokes.solver='surrogate'",
                        "stokes.guard_tol=1e-2"],
    # the network every 3rd step, extrapolated between, corrected, with a direct solve
    # every 6 steps (the first command's mode, configs/hybrid.nml, on a shorter schedule)
    "surrogate-hybrid": ["grid.preset='laptop'", "stokes.solver='surrogate'", "stokes.every=3",
                         "stokes.extrapolate=.true.", "stokes.correction='galerkin'",
                         "stokes.refresh_every=6"],
}


@pytest.mark.parametrize("solver", list(RESTART_SETTINGS))
def test_restart_is_bit_identical(tmp_path, solver):
    # every provider that carries state between steps (factorisations, stored flow, the
    # Galerkin memory, the guard's last residual) must resume exactly
    common = [*RESTART_SETTINGS[solver], "time.end_time=1.0", "time.max_steps=40",
              "output.checkpoint_every=10", "output.snapshot_every=7",
              "physics.gamma=1e5", "physics.beta=3.0"]
    ref_cfg = make_config(tmp_path / "a", *common)
    Simulation(ref_cfg).run()

    cfg = make_config(tmp_path / "b", *common)
    sim = Simulation(cfg)
    sim.provider = KillAt(make_provider(cfg, sim.grid), 25)
    with pytest.raises(KeyboardInterrupt):
        sim.run()
    assert (tmp_path / "b" / "run" / "run.nc.part").exists()
    res = Simulation(cfg).run()                 # the same command again resumes
    assert res.resumed_from == 20

    a, b = open_run(tmp_path / "a" / "run"), open_run(tmp_path / "b" / "run")
    for name in ("T", "u", "v", "p", "time"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    for name in ("Nu_top", "Vrms", "dt", "history_time", "stokes_iterations"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_finished_run_is_extended_by_a_longer_end_time(tmp_path):
    cfg = make_config(tmp_path, "time.end_time=0.005", "output.snapshot_every=1000")
    r1 = Simulation(cfg).run()
    cfg2 = make_config(tmp_path, "time.end_time=0.01", "output.snapshot_every=1000")
    r2 = Simulation(cfg2).run()
    assert r2.resumed_from == r1.steps
    ds = open_run(r2.directory)
    assert float(ds["history_time"][-1]) == pytest.approx(0.01)
    assert np.all(np.diff(ds["step"].values) == 1)          # no duplicated step
    assert ds.sizes["time"] == 2                            # start and the new end
    ds.close()


def test_resume_refuses_a_different_configuration(tmp_path):
    from pymantle.config import ConfigError
    Simulation(make_config(tmp_path, "time.end_time=0.002")).run()
    with pytest.raises(ConfigError, match="&physics q"):
        Simulation(make_config(tmp_path, "time.end_time=0.002", "physics.q=1.0")).run()


def _run_cmd(out, *sets):
    import sys
    cmd = [sys.executable, "-m", "pymantle.cli", "run", "--no-progress", "--out", str(out),
           "--set", "time.end_time=2.0", "--set", "output.plots=.false."]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def _terminate_after_start(cmd, out, wait=1.5, signals=1):
    import signal
    import subprocess
    import time
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "run.nc.part").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(wait)
    for _ in range(signals):
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.01)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def test_sigterm_then_resume_is_bit_identical(tmp_path):
    """SIGTERM runs on to the next scheduled checkpoint (the lagged solver's factorisation is
    refreshed there), so the resumed run repeats the uninterrupted one bit for bit; a
    checkpoint written at the signal's step was 2.7e-10 off (issue 19, item 4)."""
    import subprocess
    import netCDF4
    a, b = tmp_path / "a", tmp_path / "b"
    sets = ("stokes.solver='lagged'", "output.checkpoint_every=20", "grid.preset='ci'")
    rc, err = _terminate_after_start(_run_cmd(b, *sets), b)
    assert rc == 3, err
    assert "stopped by signal" in err
    with netCDF4.Dataset(b / "checkpoint.nc") as ds:
        ckpt_step = int(ds.step)
    assert ckpt_step > 0 and ckpt_step % 20 == 0
    stop = f"time.max_steps={ckpt_step + 37}"
    done = subprocess.run(_run_cmd(b, *sets, stop), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"resumed from step {ckpt_step}" in done.stdout
    ref = subprocess.run(_run_cmd(a, *sets, stop), capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    ra, rb = open_run(a), open_run(b)
    for name in ("T", "u", "v", "p", "Nu_top", "Vrms", "dt", "stokes_iterations"):
        np.testing.assert_array_equal(ra[name].values, rb[name].values, err_msg=name)


def test_sigterm_far_from_a_checkpoint_stops_at_once_and_keeps_the_last(tmp_path):
    out = tmp_path / "r"
    rc, err = _terminate_after_start(_run_cmd(out, "output.checkpoint_every=100000"), out)
    assert rc == 3, err
    assert "no checkpoint yet" in err
    assert not (out / "checkpoint.nc").exists()


def test_a_second_sigterm_stops_at_once(tmp_path):
    out = tmp_path / "r"
    # the next checkpoint is within the grace time, but a second signal does not wait
    rc, err = _terminate_after_start(_run_cmd(out, "output.checkpoint_every=2000",
                                              "grid.preset='ci'"), out, wait=0.3, signals=2)
    assert rc == 3, err
    assert "running on to the checkpoint at step 2000" in err
    assert "no checkpoint yet" in err          # it did not wait for step 2000
