"""The PYMANTLE_* environment switches, read here and nowhere else.

They change how a run is computed, never what: each one selects between implementations
that give the same results (to round-off), for measurements and for working around a
platform. The namelist holds everything that changes a result.

    PYMANTLE_KEEP_FREED_MEMORY=0  leave glibc's malloc thresholds alone (allocator.py)
    PYMANTLE_CUDA_GRAPH=0         run the GPU network without capturing a CUDA graph
    PYMANTLE_CONV_IMPL=NAME       the network's convolution implementation (ml/layers.py:
                                  'banks' on the CPU, 'auto' on a GPU by default)
    PYMANTLE_LEVEL_STREAMS=0      no per-level CUDA streams
    PYMANTLE_STRIP_STREAMS=0      no per-strip CUDA streams
"""
from __future__ import annotations

import os


def _off(name: str) -> bool:
    return os.environ.get(name) == "0"


def keep_freed_memory() -> bool:
    return not _off("PYMANTLE_KEEP_FREED_MEMORY")


def cuda_graph() -> bool:
    return not _off("PYMANTLE_CUDA_GRAPH")


def conv_impl(default: str) -> str:
    return os.environ.get("PYMANTLE_CONV_IMPL", default)


def level_streams() -> bool:
    return not _off("PYMANTLE_LEVEL_STREAMS")


def strip_streams() -> bool:
    return not _off("PYMANTLE_STRIP_STREAMS")
