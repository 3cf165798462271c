"""The time loop: viscosity -> velocity provider -> diagnostics/output -> energy step.

`Simulation.step` advances a `RunState` by one step; `Simulation.run` starts or resumes a
run, calls `step` until a termination criterion (termination/) ends it, and leaves the
writing to the output hook (run_files.RunFiles) and the progress bar (progress.py).
Benchmarks and GPU checks drive `start` and `step` themselves.

A step's diagnostics are taken after its energy step, once the provider has been asked for
the next step's velocities (`prefetch`), so that a GPU network computes them while the host
does the diagnostics and the next viscosity; steps whose stopping tests need the
diagnostics take them first. Either way they describe the state at the start of the step.

Restarts are exact: a checkpoint is written at the start of every checkpoint_every-th step
(before its Stokes solve), and the velocity provider refreshes its factorisation at exactly
those steps, so a run resumed from a checkpoint repeats the uninterrupted run bit for bit.
A checkpoint anywhere else could not be (the lagged solvers' factorisation, the skipped
solves' stored flow and the Galerkin memory would differ), so SIGINT/SIGTERM runs on to the
next scheduled checkpoint if that takes at most SIGNAL_GRACE_S seconds, and otherwise stops
at once, keeping the last one (resuming then repeats the steps since, exactly); a second
signal stops at once. A blow-up (non-finite T, or T outside [T_FLOOR, T_CEIL]) stops with
the state at the start of the failing step saved: rerunning it repeats the blow-up without
duplicating anything, and it can be continued with a smaller &time courant or dt_max.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import termination
from .allocator import keep_freed_memory
from .config import Config
from .diagnostics import HISTORY_FIELDS, compute
from .energy import EnergySolver
from .initial import initial_temperature
from .physics import ViscosityField, heating_rate
from .progress import RunProgress
from .providers import VelocityProvider, make_provider
from .run_files import RunFiles
from .temperature_bounds import TemperatureBounds

T_FLOOR, T_CEIL = -1.0, 5.0          # the study's solver met T up to 1.35
SIGNAL_GRACE_S = 10.0                 # run on to the next checkpoint if it is this close
#: the time step keeps the internal heating's temperature rise per step below this (of the
#: unit temperature scale): it binds only far outside the study's range (Q dt <= 0.04 at
#: Q = 10 on the coarsest grid), where it lets a strongly heated run take steps and stop
#: cleanly at T_CEIL instead of failing its first step
HEATING_RISE_MAX = 0.05
#: A clip by more than this is the flow's error, not round-off: said once per run
CLIP_NOTICE = 1e-6


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
    warnings: list = field(default_factory=list)     # e.g. not approaching steady state
    total_wall_time: float = 0.0      # all sessions of a resumed run (wall_time: this one)


@dataclass
class RunState:
    """The run at the start of step n: temperature, the last velocities and pressure,
    the model time, snapshots written so far and the diagnostics history."""
    T: np.ndarray
    u: np.ndarray
    v: np.ndarray
    p: np.ndarray
    n: int = 0
    t: float = 0.0
    n_snap: int = 0
    hist: dict = field(default_factory=lambda: {k: [] for k in ("step", "time",
                                                                 *HISTORY_FIELDS)})
    diag: dict | None = None          # the last step's diagnostics
    wall_before: float = 0.0          # wall time of the earlier sessions of a resumed run


def _comm_world():
    from mpi4py import MPI
    return MPI.COMM_WORLD


class Simulation:
    def __init__(self, cfg: Config, comm=None, provider: VelocityProvider | None = None,
                 resume: bool = True):
        self.cfg = cfg
        self.grid = cfg.grid()
        self.comm = comm if comm is not None else _comm_world()
        self.rank = self.comm.Get_rank()
        from petsc4py import PETSc
        if cfg["stokes"]["petsc_options"] and provider is None:
            from .stokes import check_petsc_options
            check_petsc_options(cfg["stokes"]["petsc_options"])
        self.provider = provider or make_provider(cfg, self.grid, comm=PETSc.Comm(self.comm))
        tm = cfg["time"]
        self.energy = EnergySolver(self.grid, limiter=tm["limiter"], courant=tm["courant"],
                                   dt_max=tm["dt_max"])
        self.outdir = Path(cfg["output"]["directory"])
        self.files = RunFiles(cfg, self.grid, self.outdir, root=self.rank == 0)
        self.criteria = termination.from_config(tm)
        self.resume = resume
        self.resumed_from: int | None = None
        self.last_checkpoint: int | None = None
        self._signals: list[int] = []
        self._said: set[str] = set()
        self._T0: np.ndarray | None = None        # the initial field, read before the lock
        self._loop_start: tuple[float, int] | None = None     # (wall clock, step)
        self.progress_position = None      # set by campaigns: a nested bar that goes away
        # The approximate providers get the hybrid rollout's T clip to the bounds of the
        # maximum principle (temperature_bounds.py, docs/theory.md section 7)
        self.clip_temperature = self.provider.approximate
        self.bounds: TemperatureBounds | None = None
        ph = cfg["physics"]
        self.viscosity = ViscosityField(self.grid.centres()[1], ph["gamma"], ph["beta"],
                                        ph["eta_min"], ph["eta_max"])

    # -- physics of a step --------------------------------------------------------------------
    def _heating(self, t):
        ph = self.cfg["physics"]
        return heating_rate(t, ph["q"], ph["heating"], ph["decay_rate"])

    def time_step(self, s: RunState) -> float:
        """The energy solver's stable step, bounded by the heating (HEATING_RISE_MAX) and
        cut to land on end_time."""
        dt = self.energy.time_step(s.u, s.v)
        q = abs(self._heating(s.t))
        if q * dt > HEATING_RISE_MAX:
            dt = HEATING_RISE_MAX / q
        return min(dt, self.cfg["time"]["end_time"] - s.t)

    # -- starting -----------------------------------------------------------------------------
    def start(self) -> RunState:
        """The state to run from: the checkpoint's if resuming, else the initial one; the
        run file is opened for writing (rank 0)."""
        T0 = self._T0 if self._T0 is not None else self._initial_temperature()
        stored = self.files.stored_state(self.resume)
        self.comm.Barrier()
        grid = self.grid
        if stored is None:
            s = RunState(T0 if T0 is not None else initial_temperature(self.cfg, grid),
                         np.zeros(grid.u_shape),
                         np.zeros(grid.v_shape), np.zeros(grid.shape))
            self.bounds = TemperatureBounds.from_initial(s.T, self.cfg["physics"],
                                                         self.energy.t_top,
                                                         self.energy.t_bottom)
        else:
            state, h, n_snap = stored
            s = RunState(state["T"].copy(), state["u"], state["v"], state["p"],
                         state["step"], state["time"], n_snap,
                         wall_before=state.get("wall_time", 0.0))
            for k in s.hist:
                s.hist[k] = list(h.get(k, []))
            self.provider.restore(s.u, s.v, s.p)
            self.resumed_from = self.last_checkpoint = s.n
            self.bounds = TemperatureBounds.from_state(state, s.T, self.cfg["physics"])
        self.files.bounds = self.bounds.as_state()
        self.files.open(stored)
        self._loop_start = (_time.perf_counter(), s.n)
        return s

    def _initial_temperature(self) -> np.ndarray | None:
        """The initial field of a fresh start, read before the output folder is made (a
        missing or unreadable restart/profile file then leaves nothing behind); None when
        a checkpoint will be resumed."""
        if self.resume and self.files.ckpt.is_file():
            return None
        return initial_temperature(self.cfg, self.grid)

    # -- one step -----------------------------------------------------------------------------
    def step(self, s: RunState) -> str | None:
        """Step s.n: checkpoint if due, velocities, stopping tests, snapshot, diagnostics
        and the energy step. Returns the run's status if it ends at this step (s then
        stays at step n), else None with s advanced to step n + 1."""
        self._checkpoint_if_due(s)
        self._stop_if_signalled(s)
        self.provider.prefetch(s.n, s.T)        # a GPU network runs while the host
        eta_c, eta_n = self.viscosity(s.T)      # builds the viscosity (reused buffers)
        s.u, s.v, s.p, its = self.provider.velocities(s.n, s.T, eta_c, eta_n)
        status, d = self._stopping_tests(s, eta_c, eta_n)
        if s.n % self.cfg["output"]["snapshot_every"] == 0 or status:
            self.files.snapshot(s.n_snap, s.n, s.t, s.T, s.u, s.v, s.p, eta_c)
            s.n_snap += 1
        dt = 0.0 if status else self.time_step(s)
        if d is not None:
            self._record(s.hist, d, s.n, s.t, dt, its)
        if status:
            s.diag = d
            return status
        self._advance(s, dt, its, eta_c, eta_n, d)
        return None

    def _stopping_tests(self, s: RunState, eta_c, eta_n) -> tuple[str | None, dict | None]:
        """The status if a criterion ends the run at this step, and the diagnostics if
        they were needed for it (otherwise they wait, see the module docstring)."""
        status = termination.first_stop([c for c in self.criteria
                                         if not c.needs_diagnostics(s.n)],
                                        s.n, s.t, None, s.hist)
        if status is None and not any(c.needs_diagnostics(s.n) for c in self.criteria):
            return None, None
        d = compute(self.grid, s.T, s.u, s.v, eta_c, eta_n)
        return termination.first_stop(self.criteria, s.n, s.t, d, s.hist), d

    def _advance(self, s: RunState, dt: float, its, eta_c, eta_n, d: dict | None) -> None:
        """The energy step from t to t + dt; a blow-up raises BlowUp with the state at the
        start of this step saved."""
        source = self.energy.source(s.t, dt, s.T, s.u, s.v, eta_c, eta_n, self.cfg["physics"])
        T_good = s.T.copy()
        self.energy.step(s.T, s.u, s.v, source, dt)
        if self.clip_temperature:      # the hybrid rollout (docs/theory.md section 7)
            self._clip(s, s.t + dt)
        if d is None:
            # A GPU provider starts on step n+1 now (before the checks below, which it need
            # not wait for: a blow-up stops the loop all the same); its velocities go to
            # another buffer, so u, v, eta and T_good stay this step's for the diagnostics.
            self.provider.prefetch(s.n + 1, s.T)
        bad = not (np.isfinite(s.T).all() and np.isfinite(s.u).all()
                   and np.isfinite(s.v).all()) or s.T.min() < T_FLOOR or s.T.max() > T_CEIL
        if d is None:
            d = self._record(s.hist, compute(self.grid, T_good, s.u, s.v, eta_c, eta_n),
                             s.n, s.t, dt, its)
        if bad:
            self._blow_up(s, T_good)
        s.t += dt
        s.n += 1
        s.diag = d

    def _clip(self, s: RunState, t: float) -> None:
        """T back inside the maximum principle's bounds at time t; said once per run when
        the flow's error has pushed it out by more than round-off."""
        excess = self.bounds.clip(s.T, t)
        if excess > CLIP_NOTICE and "clip" not in self._said:
            self._said.add("clip")
            if self.rank == 0:
                print(f"note: step {s.n}: the velocities took T {excess:.2g} outside the "
                      f"bounds of the maximum principle [{self.bounds.lower:.4g}, "
                      f"{self.bounds.upper(t):.4g}]; clipped (docs/theory.md section 7)",
                      file=sys.stderr, flush=True)

    def _blow_up(self, s: RunState, T_good: np.ndarray):
        """Save the state at the start of step n, without this step's history row and
        snapshot (a rerun makes them again), and raise BlowUp."""
        T_bad = s.T
        snap_here = s.n % self.cfg["output"]["snapshot_every"] == 0
        self.files.checkpoint(T_good, s.u, s.v, s.p, s.n, s.t,
                              {k: v[:-1] for k, v in s.hist.items()}, s.n_snap - snap_here,
                              self.wall_time(s))
        raise BlowUp(f"step {s.n}, t = {s.t:.6g}: temperature left [{T_FLOOR}, {T_CEIL}] or a "
                     f"field is not finite (T min {np.nanmin(T_bad):.3g}, max "
                     f"{np.nanmax(T_bad):.3g}); the state before this step is saved in "
                     f"{self.files.ckpt}: rerun with a smaller &time courant or dt_max to "
                     "continue from it")

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

    # -- checkpoints and signals ----------------------------------------------------------------
    def wall_time(self, s: RunState) -> float:
        """Wall time of the whole run so far, the sessions before a resume included."""
        return s.wall_before + _time.perf_counter() - self._loop_start[0]

    def _checkpoint_if_due(self, s: RunState) -> None:
        every = self.cfg["output"]["checkpoint_every"]
        if s.n % every == 0 and s.n != self.resumed_from and s.n > 0:
            self.files.checkpoint(s.T, s.u, s.v, s.p, s.n, s.t, s.hist, s.n_snap,
                                  self.wall_time(s))
            self.last_checkpoint = s.n
            self.provider.force_refresh()

    def _on_signal(self, signum, _frame):
        self._signals.append(signum)

    def _stop_if_signalled(self, s: RunState) -> None:
        """After a SIGINT/SIGTERM: stop here if the state is checkpointed at this step (or
        is the initial one), run on if the next checkpoint is at most SIGNAL_GRACE_S away,
        else stop, keeping the last checkpoint. Decided on rank 0 for all ranks."""
        count = len(self._signals)
        if self.comm.Get_size() > 1:
            from mpi4py import MPI
            count = self.comm.allreduce(count, op=MPI.MAX)
        if not count:
            return
        message = self._signal_decision(s, count) if self.rank == 0 else None
        if self.comm.Get_size() > 1:
            message = self.comm.bcast(message, root=0)
        if message:
            raise Interrupted(message)

    def _signal_decision(self, s: RunState, count: int) -> str | None:
        sig = self._signals[0] if self._signals else signal.SIGTERM
        if s.n == self.last_checkpoint or (s.n == 0 and self.last_checkpoint is None):
            return (f"stopped by signal {sig} at step {s.n}; resume by running the same "
                    "command again")
        every = self.cfg["output"]["checkpoint_every"]
        wall0, n0 = self._loop_start
        per_step = (_time.perf_counter() - wall0) / (s.n - n0) if s.n > n0 else float("inf")
        to_next = (every - s.n % every) * per_step
        if count == 1 and to_next <= SIGNAL_GRACE_S:
            if not getattr(self, "_said_running_on", False):
                print(f"signal {sig}: running on to the checkpoint at step "
                      f"{s.n + every - s.n % every} (about {to_next:.1f} s; a second signal "
                      "stops at once)", file=sys.stderr, flush=True)
                self._said_running_on = True
            return None
        last = ("no checkpoint yet: the same command starts it again" if self.last_checkpoint
                is None else f"the last checkpoint is at step {self.last_checkpoint}: the same "
                "command resumes from it and repeats the steps since exactly")
        return f"stopped by signal {sig} at step {s.n}; {last}"

    @contextlib.contextmanager
    def _signal_handlers(self):
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:      # not the main thread: keep the default handlers
                pass
        try:
            yield
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run (or resume) to the end time, holding the output folder's lock (lock.py):
        a second process on the same folder is refused before anything is written."""
        from .lock import DirectoryLock, FolderBusy
        self._T0 = self._initial_temperature()     # before the lock makes the folder
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
        keep_freed_memory()            # no page faults for the per-step temporaries
        s = self.start()
        tm = self.cfg["time"]
        progress = RunProgress(self.rank == 0 and self.cfg["output"]["progress"], s.t,
                               tm["end_time"], self.provider.name, self.progress_position)
        wall0 = _time.perf_counter()
        status = None
        try:
            with self._signal_handlers():
                while status is None:
                    status = self.step(s)
                    progress.update(s.n, s.t, s.diag)
                    self._say_warnings(s.n)
        except BaseException:
            self.files.abort()
            self.provider.close()
            raise
        finally:
            progress.close(s.t)
        return self._finish(s, status, _time.perf_counter() - wall0)

    def warnings(self) -> list[str]:
        """What the termination criteria found worth saying (see SteadyState.warning)."""
        return [c.warning for c in self.criteria if getattr(c, "warning", None)]

    def _say_warnings(self, n: int) -> None:
        for w in self.warnings():
            if w not in self._said:
                self._said.add(w)
                if self.rank == 0:
                    print(f"warning: step {n}: {w}", file=sys.stderr, flush=True)

    def _finish(self, s: RunState, status: str, wall: float) -> RunResult:
        """Checkpoint the end state (so that a longer end_time extends the run), write the
        run file, plot. The checkpoint leaves out the end state's own history entry and
        snapshot: the extension recomputes them at the same step and overwrites them."""
        full = {k: np.asarray(vals) for k, vals in s.hist.items()}
        self.files.checkpoint(s.T, s.u, s.v, s.p, s.n, s.t,
                              {k: a[:-1] for k, a in full.items()}, s.n_snap - 1,
                              s.wall_before + wall)
        self.files.finish(full, wall, status, s.wall_before + wall)
        self.comm.Barrier()
        self.provider.close()
        final = {k: s.hist[k][-1] for k in HISTORY_FIELDS}
        res = RunResult(self.outdir, self.files.run_file, s.n, s.t, wall, final,
                        self.resumed_from, status, self.warnings(), s.wall_before + wall)
        if self.rank == 0 and self.cfg["output"]["plots"]:
            from .plots import plot_run
            plot_run(self.files.run_file, self.outdir)
        return res


def run(cfg: Config, comm=None, resume: bool = True) -> RunResult:
    return Simulation(cfg, comm=comm, resume=resume).run()
