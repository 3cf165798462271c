"""Run output: NetCDF4 with CF attributes and SGRID metadata, checkpoints, open_run.

Files in a run directory:
    run.nc          the finished run (written as run.nc.part and renamed when done)
    checkpoint.nc   the latest restart state (written to a temporary file, then renamed)
    *.png           plots

run.nc layout (dimensions: x, y cell centres; x_face, y_face; time = snapshots; step):
    T, p, eta (time, y, x); u (time, y, x_face); v (time, y_face, x)
    snapshot_step (time); history variables Nu_top, Vrms, ... (step) with history_time
    T_profile (time, y)
The SGRID 'grid' variable tells CF/SGRID-aware tools (xarray, gridded) where each variable
lives on the staggered grid: T on faces (cells), u on edge1, v on edge2, psi on nodes.

Conventions claimed (CONVENTIONS below): "CF-1.8 SGRID-0.3", blank-separated as CF 2.6.1
recommends.
  * CF-1.8: the newest CF version the released CF checker (PyPI cfchecker 4.1.0, which
    tests/test_cf_conventions.py runs) can verify; the file uses nothing that CF 1.9-1.11
    added, so claiming a later version would only be an unverified claim.
  * SGRID-0.3: the current SGRID specification (sgrid.github.io), whose grid topology
    variable this is.
Two CF points the metadata is shaped around:
  * 'time' is non-dimensional model time, not a date: CF 4.4 demands "<unit> since <epoch>"
    of a time coordinate and CF identifies one by reference-time units, axis = "T" or
    standard_name = "time". So 'time' carries none of these (units "1", no axis): under
    CF it is a generic dimensionless coordinate, which is legal; xarray leaves it a float.
  * cf_role = "grid_topology" on 'grid' is required by SGRID (it is how SGRID readers
    such as gridded and cf_xarray find the topology), but is not among CF's cf_role values
    (CF 9.5: timeseries_id, profile_id, trajectory_id; CF 1.11 adds UGRID's mesh_topology
    and location_index_set, not SGRID's grid_topology), so CF checkers (cfchecker 4.1.0;
    IOOS compliance-checker 6.1) report it as an invalid cf_role. SGRID files (the SGRID
    spec's own ROMS and Delft3D examples) carry it all the same, and so do we: without it
    SGRID readers do not find the grid. It is the single checker error
    tests/test_cf_conventions.py tolerates, and only on 'grid' with this value.
The checkpoint claims "CF-1.8" alone (it holds raw arrays and no grid topology).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import netCDF4
import numpy as np

from ._version import __version__
from .config import Config, ConfigError
from .diagnostics import HISTORY_FIELDS, profile
from .grid import Grid

RUN_FILE, PART_SUFFIX, CHECKPOINT_FILE = "run.nc", ".part", "checkpoint.nc"
CONVENTIONS = "CF-1.8 SGRID-0.3"      # see the module docstring for why these versions


class CorruptFile(RuntimeError):
    pass


def _coords(ds: netCDF4.Dataset, grid: Grid) -> None:
    ds.createDimension("x", grid.nx)
    ds.createDimension("y", grid.ny)
    ds.createDimension("x_face", grid.nx + 1)
    ds.createDimension("y_face", grid.ny + 1)
    for name, dim, vals, axis, long in (
            ("x", "x", grid.x_c, "X", "horizontal coordinate of cell centres"),
            ("y", "y", grid.y_c, "Y", "height of cell centres above the bottom"),
            ("x_face", "x_face", grid.x_f, "X", "horizontal coordinate of cell corners/faces"),
            ("y_face", "y_face", grid.y_f, "Y", "height of cell corners/faces")):
        var = ds.createVariable(name, "f8", (dim,))
        var[:] = vals
        var.units = "1"
        var.axis = axis
        var.long_name = long
    g = ds.createVariable("grid", "i4")
    g.cf_role = "grid_topology"   # SGRID-required; not a CF 9.5 value (module docstring)
    g.topology_dimension = 2
    g.node_dimensions = "x_face y_face"
    g.face_dimensions = "x: x_face (padding: none) y: y_face (padding: none)"
    g.edge1_dimensions = "x_face y: y_face (padding: none)"
    g.edge2_dimensions = "x: x_face (padding: none) y_face"
    g.node_coordinates = "x_face y_face"
    g.face_coordinates = "x y"
    g.edge1_coordinates = "x_face y"
    g.edge2_coordinates = "x y_face"
    g.long_name = "staggered (Arakawa C) grid topology"


def _var(ds, name, dims, long_name, location=None, dtype="f8", **kw):
    var = ds.createVariable(name, dtype, dims, zlib=True, complevel=1, **kw)
    var.long_name = long_name
    var.units = "1"   # non-dimensional (and "1", not "... since ...", so xarray keeps floats)
    if location:
        var.grid = "grid"
        var.location = location
    return var


def create_run_file(path: Path, cfg: Config, grid: Grid) -> netCDF4.Dataset:
    ds = netCDF4.Dataset(path, "w", format="NETCDF4")
    ds.Conventions = CONVENTIONS
    ds.title = "pymantle convection run"
    ds.source = f"pymantle {__version__}"
    ds.namelist = namelist_text(cfg)
    for key in ("ra", "q", "gamma", "beta", "di"):
        ds.setncattr(key, cfg["physics"][key])
    ds.aspect = grid.aspect
    _coords(ds, grid)
    ds.createDimension("time", None)
    ds.createDimension("step", None)
    t = _var(ds, "time", ("time",), "model time of the snapshot")
    # non-dimensional: deliberately no axis = "T" (see the module docstring)
    t.comment = ("non-dimensional model time, not a calendar time: a generic CF coordinate "
                 "(units 1, no reference date), so it has no axis = 'T'")
    _var(ds, "snapshot_step", ("time",), "solver step of the snapshot", dtype="i8")
    _var(ds, "T", ("time", "y", "x"), "temperature", "face")
    _var(ds, "p", ("time", "y", "x"), "dynamic pressure (zero mean)", "face")
    _var(ds, "eta", ("time", "y", "x"), "viscosity", "face")
    _var(ds, "u", ("time", "y", "x_face"), "horizontal velocity", "edge1")
    _var(ds, "v", ("time", "y_face", "x"), "vertical velocity", "edge2")
    _var(ds, "T_profile", ("time", "y"), "horizontally averaged temperature")
    _var(ds, "step", ("step",), "solver step", dtype="i8")
    _var(ds, "history_time", ("step",), "model time of the diagnostics").comment = (
        "non-dimensional model time, as the 'time' coordinate")
    for name, long in HISTORY_FIELDS.items():
        _var(ds, name, ("step",), long)
    return ds


def namelist_text(cfg: Config) -> str:
    import io
    buf = io.StringIO()
    cfg.to_namelist().write(buf)
    return buf.getvalue()


#: The run file's variables along the snapshot ('time') dimension, as write_snapshot fills them.
SNAPSHOT_VARIABLES = ("time", "snapshot_step", "T", "u", "v", "p", "eta", "T_profile")


def write_snapshot(ds: netCDF4.Dataset, k: int, step: int, time: float, T, u, v, p, eta):
    ds["time"][k] = time
    ds["snapshot_step"][k] = step
    ds["T"][k] = T
    ds["u"][k] = u
    ds["v"][k] = v
    ds["p"][k] = p
    ds["eta"][k] = eta
    ds["T_profile"][k] = profile(T)


def write_history(ds: netCDF4.Dataset, history: dict[str, np.ndarray]) -> None:
    n = len(history["step"])
    if n == 0:
        return
    ds["step"][:n] = history["step"]
    ds["history_time"][:n] = history["time"]
    for name in HISTORY_FIELDS:
        ds[name][:n] = history[name]


# -- checkpoints -------------------------------------------------------------------------

_CHECKPOINT_LONG_NAMES = {"T": "temperature (cell centres)",
                          "u": "horizontal velocity (x faces)",
                          "v": "vertical velocity (y faces)",
                          "p": "dynamic pressure (cell centres)"}


#: The run's temperature bounds (temperature_bounds.py), kept so that a resumed run clips
#: exactly as the straight one: they come from the initial field, which a resume does not read.
CHECKPOINT_BOUNDS = ("temperature_lower", "temperature_upper0")


def write_checkpoint(path: Path, cfg: Config, state: dict, history: dict, n_snapshots: int):
    """Atomically (temporary file + rename) save everything a restart needs."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-", suffix=".nc")
    os.close(fd)
    try:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.Conventions = "CF-1.8"
            ds.title = "pymantle restart checkpoint"
            ds.source = f"pymantle {__version__}"
            ds.namelist = namelist_text(cfg)
            ds.step = int(state["step"])
            ds.time = float(state["time"])
            ds.wall_time = float(state.get("wall_time", 0.0))   # seconds spent to reach it
            ds.n_snapshots = int(n_snapshots)
            for name in CHECKPOINT_BOUNDS:                      # temperature_bounds.py
                if name in state:
                    ds.setncattr(name, float(state[name]))
            for name in ("T", "u", "v", "p"):
                a = state[name]
                dims = tuple(f"{name}_{i}" for i in range(a.ndim))
                for d, s in zip(dims, a.shape):
                    ds.createDimension(d, s)
                var = ds.createVariable(name, "f8", dims)
                var[:] = a
                var.long_name = _CHECKPOINT_LONG_NAMES[name]
                var.units = "1"
            ds.createDimension("record", len(history["step"]))
            for name, vals in history.items():
                var = ds.createVariable("hist_" + name, "f8", ("record",))
                var[:] = np.asarray(vals, float)
                var.long_name = f"history of {name} (restart record)"
                var.units = "1"
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_checkpoint(path: Path) -> tuple[str, dict, dict, int]:
    try:
        with netCDF4.Dataset(path) as ds:
            state = {"step": int(ds.step), "time": float(ds.time),
                     "wall_time": float(getattr(ds, "wall_time", 0.0))}
            state.update({k: float(ds.getncattr(k)) for k in CHECKPOINT_BOUNDS
                          if k in ds.ncattrs()})
            for name in ("T", "u", "v", "p"):
                state[name] = np.array(ds[name][:], dtype=float)
            hist = {k[5:]: np.array(ds[k][:], dtype=float)
                    for k in ds.variables if k.startswith("hist_")}
            return str(ds.namelist), state, hist, int(ds.n_snapshots)
    except (OSError, KeyError, AttributeError) as exc:
        raise CorruptFile(f"checkpoint {str(path)!r} is unreadable or incomplete ({exc}); "
                          "delete it to start the run afresh") from None


