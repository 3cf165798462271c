"""Simulation campaigns: many runs over sampled (Q, gamma, beta), the training data.

    pymantle campaign --preset ci|laptop|paper [NAMELIST] [--out DIR] [--n N] [--seed S]
    mpiexec -n K pymantle campaign ...        (simulations spread over the ranks)

Layout of a campaign directory:
    campaign.json           the campaign's settings (preset, box, seed, sets)
    index.csv               one row per simulation: parameters, split, status, snapshot
                            count, steps, model time, wall time, error
    sims/sim-NNNN/          a normal run directory (run.nc, checkpoint.nc, status.json)

Sampling: Q uniform in [q_min, q_max]; gamma and beta log-uniform in the preset's box
(docs/theory.md section 3), with a seed. Splits: train / cv / test in the study's 94 : 16 : 18 ratio.
Each simulation starts hot and runs until statistical steady state (the time means of
mean T and Nu_top over two consecutive windows agree to stat_tol) or its time/step limit,
storing a snapshot every 100 steps. Rerunning the same command skips finished
simulations, resumes unfinished ones from their checkpoints, and records failures.
"""
from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from . import config as _config
from .campaign_index import (DONE, INDEX_FIELDS, Campaign, SimSpec, read_index,  # noqa: F401
                             select_snapshots)
from .config import ConfigError

DATA = Path(__file__).resolve().parent / "data"
SPLIT_RATIO = {"train": 94, "cv": 16, "test": 18}     # the study's 128 simulations


@dataclass
class CampaignPreset:
    grid: str
    n_sims: int
    q: tuple[float, float]
    gamma: tuple[float, float]
    beta: tuple[float, float]
    end_time: float          # time limit of each simulation
    max_steps: int           # step limit of each simulation
    stat_window: float       # statistical steady-state window (0: run to the limit)
    snapshot_every: int = 100
    checkpoint_every: int = 500


PRESETS = {
    # seconds in total: tiny grid, short runs, a snapshot every 5 steps
    "ci": CampaignPreset("ci", 6, (0.0, 10.0), (1e4, 1e6), (1.0, 10.0), end_time=1.0,
                         max_steps=40, stat_window=0.0, snapshot_every=5,
                         checkpoint_every=10),
    # 32x128: a box the grid resolves (docs/guide/campaigns.md: the check of its vigorous corner)
    # (velocities up to ~1.5e3 at its vigorous corner Q=10, gamma=1e6, beta=3 by the Eq. 4
    # fit, so a step is >= 5e-6 and a run to statistical steady state fits in minutes)
    "laptop": CampaignPreset("laptop", 64, (0.0, 10.0), (1e5, 1e6), (3.0, 30.0),
                             end_time=0.3, max_steps=20000, stat_window=0.05),
    # the study: 126x504, Q in [0, 10], gamma in [1e6, 1e10], beta in [1, 100]
    "paper": CampaignPreset("paper", 128, (0.0, 10.0), (1e6, 1e10), (1.0, 100.0),
                            end_time=1.0, max_steps=100000, stat_window=0.05),
}


def sample_parameters(n: int, preset: CampaignPreset, seed: int) -> list[SimSpec]:
    """Q uniform, gamma and beta log-uniform in the box; splits in the study's ratio."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(*preset.q, n)
    gamma = 10 ** rng.uniform(*np.log10(preset.gamma), n)
    beta = 10 ** rng.uniform(*np.log10(preset.beta), n)
    return [SimSpec(i, s, float(q[i]), float(gamma[i]), float(beta[i]))
            for i, s in enumerate(assign_splits(n, rng))]


def assign_splits(n: int, rng) -> list[str]:
    total = sum(SPLIT_RATIO.values())
    n_cv = max(1, round(n * SPLIT_RATIO["cv"] / total)) if n >= 3 else 0
    n_test = max(1, round(n * SPLIT_RATIO["test"] / total)) if n >= 3 else 0
    labels = ["cv"] * n_cv + ["test"] * n_test + ["train"] * (n - n_cv - n_test)
    return [labels[k] for k in rng.permutation(n)]


def paper_parameters() -> list[SimSpec]:
    """The study's 130 parameter sets (docs/theory.md section 3), the two dropped ones excluded."""
    out = []
    with open(DATA / "paper-simulations.csv") as fh:
        for row in csv.DictReader(fh):
            if row["excluded"].strip().lower() == "yes":
                continue
            out.append(SimSpec(int(row["index"]), row["split"], float(row["Q"]),
                               float(row["gamma"]), float(row["beta"])))
    return out


