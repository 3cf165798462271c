#!/usr/bin/env bash
# Idempotent set-up of pymantle on Debian 12 / Ubuntu (x86_64, python3 >= 3.11).
# Installs the system packages (gfortran, PETSc with MUMPS + OpenMPI, OpenBLAS as the
# system BLAS), makes .venv in the repository root and installs pymantle into it
# (editable, so `.venv/bin/pymantle` always runs the checked-out code).
# Usage: bash scripts/setup.sh            (env: VENV=.venv PYTHON=python3)
# Re-running is cheap (~10 s): every step checks whether it is already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# libudunits2-0: the units library cfunits loads (cfchecker, tests/test_cf_conventions.py)
APT_PKGS=(gfortran petsc-dev libopenblas0-pthread openssh-client pkg-config libudunits2-0)
need_apt=0
for p in "${APT_PKGS[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || need_apt=1
done
if [ "$need_apt" = 1 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${APT_PKGS[@]}" >/dev/null
fi

export PETSC_DIR=/usr/lib/petsc          # Debian's PETSc 3.18 (MUMPS, OpenMPI)
unset PETSC_ARCH
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"                   # meson/ninja on PATH: editable rebuilds need them

# petsc4py must match PETSc 3.18; it has no pyproject.toml, so build it without isolation
# with Cython<3 and setuptools<69 (newer setuptools breaks its link step). The wheel is
# cached in ~/.cache/pip, so later venvs get it in seconds.
if ! python -c "import petsc4py" 2>/dev/null; then
  pip install -q numpy "cython<3" "setuptools<69" wheel
  pip install -q --no-build-isolation "petsc4py==3.18.5"
fi
# torch==2.13.0 is the CPU wheel; an unpinned torch could pull a multi-GB CUDA build.
pip install -q torch==2.13.0 mpi4py netCDF4 f90nml pytest xarray matplotlib tqdm scipy \
  threadpoolctl meson-python meson ninja
# Test-only: the CF checker and, as package data of compliance-checker, the CF standard-name
# table it needs offline (tests/test_cf_conventions.py). Pinned: the test's expectations
# (CF-1.8 as the newest version it knows, its messages) are those of these releases.
pip install -q cfchecker==4.1.0 compliance-checker==6.1.0
# Test-only: VTK's XDMF reader, the one ParaView uses, reads each run's run.xdmf
# (tests/test_paraview.py)
pip install -q vtk==9.7.1
# AVX2 + FMA kernels where this CPU has them (the build is for this machine anyway).
BUILD_ARGS=()
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
  BUILD_ARGS=(-Csetup-args=-Dcpu_baseline=x86-64-v3)
fi
if ! python -c "import pymantle._kernels" 2>/dev/null || [ "${PYMANTLE_REBUILD:-0}" = 1 ]; then
  pip install -q --no-build-isolation "${BUILD_ARGS[@]}" -e .
fi
python -c "import pymantle._kernels, petsc4py.PETSc, mpi4py.MPI, netCDF4, f90nml, torch; print('pymantle environment OK')"
