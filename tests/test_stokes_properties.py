"""Properties any correct discrete Stokes solution has, for arbitrary temperature fields."""
import numpy as np
import pytest
import scipy.sparse as sp

from pymantle import diagnostics
from pymantle.grid import Grid
from pymantle.physics import corner_viscosity, face_buoyancy, viscosity
from pymantle.stokes import StokesOperator, StokesSolver


def random_state(g, seed=0, gamma=1e4, beta=10.0):
    rng = np.random.default_rng(seed)
    T = rng.random(g.shape)
    _, y = g.centres()
    eta_c = viscosity(T, y, gamma, beta)
    return T, eta_c, corner_viscosity(eta_c)


@pytest.mark.parametrize("pin,pblock", [(True, False), (False, False)])
def test_operator_is_symmetric(pin, pblock):
    g = Grid(nx=12, ny=6, aspect=2.0)
    _, eta_c, eta_n = random_state(g)
    op = StokesOperator(g, pin=pin, pblock=pblock)
    indptr, indices, vals = op.csr(eta_c, eta_n, *op.scales(eta_c))
    A = sp.csr_matrix((vals, indices, indptr), shape=(op.nrows, op.nrows))
    assert A.nnz == op.nnz
    assert abs(A - A.T).max() <= 1e-12 * abs(A).max()


@pytest.mark.parametrize("method", ["direct", "lagged"])
def test_buoyancy_work_equals_dissipation_and_flow_is_divergence_free(method):
    # u^T K u = u^T f for the discrete solution: Ra <T v> = <tau:grad u>, for any T.
    g = Grid(nx=32, ny=8, aspect=4.0)
    T, eta_c, eta_n = random_state(g, seed=5)
    ra = 1e3
    res = StokesSolver(g, method=method).solve(eta_c, eta_n, face_buoyancy(T, ra))
    d = diagnostics.compute(g, T, res.u, res.v, eta_c, eta_n)
    assert ra * d["work"] == pytest.approx(d["dissipation"], rel=1e-8)
    assert d["work"] > 0
    vmax = np.abs(res.v).max()
    assert d["div_max"] < 1e-9 * vmax / g.dx
    # free-slip walls: zero normal velocity
    assert np.all(res.u[:, 0] == 0) and np.all(res.u[:, -1] == 0)
    assert np.all(res.v[0] == 0) and np.all(res.v[-1] == 0)
    assert abs(res.p.mean()) < 1e-12 * np.abs(res.p).max()


def test_hot_material_rises():
    g = Grid(nx=32, ny=16, aspect=2.0)
    x, y = g.centres()
    T = 0.5 + 0.5 * np.exp(-((x - 1.0) ** 2 + (y - 0.5) ** 2) / 0.02)
    eta = np.ones(g.shape)
    res = StokesSolver(g).solve(eta, np.ones(g.corner_shape), face_buoyancy(T, 1e4))
    xv, yv = g.v_points()
    j, i = np.unravel_index(np.argmax(res.v), res.v.shape)
    assert res.v.max() > 0
    assert abs(xv[j, i] - 1.0) < 0.1 and abs(yv[j, i] - 0.5) < 0.15   # fastest upwelling at the blob
    v_blob = res.v[np.abs(yv - 0.5) < 0.1][np.abs(xv[np.abs(yv - 0.5) < 0.1] - 1.0) < 0.1]
    assert np.all(v_blob > 0)
    # symmetric about the blob: the flow converges under it and diverges above it
    assert res.u[4, 12] > 0 > res.u[4, 20]


def test_direct_and_lagged_agree():
    g = Grid(nx=24, ny=12, aspect=2.0)
    T, eta_c, eta_n = random_state(g, seed=7, gamma=1e6)
    a = StokesSolver(g, "direct").solve(eta_c, eta_n, face_buoyancy(T, 1.0))
    s = StokesSolver(g, "lagged", rtol=1e-11)
    s.solve(eta_c, eta_n, face_buoyancy(T, 1.0))
    # a second solve with a perturbed viscosity reuses the stale factorisation
    b_ref = StokesSolver(g, "direct").solve(eta_c * 1.05, eta_n * 1.05, face_buoyancy(T, 1.0))
    b = s.solve(eta_c * 1.05, eta_n * 1.05, face_buoyancy(T, 1.0))
    assert not b.factorised and b.iterations >= 1
    np.testing.assert_allclose(b.u, b_ref.u, atol=1e-8 * np.abs(b_ref.u).max())
    assert np.abs(a.u).max() > 0


def test_manufactured_solution_with_smooth_viscosity_converges_at_second_order():
    # Exact u, v from a stream function (free slip on every wall), a pressure, and a
    # viscosity exp(-ln(1000) T) with a plume-like T: the body force is computed
    # symbolically, and the discrete solution must converge at second order.
    sympy = pytest.importorskip("sympy")
    x, y = sympy.symbols("x y")
    T = (1 - y) + 0.3 * sympy.sin(sympy.pi * y) * sympy.cos(sympy.pi * x)
    eta = sympy.exp(-np.log(1e3) * T)
    psi = sympy.sin(sympy.pi * x) * sympy.sin(sympy.pi * y)
    u, v = sympy.diff(psi, y), -sympy.diff(psi, x)
    p = 10 * sympy.cos(sympy.pi * x) * sympy.cos(sympy.pi * y)
    sxy = eta * (sympy.diff(u, y) + sympy.diff(v, x))
    fx = -(sympy.diff(2 * eta * sympy.diff(u, x), x) + sympy.diff(sxy, y) - sympy.diff(p, x))
    fy = -(sympy.diff(2 * eta * sympy.diff(v, y), y) + sympy.diff(sxy, x) - sympy.diff(p, y))
    f = {k: sympy.lambdify((x, y), e, "numpy") for k, e in
         dict(u=u, v=v, p=p, eta=eta, fx=fx, fy=fy).items()}
    errs = []
    for n in (16, 32, 64):
        g = Grid(nx=n, ny=n, aspect=1.0)
        eta_c = f["eta"](*g.centres())
        res = StokesSolver(g).solve(eta_c, corner_viscosity(eta_c), f["fy"](*g.v_points()),
                                    f["fx"](*g.u_points()))
        ue, ve, pe = f["u"](*g.u_points()), f["v"](*g.v_points()), f["p"](*g.centres())
        errs.append([np.sqrt(np.mean((res.u - ue) ** 2) / np.mean(ue ** 2)),
                     np.sqrt(np.mean((res.v - ve) ** 2) / np.mean(ve ** 2)),
                     np.sqrt(np.mean((res.p - pe + pe.mean()) ** 2) / np.mean(pe ** 2))])
    errs = np.array(errs)
    order = np.log2(errs[:-1] / errs[1:])
    assert np.all(order > 1.9), order
    assert errs[-1, 0] < 5e-4
