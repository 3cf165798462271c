"""pymantle: mantle convection with a staggered-grid reference solver and a learned Stokes surrogate."""
from ._version import __version__


def __getattr__(name):
    # open_run needs netCDF4 and the compiled kernels; importing it lazily lets the pure
    # torch parts (pymantle.ml) run where only torch is installed (a GPU training node).
    if name == "open_run":
        from .output import open_run
        return open_run
    raise AttributeError(f"module 'pymantle' has no attribute {name!r}")


__all__ = ["open_run", "__version__"]
