"""Stokes solvers: the Fortran-assembled MAC operator solved through PETSc (petsc4py).

Methods (docs/theory.md section 2, issue 2):

direct     MUMPS factorisation (LDL^T of the symmetric pinned system) every solve: the
           study's reference. The symbolic analysis is kept
           (the sparsity pattern never changes); set reuse_symbolic=False for a completely
           fresh factorisation every time, as a benchmark of the plain approach.
lagged     the last MUMPS factorisation preconditions GMRES to tolerance; it is refreshed
           when a solve needs more than max_lagged_its iterations or fails, and whenever
           the caller forces it. Viscosity changes slowly from step to step, so most steps
           cost one triangular solve and a few Krylov iterations.
iterative  BiCGStab with a Schur-complement fieldsplit preconditioner (an ML V-cycle on the
           velocity block, the inverse-viscosity pressure diagonal for the Schur complement) and
           under-relaxation of the update: x = x_old + w (x_new - x_old), w = 0.99 by
           default (the study's GPU iterative baseline).
multigrid  FGMRES with the same fieldsplit, the velocity block solved by CG + GAMG to 1e-2,
           for large grids; MPI-distributed.

The system is assembled on every rank (cheap: O(N) in Fortran) and each rank hands PETSc
its own block of rows, so `mpiexec -n K` solves the distributed system while the energy
equation, which is far cheaper, stays replicated.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

import numpy as np

from . import _kernels
from .grid import Grid

METHODS = ("direct", "lagged", "iterative", "multigrid")
_ASM = _kernels.stokes_assembly


def _petsc():
    from petsc4py import PETSc  # imported lazily: keeps `pymantle --help` fast
    return PETSc


class StokesOperator:
    """Assembles the CSR arrays of the MAC Stokes operator for a given viscosity."""

    def __init__(self, grid: Grid, pin: bool, pblock: bool = False):
        self.grid = grid
        self.pin, self.pblock = int(pin), int(pblock)
        self.nrows = grid.n_unknowns
        self.nnz = int(_ASM.stokes_nnz(grid.nx, grid.ny, self.pin, self.pblock))

    def scales(self, eta_c: np.ndarray) -> tuple[float, float]:
        """Pressure scale kc = eta_ref / h (Gerya's Kcont) and the diagonal of the identity
        rows of wall velocities, eta_ref / h^2; eta_ref = geometric mean viscosity."""
        h = min(self.grid.dx, self.grid.dy_min)
        eta_ref = float(np.exp(np.mean(np.log(eta_c))))
        return eta_ref / h, eta_ref / h**2

    def csr(self, eta_c: np.ndarray, eta_n: np.ndarray, kc: float, bscale: float):
        g = self.grid
        return _ASM.stokes_csr(g.dx, g.dy_c, 1.0 / g.ny, eta_c.T, eta_n.T, kc, bscale,
                               self.pin, self.pblock, self.nrows, self.nnz)

    def rhs(self, fy: np.ndarray, fx: np.ndarray | None = None) -> np.ndarray:
        """Right-hand side: body forces on the interior faces, zero elsewhere."""
        g = self.grid
        nu, nv = (g.nx + 1) * g.ny, g.nx * (g.ny + 1)
        b = np.zeros(self.nrows)
        if fx is not None:
            fu = np.array(fx, dtype=float)
            fu[:, 0] = fu[:, -1] = 0.0
            b[:nu] = fu.ravel()
        fv = np.array(fy, dtype=float)
        fv[0, :] = fv[-1, :] = 0.0
        b[nu:nu + nv] = fv.ravel()
        if not g.uniform:
            # the rows are weighted by their control heights over 1/ny (stokes_assembly.f90)
            wu = np.repeat(g.dy_c * g.ny, g.nx + 1)
            wv = np.repeat(g.dy_f * g.ny, g.nx)
            b[:nu] *= wu
            b[nu:nu + nv] *= wv
        return b

    def split(self, x: np.ndarray):
        """Solution vector -> (u, v, p') arrays (views)."""
        g = self.grid
        nu, nv = (g.nx + 1) * g.ny, g.nx * (g.ny + 1)
        return (x[:nu].reshape(g.u_shape), x[nu:nu + nv].reshape(g.v_shape),
                x[nu + nv:].reshape(g.shape))


@dataclass
class StokesResult:
    u: np.ndarray
    v: np.ndarray
    p: np.ndarray
    iterations: int       # Krylov iterations (0 for a pure direct solve)
    factorised: bool      # whether an LU factorisation was (re)computed


class StokesSolver:
    """Solve -div(2 eta e(u)) + grad p = f, div u = 0 with free slip on every wall."""

    def __init__(self, grid: Grid, method: str = "lagged", rtol: float = 1e-9,
                 max_lagged_its: int = 8, relaxation: float = 0.99, petsc_options: str = "",
                 comm=None, reuse_symbolic: bool = True):
        if method not in METHODS:
            raise ValueError(f"Stokes method {method!r}: allowed {', '.join(METHODS)}")
        PETSc = _petsc()
        self.PETSc = PETSc
        self.grid, self.method = grid, method
        self.rtol, self.max_lagged_its, self.relaxation = rtol, max_lagged_its, relaxation
        self.reuse_symbolic = reuse_symbolic
        self.comm = comm if comm is not None else PETSc.COMM_WORLD
        direct_like = method in ("direct", "lagged")
        self.op = StokesOperator(grid, pin=direct_like)
        self.pop = None if direct_like else StokesOperator(grid, pin=False, pblock=True)
        N = self.op.nrows
        self.x = PETSc.Vec().createMPI((PETSc.DECIDE, N), comm=self.comm)
        self.b = self.x.duplicate()
        self.rstart, self.rend = self.x.getOwnershipRange()
        self.A = self.P = None
        self.ksp = None
        self._refresh = True
        self._new_analysis = False
        self._scatter, self._xall = PETSc.Scatter.toAll(self.x)
        self._x_prev = None
        self._options = shlex.split(petsc_options) if petsc_options else []
        self.total_factorisations = 0

    # -- matrices -----------------------------------------------------------------------
    def _local(self, csr):
        indptr, indices, vals = csr
        a, b = indptr[self.rstart], indptr[self.rend]
        return (indptr[self.rstart:self.rend + 1] - a, indices[a:b], vals[a:b])

    def _set_matrix(self, M, csr):
        PETSc = self.PETSc
        lp, li, lv = self._local(csr)
        n_local = self.rend - self.rstart
        N = self.op.nrows
        if M is None:
            M = PETSc.Mat().createAIJ(size=((n_local, N), (n_local, N)),
                                      csr=(lp.astype(PETSc.IntType), li.astype(PETSc.IntType), lv),
                                      comm=self.comm)
            M.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, True)
        else:
            M.zeroEntries()
            M.setValuesCSR(lp.astype(PETSc.IntType), li.astype(PETSc.IntType), lv)
        M.assemble()
        return M

    def _pressure_nullspace(self):
        PETSc = self.PETSc
        g = self.grid
        nu_nv = (g.nx + 1) * g.ny + g.nx * (g.ny + 1)
        z = self.x.duplicate()
        arr = np.zeros(self.rend - self.rstart)
        idx = np.arange(self.rstart, self.rend)
        arr[idx >= nu_nv] = 1.0
        z.setArray(arr)
        z.normalize()
        return PETSc.NullSpace().create(vectors=[z], comm=self.comm)

    # -- KSP set-up ---------------------------------------------------------------------
    def _setup_ksp(self):
        PETSc = self.PETSc
        ksp = PETSc.KSP().create(comm=self.comm)
        ksp.setOptionsPrefix("stokes_")
        ksp.setOperators(self.A, self.P if self.P is not None else self.A)
        pc = ksp.getPC()
        if self.method in ("direct", "lagged"):
            # Saddle-point pivoting delays pivots beyond MUMPS's default workspace estimate
            # (INFOG(1) = -9 on small grids): allow 200 % extra.
            # METIS ordering (ICNTL(7) = 5, sequential analysis): 15-20 % faster steps at
            # 32x128 than MUMPS's automatic choice (PORD), measured.
            opts = PETSc.Options()
            opts.setValue("stokes_mat_mumps_icntl_14", 200)
            opts.setValue("stokes_mat_mumps_icntl_28", 1)
            opts.setValue("stokes_mat_mumps_icntl_7", 5)
        if self.method in ("direct", "lagged"):
            # The pinned operator is symmetric (indefinite): MUMPS's LDL^T needs a third of
            # the LU's factor entries and a quarter of its flops, and is ~20 % faster here.
            self.A.setOption(PETSc.Mat.Option.SYMMETRIC, True)
            pc.setType("cholesky")
            pc.setFactorSolverType("mumps")
        if self.method == "direct":
            ksp.setType("preonly")
        elif self.method == "lagged":
            ksp.setType("gmres")
            ksp.setTolerances(rtol=self.rtol, atol=1e-300, max_it=200)
            ksp.setInitialGuessNonzero(True)
        else:
            g = self.grid
            nu_nv = (g.nx + 1) * g.ny + g.nx * (g.ny + 1)
            idx = np.arange(self.rstart, self.rend, dtype=PETSc.IntType)
            is_v = PETSc.IS().createGeneral(idx[idx < nu_nv], comm=self.comm)
            is_p = PETSc.IS().createGeneral(idx[idx >= nu_nv], comm=self.comm)
            ksp.setType("bcgs" if self.method == "iterative" else "fgmres")
            ksp.setTolerances(rtol=self.rtol, atol=1e-300, max_it=5000)
            ksp.setInitialGuessNonzero(True)
            pc.setType("fieldsplit")
            pc.setFieldSplitIS(("velocity", is_v), ("pressure", is_p))
            pc.setFieldSplitType(PETSc.PC.CompositeType.SCHUR)
            pc.setFieldSplitSchurFactType(PETSc.PC.SchurFactType.UPPER)
            pc.setFieldSplitSchurPreType(PETSc.PC.SchurPreType.A11)
            opts = PETSc.Options()
            if self.method == "iterative":
                # BiCGStab needs a fixed (linear) preconditioner: one ML V-cycle on the
                # velocity block (GAMG's fixed V-cycle needed 10x more iterations here).
                opts.setValue("stokes_fieldsplit_velocity_ksp_type", "preonly")
                opts.setValue("stokes_fieldsplit_velocity_pc_type", "ml")
                # ML estimates the smoother's spectral radius from a random start vector
                # drawn from a process-wide stream: two runs in one process, or a run and
                # its restart, then differed at the solver tolerance (found by the restart
                # test). The A-norm bound is deterministic; iterations stay ~17-19.
                opts.setValue("stokes_fieldsplit_velocity_pc_ml_SpectralNormScheme_Anorm",
                              "true")
            else:
                # FGMRES tolerates a variable preconditioner: CG + GAMG to 1e-2 on the
                # velocity block, 10-60 outer iterations across the viscosity contrasts
                # tested (SolCx 1e6, gamma 1e6 convection), MPI-parallel.
                opts.setValue("stokes_fieldsplit_velocity_ksp_type", "cg")
                opts.setValue("stokes_fieldsplit_velocity_ksp_rtol", 1e-2)
                opts.setValue("stokes_fieldsplit_velocity_pc_type", "gamg")
            opts.setValue("stokes_fieldsplit_pressure_ksp_type", "preonly")
            opts.setValue("stokes_fieldsplit_pressure_pc_type", "jacobi")
        opts = PETSc.Options()
        for key, val in _pairs(self._options):
            opts.setValue(key, val)
        ksp.setFromOptions()
        self.ksp = ksp

    def force_refresh(self):
        """Start the next solve from a fresh analysis and factorisation. MUMPS's analysis
        (pivot order, scaling) depends on the matrix values, so a run restarted from a
        checkpoint repeats the uninterrupted run bit for bit only if both analyse the same
        matrix: the time loop calls this at every checkpoint step."""
        self._refresh = True
        self._new_analysis = True

    # -- solve --------------------------------------------------------------------------
    def solve(self, eta_c: np.ndarray, eta_n: np.ndarray, fy: np.ndarray,
              fx: np.ndarray | None = None, initial_guess=None) -> StokesResult:
        kc, bscale = self.op.scales(eta_c)
        self.A = self._set_matrix(self.A, self.op.csr(eta_c, eta_n, kc, bscale))
        if self.pop is not None:
            self.P = self._set_matrix(self.P, self.pop.csr(eta_c, eta_n, kc, bscale))
            if self.A.getNullSpace() is None or self.ksp is None:
                self.A.setNullSpace(self._pressure_nullspace())
        rhs = self.op.rhs(fy, fx)
        self.b.setArray(rhs[self.rstart:self.rend])

        if self.ksp is None or self._new_analysis or (self.method == "direct"
                                                      and not self.reuse_symbolic):
            if self.ksp is not None:
                self.ksp.destroy()
            self._setup_ksp()
            self._new_analysis = False
        factorised = self.method == "direct" or self._refresh or self.method != "lagged"
        if self.method == "lagged":
            self.ksp.getPC().setReusePreconditioner(not self._refresh)
        self.ksp.setOperators(self.A, self.P if self.P is not None else self.A)

        # Initial guess: the previous solution, always rebuilt from the physical (u, v, p)
        # with this solve's scaling, so that a run restarted from a checkpoint holding
        # (u, v, p) repeats the uninterrupted run bit for bit.
        if initial_guess is not None:
            self._x_prev = tuple(np.asarray(a, dtype=float) for a in initial_guess)
        if self._x_prev is None or self.method == "direct":
            self.x.set(0.0)
        else:
            self._set_guess(self._x_prev, kc)
        self.ksp.solve(self.b, self.x)
        its = self.ksp.getIterationNumber()
        reason = self.ksp.getConvergedReason()
        if self.method == "lagged":
            if reason < 0:           # stale factorisation failed: refactor and solve again
                self.ksp.getPC().setReusePreconditioner(False)
                self.ksp.setOperators(self.A)
                self.ksp.solve(self.b, self.x)
                its += self.ksp.getIterationNumber()
                reason = self.ksp.getConvergedReason()
                factorised = True
            self._refresh = its > self.max_lagged_its
        if reason < 0:
            raise StokesFailure(f"Stokes solver ({self.method}) did not converge: "
                                f"PETSc reason {reason} after {its} iterations")
        if factorised and self.method in ("direct", "lagged"):
            self.total_factorisations += 1

        self._scatter.scatter(self.x, self._xall, addv=False, mode=self.PETSc.ScatterMode.FORWARD)
        xall = self._xall.getArray(readonly=True)
        u, v, pp = self.op.split(xall)
        u, v, p = u.copy(), v.copy(), kc * pp
        if self.method == "iterative" and self._x_prev is not None and self.relaxation < 1.0:
            w = self.relaxation
            u = self._x_prev[0] + w * (u - self._x_prev[0])
            v = self._x_prev[1] + w * (v - self._x_prev[1])
            p = self._x_prev[2] + w * (p - self._x_prev[2])
        # pressure gauge: zero (area) mean
        p = p - (p.mean() if self.grid.uniform else (p.mean(axis=1) * self.grid.dy_c).sum())
        self._x_prev = (u, v, p)
        return StokesResult(u=u, v=v, p=p, iterations=int(its), factorised=factorised)

    def _set_guess(self, guess, kc):
        u, v, p = guess
        p = np.ravel(p)
        if self.op.pin:
            p = p - p[0]          # the pinned system has p(1,1) = 0
        full = np.concatenate([np.ravel(u), np.ravel(v), p / kc])
        self.x.setArray(full[self.rstart:self.rend])

    def destroy(self):
        for obj in (self.ksp, self.A, self.P, self.x, self.b, self._xall, self._scatter):
            if obj is not None:
                obj.destroy()


class StokesFailure(RuntimeError):
    pass


def _pairs(tokens: list[str]):
    """['-stokes_ksp_type', 'gmres', '-stokes_ksp_monitor'] -> (key, value) pairs."""
    out, i = [], 0
    while i < len(tokens):
        key = tokens[i].lstrip("-")
        if i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            out.append((key, tokens[i + 1]))
            i += 2
        else:
            out.append((key, None))
            i += 1
    return out


def check_petsc_options(text: str) -> None:
    """Refuse, before a run writes anything, &stokes petsc_options that PETSc rejects (an
    unknown KSP or PC type, a malformed value): the options are applied to a throw-away
    1x1 KSP with their own prefix and read by KSPSetFromOptions, as the solver's will be.
    Raises ConfigError with PETSc's own last line."""
    from petsc4py import PETSc
    from .config import ConfigError
    pairs = [(k.replace("stokes_", "pymantle_check_", 1), v)
             for k, v in _pairs(shlex.split(text)) if k.startswith("stokes_")]
    if not pairs:
        return
    opts = PETSc.Options()
    A = PETSc.Mat().createAIJ([1, 1], nnz=1, comm=PETSc.COMM_SELF)
    A.setValue(0, 0, 1.0)
    A.assemble()
    ksp = PETSc.KSP().create(comm=PETSc.COMM_SELF)
    ksp.setOptionsPrefix("pymantle_check_")
    ksp.setOperators(A)
    try:
        for key, val in pairs:
            opts.setValue(key, val)
        ksp.setFromOptions()
    except PETSc.Error as exc:
        last = str(exc).strip().splitlines()[-1].lstrip("[0] ").strip()
        raise ConfigError(f"&stokes petsc_options = {text!r}: PETSc refuses it ({last})") \
            from None
    finally:
        for key, _ in pairs:
            opts.delValue(key)
        ksp.destroy()
        A.destroy()
