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


@pytest.mark.parametrize("solver", ["direct", "lagged", "galerkin"])
def test_restart_is_bit_identical(tmp_path, solver):
    # galerkin: with a direct solve every 6 steps, whose flow the memory then keeps
    extra = ["stokes.refresh_every=6"] if solver == "galerkin" else []
    common = [f"stokes.solver='{solver}'", *extra, "time.end_time=1.0", "time.max_steps=40",
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


def test_sigterm_stops_with_a_checkpoint_and_the_rerun_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "pymantle.cli", "run", "--no-progress", "--out", str(out),
           "--set", "time.end_time=0.5", "--set", "output.plots=.false.",
           "--set", "output.checkpoint_every=100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "run.nc.part").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "stopped by signal" in err
    ckpt_step = __import__("netCDF4").Dataset(out / "checkpoint.nc").step
    assert ckpt_step > 0
    done = subprocess.run(cmd + ["--set", "time.max_steps=" + str(ckpt_step + 5)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"resumed from step {ckpt_step}" in done.stdout
