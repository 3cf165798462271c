#!/usr/bin/env bash
# The GPU checks of issues 4 and 5 (scripts/gpu_check.py: network forward and training
# throughput, the surrogate provider per step, a GPU BiCGStab on the paper-grid Stokes
# matrix, and the laptop and study training recipes on the laptop campaign's pack).
# Prepare on the CPU machine:  python scripts/gpu_export.py CAMPAIGN   (writes .gpu/)
# and, for the step section's Fortran kernels there:  bash scripts/build_ctypes_kernels.sh .gpuk
# (then pass --kernels .gpuk)
# Run on the GPU machine, from the repository root (fits in 10 minutes on one H100):
#   bash scripts/gpu_train_check.sh [--train-budget SECONDS]
# Python there needs torch with CUDA, numpy, scipy, matplotlib, tqdm and f90nml; wheels
# found in .whl/ are installed to /tmp/site first (the GPU machine may have no network).
set -euo pipefail
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# The Fortran kernels, for the hybrid-step timing, if this machine has gfortran (f2py needs
# meson and ninja); without them that one section reports the provider alone.
if command -v gfortran > /dev/null && [ ! -e pymantle/_kernels.so ]; then
    src=$PWD/fortran
    (mkdir -p /tmp/kb && cd /tmp/kb && timeout 240 python3 -m numpy.f2py -c --lower \
        "$src"/boundary.f90 "$src"/energy.f90 "$src"/stokes_assembly.f90 "$src"/diagnostics.f90 \
        -m _kernels only: fill_ghosts impose_temperature_bounds advdiff_rhs step_ssprk2 \
        wall_heat_flux stokes_nnz stokes_csr nusselt rms_velocity surface_velocity \
        horizontal_profile divergence dissipation buoyancy_work : > "$OLDPWD/$OUT/kernels_build.log" 2>&1 \
        && cp _kernels*.so "$OLDPWD/pymantle/") || echo "kernel build failed (see $OUT/kernels_build.log)"
else
    echo "no gfortran here: the step section uses --kernels DIR (scripts/build_ctypes_kernels.sh) if given, else the NumPy energy step"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
PYTHONUNBUFFERED=1 python3 scripts/gpu_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
