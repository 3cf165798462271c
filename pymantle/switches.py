"""The PYMANTLE_* environment switches, read here and nowhere else.

They change how a run is computed, never what: each one selects between implementations
that give the same results (to round-off), for measurements and for working around a
platform. The namelist holds everything that changes a result.

    PYMANTLE_KEEP_FREED_MEMORY=0  leave glibc's malloc thresholds alone (allocator.py)
    PYMANTLE_CUDA_GRAPH=0         run the GPU network without capturing a CUDA graph
    PYMANTLE_CONV_IMPL=NAME       the network's convolution implementation (ml/networks/layers.py:
                                  'banks' on the CPU, 'auto' on a GPU by default)
    PYMANTLE_LEVEL_STREAMS=0      no per-level CUDA streams
    PYMANTLE_STRIP_STREAMS=0      no per-strip CUDA streams
    PYMANTLE_FROZEN_GRAPH=0       run the network on the CPU in eager mode instead of as a
                                  frozen TorchScript graph (ml/inference.py: frozen_faces)
    PYMANTLE_TORCH_THREADS=N      threads of the network on the CPU (default 1, or torch's
                                  own choice where OMP_NUM_THREADS is set)
"""
from __future__ import annotations

import os


def _off(name: str) -> bool:
    return os.environ.get(name) == "0"


def keep_freed_memory() -> bool:
    return not _off("PYMANTLE_KEEP_FREED_MEMORY")


def cuda_graph() -> bool:
    return not _off("PYMANTLE_CUDA_GRAPH")


def frozen_graph() -> bool:
    return not _off("PYMANTLE_FROZEN_GRAPH")


def conv_impl(default: str) -> str:
    return os.environ.get("PYMANTLE_CONV_IMPL", default)


def level_streams() -> bool:
    return not _off("PYMANTLE_LEVEL_STREAMS")


def strip_streams() -> bool:
    return not _off("PYMANTLE_STRIP_STREAMS")


def torch_threads() -> int | None:
    """Threads for the network's forward pass on the CPU; None: leave torch's setting.

    Why 1 by default: torch's OpenMP threads spin while they wait. At 32x128 on 2 cores,
    with one core taken by another process (a second run, a campaign rank), two threads made
    the README's first command 7.5x slower than one (17.5 s against 2.3 s for t = 0.01); on
    a quiet machine two threads are 10 % faster (4.0 s against 4.5 s for t = 0.03)."""
    text = os.environ.get("PYMANTLE_TORCH_THREADS")
    if text is None:
        return None if "OMP_NUM_THREADS" in os.environ else 1
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"environment PYMANTLE_TORCH_THREADS={text!r}: allowed an integer >= 1")
    return n