def sim_config(camp: Campaign, spec: SimSpec, preset: CampaignPreset, base: _config.Config):
    cfg = _config.Config({g: dict(v) for g, v in base.items()})
    cfg["grid"]["preset"] = preset.grid
    ph = cfg["physics"]
    ph["q"], ph["gamma"], ph["beta"] = spec.Q, spec.gamma, spec.beta
    cfg["initial"]["kind"] = "hot"
    cfg["initial"]["seed"] = spec.sim
    tm = cfg["time"]
    tm["end_time"], tm["max_steps"] = preset.end_time, preset.max_steps
    tm["stat_window"] = preset.stat_window
    out = cfg["output"]
    out["directory"] = str(camp.sim_dir(spec.sim))
    out["snapshot_every"], out["checkpoint_every"] = preset.snapshot_every, preset.checkpoint_every
    out["plots"] = False
    return cfg


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_status(camp: Campaign, i: int) -> dict:
    p = camp.sim_dir(i) / "status.json"
    if not p.is_file():
        return {"status": "running" if (camp.sim_dir(i) / "checkpoint.nc").exists() else "pending"}
    try:
        return json.loads(p.read_text())
    except ValueError:
        return {"status": "pending", "error": f"unreadable {p}"}


def write_index(camp: Campaign) -> Path:
    rows = []
    for s in camp.sims:
        st = read_status(camp, s.sim)
        rows.append({**asdict(s), "status": st.get("status"),
                     "n_snapshots": st.get("n_snapshots", 0), "steps": st.get("steps", 0),
                     "time": st.get("time", 0.0), "wall_time": st.get("wall_time", 0.0),
                     "error": st.get("error", "")})
    import io
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=INDEX_FIELDS)
    w.writeheader()
    w.writerows(rows)
    path = camp.directory / "index.csv"
    _atomic_write(path, buf.getvalue())
    return path


def check_run_file(path: Path) -> int:
    """Number of snapshots of a finished run file; CorruptFile if it cannot be read."""
    import netCDF4
    from .output import CorruptFile
    try:
        with netCDF4.Dataset(path) as ds:
            n = len(ds.dimensions["time"])
            ds["T"][n - 1] if n else None        # touch the last record: catches truncation
            return n
    except (OSError, KeyError, IndexError, RuntimeError) as exc:
        raise CorruptFile(f"{path}: unreadable or truncated NetCDF file ({exc})") from None


#: What a campaign's box may span (the namelist's own limits on q, gamma and beta)
BOX_LIMITS = {"q": (0.0, 1e4), "gamma": (1.0, 1e12), "beta": (1.0, 1e6)}


def campaign_preset(preset_name: str, box: dict | None = None) -> CampaignPreset:
    """The preset, with its (Q, gamma, beta) box replaced where `box` gives a range
    ({'q': (lo, hi), ...}): a campaign over a user's own parameter box."""
    if preset_name not in PRESETS:
        raise ConfigError(f"--preset {preset_name!r}: allowed " + ", ".join(PRESETS))
    preset = PRESETS[preset_name]
    for key, rng in (box or {}).items():
        lo, hi = (float(v) for v in rng)
        a, b = BOX_LIMITS[key]
        if not a <= lo < hi <= b:
            raise ConfigError(f"--{key} {lo:g},{hi:g}: allowed {a:g} <= low < high <= {b:g}")
        preset = replace(preset, **{key: (lo, hi)})
    return preset


