"""The hybrid's T clip acts only outside the maximum principle's bounds (temperature_bounds.py):
a run whose velocities are a Stokes solution is the same whether the clip is on or not,
for a cold start and for a start below the surface temperature."""
import numpy as np
import pytest
from scipy.integrate import quad

from conftest import make_config
from pymantle import open_run
from pymantle.initial import floored, initial_temperature
from pymantle.physics import heating_rate
from pymantle.providers import StokesProvider
from pymantle.simulation import Simulation
from pymantle.temperature_bounds import TemperatureBounds, heat_input


class ApproximateStokes(StokesProvider):
    """MUMPS's flow, handed over as if it came from an approximate provider: the time
    loop then clips T, and nothing else differs from the reference run."""
    approximate = True


@pytest.mark.parametrize("law,rate", [("constant", 0.0), ("decay", 0.0),
                                      ("exponential", 3.0), ("exponential", 0.0)])
def test_heat_input_is_the_integral_of_the_heating(law, rate):
    for t in (0.0, 0.013, 0.7, 4.0):
        exact = quad(lambda s: heating_rate(s, 2.5, law, rate), 0.0, t)[0]
        assert heat_input(t, 2.5, law, rate) == pytest.approx(exact, rel=1e-10, abs=1e-14)


def test_cold_start_is_not_colder_than_the_surface(tmp_path):
    cfg = make_config(tmp_path, "initial.kind='cold'")
    T = initial_temperature(cfg, cfg.grid())
    assert T.min() >= 0.0
    assert 0.5 * 0.01 < T.max() <= 0.01          # the perturbation is kept, reflected
    # the hot start is unchanged: 1 +- the perturbation
    hot = initial_temperature(make_config(tmp_path, "initial.kind='hot'"), cfg.grid())
    assert hot.min() < 1.0 < hot.max()


def test_floored_reflects_only_what_the_perturbation_took_below():
    base = np.array([0.0, 0.0, 0.5, -0.2])
    pert = np.array([-0.01, 0.01, -0.01, -0.01])
    np.testing.assert_allclose(floored(base, pert), [0.01, 0.01, 0.49, -0.21])


def test_bounds_follow_the_heating_and_the_eba_terms():
    T0 = np.array([[0.2, 0.9]])
    ph = {"q": 2.0, "heating": "constant", "decay_rate": 0.0, "di": 0.0, "t_surface": 0.0}
    b = TemperatureBounds.from_initial(T0, ph)
    assert (b.lower, b.upper(0.0), b.upper(0.1)) == (0.0, 1.0, pytest.approx(1.2))
    low = TemperatureBounds.from_initial(T0 - 0.5, ph)
    assert low.lower == pytest.approx(-0.3)
    eba = TemperatureBounds.from_initial(T0, {**ph, "di": 0.5, "t_surface": 0.1})
    assert eba.lower == -0.1 and eba.upper(1.0) == np.inf
    T = np.array([[-0.5, 0.5, 3.0]])
    assert b.clip(T, 0.1) == pytest.approx(1.8)
    np.testing.assert_allclose(T, [[0.0, 0.5, 1.2]])


def _mean_T(run_dir):
    return np.asarray(open_run(run_dir)["T_mean"].values)


def _profile_file(tmp_path):
    """A profile colder than the surface in the upper half (as a restart from another
    code might be): T = 1 - 1.2 y, down to -0.2 at the top."""
    y = np.linspace(0.0, 1.0, 41)
    path = tmp_path / "profile.txt"
    np.savetxt(path, np.column_stack([y, 1.0 - 1.2 * y]))
    return path


@pytest.mark.parametrize("start", ["cold", "profile"])
def test_clip_leaves_a_stokes_flow_run_unchanged(tmp_path, start):
    settings = ["physics.q=5.859", "physics.gamma=9.513e5", "physics.beta=4.387",
                "time.max_steps=60", "time.end_time=1.0", "output.snapshot_every=20"]
    if start == "cold":
        settings.append("initial.kind='cold'")
    else:
        settings += ["initial.kind='profile'", f"initial.file='{_profile_file(tmp_path)}'",
                     "initial.amplitude=0.0"]
    ref = make_config(tmp_path / "ref", *settings)
    Simulation(ref).run()
    cfg = make_config(tmp_path / "hyb", *settings)
    sim = Simulation(cfg, provider=ApproximateStokes(cfg.grid(), 1.0, "direct"))
    assert sim.clip_temperature
    sim.run()
    a, b = _mean_T(tmp_path / "ref" / "run"), _mean_T(tmp_path / "hyb" / "run")
    assert len(a) == len(b) == 61
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-13)
    if start == "profile":            # the reference keeps its sub-surface temperatures
        T = open_run(tmp_path / "ref" / "run")["T"].values[0]
        assert T.min() < -0.1


def test_a_resumed_hybrid_clips_with_the_initial_fields_bounds(tmp_path):
    """The bounds come from the initial field, which a resume does not read: the
    checkpoint keeps them, and the resumed run equals the straight one bit for bit."""
    settings = ["stokes.solver='galerkin'", "stokes.refresh_every=6", "initial.kind='profile'",
                f"initial.file='{_profile_file(tmp_path)}'", "initial.amplitude=0.0",
                "time.end_time=1.0", "output.checkpoint_every=10", "output.snapshot_every=5"]
    Simulation(make_config(tmp_path / "a", *settings, "time.max_steps=30")).run()
    Simulation(make_config(tmp_path / "b", *settings, "time.max_steps=20")).run()
    import netCDF4
    with netCDF4.Dataset(tmp_path / "b" / "run" / "checkpoint.nc") as ds:
        assert ds.temperature_lower == pytest.approx(1.0 - 1.2 * 0.9375)   # T0's top row
    res = Simulation(make_config(tmp_path / "b", *settings, "time.max_steps=30")).run()
    assert res.resumed_from == 20
    a, b = (open_run(tmp_path / d / "run")["T"].values[-1] for d in "ab")
    np.testing.assert_array_equal(a, b)
