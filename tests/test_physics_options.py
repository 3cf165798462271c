"""Issue 6 physics: extended Boussinesq terms, radioactive decay, initial conditions."""
import numpy as np
import pytest

from conftest import make_config
from pymantle import open_run, physics
from pymantle.config import ConfigError
from pymantle.grid import Grid
from pymantle.initial import initial_temperature
from pymantle.simulation import Simulation


def test_eba_energy_balance_at_steady_state(tmp_path):
    # With adiabatic heating and viscous dissipation on, their integrals cancel
    # (W = dissipation / Ra), so the wall fluxes still balance the internal heating.
    cfg = make_config(tmp_path, "grid.aspect=1.0", "grid.ny=12", "physics.ra=3e4",
                      "physics.q=1.0", "physics.gamma=1.0", "physics.beta=1.0",
                      "physics.di=0.25", "physics.t_surface=0.1", "initial.kind='sine'",
                      "initial.amplitude=0.05", "time.end_time=5.0", "time.steady_tol=1e-7",
                      "output.snapshot_every=100000")
    res = Simulation(cfg).run()
    assert res.status == "steady"
    f = res.final
    assert 3e4 * f["work"] == pytest.approx(f["dissipation"], rel=1e-6)
    assert f["Nu_top"] - f["Nu_bottom"] == pytest.approx(1.0, abs=1e-4)
    # the EBA terms cool the interior relative to the Boussinesq run: heat is carried
    # down adiabatically by the downwellings... check it differs measurably
    ref = Simulation(make_config(tmp_path / "b", "grid.aspect=1.0", "grid.ny=12",
                                 "physics.ra=3e4", "physics.q=1.0", "physics.gamma=1.0",
                                 "physics.beta=1.0", "initial.kind='sine'",
                                 "initial.amplitude=0.05", "time.end_time=5.0",
                                 "time.steady_tol=1e-7", "output.snapshot_every=100000")).run()
    assert abs(f["Nu_top"] - ref.final["Nu_top"]) > 0.01 * ref.final["Nu_top"]


def test_eba_with_vanishing_di_recovers_boussinesq(tmp_path):
    common = ["grid.preset='ci'", "time.max_steps=30", "time.end_time=1.0", "physics.ra=1e3",
              "physics.gamma=1e3", "physics.beta=1.0"]
    a = Simulation(make_config(tmp_path / "a", *common)).run()
    b = Simulation(make_config(tmp_path / "b", *common, "physics.di=1e-9")).run()
    for k in ("Nu_top", "Vrms", "T_mean"):
        assert b.final[k] == pytest.approx(a.final[k], rel=1e-6)


def test_decay_heating_matches_closed_form():
    t = np.linspace(0, 0.056, 7)
    closed = 7.0 * sum(c * np.exp(-lam * t) for lam, c in physics.ISOTOPES)
    got = [physics.heating_rate(ti, 7.0, "decay") for ti in t]
    np.testing.assert_allclose(got, closed, rtol=1e-14)
    assert sum(c for _, c in physics.ISOTOPES) == pytest.approx(1.0, abs=1e-12)
    # heating falls by about 6.5x over the run (docs/theory.md section 1)
    assert physics.heating_rate(0, 1, "decay") / physics.heating_rate(0.056, 1, "decay") == \
        pytest.approx(6.47, abs=0.05)
    assert physics.heating_rate(0.5, 2.0, "exponential", 3.0) == pytest.approx(2 * np.exp(-1.5))