def setup(directory: Path, preset_name: str, n: int | None, seed: int,
          paper_sets: bool, refine=None, box: dict | None = None) -> tuple[Campaign, dict]:
    """Create or reopen a campaign; a rerun must name the same settings. refine: a
    campaign_refine.RefinePlan (the runs start from another campaign's snapshots); box:
    ranges of q, gamma, beta in place of the preset's."""
    preset = campaign_preset(preset_name, box)
    if box and (refine is not None or paper_sets):
        raise ConfigError("--q/--gamma/--beta set the box of sampled parameters: not with "
                          "--refine or --paper-sets")
    directory = Path(directory)
    meta = {"preset": preset_name, "seed": seed, "paper_sets": paper_sets,
            "n_sims": n or preset.n_sims, "box": {"Q": preset.q, "gamma": preset.gamma,
                                                  "beta": preset.beta}}
    if paper_sets and preset_name != "paper":
        raise ConfigError("--paper-sets needs --preset paper (the study's grid and box)")
    if refine is not None:
        if paper_sets or n:
            raise ConfigError("--refine takes its runs from the source campaign: no "
                              "--paper-sets or --n with it")
        sims = refine.sims()
        meta.update(n_sims=len(sims), refine=refine.meta(), box=refine.box() or meta["box"])
    else:
        sims = (paper_parameters() if paper_sets
                else sample_parameters(meta["n_sims"], preset, seed))
    if paper_sets:
        meta["n_sims"] = len(sims)
    mfile = directory / "campaign.json"
    if mfile.is_file():
        old = json.loads(mfile.read_text())
        now = json.loads(json.dumps(meta))          # as stored: tuples are lists there
        for k in ("preset", "seed", "paper_sets", "n_sims", "refine", "box"):
            if old.get(k) != now.get(k):
                raise ConfigError(f"{directory} holds a campaign with {k} = {old.get(k)!r}, "
                                  f"not {meta.get(k)!r}: choose another --out")
    return Campaign(directory, preset_name, seed, sims), meta


def run_campaign(directory, preset_name="laptop", base: _config.Config | None = None,
                 n: int | None = None, seed: int = 0, paper_sets: bool = False,
                 progress: bool = True, retry_failed: bool = False, comm=None,
                 simulation_factory=None, echo=print, refine=None,
                 box: dict | None = None) -> Campaign:
    from mpi4py import MPI
    comm = comm or MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    from .lock import DirectoryLock, FolderBusy
    camp, meta = setup(Path(directory), preset_name, n, seed, paper_sets, refine, box)
    preset = campaign_preset(preset_name, box)
    base = base or _config.defaults()
    lock, busy = None, None
    if rank == 0:
        try:
            lock = DirectoryLock(camp.directory, "campaign folder").acquire()
        except FolderBusy as exc:
            busy = str(exc)
    busy = comm.bcast(busy, root=0)
    if busy is not None:
        raise FolderBusy(busy)
    try:
        return _run_locked(camp, meta, preset, base, comm, progress, retry_failed,
                           simulation_factory, echo, refine)
    finally:
        if lock is not None:
            lock.release()


def run_array_task(directory, index: int, preset_name="laptop",
                   base: _config.Config | None = None, n: int | None = None, seed: int = 0,
                   paper_sets: bool = False, retry_failed: bool = False, progress: bool = True,
                   simulation_factory=None, echo=print, refine=None,
                   box: dict | None = None) -> Campaign:
    """One simulation of a campaign, the index-th (0-based) in its order: a scheduler's job
    array runs the whole campaign, one array task per simulation, all on one folder.

    The rules are the MPI task farm's: a finished simulation is skipped, an unfinished one
    resumes from its checkpoint, a failure is recorded in its status.json and index.csv.
    No task holds the campaign folder's lock (all share it); each simulation's own run
    folder is locked by its run, so two tasks with one index cannot both write it (the
    second stops with one line, recording nothing). Every task rewrites index.csv from the
    status files, atomically, when it ends."""
    from .simulation import Simulation  # noqa: F401  (import errors before any writing)
    camp, meta = setup(Path(directory), preset_name, n, seed, paper_sets, refine, box)
    if not 0 <= index < len(camp.sims):
        raise ConfigError(f"--array-index {index}: allowed 0..{len(camp.sims) - 1} (this "
                          f"campaign has {len(camp.sims)} simulations)")
    (camp.directory / "sims").mkdir(parents=True, exist_ok=True)
    _atomic_write(camp.directory / "campaign.json", json.dumps(meta, indent=1))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=1, desc=f"campaign task {index}", unit="sim", dynamic_ncols=True)
    try:
        _run_mine(camp, [camp.sims[index]], campaign_preset(preset_name, box),
                  base or _config.defaults(),
                  bar, retry_failed, simulation_factory, echo, 0, refine)
    finally:
        write_index(camp)
        if bar:
            bar.close()
    return camp


