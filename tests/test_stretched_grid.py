"""Wall-refined grids (&grid refine_walls > 0): rows stretched in y by a smooth tanh map.
The scheme stays conservative, symmetric and second order on them."""
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import make_config, stream_velocities
from pymantle import _kernels, diagnostics, open_run
from pymantle.analytic.solcx import solcx_force, solcx_solution, solcx_viscosity
from pymantle.config import ConfigError
from pymantle.energy import EnergySolver
from pymantle.grid import Grid
from pymantle.initial import conduction_profile
from pymantle.physics import corner_viscosity, face_buoyancy, viscosity
from pymantle.simulation import Simulation
from pymantle.stokes import StokesOperator, StokesSolver

S = 1.5   # wall rows 0.30 of the uniform height


def test_refined_grid_geometry():
    g = Grid(nx=8, ny=16, aspect=1.0, refine=S)
    yf, h = g.y_f, g.dy_c
    assert yf[0] == 0.0 and yf[-1] == 1.0 and np.all(np.diff(yf) > 0)
    np.testing.assert_allclose(yf, 1.0 - yf[::-1], atol=1e-15)        # symmetric
    np.testing.assert_allclose(g.y_c, 0.5 * (yf[:-1] + yf[1:]))       # centres at midpoints
    assert h.sum() == pytest.approx(1.0) and g.dy_f.sum() == pytest.approx(1.0)
    fine = Grid(nx=2, ny=512, aspect=1.0, refine=S)                   # wall rows thin:
    assert fine.dy_c[0] * 512 == pytest.approx(2 * S / np.sinh(2 * S), rel=1e-2)
    assert g.dy_min == h[0]
    with pytest.raises(ValueError, match="undefined on a wall-refined grid"):
        g.dy


def test_uniform_grid_spacings_equal_its_dy_exactly():
    g = Grid(nx=8, ny=12, aspect=1.0)
    assert g.uniform and np.all(g.dy_c == g.dy) and g.dy_min == g.dy
    np.testing.assert_array_equal(g.y_f, np.arange(13) * g.dy)


@pytest.mark.parametrize("text", ["grid.refine_walls=-0.5", "grid.refine_walls=3.5"])
def test_bad_refine_walls_gives_one_line_error(text):
    with pytest.raises(ConfigError) as exc:
        make_config(__import__("pathlib").Path("/nonexistent"), text)
    msg = str(exc.value)
    assert "\n" not in msg
    assert "&grid refine_walls" in msg and "0 (uniform) or 0 < x <= 3" in msg


def test_surrogate_refuses_a_refined_grid(tmp_path):
    with pytest.raises(ConfigError, match="surrogate provider supports uniform grids only"):
        make_config(tmp_path, "grid.refine_walls=1.0", "stokes.solver='surrogate'")


def test_refined_operator_is_symmetric():
    g = Grid(nx=10, ny=7, aspect=2.0, refine=S)
    rng = np.random.default_rng(0)
    eta_c = viscosity(rng.random(g.shape), g.centres()[1], 1e4, 10.0)
    op = StokesOperator(g, pin=True)
    indptr, indices, vals = op.csr(eta_c, corner_viscosity(eta_c), *op.scales(eta_c))
    A = sp.csr_matrix((vals, indices, indptr), shape=(op.nrows, op.nrows))
    assert abs(A - A.T).max() <= 1e-12 * abs(A).max()


def test_refined_buoyancy_work_equals_dissipation_and_flow_is_divergence_free():
    g = Grid(nx=32, ny=8, aspect=4.0, refine=S)
    T = np.random.default_rng(5).random(g.shape)
    eta_c = viscosity(T, g.centres()[1], 1e4, 10.0)
    eta_n = corner_viscosity(eta_c)
    res = StokesSolver(g, method="direct").solve(eta_c, eta_n, face_buoyancy(T, 1e3))
    d = diagnostics.compute(g, T, res.u, res.v, eta_c, eta_n)
    assert 1e3 * d["work"] == pytest.approx(d["dissipation"], rel=1e-8)
    assert d["div_max"] < 1e-9 * np.abs(res.v).max() / g.dy_min


