"""make_provider: the &stokes namelist group -> a velocity provider."""
from __future__ import annotations

from pathlib import Path

from ..config import Config, ConfigError, check_stokes_options
from ..grid import Grid
from .base import NoFlow, VelocityProvider
from .galerkin import GalerkinCorrectedProvider
from .guard import GuardedProvider
from .stokes import SkipProvider, StokesProvider, WarmupProvider
from .surrogate import SurrogateProvider


def shipped_model(grid: Grid) -> str:
    """The model file shipped for a grid preset (pymantle/models/<preset>.pt)."""
    for name, p in {"laptop": (32, 128), "paper": (126, 504)}.items():
        if (grid.ny, grid.nx) == p:
            return str(Path(__file__).resolve().parent.parent / "models" / f"{name}.pt")
    return ""


def _correction_nodes(st: dict, grid: Grid) -> int:
    """Lattice nodes over the box height: as set, or (0) about four cells between nodes
    and at least 9: 9 at 32 rows, 33 at 126. Four cells is the laptop grid's lattice since
    session 6; at 126x504 it brought the onset of convection within 3 %, where 9 nodes
    were 38 % late (docs/reports/2026-11-study-network-and-galerkin.md). The banded solve
    keeps it affordable."""
    most = grid.ny // 2 + 1             # two cells between nodes at least (config checks it)
    return st["correction_nodes"] or min(most, max(9, round(grid.ny / 4) + 1))


def _warm(cfg: Config, grid: Grid, then: VelocityProvider, comm) -> VelocityProvider:
    """`then`, guarded if &stokes guard_tol > 0, after the configured direct warm-up steps
    (the study: 2); the warm-up, the refreshes and the guard share one direct solver."""
    st = cfg["stokes"]
    if st["warmup_steps"] == 0 and st["refresh_every"] == 0 and st["guard_tol"] == 0:
        return then
    direct = StokesProvider(grid, cfg["physics"]["ra"], "direct", comm=comm,
                            petsc_options=st["petsc_options"])
    if st["guard_tol"] > 0:
        then = GuardedProvider(then, direct, grid, cfg["physics"]["ra"], st["guard_tol"])
    if st["warmup_steps"] == 0 and st["refresh_every"] == 0:
        return then
    return WarmupProvider(direct, then, st["warmup_steps"], st["refresh_every"])


def _model_file(st: dict, grid: Grid) -> str:
    """The surrogate's model file: &stokes model, or the one shipped for the grid."""
    path = st["model"] or shipped_model(grid)
    if not path:
        raise ConfigError(f"&stokes model: no model file given and none is shipped for a "
                          f"{grid.ny}x{grid.nx} grid; train one (pymantle train) and set "
                          "&stokes model = 'path/model.pt'")
    if Path(path).is_dir():
        raise ConfigError(f"&stokes model = {path!r} is a folder; name the model file "
                          "in it (e.g. its model.pt)")
    if not Path(path).is_file():
        raise ConfigError(f"&stokes model = {path!r}: file not found (`pymantle train` "
                          "writes one)")
    return path


def make_provider(cfg: Config, grid: Grid, comm=None) -> VelocityProvider:
    st = cfg["stokes"]
    method = st["solver"]
    check_stokes_options(cfg)       # also run by config.validate at load time
    if method == "galerkin":
        gal = GalerkinCorrectedProvider(NoFlow(grid), grid, cfg["physics"]["ra"],
                                        _correction_nodes(st, grid), st["correction_memory"])
        gal.name = "galerkin"
        return _warm(cfg, grid, gal, comm)
    if method == "surrogate":
        nodes = _correction_nodes(st, grid) if st["correction"] == "galerkin" else 0
        surrogate = SurrogateProvider(grid, cfg["physics"], _model_file(st, grid),
                                      st["autocast"])
        if st["correction"] == "galerkin":
            surrogate = GalerkinCorrectedProvider(surrogate, grid, cfg["physics"]["ra"], nodes,
                                                  st["correction_memory"])
        if st["every"] > 1:         # the learned step (network, correction) every N steps,
            surrogate = SkipProvider(surrogate, st["every"], st["extrapolate"])  # extrapolated
        return _warm(cfg, grid, surrogate, comm)
    prov: VelocityProvider = StokesProvider(
        grid, cfg["physics"]["ra"], method, comm=comm, rtol=st["rtol"],
        max_lagged_its=st["max_lagged_its"], relaxation=st["relaxation"],
        petsc_options=st["petsc_options"])
    if st["every"] > 1:
        prov = SkipProvider(prov, st["every"], st["extrapolate"])
    return prov
