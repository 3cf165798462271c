"""The time loop: steady-state heat balance, Blankenbach 1a on a coarse grid, blow-up
handling, output format."""
import numpy as np
import pytest
import netCDF4

from conftest import make_config
from pymantle import open_run
from pymantle.simulation import BlowUp, Simulation


def test_heat_balance_nu_top_minus_nu_bottom_equals_q_at_steady_state(tmp_path):
    cfg = make_config(tmp_path, "grid.aspect=1.0", "grid.ny=12", "physics.ra=2e4",
                      "physics.q=3.0", "physics.gamma=1.0", "physics.beta=1.0",
                      "initial.kind='sine'", "initial.amplitude=0.05", "time.end_time=5.0",
                      "time.steady_tol=1e-7", "output.snapshot_every=100000")
    res = Simulation(cfg).run()
    assert res.status == "steady"
    f = res.final
    assert f["Vrms"] > 10          # it convects
    assert f["Nu_top"] - f["Nu_bottom"] == pytest.approx(3.0, abs=2e-5)


def test_blankenbach_1a_coarse_grid(tmp_path):
    # 16x16: tolerances from the convergence table in docs/reports/2026-11-26-benchmarks-log.md (errors 0.59 %
    # in Nu and 0.61 % in Vrms at 16; 0.085 % and 0.13 % at 32).
    from pymantle.benchmarks import compare, load_case, quantities
    case = load_case("blankenbach-1a")
    cfg = case.config(16, out=str(tmp_path / "b1a"), progress=False)
    cfg["output"]["plots"] = False
    res = Simulation(cfg).run()
    assert res.status == "steady"
    q = quantities(res.final, cfg)
    assert q["Nu_top"] == pytest.approx(4.884409, rel=0.01)
    assert q["Vrms"] == pytest.approx(42.864947, rel=0.015)
    lines, ok = compare(case, q, 16)
    assert ok, lines


def test_blow_up_stops_cleanly_with_last_good_state(tmp_path):
    # Q = 1e4 without flow: the step is bounded by the heating (HEATING_RISE_MAX per step),
    # so the run takes steps and stops when T passes T_CEIL (it used to fail its first step)
    from pymantle.simulation import HEATING_RISE_MAX, T_CEIL
    cfg = make_config(tmp_path, "physics.ra=0.0", "physics.q=1e4", "time.end_time=1.0")
    with pytest.raises(BlowUp, match="temperature left") as exc:
        Simulation(cfg).run()
    assert "smaller &time courant or dt_max" in str(exc.value)
    with netCDF4.Dataset(tmp_path / "run" / "checkpoint.nc") as ds:
        T = np.array(ds["T"][:])
        step = int(ds.step)
    assert np.isfinite(T).all() and T.max() <= T_CEIL          # the last good state
    assert T.max() > T_CEIL - 2 * HEATING_RISE_MAX              # ... just before the blow-up
    assert step > 10


def test_a_blown_up_run_reruns_without_duplicates_and_continues_with_a_smaller_step(tmp_path):
    common = ["physics.ra=0.0", "physics.q=1e4", "time.end_time=1.0", "output.snapshot_every=5"]
    for _ in range(2):     # the rerun repeats the blow-up; nothing is appended twice
        with pytest.raises(BlowUp):
            Simulation(make_config(tmp_path, *common)).run()
        with netCDF4.Dataset(tmp_path / "run" / "checkpoint.nc") as ds:
            step, n_snap = int(ds.step), int(ds.n_snapshots)
            hist_steps = np.array(ds["hist_step"][:])
        assert hist_steps.tolist() == list(range(step))        # no duplicated row
        assert n_snap == len(range(0, step, 5))                # no duplicated snapshot
    # continuing with a smaller step is allowed (and noted in the run file)
    res = Simulation(make_config(tmp_path, *common, "time.dt_max=1e-7",
                                 f"time.max_steps={step + 3}")).run()
    assert res.resumed_from == step and res.steps == step + 3
    ds = open_run(res.directory)
    assert np.all(np.diff(ds["step"].values) == 1)
    assert f"resumed at step {step} with &time dt_max 0.0 -> 1e-07" in ds.attrs["history"]
    assert np.all(np.diff(ds["snapshot_step"].values) > 0)


def test_output_is_cf_sgrid_and_opens_with_xarray(tmp_path):
    cfg = make_config(tmp_path, "time.end_time=0.01", "output.snapshot_every=5",
                      "output.plots=.true.")
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    assert ds.attrs["Conventions"].startswith("CF-")
    assert ds["grid"].attrs["cf_role"] == "grid_topology"
    assert ds["u"].attrs["location"] == "edge1" and ds["v"].attrs["location"] == "edge2"
    assert ds["T"].dims == ("time", "y", "x")
    assert ds["u"].dims == ("time", "y", "x_face")
    assert ds["v"].dims == ("time", "y_face", "x")
    assert ds.sizes["step"] == res.steps + 1
    assert float(ds["history_time"][-1]) == pytest.approx(0.01)
    assert ds["time"].dtype == np.float64           # not decoded as dates
    # the stored profile is the mean of the stored field
    np.testing.assert_allclose(ds["T_profile"][-1], ds["T"][-1].mean("x"), rtol=1e-12)
    for png in ("temperature.png", "history.png", "profile.png"):
        assert (res.directory / png).stat().st_size > 1000
    assert not (res.directory / "run.nc.part").exists()
    ds.close()


