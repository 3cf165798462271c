"""Steady conduction with internal heating: the finite-volume solution is exact to round-off.

Exact: T = (1 - y) + (Q/2) y (1 - y), Nu_top = 1 + Q/2, Nu_bottom = 1 - Q/2. The scheme's
wall fluxes reproduce the quadratic exactly (a trapezoidal sum of a linear flux), and its
cell values sit a constant Q h^2 / 8 above the exact profile at the cell centres.
"""
import numpy as np
import pytest

from pymantle import diagnostics
from pymantle.energy import EnergySolver
from pymantle.grid import Grid
from pymantle.initial import conduction_profile


@pytest.mark.parametrize("q", [0.0, 4.0, 9.5])
def test_conduction_with_internal_heating_is_exact(q):
    g = Grid(nx=6, ny=12, aspect=0.5)
    es = EnergySolver(g)
    T = np.full(g.shape, 0.3)
    u, v = np.zeros(g.u_shape), np.zeros(g.v_shape)
    dt = es.time_step(u, v)
    for _ in range(6000):
        es.step(T, u, v, q, dt)
    d = diagnostics.compute(g, T, u, v, np.ones(g.shape), np.ones(g.corner_shape))
    assert d["Nu_top"] == pytest.approx(1 + q / 2, abs=1e-11)
    assert d["Nu_bottom"] == pytest.approx(1 - q / 2, abs=1e-11)
    _, y = g.centres()
    np.testing.assert_allclose(T, conduction_profile(y, q) + q * g.dy**2 / 8, atol=1e-12)
    # and the horizontal mean is exact for the discrete solution
    assert diagnostics.profile(T) == pytest.approx(T[:, 0], abs=1e-14)
