"""The Galerkin correction (pymantle/galerkin_correction.py): the Stokes solution within a
span built from a given divergence-free flow. Checked against the direct solver on the
laptop grid's shape scaled down, for arbitrary temperature fields."""
import numpy as np
import pytest

from conftest import make_config, stream_velocities
from pymantle import diagnostics
from pymantle.config import ConfigError
from pymantle.galerkin_correction import GalerkinCorrection, dense_from_band, hat_weights
from pymantle.grid import Grid
from pymantle.physics import corner_viscosity, face_buoyancy, viscosity
from pymantle.providers import make_provider
from pymantle.stokes import StokesSolver

RA = 1e3


def state(g, seed=0, gamma=1e4, beta=10.0):
    rng = np.random.default_rng(seed)
    x, y = g.centres()
    T = np.clip(1 - y + 0.2 * np.sin(np.pi * x / 2) * np.sin(np.pi * y)
                + 0.05 * rng.standard_normal(g.shape), 0, 1)
    eta_c = viscosity(T, y, gamma, beta)
    return T, eta_c, corner_viscosity(eta_c)


def energy_norm(g, T, du, dv, eta_c, eta_n):
    """sqrt of the dissipation of a velocity difference: the Stokes energy norm."""
    return np.sqrt(diagnostics.compute(g, T, du, dv, eta_c, eta_n)["dissipation"])


@pytest.fixture(scope="module")
def solved():
    g = Grid(nx=64, ny=16, aspect=4.0)
    T, eta_c, eta_n = state(g)
    res = StokesSolver(g).solve(eta_c, eta_n, face_buoyancy(T, RA))
    return g, T, eta_c, eta_n, res.u, res.v


def test_hat_weights_are_a_partition_of_unity():
    w = hat_weights(5, 33)
    assert np.allclose(w.sum(axis=0), 1.0, atol=1e-14)
    assert w.min() >= 0 and np.allclose(w[:, ::8], np.eye(5))


@pytest.mark.parametrize("shape,nodes", [((8, 32), (3, 9)), ((12, 20), (5, 7)),
                                         ((32, 8), (9, 3))])
def test_kernel_matrix_is_the_dissipation_form_of_the_span(shape, nodes):
    # A_kl against the polarisation of diagnostics.f90's dissipation, (D(u_k + u_l) -
    # D(u_k) - D(u_l)) / 2, over the net functions phi_k f and the interior hats; the
    # second lattice does not line up with the cells (non-integer spacing), and the third
    # box is tall, so its nodes are numbered along x first. Every coupling outside the
    # band would show up as a missing entry.
    g = Grid(nx=shape[1], ny=shape[0], aspect=shape[1] / shape[0])
    T, eta_c, eta_n = state(g, seed=2)
    rng = np.random.default_rng(4)
    f = np.zeros((2, *g.corner_shape))          # the network's field and a memory field
    f[:, 1:-1, 1:-1] = rng.standard_normal((2, g.ny - 1, g.nx - 1))
    gc = GalerkinCorrection(g, RA, *nodes)
    ab = gc.matrix(f, eta_c, eta_n)
    A = dense_from_band(ab)
    wy, wx = hat_weights(nodes[0], g.ny + 1), hat_weights(nodes[1], g.nx + 1)
    psis = []                                   # node by node up the short side, kinds inner
    for _, ay, ax in sorted((gc.node_index(ay, ax), ay, ax)
                            for ay in range(nodes[0]) for ax in range(nodes[1])):
        hat = np.outer(wy[ay], wx[ax])
        wall = ay in (0, nodes[0] - 1) or ax in (0, nodes[1] - 1)
        psis += [hat * fb for fb in f] + [0 * hat if wall else hat]
    vel = [gc.velocities(p) for p in psis]
    diss = lambda u, v: diagnostics.compute(g, T, u, v, eta_c, eta_n)["dissipation"]
    ref = np.empty_like(A)
    for k, (uk, vk) in enumerate(vel):
        for m, (um, vm) in enumerate(vel[: k + 1]):
            ref[k, m] = ref[m, k] = 0.5 * (diss(uk + um, vk + vm) - diss(uk, vk) - diss(um, vm))
    assert np.abs(A - ref).max() < 1e-10 * np.abs(ref).max()