def test_benchmark_spinup_with_lagged_stokes_reaches_the_same_steady_state(tmp_path):
    # Blankenbach 1a at 16x16: the spin-up with Stokes every 10 steps stops at a state
    # that the every-step solver confirms as steady within a few test windows, with the
    # same Nu and Vrms (a steady state is a fixed point of both).
    from pymantle.benchmarks import run_case
    lines = []
    out = tmp_path / "b1a"
    ok = run_case("blankenbach-1a", 16, out=str(out), progress=False, spinup_every=10,
                  echo=lines.append)
    assert ok, lines
    spin, final = open_run(out / "spinup"), open_run(out)
    assert spin.attrs["status"] == final.attrs["status"] == "steady"
    assert final["step"].size <= 400 < spin["step"].size
    for key in ("Nu_top", "Vrms"):
        a, b = float(spin[key][-1]), float(final[key][-1])
        assert b == pytest.approx(a, rel=1e-6), key


def test_loop_prefetches_each_step_with_the_temperature_it_then_solves_for(tmp_path):
    """A GPU provider starts its forward pass at prefetch(n, T) and hands the result over
    at velocities(n, ...); that is only right if the loop passes the same step and the
    same, unchanged T to both, every step (restart and checkpoint steps included)."""
    from pymantle.providers import VelocityProvider

    class Recorder(VelocityProvider):
        name = "recorder"

        def __init__(self, grid):
            self.calls = []
            self.u, self.v = np.zeros(grid.u_shape), np.zeros(grid.v_shape)
            self.p = np.zeros(grid.shape)

        def prefetch(self, step, T):
            self.calls.append(("prefetch", step, T.copy()))

        def velocities(self, step, T, eta_c, eta_n):
            self.calls.append(("velocities", step, T.copy()))
            return self.u, self.v, self.p, 0

    cfg = make_config(tmp_path, "time.max_steps=7", "output.checkpoint_every=3")
    rec = Recorder(cfg.grid())
    Simulation(cfg, provider=rec).run()
    vel = {n: T for kind, n, T in rec.calls if kind == "velocities"}
    assert [c[1] for c in rec.calls if c[0] == "velocities"] == list(range(8))   # steps 0..7
    for i, (kind, n, T) in enumerate(rec.calls):
        if kind == "prefetch":                  # asked for step n with step n's own T ...
            np.testing.assert_array_equal(T, vel[n])
            # ... and only after step n-1's velocities were handed over
            assert ("velocities", n - 1) in [c[:2] for c in rec.calls[:i]] or n == 0
        else:                                   # every step was prefetched before it ran
            assert ("prefetch", n) in [c[:2] for c in rec.calls[:i]]
    # with no steady-state test due, every step after the first was prefetched early: at
    # the end of the step before it, ahead of that step's diagnostics
    early = [c[1] for i, c in enumerate(rec.calls)
             if c[0] == "prefetch" and i > 0 and rec.calls[i - 1][0] == "velocities"]
    assert early == list(range(1, 8))


@pytest.mark.parametrize("stop,status", [
    (["grid.aspect=1.0", "grid.ny=12", "physics.ra=2e4", "physics.q=3.0", "physics.gamma=1.0",
      "physics.beta=1.0", "initial.kind='sine'", "initial.amplitude=0.05",
      "time.steady_tol=1e-3"], "steady"),
    (["time.stat_window=0.002", "time.stat_tol=0.5"], "statistically steady")])
def test_a_run_stopped_by_a_steady_state_test_records_its_last_step(tmp_path, stop, status):
    """The diagnostics of most steps are taken late (after the next step's velocities are
    asked for); a step at which a steady-state test may end the run must take them at once,
    or its history entry would be lost."""
    cfg = make_config(tmp_path, *stop, "time.max_steps=5000", "time.end_time=5.0")
    res = Simulation(cfg).run()
    assert res.status == status and res.steps < 5000
    ds = open_run(res.directory)
    assert int(ds["step"].values[-1]) == res.steps
    assert ds.sizes["step"] == res.steps + 1
    ds.close()


def test_bad_petsc_options_and_a_missing_restart_file_write_nothing(tmp_path):
    from pymantle.config import ConfigError
    cfg = make_config(tmp_path, "stokes.petsc_options='-stokes_ksp_type nonsense'")
    with pytest.raises(ConfigError, match="Unable to find requested KSP type nonsense"):
        Simulation(cfg).run()
    bad = tmp_path / "garbage.nc"
    bad.write_bytes(b"not a netCDF file" * 10)
    cfg = make_config(tmp_path, "initial.kind='restart'", f"initial.file='{bad}'")
    with pytest.raises(Exception, match="garbage.nc"):
        Simulation(cfg).run()
    assert not (tmp_path / "run").exists()