def _run_locked(camp, meta, preset, base, comm, progress, retry_failed, simulation_factory,
                echo, refine=None) -> Campaign:
    rank, size = comm.Get_rank(), comm.Get_size()
    if rank == 0:
        (camp.directory / "sims").mkdir(parents=True, exist_ok=True)
        _atomic_write(camp.directory / "campaign.json", json.dumps(meta, indent=1))
        write_index(camp)
    comm.Barrier()
    mine = camp.sims[rank::size]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(mine), desc=f"campaign rank {rank}" if size > 1 else "campaign",
                   unit="sim", position=rank, dynamic_ncols=True)
    try:
        _run_mine(camp, mine, preset, base, bar, retry_failed, simulation_factory, echo, rank,
                  refine)
    finally:
        if rank == 0:
            write_index(camp)
    if bar:
        bar.close()
    comm.Barrier()
    if rank == 0:
        write_index(camp)
    return camp


def _run_mine(camp, mine, preset, base, bar, retry_failed, simulation_factory, echo, rank,
              refine=None):
    from mpi4py import MPI
    from .lock import FolderBusy
    from .output import CorruptFile
    from .simulation import Interrupted, Simulation
    for spec in mine:
        sdir = camp.sim_dir(spec.sim)
        st = read_status(camp, spec.sim)
        if st["status"] == "failed" and not retry_failed:
            if bar:
                bar.update()
            continue
        if st["status"] in DONE:
            try:
                check_run_file(sdir / "run.nc")
                if bar:
                    bar.update()
                continue
            except CorruptFile as exc:
                echo(f"campaign: sim {spec.sim}: {exc}; running it again")
                for f in ("run.nc", "checkpoint.nc", "status.json"):
                    (sdir / f).unlink(missing_ok=True)
        sdir.mkdir(parents=True, exist_ok=True)
        cfg = sim_config(camp, spec, preset, base)
        if refine is not None:
            refine.apply(cfg, spec)
        cfg["output"]["progress"] = bar is not None     # the current run's own bar, below
        if bar:
            bar.set_postfix_str(f"sim {spec.sim}: Q={spec.Q:.2f} gamma={spec.gamma:.2e} "
                                f"beta={spec.beta:.1f}")
        t0 = time.perf_counter()
        try:
            sim = (simulation_factory or Simulation)(cfg, comm=MPI.COMM_SELF)
            sim.progress_position = rank + 1 if bar is not None else None
            res = sim.run()
            status = {"status": res.status, "steps": res.steps, "time": res.time,
                      "wall_time": time.perf_counter() - t0,
                      "n_snapshots": check_run_file(res.run_file)}
        except (KeyboardInterrupt, Interrupted, FolderBusy):
            raise                   # stopped from outside, or another process runs it:
            #                         resumable, not a failure
        except Exception as exc:    # recorded, and the campaign goes on
            status = {"status": "failed", "wall_time": time.perf_counter() - t0,
                      "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
            echo(f"campaign: sim {spec.sim} failed: {status['error']}")
        _atomic_write(sdir / "status.json", json.dumps(status))
        if rank == 0:
            write_index(camp)       # status files are the truth; the index follows them
        if bar:
            bar.update()
