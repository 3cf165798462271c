"""The output hook of the time loop: one run folder's files and when they are written.

    run.nc.part   the run file while the run goes on (snapshots as they come, the
                  history at every checkpoint); renamed to run.nc when it finishes
    checkpoint.nc everything a restart needs, written atomically (output.write_checkpoint)

Only rank 0 writes; the other ranks hold a RunFiles whose writes do nothing. Resuming
reads the checkpoint back and refuses a namelist that would change the trajectory (the
fields in RESUMABLE_CHANGES may change: they only say where or how the run stops, or, for
the time step, how a run that blew up is continued; such a change is noted in the run
file's `history` attribute).
"""
from __future__ import annotations

import datetime
import io
import os
from pathlib import Path

import numpy as np

from .config import SCHEMA, Config, ConfigError
from .output import (CHECKPOINT_FILE, PART_SUFFIX, RUN_FILE, SNAPSHOT_VARIABLES, CorruptFile,
                     create_run_file, read_checkpoint, write_checkpoint, write_history,
                     write_snapshot)

#: The run file being rebuilt on a resume (removed if a kill leaves it behind).
REBUILD_FILE = ".run-resumed.nc" + PART_SUFFIX

#: Fields that may differ between a checkpoint and its resumption. The first group does not
#: change the trajectory; courant and dt_max do, from the resumed step on: that is how a run
#: that blew up is continued with a smaller step (docs: "continuing a run that blew up").
RESUMABLE_CHANGES = {("time", "end_time"), ("time", "max_steps"), ("time", "steady_tol"),
                     ("time", "stat_window"), ("time", "stat_tol"),
                     ("output", "progress"), ("output", "plots"), ("output", "directory"),
                     ("stokes", "petsc_options")}
STEP_CHANGES = {("time", "courant"), ("time", "dt_max")}


def _stored_value(stored, group: str, key: str):
    return stored.get(group, {}).get(key)


def _same(va, vb) -> bool:
    if isinstance(va, float) and vb is not None:
        return bool(np.isclose(va, float(vb), rtol=1e-14, atol=0))
    return va == vb


def trajectory_difference(cfg: Config, stored_text: str) -> str | None:
    """Name the first field that differs between a config and a stored namelist, ignoring
    the fields that may change on resumption; None if they agree."""
    import f90nml
    stored = f90nml.read(io.StringIO(stored_text))
    for g, fields in SCHEMA.items():
        for k in fields:
            if (g, k) in RESUMABLE_CHANGES or (g, k) in STEP_CHANGES:
                continue
            if not _same(cfg[g][k], _stored_value(stored, g, k)):
                return f"&{g} {k}"
    return None


def step_changes(cfg: Config, stored_text: str) -> list[str]:
    """The time-step settings changed since the checkpoint, as 'courant 0.5 -> 0.2'."""
    import f90nml
    stored = f90nml.read(io.StringIO(stored_text))
    return [f"&{g} {k} {_stored_value(stored, g, k)} -> {cfg[g][k]}"
            for g, k in sorted(STEP_CHANGES)
            if not _same(cfg[g][k], _stored_value(stored, g, k))]


def _check_readable(path: Path) -> None:
    """Refuse, before touching it, a run file that netCDF cannot open."""
    import netCDF4
    try:
        netCDF4.Dataset(path).close()
    except OSError as exc:
        raise CorruptFile(f"run file {str(path)!r} is damaged ({exc}); the run cannot be "
                          "extended: run with --overwrite to start it again") from None


