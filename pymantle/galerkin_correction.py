"""Galerkin correction of a surrogate's velocities (beyond the study; docs/reports/2026-11-study-network-and-galerkin.md).

A divergence-free MAC velocity u_hat with no flow through the walls (the CNN's output)
is the curl of a stream function psi_hat on the cell corners, recovered exactly by summing
u dy up each column. The correction replaces u_hat by the discrete Stokes solution
restricted to the span of a few hundred divergence-free fields

    curl(phi_k psi_hat)     the network's flow, re-weighted region by region,
    curl(phi_k psi_prev)    (memory) the last step's flow, re-weighted the same way, and
    curl(phi_k)             (enrich) coarse flow cells that do not rely on the network,

where phi_k are bilinear hat functions on a coarse lattice of nodes_y x nodes_x nodes (a
partition of unity, so u_hat itself lies in the span). The Stokes solution minimises the
energy 1/2 a(u, u) - Ra b(T, u) over divergence-free fields, a(u, u) being the viscous
dissipation and b(T, u) the buoyancy work (fortran/diagnostics.f90: Ra * work =
dissipation for every discrete Stokes solution). Minimising it over the span gives the
K x K system A c = r with A_kl = a(u_k, u_l) and r_k = Ra b(T, u_k), and therefore:

- the result is the best approximation of the true solution in the energy norm within the
  span: never farther from it than u_hat (tests/test_galerkin_correction.py);
- an exact Stokes solution is returned unchanged (c = 1, up to the solver's tiny ridge);
- a horizontally uniform T drives no flow: b(T, u) = 0 for every divergence-free u that
  does not cross the walls, so r = 0 and c = 0. The shipped network moves fluid in such
  states (docs/reports/2026-11-study-network-and-galerkin.md, "unseen scenarios"); the correction removes that;
- Ra * work = dissipation holds for the corrected velocities to round-off.

The cost is a K x K matrix summed by fortran/galerkin.f90 and a Cholesky solve, no
fine-grid Stokes solve. Span functions interact only when their hats' nodes are within two
lattice steps of each other, so with the functions ordered node by node, up the short side
first, A is banded: LAPACK's banded Cholesky costs O(K (nk min(nodes_y, nodes_x))^2) for
nk kinds of function, not the O(K^3) of a dense one. As nodes grow towards the corners of the grid the
span approaches all stream functions and the correction becomes a stream-function Stokes
solver. With no network at all (solver = 'galerkin': zero velocities in) the span is the
hats and the memory, a coarse Galerkin Stokes solve that recycles the last step: the
baseline any credit for the network is measured against. A direct solve now and then
(refresh_every) puts the true flow into that memory.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from . import _kernels
from .grid import Grid


MAX_BAND_BYTES = 2 * 2**30      # the band matrix; 126x504 at 33 nodes with memory: 21 MB


def hat_weights(nodes: int, npts: int) -> np.ndarray:
    """(nodes, npts) piecewise-linear hat functions with nodes (>= 2) equispaced on [0, 1],
    sampled at npts equispaced points; the columns sum to 1."""
    s = np.linspace(0.0, 1.0, npts)
    c = np.linspace(0.0, 1.0, nodes)
    return np.clip(1.0 - np.abs(s[None, :] - c[:, None]) / (c[1] - c[0]), 0.0, None)


def dense_from_band(ab: np.ndarray) -> np.ndarray:
    """The dense symmetric matrix whose upper band ab holds (ab[ku + i - j, j] = A_ij,
    i <= j): for checks and benchmarks, never in the time loop."""
    ku, k = ab.shape[0] - 1, ab.shape[1]
    i, j = np.triu_indices(k, 0)
    inside = j - i <= ku
    A = np.zeros((k, k))
    A[i[inside], j[inside]] = ab[ku + i[inside] - j[inside], j[inside]]
    return np.triu(A) + np.triu(A, 1).T


def _diff(n: int, h: float) -> sp.csr_matrix:
    """(n-1, n) forward difference / h."""
    return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n)) / h


class GalerkinCorrection:
    """The correction on one uniform grid.

    Corner fields (ny+1, nx+1) are flattened row by row. u = d psi/dy on the vertical
    faces, v = -d psi/dx on the horizontal faces (as `ml.layers.stream_to_mac_velocity`).
    Span function (kind b, node n) has index n * nk + b, nodes numbered up the short side
    first (`node_index`); kinds are the corner fields (the network's, the memory's) and
    then, with `enrich`, the hats themselves. The matrix's upper band is summed by a
    Fortran kernel (fortran/galerkin.f90); the right-hand side and the result are sparse
    products with the fixed hat matrix.
    """

    def __init__(self, grid: Grid, ra: float, nodes_y: int = 9, nodes_x: int = 33,
                 enrich: bool = True, memory: bool = False):
        if not grid.uniform:
            raise ValueError("the Galerkin correction needs a uniform grid")
        ny, nx = grid.shape
        if not (2 <= nodes_y <= ny // 2 + 1 and 2 <= nodes_x <= nx // 2 + 1):
            raise ValueError(f"nodes {nodes_y} x {nodes_x}: allowed 2..{ny // 2 + 1} x "
                             f"2..{nx // 2 + 1} (at least two cells between nodes)")
        self.grid, self.ra, self.shape = grid, float(ra), (ny, nx)
        self.nodes = (nodes_y, nodes_x)
        # Pure hats must vanish on the walls: interior nodes only (the kernel leaves the
        # wall hats' rows empty, and _solve drops empty rows)
        self.enrich = bool(enrich and nodes_y > 2 and nodes_x > 2)
        self.memory = memory
        nk = self.kinds(1 + int(memory))
        band = lambda n, m: 8 * nk * (2 * min(n, m) + 3) * nk * n * m   # noqa: E731 (bytes)
        if band(nodes_y, nodes_x) > MAX_BAND_BYTES:
            ratio = (nodes_x - 1) / (nodes_y - 1)
            most = max((n for n in range(2, nodes_y)
                        if band(n, round(ratio * (n - 1)) + 1) <= MAX_BAND_BYTES), default=2)
            raise ValueError(f"nodes {nodes_y} x {nodes_x}: the band matrix would take "
                             f"{band(nodes_y, nodes_x) / 2**30:.1f} GiB, over the "
                             f"{MAX_BAND_BYTES / 2**30:.0f} GiB allowed: at most {most} "
                             "nodes over the height on this grid")
        iy = sp.identity(ny + 1, format="csr")
        inner_y = iy[1:ny]
        # Buoyancy work acts on the interior horizontal faces (fortran/diagnostics.f90):
        # its gradient with respect to the corner values of psi
        to_v = -sp.kron(iy, _diff(nx + 1, grid.dx))
        self._work = (sp.kron(inner_y, sp.identity(nx)) @ to_v).T.tocsr()
        wy, wx = hat_weights(nodes_y, ny + 1), hat_weights(nodes_x, nx + 1)
        # Nodes numbered up the short side first (fortran/galerkin.f90): node (ay, ax) is
        # ax * sx + ay * sy. The hat matrix's columns follow (kron gives ay * nodes_x + ax).
        self.strides = (nodes_y, 1) if nodes_y <= nodes_x else (1, nodes_x)
        order = np.argsort((np.arange(nodes_x)[None, :] * self.strides[0]
                            + np.arange(nodes_y)[:, None] * self.strides[1]).ravel())
        self._phi = sp.kron(sp.csr_matrix(wy.T), sp.csr_matrix(wx.T)).tocsc()[:, order].tocsr()
        self.previous = None        # stream function of the last flow (memory)
        self.last_coefficients = None   # (kinds, nodes) of the last correction, node order

    def stream_function(self, u: np.ndarray) -> np.ndarray:
        """psi at the corners (ny+1, nx+1), zero on all four walls. Summing u dy from the
        bottom wall reaches the top wall with the net flux through that column, zero up to
        round-off for a divergence-free u; it is set to exactly zero, so that the span has
        no flow through the top wall at all. (A velocity that is not divergence-free, a
        "soft" model's, enters through its u alone.)"""
        ny, nx = self.shape
        psi = np.zeros((ny + 1, nx + 1))
        np.cumsum(u[:-1] * self.grid.dy, axis=0, out=psi[1:-1])
        psi[:, [0, -1]] = 0.0
        return psi

    def velocities(self, psi: np.ndarray):
        """(u, v) on the faces from corner values psi."""
        return np.diff(psi, axis=0) / self.grid.dy, -np.diff(psi, axis=1) / self.grid.dx

    def kinds(self, n_fields: int) -> int:
        return n_fields + int(self.enrich)

    def node_index(self, ay: int, ax: int) -> int:
        """The number of lattice node (ay, ax): up the short side first."""
        return ax * self.strides[0] + ay * self.strides[1]

    def bandwidth(self, n_fields: int) -> int:
        """Half-bandwidth of A: a strain entry's stencil spans two cells, so it can couple
        hats two lattice steps apart in each direction."""
        nk = self.kinds(n_fields)
        return nk * (2 * min(self.nodes) + 3) - 1

    def matrix(self, fields, eta_c, eta_n) -> np.ndarray:
        """The upper band of A (LAPACK layout: ab[ku + k - l, l] = A_kl, k <= l), A_kl =
        a(u_k, u_l) the dissipation bilinear form of the span's curls, for the span built
        from the corner fields `fields` (nf, ny+1, nx+1)."""
        ny, nx = self.shape
        if not 1 <= len(fields) <= 2:          # the kernel's local arrays hold two
            raise ValueError(f"{len(fields)} corner fields: the span takes 1 or 2 "
                             "(the network's flow and the memory)")
        k = self.kinds(len(fields)) * self.nodes[0] * self.nodes[1]
        ab = _kernels.galerkin.galerkin_matrix(np.transpose(fields, (2, 1, 0)), eta_c.T,
                                               eta_n.T, self.grid.dx, self.grid.dy,
                                               *self.nodes, int(self.enrich),
                                               *self.strides, self.bandwidth(len(fields)), k)
        ab /= nx * ny
        return ab

    def remember(self, u):
        """Take u as the last flow (memory: its stream function joins the next span)."""
        self.previous = self.stream_function(u) if self.memory else None

    def correct(self, T, u, eta_c, eta_n):
        """The corrected (u, v): the energy minimiser over the span built from u (and, with
        memory, from the last flow)."""
        ny, nx = self.shape
        fields = [self.stream_function(u)]
        if self.previous is not None:
            fields.append(self.previous)
        # A zero field (no network: solver = 'galerkin') adds only empty columns
        fields = np.array([f for f in fields if f.any()] or fields[:1])
        nk = self.kinds(len(fields))
        ab = self.matrix(fields, eta_c, eta_n)
        grad = self._work @ (0.5 * (T[:-1] + T[1:])).ravel()     # d work / d psi (corners)
        r = np.empty(ab.shape[1])
        for b, f in enumerate(fields):
            r[b::nk] = self._phi.T @ (f.ravel() * grad)
        if self.enrich:
            r[nk - 1::nk] = self._phi.T @ grad
        c = self._solve(ab, self.ra * r / (nx * ny)).reshape(-1, nk).T
        self.last_coefficients = c
        new = sum(f.ravel() * (self._phi @ c[b]) for b, f in enumerate(fields))
        if self.enrich:
            new += self._phi @ c[-1]
        u, v = self.velocities(new.reshape(ny + 1, nx + 1))
        self.remember(u)       # as a restart would rebuild it from u: bit-identical resumes
        return u, v

    @staticmethod
    def _solve(ab, r):
        """Solve A c = r for the symmetric positive semi-definite A given by its upper band
        ab (overwritten). Rows whose span function vanishes (psi_hat = 0 under a hat, or a
        hat on a wall) carry no energy: dropped (c = 0)."""
        ku, k = ab.shape[0] - 1, ab.shape[1]
        d = ab[ku].copy()
        keep = d > 1e-14 * max(d.max(), 1e-300)
        c = np.zeros(k)
        if not keep.any():
            return c
        # Symmetric diagonal scaling to a unit diagonal; dropped rows get s = 0, which
        # empties their row and column, and a unit diagonal below
        s = np.where(keep, 1.0 / np.sqrt(np.where(keep, d, 1.0)), 0.0)
        # Row i of ab holds A[j - (ku - i), j]: scale it by s[j - (ku - i)] s[j]
        rows = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.zeros(ku), s]),
                                                        ku + 1)
        ab *= rows.T
        ab *= s
        rs = r * s
        # Columns can be (nearly) dependent, e.g. the memory's flow a multiple of the
        # network's, so Cholesky gets a ridge of 1e-12 relative to the unit diagonal (an
        # exact solution still passes to ~1e-9), then 1e-9 and 1e-6 if that fails.
        for ridge in (1e-12, 1e-9, 1e-6):
            ab[ku] = 1.0 + ridge
            try:
                factor = scipy.linalg.cholesky_banded(ab, lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                continue
            c[keep] = (s * scipy.linalg.cho_solve_banded((factor, False), rs,
                                                         check_finite=False))[keep]
            return c
        raise np.linalg.LinAlgError("the Galerkin matrix is not positive semi-definite "
                                    "even with a ridge of 1e-6")
