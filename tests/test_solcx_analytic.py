"""The SolCx analytic solution (pymantle/analytic/solcx.py) checked against its own
equations with centred finite differences: momentum, continuity, free-slip walls, the
interface conditions at x_c, zero-mean pressure, and the isoviscous closed form. These
checks used to live in the module as `_self_check`; here each one can fail on its own."""
import numpy as np
import pytest

from pymantle.analytic.solcx import _fields, solcx_force, solcx_solution, solcx_viscosity

X_C = 0.5
H = 1e-5          # nested centred differences: ~1e-7 relative round-off


def d(fun, x, y, h, axis):
    """Centred first derivative of fun along axis (0: x, 1: y)."""
    if axis == 0:
        return (fun(x + h, y) - fun(x - h, y)) / (2.0 * h)
    return (fun(x, y + h) - fun(x, y - h)) / (2.0 * h)


class Case:
    def __init__(self, eta_b):
        self.args = (1.0, eta_b, X_C)
        self.u = lambda x, y: solcx_solution(x, y, *self.args)[0]
        self.v = lambda x, y: solcx_solution(x, y, *self.args)[1]
        self.p = lambda x, y: solcx_solution(x, y, *self.args)[2]
        self.eta = lambda x, y: solcx_viscosity(x, y, *self.args)
        rng = np.random.default_rng(12345)
        x = rng.uniform(0.0, 1.0, 400)
        # kept >= 0.02 from x_c so that the stencils stay in one column
        self.x = np.where(np.abs(x - X_C) < 0.02, x + 0.05 * np.sign(x - X_C + 1e-300), x)
        self.y = rng.uniform(0.0, 1.0, 400)
        self.cols = (self.x < X_C, self.x >= X_C)
        yy = rng.uniform(0.0, 1.0, 2000)
        ua, va, _ = solcx_solution(rng.uniform(0.0, X_C, 2000), yy, *self.args)
        ub, vb, _ = solcx_solution(rng.uniform(X_C, 1.0, 2000), yy, *self.args)
        # velocity scale per column: the stiff column's flow is ~eta_a/eta_b smaller
        self.U = (np.abs(np.r_[ua, va]).max(), np.abs(np.r_[ub, vb]).max())

    def momentum_terms(self, h_outer, sign=1.0):
        x, y = self.x, self.y
        ux = lambda x, y: d(self.u, x, y, H, 0)
        uy = lambda x, y: d(self.u, x, y, H, 1)
        vx = lambda x, y: d(self.v, x, y, H, 0)
        vy = lambda x, y: d(self.v, x, y, H, 1)
        txx = lambda x, y: 2.0 * self.eta(x, y) * ux(x, y)
        tyy = lambda x, y: 2.0 * self.eta(x, y) * vy(x, y)
        txy = lambda x, y: self.eta(x, y) * (uy(x, y) + vx(x, y))
        fy = sign * solcx_force(x, y, *self.args)
        xs = (-d(self.p, x, y, h_outer, 0), d(txx, x, y, h_outer, 0), d(txy, x, y, h_outer, 1))
        ys = (-d(self.p, x, y, h_outer, 1), d(tyy, x, y, h_outer, 1), d(txy, x, y, h_outer, 0),
              fy)
        return xs, ys


CASES = {eta_b: Case(eta_b) for eta_b in (1e6, 1.0)}


def relative_residual(terms, col):
    scale = max(np.abs(t[col]).max() for t in terms)
    return np.abs(sum(terms)[col]).max() / scale


@pytest.mark.parametrize("eta_b", CASES)
@pytest.mark.parametrize("h_outer", [1e-5, 1e-4])
def test_momentum_residual_is_round_off(eta_b, h_outer):
    c = CASES[eta_b]
    xs, ys = c.momentum_terms(h_outer)
    for col in c.cols:
        assert relative_residual(xs, col) < 1e-5
        assert relative_residual(ys, col) < 1e-5


@pytest.mark.parametrize("eta_b", CASES)
def test_the_force_sign_matters(eta_b):
    # with the opposite sign of f_y the residual is O(1): the check above can fail
    c = CASES[eta_b]
    _, ys = c.momentum_terms(1e-4, sign=-1.0)
    assert np.abs(sum(ys)).max() / np.abs(ys[-1]).max() > 0.1