class RunFiles:
    """Reads and writes one run folder for the time loop (rank 0 writes, others skip)."""

    def __init__(self, cfg: Config, grid, outdir: Path, root: bool):
        self.cfg, self.grid, self.root = cfg, grid, root
        self.outdir = Path(outdir)
        self.run_file = self.outdir / RUN_FILE
        self.part = self.outdir / (RUN_FILE + PART_SUFFIX)
        self.ckpt = self.outdir / CHECKPOINT_FILE
        self.ds = None
        self.notes: list[str] = []          # lines for the run file's history attribute
        self.bounds: dict = {}              # the checkpoint's temperature bounds (output.py)

    # -- starting ---------------------------------------------------------------------------
    def stored_state(self, resume: bool):
        """(state, history, snapshots written) from the checkpoint, or None for a fresh
        start (whose stale files are then removed). Raises ConfigError if the stored run
        is another trajectory."""
        if self.root:
            self.outdir.mkdir(parents=True, exist_ok=True)
            self._remove_stray_checkpoint_writes()
        if not (resume and self.ckpt.is_file()):
            if self.root:
                for f in (self.run_file, self.part, self.ckpt):
                    if f.exists():
                        f.unlink()
            return None
        stored_nml, state, hist, n_snap = read_checkpoint(self.ckpt)
        diff = trajectory_difference(self.cfg, stored_nml)
        if diff is not None:
            raise ConfigError(f"{diff} differs from the run stored in {str(self.outdir)!r}; "
                              "choose another output directory or pass --overwrite")
        changes = step_changes(self.cfg, stored_nml)
        if changes:
            self.notes.append(f"resumed at step {state['step']} with " + ", ".join(changes))
        if self.root and self.run_file.is_file() and not self.part.is_file():
            _check_readable(self.run_file)
            os.replace(self.run_file, self.part)      # extending a finished run
        return state, hist, n_snap

    def _remove_stray_checkpoint_writes(self) -> None:
        """A process killed inside write_checkpoint leaves its temporary file; this folder
        is locked by us, so no other process is writing one."""
        for f in (*self.outdir.glob(".checkpoint-*.nc"), self.outdir / REBUILD_FILE,
                  *self.outdir.glob(".*.xdmf.tmp")):         # paraview.write_xdmf's
            f.unlink(missing_ok=True)

    def open(self, stored) -> None:
        """Open the run file for writing: `stored` is what stored_state returned (None for
        a fresh start)."""
        if not self.root:
            return
        if stored is not None and self.part.is_file():
            _, hist, n_snap = stored
            self.ds = self._rebuilt_part(hist, n_snap)
        else:
            self.ds = create_run_file(self.part, self.cfg, self.grid)
        for line in self.notes:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            old = self.ds.getncattr("history") if "history" in self.ds.ncattrs() else ""
            self.ds.history = (old + "\n" if old else "") + f"{stamp} pymantle: {line}"

    def _rebuilt_part(self, hist: dict, n_snap: int):
        """run.nc.part made anew from the checkpoint's history and the first n_snap snapshots
        of the old one, open for appending. Why not append to the old file: a process
        killed while writing a snapshot after the last checkpoint can leave the HDF5 file
        damaged (it has no journal): it still opens, and the next write fails."""
        import netCDF4
        tmp = self.outdir / REBUILD_FILE
        try:
            old = netCDF4.Dataset(self.part)
        except OSError as exc:
            raise CorruptFile(f"run file {str(self.part)!r} is damaged ({exc}); its "
                              "checkpoint cannot be continued into it: run with --overwrite "
                              "to start the run again") from None
        try:
            new = create_run_file(tmp, self.cfg, self.grid)    # the settings now in force
            if n_snap:
                for name in SNAPSHOT_VARIABLES:
                    new[name][:n_snap] = old[name][:n_snap]
            if "history" in old.ncattrs():
                new.history = old.getncattr("history")
            write_history(new, {k: np.asarray(v) for k, v in hist.items()})
            new.close()
        except (OSError, RuntimeError, IndexError, KeyError) as exc:
            tmp.unlink(missing_ok=True)
            raise CorruptFile(f"run file {str(self.part)!r}: its first {n_snap} snapshots "
                              f"cannot be read ({exc}); run with --overwrite to start the run "
                              "again") from None
        finally:
            old.close()
        os.replace(tmp, self.part)
        return netCDF4.Dataset(self.part, "a")

    # -- during the run ---------------------------------------------------------------------
    def snapshot(self, k: int, n: int, t: float, T, u, v, p, eta) -> None:
        if self.ds is not None:
            write_snapshot(self.ds, k, n, t, T, u, v, p, eta)

    def checkpoint(self, T, u, v, p, n: int, t: float, hist: dict, n_snap: int,
                   wall_time: float = 0.0) -> None:
        """The state at the start of step n, its history and snapshot count, and the wall
        time spent to reach it (all sessions of the run)."""
        if self.ds is None:
            return
        write_history(self.ds, {k: np.asarray(vals) for k, vals in hist.items()})
        self.ds.sync()
        write_checkpoint(self.ckpt, self.cfg,
                         {"T": T, "u": u, "v": v, "p": p, "step": n, "time": t,
                          "wall_time": wall_time, **self.bounds},
                         {k: np.asarray(vals, float) for k, vals in hist.items()}, n_snap)

    # -- ending -----------------------------------------------------------------------------
    def abort(self) -> None:
        """Close without finishing: what was synced at the last checkpoint stays valid."""
        if self.ds is not None and self.ds.isopen():
            self.ds.close()

    def finish(self, hist: dict, wall: float, status: str, total_wall: float) -> None:
        """Write the whole history and rename run.nc.part to run.nc. wall_time is this
        session's (what the evaluation compares), total_wall_time all sessions'."""
        if self.ds is None:
            return
        write_history(self.ds, {k: np.asarray(v) for k, v in hist.items()})
        self.ds.wall_time = wall
        self.ds.total_wall_time = total_wall
        self.ds.status = status
        self.ds.close()
        os.replace(self.part, self.run_file)
        from .paraview import write_xdmf
        write_xdmf(self.run_file)              # run.xdmf: ParaView opens the run (paraview.py)
