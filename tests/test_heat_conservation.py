"""Advection in flux form conserves heat to round-off; heat changes only through the walls
and the source, exactly as the Nusselt numbers report."""
import numpy as np
import pytest

from conftest import stream_velocities
from pymantle import _kernels
from pymantle.energy import EnergySolver
from pymantle.grid import Grid


@pytest.mark.parametrize("limiter", ["upwind", "minmod", "vanleer", "mc", "superbee"])
def test_advection_conserves_heat_to_round_off(limiter):
    g = Grid(nx=24, ny=10, aspect=2.4)
    u, v = stream_velocities(g, seed=1)
    T = np.random.default_rng(2).random(g.shape)
    es = EnergySolver(g, limiter=limiter, kappa=0.0)
    total0 = T.sum()
    dt = es.time_step(u, v)
    for _ in range(200):
        es.step(T, u, v, 0.0, dt)
    assert abs(T.sum() - total0) <= 1e-12 * total0
    # TVD: no new extrema (the random start spans [0, 1])
    assert T.min() >= -1e-12 and T.max() <= 1 + 1e-12


def test_heat_budget_matches_wall_fluxes_and_source():
    g = Grid(nx=16, ny=8, aspect=2.0)
    u, v = stream_velocities(g, seed=3)
    u, v = 5 * u, 5 * v
    T = np.random.default_rng(4).random(g.shape)
    es = EnergySolver(g)
    q = 2.5
    dt = es.time_step(u, v)
    area = g.dx * g.dy
    # one forward-Euler stage: d(sum T dA)/dt = q_bot - q_top + Q * area
    rhs = _kernels.energy.advdiff_rhs(T.T, u.T, v.T, np.full((g.nx, g.ny), q), g.dx, g.dy,
                                      1.0, 1.0, 0.0, 2)
    qtop, qbot = _kernels.energy.wall_heat_flux(T.T, g.dx, g.dy, 1.0, 1.0, 0.0)
    assert rhs.sum() * area == pytest.approx(qbot - qtop + q * g.aspect, rel=1e-12)
    assert dt > 0


@pytest.mark.parametrize("limiter", ["upwind", "minmod", "vanleer", "mc", "superbee"])
def test_fortran_energy_step_matches_numpy_reference(limiter):
    from pymantle import energy_numpy
    g = Grid(nx=20, ny=9, aspect=2.0)
    u, v = stream_velocities(g, seed=6)
    T = np.random.default_rng(7).random(g.shape)
    s = np.random.default_rng(8).random(g.shape)
    es = EnergySolver(g, limiter=limiter)
    dt = es.time_step(u, v)
    ref = energy_numpy.step_ssprk2(T, u, v, s, g.dx, g.dy, dt, limiter=limiter)
    es.step(T, u, v, s, dt)
    np.testing.assert_allclose(T, ref, rtol=0, atol=1e-13)
