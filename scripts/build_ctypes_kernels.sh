#!/usr/bin/env bash
# Build the hybrid step's Fortran kernels as a plain shared library for scripts/
# kernels_ctypes.py (a machine with Python but no gfortran, e.g. the GPU test machine), with
# meson.build's flags, and copy the GNU Fortran runtime beside it.
# Usage: bash scripts/build_ctypes_kernels.sh OUTDIR [MARCH (default x86-64-v3)]
set -euo pipefail
out=${1:?usage: build_ctypes_kernels.sh OUTDIR [MARCH]}
march=${2:-x86-64-v3}
src=$(cd "$(dirname "$0")/.." && pwd)/fortran
mkdir -p "$out"
mods=$(mktemp -d)
gfortran -O3 -fPIC -shared -march="$march" -J "$mods" "$src/boundary.f90" "$src/energy.f90" \
    "$src/diagnostics.f90" -o "$out/libpymantle_kernels.so"
rm -rf "$mods"
for lib in libgfortran.so.5 libquadmath.so.0; do
    cp -L "$(gfortran -print-file-name=$lib)" "$out/$lib"
done
ls -l "$out"
