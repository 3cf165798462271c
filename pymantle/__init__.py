"""pymantle: mantle convection with a staggered-grid reference solver and a learned Stokes surrogate."""
__version__ = "0.1.0"
from .output import open_run  # noqa: F401