def test_an_exact_stokes_solution_is_returned_unchanged(solved):
    g, T, eta_c, eta_n, u, v = solved
    gc = GalerkinCorrection(g, RA, 5, 17)
    u2, v2 = gc.correct(T, u, eta_c, eta_n)
    scale = np.abs(v).max()
    assert np.abs(u2 - u).max() < 1e-7 * scale and np.abs(v2 - v).max() < 1e-7 * scale
    net, hats = gc.last_coefficients                  # (kinds, nodes)
    assert np.abs(net - 1.0).max() < 1e-6                               # c = 1 ...
    assert np.abs(hats).max() < 1e-6 * np.abs(u).max()                  # hats unused


@pytest.mark.parametrize("enrich", [False, True])
def test_energy_norm_error_never_grows_and_the_balance_holds(solved, enrich):
    # A corrupted solution: the true flow, too strong by half, plus noise. Its Galerkin
    # correction is the energy-norm best approximation within a span containing it.
    g, T, eta_c, eta_n, u, v = solved
    nu, nv = stream_velocities(g, seed=3)
    noise = 0.3 * np.abs(v).max() / np.abs(nv).max()
    ub, vb = 1.5 * u + noise * nu, 1.5 * v + noise * nv
    gc = GalerkinCorrection(g, RA, 5, 17, enrich=enrich)
    uc, vc = gc.correct(T, ub, eta_c, eta_n)
    before = energy_norm(g, T, ub - u, vb - v, eta_c, eta_n)
    after = energy_norm(g, T, uc - u, vc - v, eta_c, eta_n)
    assert after < 0.5 * before
    d = diagnostics.compute(g, T, uc, vc, eta_c, eta_n)
    assert RA * d["work"] == pytest.approx(d["dissipation"], rel=1e-9)   # a(u,u) = Ra b(u)
    assert d["div_max"] < 1e-10 * np.abs(vc).max() / g.dx
    assert np.all(uc[:, [0, -1]] == 0) and np.all(vc[[0, -1]] == 0)    # no flow through walls
    # the richer span gets at least as close
    if enrich:
        plain = GalerkinCorrection(g, RA, 5, 17, enrich=False).correct(T, ub, eta_c, eta_n)
        assert after <= energy_norm(g, T, plain[0] - u, plain[1] - v, eta_c, eta_n) * (1 + 1e-9)


def test_a_horizontally_uniform_temperature_drives_no_flow():
    # b(T, u) = 0 for every divergence-free u when T = T(y): the correction stops the
    # spurious flow a network may predict in a conductive state.
    g = Grid(nx=64, ny=16, aspect=4.0)
    _, y = g.centres()
    T = np.broadcast_to(1.0 - y[:, :1] ** 2, g.shape).copy()
    eta_c = viscosity(T, y, 1e5, 10.0)
    eta_n = corner_viscosity(eta_c)
    u, v = stream_velocities(g, seed=1)
    uc, vc = GalerkinCorrection(g, RA, 9, 33).correct(T, u, eta_c, eta_n)
    assert np.abs(uc).max() < 1e-12 * np.abs(u).max()
    assert np.abs(vc).max() < 1e-12 * np.abs(v).max()


def test_memory_keeps_an_exact_solution_and_the_energy_bound(solved):
    # With the last flow in the span (memory) the exact solution is still a fixed point,
    # and the correction of a corrupted flow gets at least as close as without memory.
    g, T, eta_c, eta_n, u, v = solved
    gc = GalerkinCorrection(g, RA, 5, 17, memory=True)
    gc.remember(0.5 * u)                        # a weaker copy of the true flow
    u2, v2 = gc.correct(T, u, eta_c, eta_n)
    assert np.abs(v2 - v).max() < 1e-7 * np.abs(v).max()
    nu, nv = stream_velocities(g, seed=7)
    noise = 0.5 * np.abs(v).max() / np.abs(nv).max()
    ub, vb = 1.3 * u + noise * nu, 1.3 * v + noise * nv
    plain = GalerkinCorrection(g, RA, 5, 17).correct(T, ub, eta_c, eta_n)
    gc.remember(0.8 * u + 0.3 * noise * nu)     # an imperfect last flow
    rich = gc.correct(T, ub, eta_c, eta_n)
    err = lambda w: energy_norm(g, T, w[0] - u, w[1] - v, eta_c, eta_n)
    assert err(rich) <= err(plain) * (1 + 1e-9)
    assert err(rich) < 0.5 * err(plain)
    # the memory is the corrected flow's own stream function
    np.testing.assert_allclose(gc.velocities(gc.previous)[0], rich[0], rtol=0, atol=1e-12 * np.abs(rich[0]).max())


