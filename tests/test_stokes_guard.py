"""The error-controlled hybrid (&stokes guard_tol): the pressure-free residual is zero for a
Stokes solution and linear in the error; a guard that always trips reproduces the direct
run, one that never trips the unguarded run."""
import numpy as np
import pytest
from mpi4py import MPI

from conftest import make_config, stream_velocities
from pymantle.config import ConfigError
from pymantle.grid import Grid
from pymantle.output import open_run
from pymantle.physics import corner_viscosity, viscosity
from pymantle.providers import StokesProvider, make_provider
from pymantle.simulation import Simulation
from pymantle.stokes_residual import MomentumCurlResidual

CI = Grid(nx=32, ny=8)


def _state(seed=0):
    x, y = CI.centres()
    rng = np.random.default_rng(seed)
    T = (1.0 - y) + 0.05 * np.cos(np.pi * x / 2) * np.sin(np.pi * y) \
        + 0.01 * rng.standard_normal(CI.shape)
    eta = viscosity(T, y, 1e4, 10.0)
    return T, eta, corner_viscosity(eta)


def test_residual_is_zero_for_the_stokes_solution_and_linear_in_the_error():
    T, eta, eta_n = _state()
    res = MomentumCurlResidual(CI, 1e4)
    u, v, p, _ = StokesProvider(CI, 1e4, "direct", comm=MPI.COMM_SELF).velocities(
        0, T, eta, eta_n)
    assert res(T, u, v, eta, eta_n) < 1e-9
    assert res(T, 0 * u, 0 * v, eta, eta_n) == pytest.approx(1.0, rel=1e-12)
    assert res(T, 1.2 * u, 1.2 * v, eta, eta_n) == pytest.approx(0.2, rel=1e-6)
    # a divergence-free field that is no Stokes solution is caught
    du, dv = stream_velocities(CI, seed=2)
    scale = 0.05 * np.abs(u).max() / np.abs(du).max()
    assert res(T, u + scale * du, v + scale * dv, eta, eta_n) > 0.05


def _run(tmp_path, name, *overrides):
    cfg = make_config(tmp_path / name, "time.max_steps=15", "time.end_time=1.0",
                      "physics.gamma=1e4", *overrides)
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    out = (ds["T"].values[-1].copy(), ds["stokes_residual"].values.copy(),
           ds["direct_solve"].values.copy())
    ds.close()
    return out


def test_a_guard_that_always_trips_is_the_direct_run(tmp_path):
    T_direct, r_direct, s_direct = _run(tmp_path, "direct")
    T_guard, r_guard, s_guard = _run(tmp_path, "guard", "stokes.solver='galerkin'",
                                     "stokes.guard_tol=1e-12")
    assert np.all(s_direct == 1) and np.all(s_guard == 1)
    np.testing.assert_allclose(T_guard, T_direct, rtol=0, atol=1e-11)
    assert np.all(np.isnan(r_direct))                    # no guard, nothing measured
    assert np.all(np.isnan(r_guard[:2]))                 # the two direct warm-up steps
    assert np.all(r_guard[2:] > 1e-12)                   # the galerkin flow, rejected


def test_a_guard_that_never_trips_is_the_unguarded_run(tmp_path):
    T_plain, _, s_plain = _run(tmp_path, "plain", "stokes.solver='galerkin'")
    T_guard, r_guard, s_guard = _run(tmp_path, "guard", "stokes.solver='galerkin'",
                                     "stokes.guard_tol=1e5")
    np.testing.assert_array_equal(T_guard, T_plain)
    assert list(s_guard) == list(s_plain) == [1, 1] + [0] * (len(s_plain) - 2)
    assert np.all(np.isfinite(r_guard[2:])) and np.all(r_guard[2:] < 1e5)


def test_guard_needs_a_provider_that_can_be_wrong(tmp_path):
    with pytest.raises(ConfigError, match="guard_tol = 0.1: applies to solver = 'surrogate' "
                                          "or 'galerkin' only"):
        make_config(tmp_path, "stokes.guard_tol=0.1")
    cfg = make_config(tmp_path)
    cfg["stokes"]["guard_tol"] = 0.1             # changed in code: make_provider checks too
    with pytest.raises(ConfigError, match="guard_tol = 0.1: applies"):
        make_provider(cfg, CI)


def test_matrix_free_momentum_rows_equal_the_assembled_operator():
    """K w - b of the residual, against the momentum rows of stokes_assembly.f90's CSR."""
    import scipy.sparse as sp
    from pymantle.physics import face_buoyancy
    from pymantle.stokes import StokesOperator
    T, eta, eta_n = _state(seed=4)
    u, v = stream_velocities(CI, seed=5)
    op = StokesOperator(CI, pin=False)
    kc, bscale = op.scales(eta)
    A = sp.csr_matrix(op.csr(eta, eta_n, kc, bscale)[::-1], shape=(op.nrows, op.nrows))
    x = np.concatenate([u.ravel(), v.ravel(), np.zeros(CI.nx * CI.ny)])
    r_u, r_v, _ = op.split(A @ x - op.rhs(face_buoyancy(T, 2.5)))
    ru, rv = MomentumCurlResidual(CI, 2.5).momentum_residual(T, u, v, eta, eta_n)
    scale = np.abs(r_u).max()
    np.testing.assert_allclose(ru, r_u[:, 1:-1], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(rv, r_v[1:-1, :], rtol=0, atol=1e-12 * scale)