def solcx_errors(n, refine):
    g = Grid(nx=n, ny=n, aspect=1.0, refine=refine)
    xc, yc = g.centres()
    eta_c = solcx_viscosity(xc, yc)
    xv, yv = g.v_points()
    res = StokesSolver(g, method="direct").solve(eta_c, corner_viscosity(eta_c, "harmonic"),
                                                 solcx_force(xv, yv))
    ue, ve = solcx_solution(*g.u_points())[0], solcx_solution(xv, yv)[1]
    rel = lambda a, b: np.sqrt(np.mean((a - b) ** 2) / np.mean(b ** 2))  # noqa: E731
    return np.array([rel(res.u, ue), rel(res.v, ve)])


def test_solcx_converges_at_second_order_on_a_refined_grid():
    e16, e32, e64 = (solcx_errors(n, S) for n in (16, 32, 64))
    assert np.all(np.log2(e16 / e32) > 1.9) and np.all(np.log2(e32 / e64) > 1.9)
    assert np.all(e64 < 0.01)


def steady_conduction(g, q):
    """The steady state of the discrete operator (u = 0): it is affine in T, so one linear
    solve with its columns, read off the kernel, gives it exactly."""
    zero_u, zero_v = np.zeros((g.nx + 1, g.ny), order="F"), np.zeros((g.nx, g.ny + 1), order="F")
    src = np.full((g.nx, g.ny), q, order="F")

    def rhs(T):
        return _kernels.energy.advdiff_rhs_y(np.asfortranarray(T.reshape(g.shape).T), zero_u,
                                             zero_v, src, g.dx, g.dy_c, 1.0, 1.0, 0.0, 2).T.ravel()
    b = rhs(np.zeros(g.nx * g.ny))
    A = np.column_stack([rhs(e) - b for e in np.eye(g.nx * g.ny)])
    return np.linalg.solve(A, -b).reshape(g.shape)


@pytest.mark.parametrize("q", [0.0, 4.0, 9.5])
def test_conduction_nusselt_exact_and_profile_second_order_on_a_refined_grid(q):
    # The wall fluxes are exact to round-off (the midpoint rule integrates the linear flux
    # exactly); the cell values converge to the exact profile at second order.
    errs = []
    for ny in (8, 16, 32):
        g = Grid(nx=2, ny=ny, aspect=0.5, refine=S)
        T = steady_conduction(g, q)
        z = np.zeros
        d = diagnostics.compute(g, T, z(g.u_shape), z(g.v_shape), np.ones(g.shape),
                                np.ones(g.corner_shape))
        assert d["Nu_top"] == pytest.approx(1 + q / 2, abs=1e-11)
        assert d["Nu_bottom"] == pytest.approx(1 - q / 2, abs=1e-11)
        errs.append(np.abs(T - conduction_profile(g.centres()[1], q)).max())
    if q == 0:
        assert max(errs) < 1e-13           # linear profile: exact
    else:
        assert np.log2(errs[1] / errs[2]) > 1.9, errs


@pytest.mark.parametrize("limiter", ["upwind", "minmod", "vanleer", "mc", "superbee"])
def test_advection_conserves_heat_to_round_off_on_a_refined_grid(limiter):
    g = Grid(nx=24, ny=10, aspect=2.4, refine=S)
    u, v = stream_velocities(g, seed=1)
    T = np.random.default_rng(2).random(g.shape)
    es = EnergySolver(g, limiter=limiter, kappa=0.0)
    heat = lambda T: (T * g.dy_c[:, None]).sum()  # noqa: E731
    total0 = heat(T)
    dt = es.time_step(u, v)
    for _ in range(200):
        es.step(T, u, v, 0.0, dt)
    assert abs(heat(T) - total0) <= 1e-12 * total0
    assert T.min() >= -1e-12 and T.max() <= 1 + 1e-12          # TVD: no new extrema