@pytest.mark.parametrize("eta_b", CASES)
def test_divergence_free(eta_b):
    c = CASES[eta_b]
    dux, dvy = d(c.u, c.x, c.y, H, 0), d(c.v, c.x, c.y, H, 1)
    for col in c.cols:
        assert np.abs(dux[col] + dvy[col]).max() / max(np.abs(dux[col]).max(),
                                                       np.abs(dvy[col]).max()) < 1e-8


@pytest.mark.parametrize("eta_b", CASES)
def test_free_slip_walls(eta_b):
    c = CASES[eta_b]
    Ua, Ub = c.U
    t = np.linspace(0.0, 1.0, 101)
    zero, one = np.zeros_like(t), np.ones_like(t)
    assert np.abs(c.u(zero, t)).max() / Ua < 1e-12
    assert np.abs(c.u(one, t)).max() / Ub < 1e-12
    assert np.abs(d(c.v, zero, t, H, 0)).max() / Ua < 1e-8
    assert np.abs(d(c.v, one, t, H, 0)).max() / Ub < 1e-8
    ta, tb = t * X_C, X_C + t * (1.0 - X_C)
    for xs, U in ((ta, Ua), (tb, Ub)):
        for ys in (zero, one):
            assert np.abs(c.v(xs, ys)).max() / U < 1e-12
            assert np.abs(d(c.u, xs, ys, H, 1)).max() / U < 1e-8


@pytest.mark.parametrize("eta_b", CASES)
def test_interface_continuity_of_velocity_and_traction(eta_b):
    c = CASES[eta_b]
    eta_a = 1.0
    t = np.linspace(0.0, 1.0, 101)
    xc = np.full_like(t, X_C)
    side = [lambda x, y, s=s: _fields(x, y, eta_a, eta_b, X_C, 1, 1, side=s) for s in (0, 1)]
    (u0, v0, _), (u1, v1, _) = side[0](xc, t), side[1](xc, t)
    assert np.abs(u0 - u1).max() / c.U[0] < 1e-12
    assert np.abs(v0 - v1).max() / c.U[0] < 1e-12

    def tractions(s):
        f, eta = side[s], (eta_a, eta_b)[s]
        u_x = d(lambda x, y: f(x, y)[0], xc, t, H, 0)
        u_y = d(lambda x, y: f(x, y)[0], xc, t, H, 1)
        v_x = d(lambda x, y: f(x, y)[1], xc, t, H, 0)
        return -f(xc, t)[2] + 2.0 * eta * u_x, eta * (u_y + v_x)

    (sxx0, sxy0), (sxx1, sxy1) = tractions(0), tractions(1)
    p_scale = np.abs(solcx_solution(np.full(50, 0.25), np.linspace(0, 1, 50), *c.args)[2]).max()
    scale = max(np.abs(sxx0).max(), np.abs(sxy0).max(), p_scale)
    assert np.abs(sxx0 - sxx1).max() / scale < 1e-8
    assert np.abs(sxy0 - sxy1).max() / scale < 1e-8


@pytest.mark.parametrize("eta_b", CASES)
def test_pressure_has_zero_mean(eta_b):
    g = (np.arange(400) + 0.5) / 400
    X, Y = np.meshgrid(g, g, indexing="ij")
    P = solcx_solution(X, Y, *CASES[eta_b].args)[2]
    assert abs(P.mean()) / np.abs(P).max() < 1e-12


def test_isoviscous_case_is_the_closed_form():
    # n_x = 1, eta uniform: the particular solution meets every boundary condition
    c = CASES[1.0]
    k = m = np.pi
    K4 = (m * m + k * k) ** 2
    x, y = c.x, c.y
    u_ex = -k * m * np.sin(m * x) * np.cos(k * y) / K4
    v_ex = m * m * np.cos(m * x) * np.sin(k * y) / K4
    p_ex = -k * np.cos(m * x) * np.cos(k * y) / (m * m + k * k)
    u, v, p = solcx_solution(x, y, *c.args)
    for a, b in ((u, u_ex), (v, v_ex), (p, p_ex)):
        assert np.abs(a - b).max() / np.abs(b).max() < 1e-12
