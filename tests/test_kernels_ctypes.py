"""scripts/kernels_ctypes.py (the Fortran kernels through ctypes, for the GPU machine that
has no Fortran compiler) must compute what the f2py module computes. Built here for the
portable x86-64 baseline (the f2py module may use AVX2 + FMA), so the two agree to rounding,
not bit for bit; a wrongly passed argument would change every digit."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pymantle import _kernels
from pymantle.grid import Grid
from pymantle.physics import ViscosityField

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.mark.skipif(shutil.which("gfortran") is None, reason="needs gfortran")
def test_ctypes_kernels_equal_f2py(tmp_path):
    import kernels_ctypes
    subprocess.run(["bash", str(ROOT / "scripts" / "build_ctypes_kernels.sh"), str(tmp_path),
                    "x86-64"],
                   check=True, capture_output=True)
    k = kernels_ctypes.load(tmp_path)
    g = Grid(nx=40, ny=12, aspect=4.0)
    rng = np.random.default_rng(5)
    T = rng.random(g.shape)
    u, v = rng.standard_normal(g.u_shape), rng.standard_normal(g.v_shape)
    eta_c, eta_n = ViscosityField(g.centres()[1], 1e4, 10.0)(T)
    hy = g.dy_c
    for f, args in (("nusselt", (T.T, hy, 1.0, 0.0)), ("surface_velocity", (u.T,)),
                    ("dissipation", (u.T, v.T, eta_c.T, eta_n.T, g.dx, hy)),
                    ("divergence", (u.T, v.T, g.dx, hy)), ("rms_velocity", (u.T, v.T)),
                    ("buoyancy_work", (T.T, v.T))):
        want = getattr(_kernels.diagnostics, f)(*args)
        got = getattr(k.diagnostics, f)(*args)
        np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float),
                                   rtol=1e-12, atol=1e-12, err_msg=f)
    src = np.asfortranarray(rng.random((g.nx, g.ny)))
    a, b = T.copy(), T.copy()
    for limiter in range(5):
        _kernels.energy.step_ssprk2(a.T, u.T, v.T, src, g.dx, g.dy, 1e-4, 1.0, 1.0, 0.0, limiter)
        k.energy.step_ssprk2(b.T, u.T, v.T, src, g.dx, g.dy, 1e-4, 1.0, 1.0, 0.0, limiter)
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)
    assert np.abs(a - T).max() > 1e-3
