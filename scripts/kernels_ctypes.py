"""The Fortran kernels of the hybrid step through ctypes instead of f2py, for a machine
that has Python but no Fortran compiler (the project's GPU test machine: its Python is
newer than the build machine's, so the f2py module cannot travel, but a plain shared
library can).

Build on a machine with gfortran (same sources and flags as meson.build):
    bash scripts/build_ctypes_kernels.sh OUTDIR
which writes OUTDIR/libpymantle_kernels.so plus the GNU Fortran runtime it needs. Then
    import kernels_ctypes; kernels_ctypes.install(OUTDIR)
registers a stand-in `pymantle._kernels` whose `energy.step_ssprk2` and `diagnostics.*`
(the routines of one uniform-grid hybrid step) take the same arguments as the f2py
wrappers and call the same compiled code, so pymantle.energy and pymantle.diagnostics run
unchanged. tests/test_kernels_ctypes.py checks it against the f2py module.
"""
from __future__ import annotations

import ctypes
import sys
import types
from pathlib import Path

import numpy as np

_D, _I = ctypes.c_double, ctypes.c_int


def _ptr(a, writable=False):
    """Pointer to a Fortran-ordered float64 array (the wrappers pass transposed views)."""
    if not (a.dtype == np.float64 and a.flags.f_contiguous and (a.flags.writeable or not writable)):
        if writable:
            raise ValueError("in/out array must be a Fortran-contiguous float64 view")
        a = np.asfortranarray(a, dtype=np.float64)
    # the address from the array interface: ~10x cheaper per call than a.ctypes
    return a, ctypes.c_void_p(a.__array_interface__["data"][0])


def _ref(x, kind=_D):
    return ctypes.byref(kind(x))


def load(libdir) -> types.SimpleNamespace:
    """The stand-in module for the library in libdir (runtime libraries loaded first)."""
    libdir = Path(libdir)
    for dep in ("libquadmath.so.0", "libgfortran.so.5"):
        if (libdir / dep).is_file():
            ctypes.CDLL(str(libdir / dep), mode=ctypes.RTLD_GLOBAL)
    lib = ctypes.CDLL(str(libdir / "libpymantle_kernels.so"))

    def step_ssprk2(t, u, v, s, dx, dy, dt, kappa, tbot, ttop, limiter):
        nx, ny = t.shape
        keep = [_ptr(t, True), _ptr(u), _ptr(v), _ptr(s)]
        lib.__energy_MOD_step_ssprk2(*(p for _, p in keep), _ref(dx), _ref(dy), _ref(dt),
                                     _ref(kappa), _ref(tbot), _ref(ttop), _ref(limiter, _I),
                                     _ref(nx, _I), _ref(ny, _I))

    def nusselt(t, hy, tbot, ttop):
        nx, ny = t.shape
        (ta, tp), (ha, hp) = _ptr(t), _ptr(np.asarray(hy, float))
        top, bot = _D(), _D()
        lib.__diagnostics_MOD_nusselt(tp, hp, _ref(tbot), _ref(ttop), ctypes.byref(top),
                                      ctypes.byref(bot), _ref(nx, _I), _ref(ny, _I))
        return top.value, bot.value

    def surface_velocity(u):
        nx, ny = u.shape[0] - 1, u.shape[1]
        (ua, up) = _ptr(u)
        rms, mx = _D(), _D()
        lib.__diagnostics_MOD_surface_velocity(up, ctypes.byref(rms), ctypes.byref(mx),
                                               _ref(nx, _I), _ref(ny, _I))
        return rms.value, mx.value

    def dissipation(u, v, eta_c, eta_n, dx, hy):
        nx, ny = eta_c.shape
        keep = [_ptr(u), _ptr(v), _ptr(eta_c), _ptr(eta_n), _ptr(np.asarray(hy, float))]
        phi = np.empty((nx, ny), order="F")
        lib.__diagnostics_MOD_dissipation(*(p for _, p in keep[:4]), _ref(dx), keep[4][1],
                                          _ptr(phi, True)[1], _ref(nx, _I), _ref(ny, _I))
        return phi

    def divergence(u, v, dx, hy):
        nx, ny = u.shape[0] - 1, u.shape[1]
        keep = [_ptr(u), _ptr(v), _ptr(np.asarray(hy, float))]
        div = np.empty((nx, ny), order="F")
        lib.__diagnostics_MOD_divergence(keep[0][1], keep[1][1], _ref(dx), keep[2][1],
                                         _ptr(div, True)[1], _ref(nx, _I), _ref(ny, _I))
        return div

    def rms_velocity(u, v):
        nx, ny = u.shape[0] - 1, u.shape[1]
        keep = [_ptr(u), _ptr(v)]
        out = _D()
        lib.__diagnostics_MOD_rms_velocity(keep[0][1], keep[1][1], ctypes.byref(out),
                                           _ref(nx, _I), _ref(ny, _I))
        return out.value

    def buoyancy_work(t, v):
        nx, ny = t.shape
        keep = [_ptr(t), _ptr(v)]
        out = _D()
        lib.__diagnostics_MOD_buoyancy_work(keep[0][1], keep[1][1], ctypes.byref(out),
                                            _ref(nx, _I), _ref(ny, _I))
        return out.value

    return types.SimpleNamespace(
        energy=types.SimpleNamespace(step_ssprk2=step_ssprk2),
        diagnostics=types.SimpleNamespace(
            nusselt=nusselt, surface_velocity=surface_velocity, dissipation=dissipation,
            divergence=divergence, rms_velocity=rms_velocity, buoyancy_work=buoyancy_work))


def install(libdir) -> None:
    """Register the stand-in as pymantle._kernels (before pymantle.energy is imported)."""
    sys.modules["pymantle._kernels"] = load(libdir)
