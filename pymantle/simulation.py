"""The time loop: viscosity -> velocity provider -> diagnostics/output -> energy step.

A step's diagnostics are taken after its energy step, once the provider has been asked for
the next step's velocities (`prefetch`), so that a GPU network computes them while the host
does the diagnostics and the next viscosity; steps whose stopping tests need the
diagnostics take them first. Either way they describe the state at the start of the step.

Restarts are exact: a checkpoint is written at the start of every checkpoint_every-th step
(before its Stokes solve), and the velocity provider refreshes its factorisation at exactly
those steps, so a run resumed from a checkpoint repeats the uninterrupted run bit for bit.
SIGINT/SIGTERM stop the loop at the next step boundary with a checkpoint written; a
blow-up (non-finite T, or T outside [T_FLOOR, T_CEIL]) stops with the last good state saved.
"""
from __future__ import annotations

import os
import signal
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import SCHEMA, Config, ConfigError
from .diagnostics import HISTORY_FIELDS, compute
from .energy import EnergySolver
from .initial import initial_temperature
from .output import (CHECKPOINT_FILE, PART_SUFFIX, RUN_FILE, create_run_file, namelist_text,
                     read_checkpoint, write_checkpoint, write_history, write_snapshot)
from .allocator import keep_freed_memory
from .physics import ViscosityField, heating_rate
from .providers import VelocityProvider, make_provider

T_FLOOR, T_CEIL = -1.0, 5.0          # the study's solver met T up to 1.35
STEADY_WINDOW = 50                    # steps between the samples of the steady-state test

# Fields that may change between a checkpoint and its resumption (they do not change the
# trajectory, only where or how it stops and how it is reported).
_RESUMABLE_CHANGES = {("time", "end_time"), ("time", "max_steps"), ("time", "steady_tol"),
                      ("time", "stat_window"), ("time", "stat_tol"),
                      ("output", "progress"), ("output", "plots"), ("output", "directory"),
                      ("stokes", "petsc_options")}


class BlowUp(RuntimeError):
    """The temperature left its physical range; the last good state is checkpointed."""


class Interrupted(RuntimeError):
    pass


@dataclass
class RunResult:
    directory: Path
    run_file: Path
    steps: int
    time: float
    wall_time: float
    final: dict = field(default_factory=dict)
    resumed_from: int | None = None
    status: str = "finished"


def statistically_steady(hist: dict, window: float, tol: float) -> bool:
    """Time means of T_mean and Nu_top over [t-2w, t-w] and [t-w, t] agree to tol
    (relative). The history holds values at the start of each step and its dt."""
    import bisect
    t = hist["time"]
    if not t or t[-1] - t[0] < 2 * window:
        return False
    i0 = bisect.bisect_left(t, t[-1] - 2 * window)
    i1 = bisect.bisect_left(t, t[-1] - window)
    for key in ("T_mean", "Nu_top"):
        x, dt = np.asarray(hist[key][i0:]), np.asarray(hist["dt"][i0:])
        k = i1 - i0
        m1 = np.sum(x[:k] * dt[:k]) / max(np.sum(dt[:k]), 1e-300)
        m2 = np.sum(x[k:] * dt[k:]) / max(np.sum(dt[k:]), 1e-300)
        if abs(m2 - m1) > tol * max(abs(m2), 1e-12):
            return False
    return True


def _comm_world():
    from mpi4py import MPI
    return MPI.COMM_WORLD


def _same_trajectory(a: Config, b_text: str) -> str | None:
    """Name the first field that differs between a config and a stored namelist, ignoring
    the fields that may change on resumption; None if they agree."""
    import io
    import f90nml
    b = f90nml.read(io.StringIO(b_text))
    for g, fields in SCHEMA.items():
        for k in fields:
            if (g, k) in _RESUMABLE_CHANGES:
                continue
            va, vb = a[g][k], b.get(g, {}).get(k)
            if isinstance(va, float) and vb is not None:
                same = np.isclose(va, float(vb), rtol=1e-14, atol=0)
            else:
                same = va == vb
            if not same:
                return f"&{g} {k}"
    return None


