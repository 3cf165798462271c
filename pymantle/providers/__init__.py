"""Velocity providers: whatever turns a temperature field into face velocities.

    direct | lagged | iterative | multigrid   PETSc Stokes solvers (stokes.py)
    skip-N                                    any of those every N steps (momentum skipping)
    surrogate                                 the CNN (pymantle.ml, once a model exists)
    surrogate-galerkin                        the CNN's flow, Galerkin-corrected
    galerkin                                  the same correction with no network (baseline)

Every provider returns (u, v, p, iterations) on the MAC faces; iterations = -1 marks
velocities reused without a solve.

    base.py        the VelocityProvider interface; NoFlow
    stokes.py      the Stokes solvers: StokesProvider, SkipProvider, WarmupProvider
    galerkin.py    GalerkinCorrectedProvider
    surrogate.py   SurrogateProvider (the network, run through pymantle.ml.inference)
    guard.py       GuardedProvider
    factory.py     make_provider (the &stokes namelist -> a provider), shipped_model
"""
from .base import NoFlow, VelocityProvider
from .factory import make_provider, shipped_model
from .galerkin import GalerkinCorrectedProvider
from .guard import GuardedProvider
from .stokes import SkipProvider, StokesProvider, WarmupProvider
from .surrogate import SurrogateProvider

__all__ = ["VelocityProvider", "NoFlow", "StokesProvider", "SkipProvider", "WarmupProvider",
           "GalerkinCorrectedProvider", "SurrogateProvider", "GuardedProvider",
           "make_provider", "shipped_model"]
