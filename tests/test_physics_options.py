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


def _eba_terms_on(n, di=0.3, ra=1e4, t_surface=0.2):
    """EnergySolver.eba_source for the cellular flow u = sin(pi x) cos(pi y),
    v = -cos(pi x) sin(pi y) (divergence-free, free slip) with T = 1 - y and eta = 1 on an
    n x n unit box, and the same terms written out:
    adiabatic -Di (T + T_s) v, dissipation (Di/Ra) 2 eta e:e = (Di/Ra) 4 pi^2 cos^2 cos^2."""
    from pymantle.energy import EnergySolver
    g = Grid(nx=n, ny=n, aspect=1.0)
    xu, yu = g.u_points()
    xv, yv = g.v_points()
    u = np.sin(np.pi * xu) * np.cos(np.pi * yu)
    v = -np.cos(np.pi * xv) * np.sin(np.pi * yv)
    xc, yc = g.centres()
    T = 1.0 - yc
    ones = np.ones(g.shape), np.ones(g.corner_shape)
    got = EnergySolver(g).eba_source(T, u, v, *ones, di, ra, t_surface)
    vc = -np.cos(np.pi * xc) * np.sin(np.pi * yc)
    exact = (-di * (T + t_surface) * vc
             + di / ra * 4 * np.pi**2 * np.cos(np.pi * xc)**2 * np.cos(np.pi * yc)**2)
    return got, exact


def test_eba_source_is_the_written_out_terms_to_second_order():
    # local check of the extended-Boussinesq source: a sign error, a wrong T_s or a missing
    # factor in either term changes it at O(1), far above the discretisation error
    errs = []
    for n in (16, 32, 64):
        got, exact = _eba_terms_on(n)
        errs.append(np.abs(got - exact).max() / np.abs(exact).max())
    assert errs[-1] < 2e-3
    assert errs[0] / errs[1] > 3.5 and errs[1] / errs[2] > 3.5       # second order
    got, exact = _eba_terms_on(32, t_surface=0.0)
    _, exact_ts = _eba_terms_on(32, t_surface=0.2)
    assert np.abs(got - exact_ts).max() > 50 * np.abs(got - exact).max()  # T_s matters


def test_decay_constants_are_the_isotopes_half_lives():
    # U-238, U-235, Th-232, K-40 (half-lives in Gyr): lambda_i = ln 2 / t_half,i in one
    # time unit of the model (~91.5 Gyr, so that t = 0.056 is ~5 Gyr)
    half_lives = (4.468, 0.7038, 14.05, 1.248)
    units = [np.log(2) / th / lam for th, (lam, _) in zip(half_lives, physics.ISOTOPES)]
    assert max(units) / min(units) - 1 < 0.01
    assert 0.056 / np.mean(units) == pytest.approx(5.1, abs=0.1)        # Gyr


def test_time_stepping_is_second_order(tmp_path):
    # no flow, decaying heating, a sine start: halving the step shrinks the change by ~4
    # (SSP-RK2 with the heating taken at mid-step; at the step's start it would be ~2)
    T = {}
    for k, dt in enumerate((2e-3, 1e-3, 5e-4)):
        cfg = make_config(tmp_path / str(k), "physics.ra=0.0", "physics.q=8.0",
                          "physics.heating='exponential'", "physics.decay_rate=30.0",
                          "initial.kind='sine'", "initial.amplitude=0.3",
                          "time.end_time=0.02", f"time.dt_max={dt}",
                          "output.snapshot_every=100000")
        res = Simulation(cfg).run()
        T[k] = open_run(res.directory)["T"].isel(time=-1).values
    ratio = np.abs(T[0] - T[1]).max() / np.abs(T[1] - T[2]).max()
    assert 3.5 < ratio < 4.5


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


def test_the_viscosity_law_has_one_definition_numpy_and_torch_agree():
    # Eq. 2: physics.viscosity (NumPy), ViscosityField (the loop's buffers) and the torch
    # form the surrogate computes on a GPU, all from viscosity_exponents
    import torch
    from pymantle.physics import (ViscosityField, viscosity, viscosity_log10_terms,
                                  viscosity_log10_torch)
    g = Grid(nx=24, ny=6)
    y = g.centres()[1]
    T = np.random.default_rng(3).uniform(-0.1, 1.3, g.shape)
    for limits in ((0.0, 0.0), (1e-5, 0.5)):
        ref = viscosity(T, y, 1e6, 10.0, *limits)
        assert np.array_equal(ViscosityField(y, 1e6, 10.0, *limits)(T)[0], ref)
        a, b, lim = viscosity_log10_terms(y, 1e6, 10.0, *limits)
        got = viscosity_log10_torch(torch.as_tensor(T), a, torch.as_tensor(b), lim).numpy()
        np.testing.assert_allclose(got, np.log10(ref), rtol=0, atol=1e-12)
    # and it is Eq. 2: hot material at the bottom is gamma/beta times less viscous than
    # cold material at the top
    assert viscosity(1.0, 0.0, 1e6, 10.0) / viscosity(0.0, 1.0, 1e6, 10.0) == \
        pytest.approx(10.0 / 1e6, rel=1e-12)


def test_the_depth_term_is_exact_at_the_corners_the_stokes_operator_reads():
    # Tosi case 3's mean-T excess (docs/reports/2026-12-03-tosi-case3-mean-temperature.md):
    # not the depth term. The corner viscosity is the geometric mean of the four cells', and
    # ln(beta)(1 - y) is linear in y, so on the uniform grid every interior corner gets the
    # exact value at its height. (The wall rows average the cells they touch, half a cell
    # off; free slip never reads them.)
    g = Grid(nx=16, ny=16, aspect=1.0)
    _, y = g.centres()
    beta = 10.0
    eta_c, eta_n = physics.ViscosityField(y, 1.0, beta)(np.zeros(g.shape))
    exact = np.exp(np.log(beta) * (1.0 - g.y_f))[:, None] * np.ones((1, g.nx + 1))
    np.testing.assert_allclose(eta_c, np.exp(np.log(beta) * (1.0 - y)), rtol=1e-14)
    np.testing.assert_allclose(eta_n[1:-1], exact[1:-1], rtol=1e-13)
    assert np.abs(eta_n[[0, -1]] / exact[[0, -1]] - 1).max() > 1e-3   # the wall rows: not read