class Simulation:
    def __init__(self, cfg: Config, comm=None, provider: VelocityProvider | None = None,
                 resume: bool = True):
        self.cfg = cfg
        self.grid = cfg.grid()
        self.comm = comm if comm is not None else _comm_world()
        self.rank = self.comm.Get_rank()
        from petsc4py import PETSc
        self.provider = provider or make_provider(cfg, self.grid, comm=PETSc.Comm(self.comm))
        tm = cfg["time"]
        self.energy = EnergySolver(self.grid, limiter=tm["limiter"], courant=tm["courant"],
                                   dt_max=tm["dt_max"])
        self.outdir = Path(cfg["output"]["directory"])
        self.resume = resume
        self._stop_signal = None
        self.progress_position = None      # set by campaigns: a nested bar that goes away
        # The approximate providers get the hybrid rollout's T clip (model.md 7)
        self.clip_temperature = cfg["stokes"]["solver"] in ("surrogate", "galerkin")
        ph = cfg["physics"]
        self.viscosity = ViscosityField(self.grid.centres()[1], ph["gamma"], ph["beta"],
                                        ph["eta_min"], ph["eta_max"])

    # -- helpers ----------------------------------------------------------------------------
    def _heating(self, t):
        ph = self.cfg["physics"]
        return heating_rate(t, ph["q"], ph["heating"], ph["decay_rate"])

    def _source(self, t, dt, T, u, v, eta_c, eta_n):
        """Heat source of the step from t to t + dt: the heating at mid-step (second order
        for a decaying Q), plus the EBA terms of the current state."""
        ph = self.cfg["physics"]
        q = self._heating(t + 0.5 * dt)
        if ph["di"] > 0.0:
            if ph["ra"] <= 0.0:
                raise ConfigError("&physics di > 0 needs ra > 0 (dissipation scales with Di/Ra)")
            return q + self.energy.eba_source(T, u, v, eta_c, eta_n, ph["di"], ph["ra"],
                                              ph["t_surface"])
        return q

    def _on_signal(self, signum, _frame):
        self._stop_signal = signum

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run (or resume) to the end time, holding the output folder's lock (lock.py):
        a second process on the same folder is refused before anything is written."""
        from .lock import DirectoryLock, FolderBusy
        lock, busy = None, None
        if self.rank == 0:
            try:
                lock = DirectoryLock(self.outdir, "output folder").acquire()
            except FolderBusy as exc:
                busy = str(exc)
        busy = self.comm.bcast(busy, root=0)
        if busy is not None:
            raise FolderBusy(busy)
        try:
            return self._run()
        finally:
            if lock is not None:
                lock.release()

    def _run(self) -> RunResult:
        cfg, grid = self.cfg, self.grid
        keep_freed_memory()            # no page faults for the per-step temporaries
        tm, out = cfg["time"], cfg["output"]
        root = self.rank == 0
        if root:
            self.outdir.mkdir(parents=True, exist_ok=True)
        run_file = self.outdir / RUN_FILE
        part = self.outdir / (RUN_FILE + PART_SUFFIX)
        ckpt = self.outdir / CHECKPOINT_FILE

        hist: dict[str, list] = {k: [] for k in ("step", "time", *HISTORY_FIELDS)}
        resumed_from = None
        n_snap = 0
        state = None
        if self.resume and ckpt.is_file():
            stored_nml, state, h, n_snap = read_checkpoint(ckpt)
            diff = _same_trajectory(cfg, stored_nml)
            if diff is not None:
                raise ConfigError(f"{diff} differs from the run stored in {str(self.outdir)!r}; "
                                  "choose another output directory or pass --overwrite")
            for k in hist:
                hist[k] = list(h.get(k, []))
            resumed_from = state["step"]
            if root and run_file.is_file() and not part.is_file():
                os.replace(run_file, part)      # extending a finished run
        elif root:
            for f in (run_file, part, ckpt):
                if f.exists():
                    f.unlink()
        self.comm.Barrier()

        if state is not None:
            T = state["T"].copy()
            n, t = state["step"], state["time"]
            u, v, p = state["u"], state["v"], state["p"]
            self.provider.restore(u, v, p)
        else:
            T = initial_temperature(cfg, grid)
            n, t = 0, 0.0
            u = np.zeros(grid.u_shape)
            v = np.zeros(grid.v_shape)
            p = np.zeros(grid.shape)
        ds = None
        if root:
            if state is not None and part.is_file():
                import netCDF4
                ds = netCDF4.Dataset(part, "a")
            else:
                ds = create_run_file(part, cfg, grid)

        old_handlers = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:      # not the main thread: keep the default handlers
                pass
        bar = None
        if root and out["progress"]:
            from tqdm import tqdm
            bar = tqdm(total=tm["end_time"], initial=min(t, tm["end_time"]), unit="",
                       bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}]{postfix}",
                       desc=f"run {self.provider.name}", dynamic_ncols=True,
                       position=self.progress_position,
                       leave=self.progress_position is None)
        wall0 = _time.perf_counter()
        status = "finished"
        steady_ref = None
        try:
            while True:
                if self._stop_signal is not None:
                    self._checkpoint(ckpt, ds, T, u, v, p, n, t, hist, n_snap)
                    raise Interrupted(f"stopped by signal {self._stop_signal} at step {n}; "
                                      f"resume by running the same command again")
                if n % out["checkpoint_every"] == 0 and n != resumed_from and n > 0:
                    self._checkpoint(ckpt, ds, T, u, v, p, n, t, hist, n_snap)
                    self.provider.force_refresh()
                self.provider.prefetch(n, T)      # a GPU network runs while the host
                eta_c, eta_n = self.viscosity(T)  # builds the viscosity (reused buffers)
                u, v, p, its = self.provider.velocities(n, T, eta_c, eta_n)
                finished = (t >= tm["end_time"] * (1 - 1e-12) or n >= tm["max_steps"])
                # Either steady-state test may end the run at this step, which then needs
                # its diagnostics now (the plain test also compares them)
                steady_test = n % STEADY_WINDOW == 0 and (tm["steady_tol"] > 0
                                                          or tm["stat_window"] > 0)
                # The diagnostics wait until the next step's velocities are under way
                # (below), unless this step's stopping tests need them now.
                d = compute(grid, T, u, v, eta_c, eta_n) if finished or steady_test else None
                if tm["steady_tol"] > 0 and n % STEADY_WINDOW == 0:
                    if steady_ref is not None and t > steady_ref[0]:
                        rate = max(abs(d[k] - steady_ref[1][k]) / max(abs(d[k]), 1e-300)
                                   for k in ("Nu_top", "Nu_bottom", "Vrms")) / (t - steady_ref[0])
                        if rate < tm["steady_tol"]:
                            finished, status = True, "steady"
                    steady_ref = (t, d)
                if (tm["stat_window"] > 0 and n % STEADY_WINDOW == 0 and not finished
                        and statistically_steady(hist, tm["stat_window"], tm["stat_tol"])):
                    finished, status = True, "statistically steady"
                if n % out["snapshot_every"] == 0 or finished:
                    if ds is not None:
                        write_snapshot(ds, n_snap, n, t, T, u, v, p, eta_c)
                    n_snap += 1
                dt = 0.0 if finished else min(self.energy.time_step(u, v), tm["end_time"] - t)
                if d is not None:
                    self._record(hist, d, n, t, dt, its)
                if finished:
                    break
                source = self._source(t, dt, T, u, v, eta_c, eta_n)
                T_good = T.copy()
                self.energy.step(T, u, v, source, dt)
                if self.clip_temperature:      # the hybrid rollout (model.md 7): T in [0, 2]
                    np.clip(T, 0.0, 2.0, out=T)
                if d is None:
                    # A GPU provider starts on step n+1 now (before the checks below, which
                    # it need not wait for: a blow-up stops the loop all the same); its
                    # velocities go to another buffer, so u, v, eta and T_good stay this
                    # step's for the diagnostics.
                    self.provider.prefetch(n + 1, T)
                bad = not (np.isfinite(T).all() and np.isfinite(u).all()
                           and np.isfinite(v).all()) or T.min() < T_FLOOR or T.max() > T_CEIL
                if d is None:
                    d = self._record(hist, compute(grid, T_good, u, v, eta_c, eta_n),
                                     n, t, dt, its)
                if bad:
                    self._checkpoint(ckpt, ds, T_good, u, v, p, n, t, hist, n_snap)
                    raise BlowUp(f"step {n}, t = {t:.6g}: temperature left [{T_FLOOR}, "
                                 f"{T_CEIL}] or a field is not finite (T min "
                                 f"{np.nanmin(T):.3g}, max {np.nanmax(T):.3g}); "
                                 f"last good state saved in {ckpt}")
                t += dt
                n += 1
                if bar is not None and (n % 10 == 0):
                    bar.n = min(t, tm["end_time"])
                    bar.set_postfix_str(f"step={n} Nu={d['Nu_top']:.3f} Vrms={d['Vrms']:.3g}",
                                        refresh=False)
                    bar.refresh()
        except BaseException:
            if ds is not None and ds.isopen():
                ds.close()             # what was synced at the last checkpoint stays valid
            self.provider.close()
            raise
        finally:
            for sig, h in old_handlers.items():
                signal.signal(sig, h)
            if bar is not None:
                bar.n = min(t, tm["end_time"])
                bar.close()
        wall = _time.perf_counter() - wall0
        # The end state is checkpointed too, so that a longer end_time extends the run. The
        # checkpoint leaves out the end state's own history entry and snapshot: the
        # extension recomputes them at the same step and overwrites them in place.
        full = {k: np.asarray(vals) for k, vals in hist.items()}
        self._checkpoint(ckpt, ds, T, u, v, p, n, t, {k: a[:-1] for k, a in full.items()},
                         n_snap - 1)
        if ds is not None:
            write_history(ds, full)
            ds.wall_time = wall
            ds.status = status
            ds.close()
            os.replace(part, run_file)
        self.comm.Barrier()
        self.provider.close()
        final = {k: hist[k][-1] for k in HISTORY_FIELDS}
        res = RunResult(self.outdir, run_file, n, t, wall, final, resumed_from, status)
        if root and out["plots"]:
            from .plots import plot_run
            plot_run(run_file, self.outdir)
        return res

    def _record(self, hist, d, n, t, dt, its):
        """Append the diagnostics d of step n (at time t, step length dt) to the history."""
        d.update(heating=self._heating(t), dt=dt, stokes_iterations=its,
                 stokes_residual=getattr(self.provider, "last_residual", float("nan")),
                 direct_solve=float(getattr(self.provider, "solved", False)))
        hist["step"].append(n)
        hist["time"].append(t)
        for k in HISTORY_FIELDS:
            hist[k].append(d[k])
        return d

    def _checkpoint(self, ckpt, ds, T, u, v, p, n, t, hist, n_snap):
        if ds is None:
            return
        write_history(ds, {k: np.asarray(vals) for k, vals in hist.items()})
        ds.sync()
        write_checkpoint(ckpt, self.cfg, {"T": T, "u": u, "v": v, "p": p, "step": n, "time": t},
                         {k: np.asarray(vals, float) for k, vals in hist.items()}, n_snap)


def run(cfg: Config, comm=None, resume: bool = True) -> RunResult:
    return Simulation(cfg, comm=comm, resume=resume).run()
