"""Training loss of the Stokes surrogate (docs/theory.md section 6, the study's recipe).

For each velocity component c (u on the vertical faces, v on the horizontal faces, both
scaled by s), with batch size B and N points per example:

    L_c = 1/(B N) sum_b sum_points w_b * w_point * |c_pred - c_true|          (Eqs. 6, 7)
          + MAE(d c_pred/d n, d c_true/d n)                                   (Eq. 10)
    L_mass = mean |div(u_pred, v_pred)| over the boundary cells or all cells  (Eq. 9)
    total = (L_u + L_v)/2 + L_mass

with w_b = clip(1/(max c_true_b - min c_true_b), 1, 10) (Eq. 6), w_point = 11 on the two
outermost rows and the two outermost columns on each side of the component's array and 1
inside (Eq. 7), and n = y for u, x for v (Eq. 10).

Normalisation: the weighted sum is divided by the number of terms B N, not by the sum of
the weights, so a weight multiplies that point's contribution in absolute terms and the
loss of an unweighted call (range_weighting=False, boundary_weight=1) is the plain MAE.

Shapes: (B, 1, H, W) or (B, H, W); everything after the batch dimension is one example.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..networks.layers import divergence

#: Eq. 6 clips the per-example range weight to this interval.
RANGE_CLIP = (1.0, 10.0)


def range_weight(c_true):
    """Per-example weight of Eq. 6: clip(1 / (max(c_true_b) - min(c_true_b)), 1, 10).

    Gives small-amplitude examples (sluggish flows, whose scaled velocities span less than
    1) up to 10x the weight, so they are not drowned by vigorous ones. A constant field
    (range 0) gets the upper clip, 10. Shape (B,), no gradient (it is a weight).
    """
    flat = c_true.detach().reshape(c_true.shape[0], -1)
    span = flat.amax(dim=1) - flat.amin(dim=1)
    return torch.clamp(1.0 / span, *RANGE_CLIP)


def boundary_point_weight(shape, boundary_weight=11.0, width=2, dtype=None, device=None):
    """Per-point weight of Eq. 7 for an array whose last two dimensions are shape[-2:].

    boundary_weight on the `width` outermost rows and columns on each side (the study's
    "two outermost rows and columns"), 1 inside. The walls are where the network is
    weakest and where its errors feed straight into the boundary heat flux, hence the
    emphasis. Shape (H, W), to broadcast against (B, [1,] H, W).
    """
    H, W = shape[-2:]
    w = torch.full((H, W), float(boundary_weight), dtype=dtype, device=device)
    if H > 2 * width and W > 2 * width:
        w[width:H - width, width:W - width] = 1.0
    return w


def weighted_mae(c_pred, c_true, range_weighting=True, boundary_weight=11.0):
    """Eqs. 6-7: mean over batch and points of w_b * w_point * |c_pred - c_true|."""
    err = (c_pred - c_true).abs()
    err = err * boundary_point_weight(err.shape, boundary_weight, dtype=err.dtype,
                                      device=err.device)
    per_example = err.reshape(err.shape[0], -1).mean(dim=1)
    if range_weighting:
        per_example = per_example * range_weight(c_true).to(err.dtype)
    return per_example.mean()


def derivative_mae(c_pred, c_true, h, dim):
    """Eq. 10: MAE between the one-sided forward differences of prediction and truth.

    d c/d n ~ (c[k+1] - c[k]) / h along dimension `dim` (-2 = y for u, -1 = x for v); an
    unweighted mean over batch and the N-1 differences. Penalising the slope keeps the
    predicted velocity gradients, and so the shear, close to the truth.
    """
    diff = (c_pred - c_true).diff(dim=dim) / h
    return diff.abs().mean()


def mass_loss(u_pred, v_pred, dx, dy, where="boundary"):
    """Eq. 9: mean absolute discrete divergence of the prediction.

    where="boundary": over the outermost ring of cells (first/last row and column), for the
    hard-constraint models, whose interior is divergence-free by construction;
    where="all": over every cell, for the soft model that predicts u and v directly.
    """
    div = divergence(u_pred, v_pred, dx, dy).abs()
    if where == "all":
        return div.mean()
    if where != "boundary":
        raise ValueError(f"mass must be 'boundary', 'all' or None, got {where!r}")
    H, W = div.shape[-2:]
    ring = torch.ones((H, W), dtype=torch.bool, device=div.device)
    ring[1:H - 1, 1:W - 1] = False
    return div[..., ring].mean()


def surrogate_loss(u_pred, v_pred, u_true, v_true, dx, dy, range_weighting=True,
                   boundary_weight=11.0, derivative=True, mass="boundary"):
    """Total training loss (L_u + L_v)/2 + L_mass (docs/theory.md section 6).

    L_u = weighted MAE of u (Eqs. 6, 7) [+ MAE of du/dy (Eq. 10) if derivative];
    L_v likewise with dv/dx; L_mass (Eq. 9) over "boundary" cells, "all" cells, or None
    (off). Returns (total, parts) with parts a dict of the detached terms
    "u_mae", "v_mae", "du_dy", "dv_dx", "L_u", "L_v", "mass", "total".
    """
    zero = u_pred.new_zeros(())
    u_mae = weighted_mae(u_pred, u_true, range_weighting, boundary_weight)
    v_mae = weighted_mae(v_pred, v_true, range_weighting, boundary_weight)
    du_dy = derivative_mae(u_pred, u_true, dy, dim=-2) if derivative else zero
    dv_dx = derivative_mae(v_pred, v_true, dx, dim=-1) if derivative else zero
    l_u, l_v = u_mae + du_dy, v_mae + dv_dx
    l_mass = mass_loss(u_pred, v_pred, dx, dy, mass) if mass is not None else zero
    total = 0.5 * (l_u + l_v) + l_mass
    parts = {"u_mae": u_mae, "v_mae": v_mae, "du_dy": du_dy, "dv_dx": dv_dx,
             "L_u": l_u, "L_v": l_v, "mass": l_mass, "total": total}
    return total, {k: t.detach() for k, t in parts.items()}


# -- the buoyancy U-net's loss (networks/buoyancy_unet.py) ---------------------------------

def relative_l2_loss(u_pred, v_pred, u_true, v_true, strain: str | None = None,
                     strain_weight: float = 1.0, x=None, dx: float = 1.0, dy: float = 1.0):
    """Mean over the batch of |(u, v)_pred - (u, v)_true|_2 / |(u, v)_true|_2: the accuracy
    measure itself, blind to each snapshot's magnitude; plus, with `strain`, strain_weight
    times the relative error of the strain: "h1" sqrt(E(e)/E(w)) of `strain_energy` with
    eta = 1, "energy" with the sample's relative viscosity from the inputs x (the Stokes
    problem's own norm, whose square is the dissipation of the error). L2 alone leaves
    grid-scale ripples that cost little in L2 but much in dissipation (docs/guide/training.md).
    Returns (total, parts)."""
    B = u_pred.shape[0]
    u_true, v_true = u_true.reshape(u_pred.shape), v_true.reshape(v_pred.shape)
    eu, ev = u_pred - u_true, v_pred - v_true
    num = (eu.flatten(1).square().sum(1) + ev.flatten(1).square().sum(1)).sqrt()
    den = (u_true.flatten(1).square().sum(1) + v_true.flatten(1).square().sum(1)).sqrt()
    rel = (num / den.clamp_min(1e-30)).mean()
    parts = {"rel_l2": rel.detach()}
    total = rel
    if strain is not None:
        if strain not in ("h1", "energy"):
            raise ValueError(f"strain must be 'h1', 'energy' or None, got {strain!r}")
        eta = relative_viscosity(x) if strain == "energy" else (None, None)
        e_err = strain_energy(eu, ev, dx, dy, *eta)
        e_ref = strain_energy(u_true, v_true, dx, dy, *eta)
        rel_strain = (e_err / e_ref.clamp_min(1e-30)).sqrt().mean()
        parts["rel_strain"] = rel_strain.detach()
        total = total + strain_weight * rel_strain
    parts["total"] = total.detach()
    return total, parts


def strain_energy(u, v, dx: float, dy: float, eta_c=None, eta_n=None):
    """Per sample, sum over the grid of 2 eta (du/dx^2 + dv/dy^2) at the centres plus
    eta (du/dy + dv/dx)^2 at the interior corners: the viscous dissipation of the flow
    (w^T K w of the Stokes operator; eta = 1 without viscosity: the squared H1 seminorm
    of the strain). Shapes (B, 1, ny, nx+1) and (B, 1, ny+1, nx); returns (B,)."""
    exx = (u[..., :, 1:] - u[..., :, :-1]) / dx
    eyy = (v[..., 1:, :] - v[..., :-1, :]) / dy
    exy = ((u[..., 1:, 1:-1] - u[..., :-1, 1:-1]) / dy
           + (v[..., 1:-1, 1:] - v[..., 1:-1, :-1]) / dx)
    normal, shear = 2.0 * (exx.square() + eyy.square()), exy.square()
    if eta_c is not None:
        normal, shear = normal * eta_c, shear * eta_n
    return normal.flatten(1).sum(1) + shear.flatten(1).sum(1)


def relative_viscosity(x):
    """(eta/eta_w at the centres, at the interior corners) from input channel 1, the
    corners as the geometric mean of their four cells (the solver's corner law)."""
    log_eta = 8.0 * x[:, 1:2] * float(np.log(10.0))
    return log_eta.exp(), F.avg_pool2d(log_eta, 2, stride=1).exp()


# -- the whole-step U-net baselines' loss (networks/unet.py) ------------------------------

def _as(t, like):
    """The target with the prediction's shape ((B, H, W) -> (B, 1, H, W))."""
    return t.reshape(like.shape).to(like.dtype)


def unet_loss(pred, target, dx: float, dy: float, with_tricks: bool, **surrogate_kwargs):
    """Loss of one step; pred and target are (T, u, v) with targets (B,[1,]H,W).

    with_tricks=False (unet1, unet2): plain MAE, MAE(T) + (MAE(u) + MAE(v)) / 2.
    with_tricks=True (unet3, unet4): MAE(T) + `surrogate_loss(u, v)` (range and boundary
    weights, derivative terms, boundary mass term; keyword arguments go to it).
    The velocity part has the same (u + v)/2 form in both, so the T weight is comparable.
    Returns (total, parts) with parts a dict of detached terms ("T_mae", "uv", "total", and
    for with_tricks the surrogate_loss parts, for without "u_mae", "v_mae").
    """
    T_p, u_p, v_p = pred
    T_t, u_t, v_t = (_as(t, p) for t, p in zip(target, pred))
    t_mae = (T_p - T_t).abs().mean()
    if with_tricks:
        uv, parts = surrogate_loss(u_p, v_p, u_t, v_t, dx, dy, **surrogate_kwargs)
    else:
        u_mae, v_mae = (u_p - u_t).abs().mean(), (v_p - v_t).abs().mean()
        uv = 0.5 * (u_mae + v_mae)
        parts = {"u_mae": u_mae.detach(), "v_mae": v_mae.detach()}
    total = t_mae + uv
    parts = {**parts, "T_mae": t_mae.detach(), "uv": uv.detach(), "total": total.detach()}
    return total, parts