# -- reading runs back ----------------------------------------------------------------------

def run_path(path: str | Path) -> Path:
    """The run file of a directory (finished, else in progress), or the file itself."""
    path = Path(path)
    if path.is_dir():
        for cand in (path / RUN_FILE, path / (RUN_FILE + PART_SUFFIX)):
            if cand.is_file():
                return cand
        raise FileNotFoundError(f"no {RUN_FILE} in {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"run file {str(path)!r} not found")
    return path


def open_run(path: str | Path):
    """The run as an xarray Dataset: fields with coordinates (x, y, x_face, y_face, time),
    the per-step diagnostics on the 'step' dimension with their time `history_time` as a
    coordinate (`ds.Nu_top.plot(x="history_time")`), all non-dimensional (units '1')."""
    import xarray as xr
    p = run_path(path)
    try:
        ds = xr.open_dataset(p, engine="netcdf4")
    except Exception as exc:
        raise CorruptFile(f"{str(p)!r} is not a readable NetCDF run file ({exc})") from None
    return ds.set_coords("history_time") if "history_time" in ds.variables else ds


def read_snapshot(path: str | Path, index: int, grid: Grid,
                  interpolate: bool = False) -> dict[str, np.ndarray]:
    """Fields of one snapshot (index -1: the last) for a restart, checked against the grid
    (or, with interpolate, T interpolated onto it)."""
    try:
        p = run_path(path)
        with netCDF4.Dataset(p) as ds:
            n = len(ds.dimensions["time"])
            if n == 0:
                raise ConfigError(f"&initial file = {str(path)!r} holds no snapshots")
            if index >= n:
                raise ConfigError(f"&initial snapshot = {index}: file has snapshots 0..{n - 1}")
            k = index if index >= 0 else n - 1
            out = {name: np.array(ds[name][k], dtype=float) for name in ("T", "u", "v", "p")}
            out["time"] = float(ds["time"][k])
            y_src = np.array(ds["y"][:], dtype=float)
    except ConfigError:
        raise
    except (OSError, KeyError, IndexError, FileNotFoundError) as exc:
        raise ConfigError(f"&initial file = {str(path)!r}: not a readable run file ({exc})") from None
    # a different row spacing (wall refinement) is a different grid, even with equal shapes
    same_rows = y_src.shape == grid.y_c.shape and np.array_equal(y_src, grid.y_c)
    if out["T"].shape != grid.shape or not same_rows:
        if not interpolate:
            raise ConfigError(f"&initial file = {str(path)!r}: its grid {out['T'].shape[::-1]} "
                              f"(nx, ny) differs from this run's {grid.shape[::-1]} (or its "
                              "rows are spaced differently); set &initial interpolate = "
                              ".true. to interpolate it")
        out = {"T": interpolate_temperature(out["T"], grid, y_src), "time": out["time"]}
    return out


def interpolate_temperature(T: np.ndarray, grid: Grid, y_src=None) -> np.ndarray:
    """Bilinear interpolation of a cell-centred T onto another grid of the same box, with
    the wall values (Dirichlet top/bottom, mirrored sides) as extra support points, so a
    converged coarse field can start a finer run. y_src: the source's centre heights
    (default: a uniform grid's)."""
    from scipy.interpolate import RegularGridInterpolator
    ny, nx = T.shape
    src = Grid(nx=nx, ny=ny, aspect=grid.aspect)
    y = np.concatenate([[0.0], src.y_c if y_src is None else y_src, [1.0]])
    x = np.concatenate([[0.0], src.x_c, [grid.aspect]])
    Tp = np.pad(T, ((1, 1), (1, 1)), mode="edge")
    Tp[0, :], Tp[-1, :] = 1.0, 0.0
    f = RegularGridInterpolator((y, x), Tp)
    X, Y = grid.centres()
    return f(np.stack([Y.ravel(), X.ravel()], axis=1)).reshape(grid.shape)


def run_physics(nc) -> dict:
    """(Q, gamma, beta, viscosity bounds) an open run file was made with (its namelist)."""
    import f90nml
    ph = f90nml.reads(str(nc.namelist))["physics"]
    return {k: float(ph.get(k, 0.0)) for k in ("q", "gamma", "beta", "eta_min", "eta_max")}


#: Where each SGRID location lies on the staggered grid (the output reference's column).
LOCATIONS = {"face": "cell centres", "edge1": "vertical faces (x_face, y)",
             "edge2": "horizontal faces (x, y_face)"}


def variable_reference(path: str | Path) -> str:
    """Markdown table of every variable of a run file: dimensions, where it lives on the
    grid, units and meaning (docs/guide/output.md holds it; a test keeps the two equal)."""
    rows = ["| variable | dimensions | on the grid | units | meaning |", "|---|---|---|---|---|"]
    with netCDF4.Dataset(run_path(path)) as ds:
        for name, var in ds.variables.items():
            loc = getattr(var, "location", None)
            where = LOCATIONS.get(loc, "") if loc else ("SGRID topology" if name == "grid"
                                                         else "")
            meaning = getattr(var, "long_name", "")
            rows.append(f"| `{name}` | {', '.join(var.dimensions) or '-'} | {where or '-'} | "
                        f"{getattr(var, 'units', '-')} | {meaning} |")
    return "\n".join(rows) + "\n"
