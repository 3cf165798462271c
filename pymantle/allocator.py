"""Keep freed memory in the process for reuse (glibc's malloc), instead of handing it back
to the kernel at every free.

Why: the time loop frees and allocates the same few 0.5-2 MB arrays every step (NumPy
temporaries, f2py outputs, the Fortran kernels' work arrays). glibc serves blocks that
large by mmap and returns them to the kernel on free, so each step page-faults them in
again. At 126x504 that was about a quarter of the host's cost of a surrogate step (host-only
loop 2.1-2.5 -> 1.6-1.9 ms, measured with these settings; docs/reports/2026-11-26-benchmarks-log.md). Raising the
mmap and trim thresholds lets such blocks come from, and go back to, the heap. The cost is
resident memory: up to TRIM_THRESHOLD of freed memory may stay mapped.

Process-wide and glibc-only: elsewhere (or with PYMANTLE_KEEP_FREED_MEMORY=0) it does
nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3        # glibc's mallopt parameters
MMAP_THRESHOLD = 32 * 2**20                         # glibc's largest allowed value
TRIM_THRESHOLD = 256 * 2**20

_done = False


def keep_freed_memory() -> bool:
    """Set the thresholds once per process; True if glibc accepted them."""
    global _done
    from .switches import keep_freed_memory as wanted
    if _done or not wanted():
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):                 # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
