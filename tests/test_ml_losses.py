"""The surrogate's training loss (arXiv:2505.16041 Eqs. 6-10; docs/theory.md section 6) against values computed by hand."""
import pytest
import torch

from pymantle.ml.networks.layers import stream_to_mac_velocity
from pymantle.ml.training.losses import (boundary_point_weight, derivative_mae, mass_loss,
                                range_weight, surrogate_loss, weighted_mae)

F64 = torch.float64


def t(a):
    return torch.tensor(a, dtype=F64)


def test_range_weight_clipped_to_1_and_10():
    # Ranges 0.5, 4, 0.01 and 0 -> 1/range = 2, 0.25, 100, inf -> clipped 2, 1, 10, 10.
    c = torch.zeros(4, 1, 2, 3, dtype=F64)
    c[0, 0, 0, 0], c[1, 0, 1, 2], c[2, 0, 0, 1] = 0.5, -4.0, 0.01
    c[3] += 7.0
    torch.testing.assert_close(range_weight(c), t([2.0, 1.0, 10.0, 10.0]))


def test_weighted_mae_hand_value():
    # B=2, ny=2, nx=3. Example 0: range 0.5 -> w=2, |errors| sum 0.3 over 6 points -> 0.05,
    # weighted 0.1. Example 1: range 2 -> w=1 (clipped), |errors| sum 0.6 -> 0.1.
    true = t([[[[0.0, 0.25, 0.5], [0.0, 0.0, 0.0]]],
              [[[-1.0, 0.0, 1.0], [0.0, 0.5, 0.0]]]])
    err = t([[[[0.1, 0.0, 0.0], [0.0, 0.0, -0.2]]],
             [[[0.0, -0.3, 0.0], [0.1, 0.0, 0.2]]]])
    pred = true + err
    torch.testing.assert_close(weighted_mae(pred, true, boundary_weight=1.0), t(0.1))
    # Without Eq. 6: plain MAE = (0.3 + 0.6) / 12.
    torch.testing.assert_close(weighted_mae(pred, true, False, 1.0), t(0.075))
    # A 2x3 array is all boundary (two outermost rows/columns), so Eq. 7 multiplies by 11.
    torch.testing.assert_close(weighted_mae(pred, true), t(1.1))


def test_boundary_weight_is_11_on_two_outermost_rows_and_columns():
    w = boundary_point_weight((6, 7))
    inside = torch.zeros(6, 7, dtype=torch.bool)
    inside[2:4, 2:5] = True
    assert torch.all(w[inside] == 1.0) and torch.all(w[~inside] == 11.0)
    # One unit error in a 6x7 example (range weighting off): 1/42 inside, 11/42 outside.
    true = torch.zeros(1, 1, 6, 7, dtype=F64)
    for (j, i), weight in [((3, 3), 1), ((2, 2), 1), ((1, 3), 11), ((0, 0), 11),
                           ((2, 1), 11), ((5, 6), 11), ((4, 3), 11), ((3, 5), 11)]:
        pred = true.clone()
        pred[0, 0, j, i] = 1.0
        got = weighted_mae(pred, true, range_weighting=False)
        torch.testing.assert_close(got, t(weight / 42), msg=f"point {(j, i)}")