def test_heat_budget_matches_wall_fluxes_on_a_refined_grid():
    g = Grid(nx=16, ny=8, aspect=2.0, refine=S)
    u, v = stream_velocities(g, seed=3)
    T = np.random.default_rng(4).random(g.shape)
    q = 2.5
    rhs = _kernels.energy.advdiff_rhs_y(T.T, 5 * u.T, 5 * v.T, np.full((g.nx, g.ny), q),
                                        g.dx, g.dy_c, 1.0, 1.0, 0.0, 2)
    qtop, qbot = _kernels.energy.wall_heat_flux_y(T.T, g.dx, g.dy_c, 1.0, 1.0, 0.0)
    total = (rhs.T * g.dy_c[:, None]).sum() * g.dx
    assert total == pytest.approx(qbot - qtop + q * g.aspect, rel=1e-12)


def test_refined_run_writes_true_coordinates_and_restarts_bit_identically(tmp_path):
    common = ["grid.refine_walls=1.5", "time.end_time=1.0", "time.max_steps=30",
              "output.checkpoint_every=10", "output.snapshot_every=7", "physics.gamma=1e4"]
    a = Simulation(make_config(tmp_path / "a", *common)).run()
    cfg = make_config(tmp_path / "b", *common[:2], "time.max_steps=20", *common[3:])
    Simulation(cfg).run()
    b = Simulation(make_config(tmp_path / "b", *common)).run()      # extends the run
    assert b.resumed_from == 20
    g = cfg.grid()
    da, db = open_run(a.directory), open_run(b.directory)
    np.testing.assert_array_equal(da["y"].values, g.y_c)
    np.testing.assert_array_equal(da["y_face"].values, g.y_f)
    for name in ("T", "u", "v", "p", "Nu_top", "Vrms"):
        np.testing.assert_array_equal(da[name].values, db[name].values)
    da.close(), db.close()
    from pymantle.plots import plot_temperature        # cells drawn at their true heights
    assert plot_temperature(a.directory, tmp_path / "T.png").stat().st_size > 0
    # a restart onto the same shape with other row spacing must not load the file silently
    other = make_config(tmp_path / "c", "initial.kind='restart'",
                        f"initial.file='{a.directory}'", "time.max_steps=1")
    with pytest.raises(ConfigError, match="spaced differently"):
        Simulation(other).run()
    ok = make_config(tmp_path / "d", "initial.kind='restart'", f"initial.file='{a.directory}'",
                     "initial.interpolate=.true.", "time.max_steps=1")
    Simulation(ok).run()


def test_refined_benchmark_case_and_override_set_refine_walls(tmp_path):
    from pymantle.benchmarks import load_case
    refined, plain = load_case("blankenbach-2a-refined"), load_case("blankenbach-2a")
    assert refined.reference["quantity"] == plain.reference["quantity"]
    assert refined.reference["tolerance"] == plain.reference["tolerance"]
    cfg = refined.config(64, str(tmp_path))
    assert cfg["grid"]["refine_walls"] > 0 and cfg.grid().ny == 64 and cfg.grid().nx == 64
    assert plain.config(32, str(tmp_path))["grid"]["refine_walls"] == 0.0
    assert plain.config(32, str(tmp_path), refine_walls=1.25).grid().refine == 1.25


@pytest.mark.parametrize("method", ["lagged", "iterative", "multigrid"])
def test_other_solvers_agree_with_direct_on_a_refined_grid(method):
    g = Grid(nx=16, ny=16, aspect=1.0, refine=S)
    xc, yc = g.centres()
    eta_c = solcx_viscosity(xc, yc)
    eta_n = corner_viscosity(eta_c, "harmonic")
    f = solcx_force(*g.v_points())
    ref = StokesSolver(g, method="direct").solve(eta_c, eta_n, f)
    res = StokesSolver(g, method=method).solve(eta_c, eta_n, f)
    for a, b in ((res.u, ref.u), (res.v, ref.v)):
        assert np.abs(a - b).max() <= 1e-6 * np.abs(b).max()
