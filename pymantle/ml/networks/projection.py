"""Divergence-free projection of MAC face velocities (Helmholtz-Hodge, discrete).

Given face velocities w = (u, v) with zero normal velocity on the walls, the projection

    P w = w - G phi,    with  D G phi = D w

removes the gradient part: D is the MAC divergence (cell by cell), G = -D^T the gradient
onto the interior faces (zero on the walls), so D G is the five-point Laplacian with
Neumann walls and P is the orthogonal projection onto {D w = 0} in the Euclidean norm of
the face values. Hence, for any divergence-free field w_true,

    |P w - w_true| = |P (w - w_true)| <= |w - w_true|:

projecting a network's prediction never increases its L2 error and makes it exactly
divergence-free (to round-off). D G separates on a uniform grid: with the 1-D Neumann
Laplacians L_x = V_x diag(l_x) V_x^T and L_y = V_y diag(l_y) V_y^T (cosine eigenvectors),
phi = V_y [(V_y^T r V_x) / (l_y + l_x)] V_x^T with the constant mode left out. Two small
matrix products per side: differentiable, and cheap next to any convolution at 32x128.

The cosine eigenvectors of a cell-centred Neumann Laplacian are the DCT-II basis, with
eigenvalues -(4/h^2) sin^2(pi k / 2n): `project_faces` applies the same projection to
NumPy arrays by fast cosine transforms (scipy.fft), O(N log N) instead of the products'
O(N (nx + ny)): at 126x504 the dense float64 products cost ~4 ms a call, the transforms
well under one. The solver's inference path uses it; training keeps the differentiable
matrix form (tests/test_buoyancy_surrogate.py holds the two equal).
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from .layers import divergence


def neumann_laplacian_1d(n: int, h: float) -> np.ndarray:
    """(n, n) second difference with zero-flux ends, divided by h^2 (negative semi-definite)."""
    L = np.zeros((n, n))
    for k in range(n - 1):
        L[k, k] -= 1.0
        L[k + 1, k + 1] -= 1.0
        L[k, k + 1] = L[k + 1, k] = 1.0
    return L / (h * h)


class DivergenceFreeProjection(nn.Module):
    """P: (u (B,1,ny,nx+1), v (B,1,ny+1,nx)) -> their divergence-free part (module docstring)."""

    def __init__(self, ny: int, nx: int, dx: float, dy: float):
        super().__init__()
        self.dx, self.dy = float(dx), float(dy)
        ly, vy = np.linalg.eigh(neumann_laplacian_1d(ny, dy))
        lx, vx = np.linalg.eigh(neumann_laplacian_1d(nx, dx))
        lam = ly[:, None] + lx[None, :]
        k = np.unravel_index(np.argmax(lam), lam.shape)   # the constant mode (eigenvalue 0)
        lam[k] = 1.0
        inv = 1.0 / lam
        inv[k] = 0.0                                      # phi is defined up to a constant
        self.register_buffer("vy", torch.from_numpy(vy), persistent=False)
        self.register_buffer("vx", torch.from_numpy(vx), persistent=False)
        self.register_buffer("inv", torch.from_numpy(inv), persistent=False)

    def potential(self, r):
        """phi with D G phi = r (r: (B, 1, ny, nx), mean-free)."""
        vy, vx, inv = (t.to(r.dtype) for t in (self.vy, self.vx, self.inv))
        return vy @ ((vy.t() @ r @ vx) * inv) @ vx.t()

    def forward(self, u, v):
        """In float64 whatever the inputs' precision (a float32 solve leaves divergences of
        ~1e-5 of the flow; the products are tiny), returned in the inputs' dtype."""
        dtype = u.dtype
        u, v = u.double(), v.double()
        phi = self.potential(divergence(u, v, self.dx, self.dy))
        zu = phi.new_zeros(phi.shape[:-1] + (1,))
        zv = phi.new_zeros(phi.shape[:-2] + (1, phi.shape[-1]))
        gx = torch.cat([zu, (phi[..., :, 1:] - phi[..., :, :-1]) / self.dx, zu], dim=-1)
        gy = torch.cat([zv, (phi[..., 1:, :] - phi[..., :-1, :]) / self.dy, zv], dim=-2)
        return (u - gx).to(dtype), (v - gy).to(dtype)


@functools.lru_cache(maxsize=8)
def box_projection(ny: int, nx: int, aspect: float) -> DivergenceFreeProjection:
    """The projection of a uniform ny x nx grid of a box of width `aspect` (height 1), made
    once per grid (its cosine eigenvectors) and shared by the networks that use it."""
    return DivergenceFreeProjection(ny, nx, aspect / nx, 1.0 / ny)


def neumann_eigenvalues(n: int, h: float) -> np.ndarray:
    """Eigenvalues of `neumann_laplacian_1d(n, h)` in DCT-II order (k = 0 .. n-1)."""
    return -(2.0 * np.sin(np.pi * np.arange(n) / (2.0 * n)) / h) ** 2


class FaceProjection:
    """The projection of `DivergenceFreeProjection` on NumPy face arrays, by DCT-II; in place
    and in float64 (the time loop's velocity buffers)."""

    def __init__(self, ny: int, nx: int, dx: float, dy: float):
        self.dx, self.dy = float(dx), float(dy)
        lam = neumann_eigenvalues(ny, dy)[:, None] + neumann_eigenvalues(nx, dx)[None, :]
        lam[0, 0] = 1.0
        self.inv = 1.0 / lam
        self.inv[0, 0] = 0.0                 # phi is defined up to a constant
        self._r = np.empty((ny, nx))

    def __call__(self, u: np.ndarray, v: np.ndarray) -> None:
        """Make (u (ny, nx+1), v (ny+1, nx)) divergence-free, in place."""
        from scipy.fft import dctn, idctn
        r = self._r
        np.subtract(u[:, 1:], u[:, :-1], out=r)
        r /= self.dx
        r += (v[1:, :] - v[:-1, :]) / self.dy
        hat = dctn(r, type=2, norm="ortho", overwrite_x=True)
        hat *= self.inv
        phi = idctn(hat, type=2, norm="ortho", overwrite_x=True)
        u[:, 1:-1] -= (phi[:, 1:] - phi[:, :-1]) / self.dx
        v[1:-1, :] -= (phi[1:, :] - phi[:-1, :]) / self.dy
