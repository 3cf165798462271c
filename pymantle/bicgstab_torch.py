"""BiCGStab on torch tensors: the study's GPU iterative Stokes baseline (docs/theory.md sections 2
and 7), for timing on a GPU the same MAC system the PETSc solvers solve on the CPU.

The system is the pinned (nonsingular) operator of `stokes.StokesOperator`, in CSR. It is
preconditioned by Jacobi scaling (the velocity diagonal; on the pressure rows, whose
diagonal is zero, the diagonal of the inverse-viscosity Schur approximation), started from
the previous step's solution, and the update is under-relaxed, x = x_old + w (x_new - x_old)
with w = 0.99, as in the study. Torch alone is needed: this runs where PETSc is absent.
"""
from __future__ import annotations

import time

import torch


def csr_tensor(indptr, indices, values, device="cpu", dtype=torch.float64):
    n = len(indptr) - 1
    with torch.sparse.check_sparse_tensor_invariants(False):
        return torch.sparse_csr_tensor(torch.as_tensor(indptr, dtype=torch.int64),
                                       torch.as_tensor(indices, dtype=torch.int64),
                                       torch.as_tensor(values, dtype=dtype), size=(n, n),
                                       device=device)


def bicgstab(A, b, x0, m_inv, rtol=1e-6, max_it=20000, relaxation=0.99):
    """Right-preconditioned BiCGStab (M^-1 = diag(m_inv)) from x0 to ||b - A x|| <= rtol ||b||.
    Returns (x, iterations, relative residual, seconds); the iteration stops early on
    breakdown. The returned x is relaxed towards x0 by `relaxation`."""
    sync = torch.cuda.synchronize if b.is_cuda else (lambda: None)
    sync()
    t0 = time.perf_counter()
    bnorm = torch.linalg.vector_norm(b)
    x = x0.clone()
    r = b - A @ x
    rhat = r.clone()
    rho = alpha = omega = torch.ones((), dtype=b.dtype, device=b.device)
    v = torch.zeros_like(b)
    p = torch.zeros_like(b)
    its, res = 0, float(torch.linalg.vector_norm(r) / bnorm)
    check = 25                        # read the residual back every few iterations only
    x_good = x
    while its < max_it and res > rtol:
        rho_new = torch.dot(rhat, r)
        beta = (rho_new / rho) * (alpha / omega)
        rho = rho_new
        p = r + beta * (p - omega * v)
        ph = m_inv * p
        v = A @ ph
        alpha = rho / torch.dot(rhat, v)
        s = r - alpha * v
        sh = m_inv * s
        t = A @ sh
        omega = torch.dot(t, s) / torch.dot(t, t)
        x = x + alpha * ph + omega * sh
        r = s - omega * t
        its += 1
        if its % check == 0 or its == max_it:
            res = float(torch.linalg.vector_norm(r) / bnorm)
            if not res < float("inf"):    # breakdown (NaN / inf): keep the last good iterate
                x = x_good
                break
            x_good = x
    res = float(torch.linalg.vector_norm(b - A @ x) / bnorm)
    x = x0 + relaxation * (x - x0)
    sync()
    return x, its, res, time.perf_counter() - t0