def test_derivative_term_hand_value():
    # u errors along y (dy = 0.5): differences [[1,0],[2,0]] / 0.5 -> mean |.| = 6/4 = 1.5.
    eu = t([[[[0.0, 1.0], [1.0, 1.0], [3.0, 1.0]]]])
    torch.testing.assert_close(derivative_mae(eu, torch.zeros_like(eu), 0.5, dim=-2), t(1.5))
    # v errors along x (dx = 2): differences [[1,2],[0,0]] / 2 -> mean |.| = 1.5/4 = 0.375.
    ev = t([[[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]])
    torch.testing.assert_close(derivative_mae(ev, torch.zeros_like(ev), 2.0, dim=-1), t(0.375))
    # A constant offset has no slope error.
    assert derivative_mae(eu + 5.0, eu, 0.5, dim=-2) == 0


def test_derivative_term_added_to_component_losses():
    torch.manual_seed(0)
    ny, nx, dx, dy = 4, 6, 4.0 / 6, 0.25
    u_t, v_t = torch.randn(2, 1, ny, nx + 1, dtype=F64), torch.randn(2, 1, ny + 1, nx, dtype=F64)
    u_p, v_p = u_t + torch.randn_like(u_t), v_t + torch.randn_like(v_t)
    on, p_on = surrogate_loss(u_p, v_p, u_t, v_t, dx, dy, mass=None)
    off, p_off = surrogate_loss(u_p, v_p, u_t, v_t, dx, dy, derivative=False, mass=None)
    du = (u_p - u_t).diff(dim=-2).abs().mean() / dy
    dv = (v_p - v_t).diff(dim=-1).abs().mean() / dx
    torch.testing.assert_close(p_on["du_dy"], du)
    torch.testing.assert_close(p_on["dv_dx"], dv)
    torch.testing.assert_close(p_on["L_u"], p_off["L_u"] + du)
    torch.testing.assert_close(p_on["L_v"], p_off["L_v"] + dv)
    torch.testing.assert_close(on, off + 0.5 * (du + dv))
    assert p_off["du_dy"] == 0 and p_off["dv_dx"] == 0


def _zero_faces(ny, nx):
    return torch.zeros(1, 1, ny, nx + 1, dtype=F64), torch.zeros(1, 1, ny + 1, nx, dtype=F64)


def test_mass_term_zero_for_divergence_free_field():
    torch.manual_seed(1)
    ny, nx = 5, 8
    dx, dy = 4.0 / nx, 1.0 / ny
    u, v = stream_to_mac_velocity(torch.randn(2, 1, ny, nx, dtype=F64), dx, dy)
    for where in ("boundary", "all"):
        assert mass_loss(u, v, dx, dy, where) < 1e-12 * u.abs().max() / dx


def test_mass_term_positive_for_divergent_field():
    ny, nx = 3, 4
    dx, dy = 4.0 / nx, 1.0 / ny
    # v = 1 on the face between cells (0,0) and (1,0): divergence +1/dy and -1/dy in two
    # ring cells. The ring of a 3x4 grid has 10 cells, the grid 12.
    u, v = _zero_faces(ny, nx)
    v[0, 0, 1, 0] = 1.0
    torch.testing.assert_close(mass_loss(u, v, dx, dy, "boundary"), t(2 / dy / 10))
    torch.testing.assert_close(mass_loss(u, v, dx, dy, "all"), t(2 / dy / 12))
    # u = 1 on the face between the two interior cells (1,1) and (1,2): the ring sees
    # nothing, the full mean sees 2/dx over 12 cells.
    u, v = _zero_faces(ny, nx)
    u[0, 0, 1, 2] = 1.0
    assert mass_loss(u, v, dx, dy, "boundary") == 0
    torch.testing.assert_close(mass_loss(u, v, dx, dy, "all"), t(2 / dx / 12))


def test_total_combines_parts_and_mass_switch():
    ny, nx = 3, 4
    dx, dy = 4.0 / nx, 1.0 / ny
    u_t, v_t = _zero_faces(ny, nx)
    u_p, v_p = _zero_faces(ny, nx)
    v_p[0, 0, 1, 0] = 1.0
    total, parts = surrogate_loss(u_p, v_p, u_t, v_t, dx, dy)
    torch.testing.assert_close(parts["mass"], t(0.6))
    torch.testing.assert_close(total, 0.5 * (parts["L_u"] + parts["L_v"]) + parts["mass"])
    # v: one unit error on a boundary point of a 4x4 array, constant truth (w_b = 10):
    # 10 * 11 / 16; the error sits in column 0, so one of the 12 x-differences is 1/dx.
    torch.testing.assert_close(parts["v_mae"], t(110 / 16))
    torch.testing.assert_close(parts["dv_dx"], t(1 / dx / 12))
    _, no_mass = surrogate_loss(u_p, v_p, u_t, v_t, dx, dy, mass=None)
    assert no_mass["mass"] == 0
    _, all_cells = surrogate_loss(u_p, v_p, u_t, v_t, dx, dy, mass="all")
    torch.testing.assert_close(all_cells["mass"], t(0.5))
    with pytest.raises(ValueError):
        surrogate_loss(u_p, v_p, u_t, v_t, dx, dy, mass="interior")


def test_loss_has_gradient():
    u_t, v_t = _zero_faces(3, 4)
    u_p = torch.ones_like(u_t, requires_grad=True)
    total, _ = surrogate_loss(u_p, v_t.clone(), u_t, v_t, 1.0, 1 / 3)
    total.backward()
    assert u_p.grad is not None and u_p.grad.abs().sum() > 0
