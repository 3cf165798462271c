"""SolCx (Zhong 1996): viscosity jumps by 1e6 at x = 0.5. With harmonic corner viscosity
the staggered scheme converges at second order in velocity; with the stiff value on the
interface at first order (as Duretz et al. 2011 found for such schemes)."""
import numpy as np
import pytest

from pymantle.analytic.solcx import solcx_force, solcx_solution, solcx_viscosity
from pymantle.grid import Grid
from pymantle.physics import corner_viscosity
from pymantle.stokes import StokesSolver


def solcx_errors(n, corners="harmonic", method="direct"):
    g = Grid(nx=n, ny=n, aspect=1.0)
    xc, yc = g.centres()
    eta_c = solcx_viscosity(xc, yc)
    eta_n = corner_viscosity(eta_c, corners) if corners != "exact" else solcx_viscosity(*g.corners())
    xv, yv = g.v_points()
    res = StokesSolver(g, method=method).solve(eta_c, eta_n, solcx_force(xv, yv))
    ue = solcx_solution(*g.u_points())[0]
    ve = solcx_solution(xv, yv)[1]
    pe = solcx_solution(xc, yc)[2]
    rel = lambda a, b: np.sqrt(np.mean((a - b) ** 2) / np.mean(b ** 2))  # noqa: E731
    return rel(res.u, ue), rel(res.v, ve), rel(res.p, pe - pe.mean())


def test_solcx_converges_at_second_order_with_harmonic_corners():
    e16, e32, e64 = (np.array(solcx_errors(n)) for n in (16, 32, 64))
    order = np.log2(e32 / e64)
    assert order[0] > 1.9 and order[1] > 1.9, order      # u, v
    assert order[2] > 0.9, order                          # p (first order at the jump)
    assert e64[0] < 0.01 and e64[1] < 0.01
    assert np.all(e16 > e32) and np.all(e32 > e64)


def test_solcx_first_order_with_stiff_interface_viscosity():
    e32, e64 = (np.array(solcx_errors(n, corners="exact")) for n in (32, 64))
    order = np.log2(e32 / e64)
    assert 0.9 < order[0] < 1.2


@pytest.mark.parametrize("method", ["lagged", "iterative", "multigrid"])
def test_other_solvers_agree_with_direct_on_solcx(method):
    e_direct = np.array(solcx_errors(16))
    e = np.array(solcx_errors(16, method=method))
    np.testing.assert_allclose(e, e_direct, rtol=1e-3)
