"""Initial temperature fields (docs/theory.md section 2 and issue 6).

hot        T = t_inside (1) inside plus a random perturbation (the dataset default)
cold       T = t_inside (0) inside plus the perturbation, reflected at the surface
           temperature (so 0 <= T <= amplitude inside; see `floored`)
linear     T = t_inside (0.75) inside with linear boundary layers of the given thickness
sine       T = (1 - y) + A cos(pi x / L) sin(pi y)   (the benchmark start)
conductive the steady conduction profile with internal heating, plus the perturbation
profile    a horizontally averaged T(y) read from a text (y T columns) or NetCDF file
restart    any snapshot of an earlier run's output file (on another grid of the same box
           with interpolate = .true., e.g. to start a fine run from a converged coarse one)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import Config, ConfigError
from .grid import Grid


def _perturbation(grid: Grid, amplitude: float, seed: int) -> np.ndarray:
    """Random perturbation, tapered to zero at the top and bottom walls."""
    rng = np.random.default_rng(seed)
    _, y = grid.centres()
    return amplitude * (rng.random(grid.shape) - 0.5) * 2.0 * np.sin(np.pi * y)


def floored(base: np.ndarray, perturbation: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """base + perturbation, with the perturbation reflected where it would take a field at
    or above `floor` (the coldest wall's temperature) below it.

    Why: no part of the box can be colder than its coldest wall (the energy equation has
    no heat sink: temperature_bounds.py), so a random perturbation of a cold interior at
    the surface temperature must not make it so; the study's cold start (T = 0 inside plus
    the +-0.01 perturbation) had half its cells at -0.01..0. A base the user set below
    the floor is kept as asked."""
    T = base + perturbation
    below = (T < floor) & (base >= floor)
    T[below] = 2.0 * floor - T[below]
    return T


def conduction_profile(y, q: float):
    """Exact steady conduction with internal heating: T = (1 - y) + (q/2) y (1 - y)."""
    return (1.0 - y) + 0.5 * q * y * (1.0 - y)


def read_profile(path: str | Path, y: np.ndarray) -> np.ndarray:
    """T(y) from a text file with columns y, T, or from a NetCDF file with a variable
    'T_profile' (or 'T'; then the last snapshot is averaged horizontally), interpolated to
    the cell centres y."""
    path = Path(path)
    try:
        if path.suffix in (".nc", ".nc4", ".cdf"):
            import netCDF4
            with netCDF4.Dataset(path) as ds:
                if "T_profile" in ds.variables:
                    prof = np.asarray(ds["T_profile"][:], dtype=float)
                    yy = np.asarray(ds["y"][:], dtype=float)
                    if prof.ndim == 2:
                        prof = prof[-1]
                elif "T" in ds.variables:
                    T = np.asarray(ds["T"][:], dtype=float)
                    prof = (T[-1] if T.ndim == 3 else T).mean(axis=-1)
                    yy = np.asarray(ds["y"][:], dtype=float)
                else:
                    raise ConfigError(f"&initial file = {str(path)!r}: no variable 'T_profile' "
                                      "or 'T' in it")
        else:
            data = np.loadtxt(path, ndmin=2)
            if data.shape[1] < 2:
                raise ConfigError(f"&initial file = {str(path)!r}: expected two columns y, T")
            yy, prof = data[:, 0], data[:, 1]
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"&initial file = {str(path)!r} could not be read: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    order = np.argsort(yy)
    yy, prof = yy[order], prof[order]
    if not (np.all(np.isfinite(prof)) and yy.min() <= 0.5 <= yy.max()):
        raise ConfigError(f"&initial file = {str(path)!r}: profile must be finite and span "
                          "y in [0, 1]")
    return np.interp(y, yy, prof)


def initial_temperature(cfg: Config, grid: Grid) -> np.ndarray:
    ini = cfg["initial"]
    kind = ini["kind"]
    if kind == "sine":
        x, y = grid.centres()
        T = (1.0 - y) + ini["amplitude"] * np.cos(np.pi * x / grid.aspect) * np.sin(np.pi * y)
    elif kind == "restart":
        from .output import read_snapshot
        T = read_snapshot(ini["file"], ini["snapshot"], grid, ini["interpolate"])["T"]
    else:
        T = floored(_base_field(cfg, grid), _perturbation(grid, ini["amplitude"], ini["seed"]))
    return np.ascontiguousarray(T, dtype=np.float64)


def _base_field(cfg: Config, grid: Grid) -> np.ndarray:
    """The unperturbed field of the kinds that take the random perturbation."""
    ini = cfg["initial"]
    kind, t_in = ini["kind"], ini["t_inside"]
    _, y = grid.centres()
    if kind in ("hot", "cold"):
        default = 1.0 if kind == "hot" else 0.0
        return np.full(grid.shape, default if t_in < 0 else t_in)
    if kind == "linear":
        t_in = 0.75 if t_in < 0 else t_in
        d = ini["boundary_layer"]
        T = np.full(grid.shape, t_in)
        yy = np.broadcast_to(y, grid.shape)
        bot, top = yy < d, yy > 1.0 - d
        T[bot] = 1.0 + (t_in - 1.0) * yy[bot] / d          # 1 at the bottom wall -> t_in
        T[top] = t_in * (1.0 - yy[top]) / d                # t_in -> 0 at the top wall
        return T
    if kind == "conductive":
        return np.broadcast_to(conduction_profile(y, cfg["physics"]["q"]), grid.shape).copy()
    if kind == "profile":
        return np.broadcast_to(read_profile(ini["file"], grid.y_c)[:, None], grid.shape).copy()
    raise ConfigError(f"&initial kind = {kind!r}")   # the schema rejects anything else first