def test_a_zero_flow_stays_zero(solved):
    g, T, eta_c, eta_n, u, _ = solved
    uc, vc = GalerkinCorrection(g, RA, 5, 17, enrich=False).correct(T, 0 * u, eta_c, eta_n)
    assert not uc.any() and not vc.any()


def test_correction_settings_are_checked(tmp_path):
    from pymantle.simulation import Simulation
    with pytest.raises(ConfigError, match=r"correction = 'galerkin': applies to solver = "
                                          r"'surrogate' only"):
        Simulation(make_config(tmp_path, "stokes.correction='galerkin'"))
    with pytest.raises(ConfigError, match=r"&stokes correction = .galerkn.*allowed one of none, galerkin"):
        make_config(tmp_path, "stokes.correction='galerkn'")
    with pytest.raises(ConfigError, match=r"correction_nodes = 2 is out of range: allowed 0 "):
        make_config(tmp_path, "stokes.correction_nodes=2")
    with pytest.raises(ConfigError, match=r"refresh_every = 5: applies to solver = "
                                          r"'surrogate' or 'galerkin' only \(allowed here: 0"):
        Simulation(make_config(tmp_path, "stokes.refresh_every=5"))
    with pytest.raises(ConfigError, match=r"every = 100: applies to the Stokes solvers and "
                                          r"the surrogate \(allowed with solver = 'galerkin': 1"):
        Simulation(make_config(tmp_path, "stokes.solver='galerkin'", "stokes.every=100"))
    # refused when the namelist is read (config.validate builds the grid), and again by
    # make_provider for a config changed in code
    opts = ("stokes.solver='surrogate'", "stokes.correction='galerkin'", "stokes.model='x.pt'")
    with pytest.raises(ConfigError, match=r"correction_nodes = 6: allowed 0 \(auto\) or 3\.\.5 "):
        make_config(tmp_path, *opts, "stokes.correction_nodes=6")
    cfg = make_config(tmp_path, *opts)
    cfg["stokes"]["correction_nodes"] = 6
    with pytest.raises(ConfigError, match=r"correction_nodes = 6: allowed 0 \(auto\) or 3\.\.5 "):
        make_provider(cfg, cfg.grid())


def test_galerkin_solver_runs_without_a_network_and_balances_energy(tmp_path):
    # solver = 'galerkin': 2 direct warm-up steps, then the correction over the coarse
    # hats and the last flow only. Each of its steps is a Galerkin solution: dissipation =
    # Ra work to round-off, and its energy never exceeds the direct solution's.
    from pymantle import open_run
    from pymantle.simulation import Simulation
    common = ["time.end_time=1.0", "time.max_steps=12", "physics.ra=1e3", "physics.q=2.0",
              "physics.gamma=1e4", "physics.beta=3.0"]
    res = Simulation(make_config(tmp_path / "g", "stokes.solver='galerkin'", *common)).run()
    ds = open_run(res.directory)
    its = ds["stokes_iterations"].values
    assert its[0] >= 1 and its[1] >= 1 and np.all(its[2:] == 0)
    d, w = ds["dissipation"].values[2:], ds["work"].values[2:]
    np.testing.assert_allclose(d, 1e3 * w, rtol=1e-8)
    assert np.all(w > 0) and float(ds["div_max"][2:].max()) < 1e-8
    # at the last step: below the exact solution's energy for the same T
    T = ds["T"][-1].values
    g = Grid.from_preset("ci")
    _, y = g.centres()
    eta_c = viscosity(T, y, 1e4, 3.0)
    exact = StokesSolver(g).solve(eta_c, corner_viscosity(eta_c), face_buoyancy(T, 1e3))
    d_exact = diagnostics.compute(g, T, exact.u, exact.v, eta_c, corner_viscosity(eta_c))
    assert 0 < d[-1] <= d_exact["dissipation"] * (1 + 1e-9)
    ds.close()