def test_decay_run_cools_and_conserves_heat(tmp_path):
    # No flow: the mean temperature changes exactly by the heating minus the wall fluxes.
    cfg = make_config(tmp_path, "physics.ra=0.0", "physics.q=8.0", "physics.heating='decay'",
                      "initial.kind='conductive'", "initial.amplitude=0.0",
                      "time.end_time=0.056", "time.dt_max=5e-4", "output.snapshot_every=100000")
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    q = ds["heating"].values
    t = ds["history_time"].values
    np.testing.assert_allclose(q, [physics.heating_rate(ti, 8.0, "decay") for ti in t], rtol=1e-13)
    assert q[0] / q[-1] == pytest.approx(6.47, abs=0.05)
    tm = ds["T_mean"].values
    assert tm[-1] < tm[0] - 0.05                 # it cools as the heating decays
    assert np.all(np.diff(tm[len(tm) // 4:]) < 0)
    # heat budget: d<T>/dt = Q - (Nu_top - Nu_bottom), integrated with the trapezoidal rule
    rate = q - (ds["Nu_top"].values - ds["Nu_bottom"].values)
    budget = np.sum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))
    assert tm[-1] - tm[0] == pytest.approx(budget, rel=2e-3)
    ds.close()


def test_initial_conditions(tmp_path):
    g = Grid(nx=40, ny=20, aspect=2.0)
    x, y = g.centres()

    def T_of(*ov):
        return initial_temperature(make_config(tmp_path, *ov), g)

    hot = T_of("initial.kind='hot'")
    assert abs(hot.mean() - 1.0) < 0.002 and 0 < np.abs(hot - 1).max() <= 0.01
    assert np.array_equal(hot, T_of("initial.kind='hot'"))            # seeded
    assert not np.array_equal(hot, T_of("initial.kind='hot'", "initial.seed=3"))
    cold = T_of("initial.kind='cold'", "initial.amplitude=0.0")
    assert np.all(cold == 0.0)
    lin = T_of("initial.kind='linear'", "initial.amplitude=0.0")
    assert lin[10, 5] == 0.75                                         # interior
    assert lin[0, 0] == pytest.approx(1.0 - 0.25 * y[0, 0] / 0.05)    # bottom layer, y = 0.025
    assert lin[-1, 0] == pytest.approx(0.75 * (1 - y[-1, 0]) / 0.05)  # top layer
    sine = T_of("initial.kind='sine'", "initial.amplitude=0.01")
    np.testing.assert_allclose(sine, 1 - y + 0.01 * np.cos(np.pi * x / 2.0) * np.sin(np.pi * y))
    cond = T_of("initial.kind='conductive'", "initial.amplitude=0.0", "physics.q=6.0")
    np.testing.assert_allclose(cond, 1 - y + 3.0 * y * (1 - y))


def test_profile_start_from_text_and_netcdf(tmp_path):
    g = Grid(nx=8, ny=16, aspect=0.5)
    yy = np.linspace(0, 1, 101)
    prof = 1 - yy**2
    txt = tmp_path / "prof.txt"
    np.savetxt(txt, np.c_[yy, prof])
    cfg = make_config(tmp_path, "initial.kind='profile'", f"initial.file='{txt}'",
                      "initial.amplitude=0.0")
    T = initial_temperature(cfg, g)
    np.testing.assert_allclose(T[:, 3], 1 - g.y_c**2, atol=1e-4)
    # a finished run's NetCDF file: its last T_profile
    run = Simulation(make_config(tmp_path / "r", "time.max_steps=3", "time.end_time=1.0")).run()
    cfg = make_config(tmp_path, "initial.kind='profile'", f"initial.file='{run.run_file}'",
                      "initial.amplitude=0.0", "grid.preset='ci'")
    ds = open_run(run.run_file)
    T = initial_temperature(cfg, cfg.grid())
    np.testing.assert_allclose(T[:, 0], ds["T_profile"][-1].values, rtol=1e-12)
    ds.close()
    bad = tmp_path / "bad.txt"
    bad.write_text("garbage here\n")
    with pytest.raises(ConfigError, match="could not be read"):
        initial_temperature(make_config(tmp_path, "initial.kind='profile'",
                                        f"initial.file='{bad}'"), g)


def test_restart_from_a_snapshot_of_another_run(tmp_path):
    run = Simulation(make_config(tmp_path / "r", "time.max_steps=6", "time.end_time=1.0",
                                 "output.snapshot_every=3")).run()
    ds = open_run(run.run_file)
    cfg = make_config(tmp_path, "initial.kind='restart'", f"initial.file='{run.directory}'",
                      "initial.snapshot=1")
    np.testing.assert_array_equal(initial_temperature(cfg, cfg.grid()), ds["T"][1].values)
    with pytest.raises(ConfigError, match="snapshots 0..2"):
        initial_temperature(make_config(tmp_path, "initial.kind='restart'",
                                        f"initial.file='{run.directory}'", "initial.snapshot=7"),
                            cfg.grid())
    other = Grid(nx=10, ny=5, aspect=2.0)
    with pytest.raises(ConfigError, match="differs from this run"):
        initial_temperature(cfg, other)
    ds.close()


def test_restart_interpolated_from_a_coarser_run(tmp_path):
    run = Simulation(make_config(tmp_path / "r", "grid.aspect=1.0", "grid.ny=8",
                                 "time.max_steps=4", "time.end_time=1.0",
                                 "initial.kind='sine'", "initial.amplitude=0.1")).run()
    cfg = make_config(tmp_path, "grid.aspect=1.0", "grid.ny=16", "initial.kind='restart'",
                      f"initial.file='{run.directory}'", "initial.interpolate=.true.")
    T = initial_temperature(cfg, cfg.grid())
    coarse = open_run(run.directory)["T"][-1].values
    assert T.shape == (16, 16)
    assert T.mean() == pytest.approx(coarse.mean(), abs=0.01)
    # fine cells (2j+1, 2i+1) lie a quarter coarse cell from coarse centre (j, i)
    np.testing.assert_allclose(T[5:11:2, 5:11:2], coarse[2:5, 2:5], atol=0.05)


@pytest.mark.parametrize("limits", [(0.0, 0.0), (1e-3, 1e3)])
def test_the_loops_viscosity_buffers_equal_eq2_bit_for_bit(limits):
    # physics.ViscosityField (the time loop's, reused buffers) against physics.viscosity
    # and corner_viscosity: Eq. 2 is written in both, so they must not drift apart.
    from pymantle.physics import ViscosityField, corner_viscosity, viscosity
    g = Grid(nx=40, ny=12, aspect=4.0)
    _, y = g.centres()
    field = ViscosityField(y, 1e6, 10.0, *limits)
    for seed in (0, 1):                          # twice: the buffers are reused
        T = np.random.default_rng(seed).random(g.shape) * 1.2
        eta_c, eta_n = field(T)
        want = viscosity(T, y, 1e6, 10.0, *limits)
        np.testing.assert_array_equal(eta_c, want)
        np.testing.assert_array_equal(eta_n, corner_viscosity(want))