def test_a_refreshed_galerkin_run_solves_every_nth_step_and_keeps_that_flow(tmp_path):
    # refresh_every = 4: the direct solver takes steps 0, 1 (warm-up), 4 and 8, and the
    # Galerkin memory keeps its flow. So if T changes at step 8, step 9 (same T) returns
    # the direct solution for the new T: an exact solution in the span passes unchanged.
    from pymantle import open_run
    from pymantle.simulation import Simulation
    common = ["time.end_time=1.0", "time.max_steps=10", "physics.ra=1e3", "physics.q=2.0",
              "physics.gamma=1e4", "physics.beta=3.0"]
    cfg = make_config(tmp_path / "r", "stokes.solver='galerkin'", "stokes.refresh_every=4",
                      *common)
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    its = ds["stokes_iterations"].values
    assert [k for k in range(10) if its[k] != 0] == [0, 1, 4, 8]
    d, w = ds["dissipation"].values[its == 0], ds["work"].values[its == 0]
    np.testing.assert_allclose(d, 1e3 * w, rtol=1e-8)                 # Galerkin steps
    ds.close()
    g = cfg.grid()
    prov = make_provider(cfg, g)
    fields = [state(g, seed=s, gamma=1e4, beta=3.0) for s in (0, 1)]
    for step in range(10):
        T, eta_c, eta_n = fields[step >= 8]
        u, v, _, _ = prov.velocities(step, T, eta_c, eta_n)
    exact = StokesSolver(g).solve(eta_c, eta_n, face_buoyancy(T, 1e3))
    assert np.abs(v - exact.v).max() < 1e-7 * np.abs(exact.v).max()
    prov.close()


def test_a_lattice_whose_band_matrix_would_not_fit_is_refused():
    g = Grid(nx=4096, ny=1024, aspect=4.0)
    with pytest.raises(ValueError, match=r"nodes 257 x 1025: the band matrix would take 9.1 GiB, "
                                         r"over the 2 GiB allowed: at most 154 nodes"):
        GalerkinCorrection(g, RA, 257, 1025, memory=True)
    GalerkinCorrection(g, RA, 154, 613, memory=True)       # the largest that fits
    small = Grid(nx=32, ny=8, aspect=4.0)
    with pytest.raises(ValueError, match="3 corner fields: the span takes 1 or 2"):
        GalerkinCorrection(small, RA, 3, 9).matrix(np.zeros((3, *small.corner_shape)),
                                                   np.ones(small.shape),
                                                   np.ones(small.corner_shape))


def test_banded_solve_matches_a_dense_solve():
    # The banded Cholesky (with its dropped wall hats and ridge) against a dense
    # least-squares solve of the unpacked matrix over the functions that carry energy.
    g = Grid(nx=40, ny=10, aspect=4.0)
    T, eta_c, eta_n = state(g, seed=5)
    f = np.zeros((1, *g.corner_shape))
    f[0, 1:-1, 1:-1] = np.random.default_rng(6).standard_normal((g.ny - 1, g.nx - 1))
    gc = GalerkinCorrection(g, RA, 4, 13)
    ab = gc.matrix(f, eta_c, eta_n)
    A = dense_from_band(ab)
    k = len(A)
    r = np.random.default_rng(7).standard_normal(k)
    keep = np.diag(A) > 0
    assert (~keep).sum() == 2 * 4 + 2 * 13 - 4    # exactly the hats on the walls
    ref = np.zeros(k)
    ref[keep] = np.linalg.solve(A[np.ix_(keep, keep)], r[keep])
    c = GalerkinCorrection._solve(ab, r)
    assert np.abs(c - ref).max() < 1e-8 * np.abs(ref).max()
