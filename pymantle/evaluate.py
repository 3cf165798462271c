"""Evaluation of the hybrid rollout against the reference solver (docs/theory.md section 7; arXiv:2505.16041).

For each chosen simulation (parameters and seeded hot start from a campaign's index) every
velocity provider runs to the same end time:

    direct      MUMPS every step (the reference)
    skip        Stokes every `skip` steps (the momentum-skip baseline, 100 by default)
    iterative   BiCGStab with under-relaxation 0.99
    lagged      MUMPS factorisation reused as a Krylov preconditioner
    surrogate   the CNN (2 warm-up steps with the direct solver)
    surrogate-galerkin, surrogate-galerkin-memory
                the CNN's flow Galerkin-corrected, without and with memory
    galerkin    the same correction with no network (the hats and the memory)
    galerkin-refresh, surrogate-galerkin-refresh, surrogate-refresh
                galerkin, surrogate-galerkin-memory or the CNN with the direct solver every
                `skip` steps: as many solves as the momentum-skip baseline
    surrogate-guard, galerkin-guard, surrogate-galerkin-guard
                the CNN, galerkin or surrogate-galerkin-memory with &stokes guard_tol =
                `guard_tol`: a direct solve
                wherever the pressure-free residual exceeds it (stokes_residual.py)

and is compared with the reference: MAE of the horizontally averaged temperature profile
late in the run (time mean over the last `late` fraction of the snapshots), MAE of the
mean-temperature time series (on the reference's times), Pearson correlation of the final
T, u and v fields, final Nu and Vrms, the fraction of steps solved directly, and the
wall-clock speed-up at equal simulated time.
Writes results.csv, results.md and PNG figures (final fields side by side, profiles, time
series) into the output directory.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import config as _config
from .config import ConfigError

#: The network with its Galerkin correction and a direct solve every 20 steps
HYBRID = {"solver": "surrogate", "correction": "galerkin", "correction_memory": True,
          "refresh_every": 20}
#: The &stokes group of configs/hybrid.nml, the README's first command: HYBRID with the
#: learned step (network and correction) every 3rd step, extrapolated in between
FIRST_COMMAND = {**HYBRID, "every": 3, "extrapolate": True}

#: PETSc's reuse of earlier solutions as the Krylov solvers' initial guess (KSPGuess): the
#: projection onto the last solutions (Fischer 1998) and their POD with a Galerkin solve
FISCHER = "-stokes_ksp_guess_type fischer -stokes_ksp_guess_fischer_model 1,10"
POD = "-stokes_ksp_guess_type pod -stokes_ksp_guess_pod_size 10"

#: The evaluation's providers: the &stokes settings of each ("SKIP", "GUARD" and "EVERY"
#: stand for the --skip interval, the --guard-tol tolerance and the --every interval).
PROVIDER_SETTINGS = {
    "direct": {"solver": "direct"},
    "skip": {"solver": "direct", "every": "SKIP"},
    "skip-extrapolate": {"solver": "direct", "every": "SKIP", "extrapolate": True},
    "iterative": {"solver": "iterative"},
    "iterative-fischer": {"solver": "iterative", "petsc_options": FISCHER},
    "iterative-pod": {"solver": "iterative", "petsc_options": POD},
    "lagged": {"solver": "lagged"},
    "lagged-fischer": {"solver": "lagged", "petsc_options": FISCHER},
    "lagged-pod": {"solver": "lagged", "petsc_options": POD},
    "surrogate": {"solver": "surrogate"},
    "surrogate-every": {"solver": "surrogate", "every": "EVERY", "extrapolate": True},
    "surrogate-galerkin": {"solver": "surrogate", "correction": "galerkin",
                           "correction_memory": False},
    "surrogate-galerkin-memory": {"solver": "surrogate", "correction": "galerkin",
                                  "correction_memory": True},
    "galerkin": {"solver": "galerkin"},
    "galerkin-refresh": {"solver": "galerkin", "refresh_every": "SKIP"},
    "surrogate-galerkin-refresh": {"solver": "surrogate", "correction": "galerkin",
                                   "correction_memory": True, "refresh_every": "SKIP"},
    "surrogate-refresh": {"solver": "surrogate", "refresh_every": "SKIP"},
    "surrogate-guard": {"solver": "surrogate", "guard_tol": "GUARD"},
    "galerkin-guard": {"solver": "galerkin", "guard_tol": "GUARD"},
    "surrogate-galerkin-guard": {"solver": "surrogate", "correction": "galerkin",
                                 "correction_memory": True, "guard_tol": "GUARD"},
    "hybrid": HYBRID,
    "hybrid-every": {**HYBRID, "every": "EVERY", "extrapolate": True},
    # the README's first command: configs/hybrid.nml's &stokes group (a test holds them equal)
    "first-command": FIRST_COMMAND,
}
PROVIDERS = tuple(PROVIDER_SETTINGS)


@dataclass
class RunSpec:
    label: str
    sim: int
    Q: float
    gamma: float
    beta: float


def provider_config(base: _config.Config, spec: RunSpec, provider: str, out: Path,
                    end_time: float, max_steps: int, model: str | None, skip: int,
                    snapshot_every: int, grid_preset: str,
                    guard_tol: float = 0.1, every: int = 4) -> _config.Config:
    cfg = _config.Config({g: dict(v) for g, v in base.items()})
    cfg["grid"]["preset"] = grid_preset
    ph = cfg["physics"]
    ph["q"], ph["gamma"], ph["beta"] = spec.Q, spec.gamma, spec.beta
    cfg["initial"]["kind"], cfg["initial"]["seed"] = "hot", spec.sim
    tm = cfg["time"]
    tm["end_time"], tm["max_steps"], tm["stat_window"] = end_time, max_steps, 0.0
    values = {"SKIP": skip, "GUARD": guard_tol, "EVERY": every}
    cfg["stokes"].update({k: values.get(v, v) if isinstance(v, str) else v
                          for k, v in PROVIDER_SETTINGS[provider].items()})
    if cfg["stokes"]["solver"] == "surrogate":
        cfg["stokes"]["model"] = model or ""
    o = cfg["output"]
    # runs with another interval or tolerance go to other folders (an evaluation's reference
    # runs are reused by later calls with the same --out)
    placeholders = set(PROVIDER_SETTINGS[provider].values())
    tag = "".join(f"-{values[k]:g}" for k in ("SKIP", "GUARD", "EVERY") if k in placeholders)
    o["directory"] = str(out / f"{spec.label}-{provider}{tag}")
    o["plots"], o["progress"] = False, False
    o["snapshot_every"], o["checkpoint_every"] = snapshot_every, 10**9
    return cfg


def dissipation_over_work(ds) -> float:
    """Time integral of the viscous dissipation over that of the buoyancy work. Exactly 1
    for velocities that solve the discrete Stokes equations (tests/test_stokes_properties.py),
    whatever T is, so it checks a surrogate's velocities without a reference run."""
    dt = ds["dt"].values
    work = float(np.sum(ds["work"].values * dt))
    return float(np.sum(ds["dissipation"].values * dt)) / work if work > 0 else float("nan")


def compare(ref, ds, late: float = 0.5) -> dict:
    """Metrics of run ds against the reference run ref (both xarray Datasets)."""
    nref, n = ref.sizes["time"], ds.sizes["time"]
    k0r, k0 = int(nref * (1 - late)), int(n * (1 - late))
    prof_ref = ref["T_profile"].isel(time=slice(k0r, None)).mean("time").values
    prof = ds["T_profile"].isel(time=slice(k0, None)).mean("time").values
    t_ref = ref["history_time"].values
    tm = np.interp(t_ref, ds["history_time"].values, ds["T_mean"].values)

    def pearson(name):
        a, b = ref[name].isel(time=-1).values.ravel(), ds[name].isel(time=-1).values.ravel()
        if a.std() == 0 or b.std() == 0:
            return float("nan")
        return float(np.corrcoef(a, b)[0, 1])

    return {"profile_mae": float(np.mean(np.abs(prof - prof_ref))),
            "mean_T_mae": float(np.mean(np.abs(tm - ref["T_mean"].values))),
            "corr_T": pearson("T"), "corr_u": pearson("u"), "corr_v": pearson("v"),
            "Nu_top": float(ds["Nu_top"][-1]), "Vrms": float(ds["Vrms"][-1]),
            "dissipation_over_work": dissipation_over_work(ds),
            "steps": int(ds.sizes["step"]), "wall_time": float(ds.attrs.get("wall_time", np.nan)),
            "direct_fraction": (float(ds["direct_solve"].mean()) if "direct_solve" in ds
                                else float("nan")),
            "status": str(ds.attrs.get("status", "?"))}


def _finished_run(cfg: _config.Config) -> Path | None:
    """The run file in cfg's output directory if it finished with this very configuration
    (so rerunning `pymantle evaluate` with more providers reuses the runs it has). Its
    stored namelist is read over today's defaults, so a field added since, left at its
    default, does not force a rerun."""
    import netCDF4
    from .output import namelist_text
    path = Path(cfg["output"]["directory"]) / "run.nc"
    try:
        with netCDF4.Dataset(path) as ds:
            same = namelist_text(_config.loads(str(ds.namelist))) == namelist_text(cfg)
            ok = str(getattr(ds, "status", "")) in ("finished", "steady", "statistically steady")
    except (OSError, AttributeError, _config.ConfigError):
        return None
    return path if same and ok else None


def campaign_specs(campaign_dir, split="test", sims=None) -> tuple[list[RunSpec], str]:
    """Run specs (parameters, seed) of a campaign's finished simulations, and its grid."""
    import json
    from .campaign import DONE, PRESETS, read_index
    rows = read_index(campaign_dir)
    preset = json.loads((Path(campaign_dir) / "campaign.json").read_text())["preset"]
    chosen = [r for r in rows if (sims is None and r["split"] == split and r["status"] in DONE)
              or (sims is not None and r["sim"] in sims)]
    if not chosen:
        raise ConfigError(f"no finished {split} simulations in {campaign_dir} to evaluate")
    return ([_spec(r["sim"], r["Q"], r["gamma"], r["beta"]) for r in chosen],
            PRESETS[preset].grid)


def preset_specs(preset_name: str, seed: int = 0, split: str = "test") -> tuple[list[RunSpec], str]:
    """Run specs of one split of a preset's seeded sampling, and its grid: the runs of
    `pymantle campaign --preset NAME --seed SEED` without running the campaign (the same
    ones where the campaign finished every run)."""
    from .campaign import PRESETS, sample_parameters
    preset = PRESETS[preset_name]
    return ([_spec(s.sim, s.Q, s.gamma, s.beta)
             for s in sample_parameters(preset.n_sims, preset, seed) if s.split == split],
            preset.grid)


def _spec(sim: int, q: float, gamma: float, beta: float) -> RunSpec:
    return RunSpec(f"sim{sim:04d}", sim, q, gamma, beta)


def evaluate(campaign_dir, out="evaluation", providers=("direct", "skip", "surrogate"),
             split="test", sims=None, end_time=0.05, max_steps=10**6, model=None, skip=100,
             snapshot_every=50, base: _config.Config | None = None, specs=None,
             grid_preset=None, modify=None, echo=print, guard_tol=0.1, every=4,
             grid=None, from_campaign=False, reference_steps=None) -> list[dict]:
    """Run every provider for every spec (default: the campaign's test split) and compare
    each with the direct solver. `modify(cfg)` adjusts each run's configuration (the
    unseen scenarios use it). grid: a grid preset other than the campaign's; with
    from_campaign every run starts from its campaign run's last snapshot, interpolated
    onto that grid (a developed state), instead of the hot start; reference_steps: the
    direct run takes that many steps, the others run to the time it reached."""
    from .lock import DirectoryLock
    out = Path(out)
    bad = [p for p in providers if p not in PROVIDERS]
    if bad:
        raise ConfigError(f"--providers {','.join(bad)}: allowed {', '.join(PROVIDERS)}")
    if specs is None:
        specs, grid_preset = campaign_specs(campaign_dir, split, sims)
    if grid is not None:
        grid_preset = grid
    if from_campaign:
        modify = _started_from_campaign(campaign_dir, modify)
    if any(PROVIDER_SETTINGS[p]["solver"] == "surrogate" for p in providers) and not model:
        from .grid import Grid
        from .providers import shipped_model
        model = shipped_model(Grid.from_preset(grid_preset))
        if not model or not Path(model).is_file():
            raise ConfigError("--model: no model is shipped for this grid; the surrogate needs "
                              "a model file (pymantle train writes one)")
    base = base or _config.defaults()
    with DirectoryLock(out, "evaluation folder"):        # everything checked: now write
        results = [row for spec in specs for row in _evaluate_spec(
            spec, providers, out, end_time, max_steps, model, skip, snapshot_every,
            grid_preset, guard_tol, base, modify, echo, every, reference_steps)]
        write_tables(results, out)
    return results


#: The end time of a reference run that is limited by its number of steps instead
REFERENCE_HORIZON = 1e3


def _final_time(run) -> float:
    from .output import open_run
    with open_run(run) as ds:
        return float(ds["history_time"][-1])


def _started_from_campaign(campaign_dir, modify=None):
    """A `modify` that starts a run from the last snapshot of the campaign's run of the
    same simulation, interpolated onto the run's grid (then applies `modify`)."""
    from .campaign_index import Campaign
    camp = Campaign(Path(campaign_dir), "", 0)

    def start(cfg, spec):
        ini = cfg["initial"]
        ini["kind"], ini["snapshot"], ini["interpolate"] = "restart", -1, True
        ini["file"] = str(camp.sim_dir(spec.sim) / "run.nc")
        if modify is not None:
            modify(cfg)
    start.takes_spec = True
    return start


def _evaluate_spec(spec, providers, out, end_time, max_steps, model, skip, snapshot_every,
                   grid_preset, guard_tol, base, modify, echo, every=4,
                   reference_steps=None) -> list[dict]:
    """Every provider's run of one simulation, compared with its direct run. With
    reference_steps the direct run takes that many steps and the others run to the time
    it reached (equal simulated time, whatever their step sizes)."""
    from .output import open_run
    from .simulation import BlowUp, Simulation
    results = []
    runs = {}
    for prov in ("direct", *[p for p in providers if p != "direct"]):
        t_end, n_max = end_time, max_steps
        if reference_steps:
            t_end, n_max = ((REFERENCE_HORIZON, reference_steps) if prov == "direct" else
                            (_final_time(runs["direct"]), 10**7))
        cfg = provider_config(base, spec, prov, out, t_end, n_max, model, skip,
                              snapshot_every, grid_preset, guard_tol, every)
        if modify is not None:
            modify(cfg, spec) if getattr(modify, "takes_spec", False) else modify(cfg)
        done = _finished_run(cfg)
        if done is not None:               # the same run, finished by an earlier call
            echo(f"evaluate: {spec.label} {prov}: reusing {done}")
            runs[prov] = done
            continue
        try:
            res = Simulation(cfg, resume=False).run()
            runs[prov] = res.run_file
        except BlowUp as exc:
            echo(f"evaluate: {spec.label} {prov}: {exc}")
            runs[prov] = None
    if runs["direct"] is None:
        raise RuntimeError(f"{spec.label}: the reference run blew up")
    ref = open_run(runs["direct"])
    for prov, path in runs.items():
        row = {"sim": spec.sim, "Q": spec.Q, "gamma": spec.gamma, "beta": spec.beta,
               "provider": prov}
        if path is None:
            row.update(status="blew up")
        else:
            ds = open_run(path)
            row.update(compare(ref, ds))
            row["speedup"] = float(ref.attrs["wall_time"]) / max(row["wall_time"], 1e-12)
            ds.close()
        results.append(row)
    plot_comparison(runs, out / f"{spec.label}.png", spec)
    ref.close()
    return results


def _late_mean(v, late):
    """Mean over the last `late` fraction of a time series."""
    return float(v[int(len(v) * (1 - late)):].mean())


def _equal_time_change(run, ref, key: str, late: float) -> tuple[float, float]:
    """(t1, relative change of run against ref) of the time means of `key` over the last
    `late` fraction of [0, t1], t1 the end of the shorter run: the two runs compared at
    the same times (a run with internal heating still warms up at the reference's end)."""
    t, tr = run["history_time"].values, ref["history_time"].values
    t1 = min(t[-1], tr[-1])
    a = run[key].values[(t >= (1 - late) * t1) & (t <= t1)].mean()
    b = ref[key].values[(tr >= (1 - late) * t1) & (tr <= t1)].mean()
    return float(t1), float(a / b - 1.0)


def plot_stability(pairs: list, path: Path, label: str = "surrogate"):
    """Mean T and Nu_top against time of each provider-only run (solid, `label`) and its
    stored reference (dashed): one column per simulation."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(pairs)
    fig, axes = plt.subplots(2, n, figsize=(2.4 * n + 1, 4.6), squeeze=False)
    for j, (spec, run, ref) in enumerate(pairs):
        for i, key in enumerate(("T_mean", "Nu_top")):
            ax = axes[i, j]
            ax.plot(run["history_time"], run[key], lw=0.8, label=label)
            ax.plot(ref["history_time"], ref[key], "k--", lw=0.8, label="reference")
            ax.set_xscale("log")
            if key == "Nu_top":
                ax.set_yscale("log")
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel({"T_mean": "mean T", "Nu_top": "Nu top"}[key])
        axes[0, j].set_title(f"sim {spec.sim}: Q {spec.Q:.2g}, gamma {spec.gamma:.2g}, "
                             f"beta {spec.beta:.2g}", fontsize=7)
        axes[1, j].set_xlabel("time", fontsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def stability(campaign_dir, model=None, steps=10_000, split="test", sims=None,
              out="stability", late=0.2, echo=print, provider="surrogate") -> list[dict]:
    """Run the surrogate (or another `provider`, e.g. "surrogate-galerkin") alone for
    `steps` steps (no end time) from each chosen simulation's hot start, and compare its
    late mean T and Nu_top (time means over the last `late` fraction of the run) with the
    campaign's stored reference run over its own last `late` fraction, and the two at
    equal times (T_mean_change, Nu_top_change: relative changes of
    the means over the last `late` fraction of the shorter run). Writes stability.csv,
    stability.md and stability.png; returns the rows."""
    from .campaign import Campaign
    from .output import open_run
    from .providers import shipped_model
    from .simulation import BlowUp, Simulation
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs, preset = campaign_specs(campaign_dir, split, sims)
    camp = Campaign(Path(campaign_dir), "", 0)
    rows, pairs = [], []
    for spec in specs:
        cfg = provider_config(_config.defaults(), spec, provider, out, 1e6, steps, model,
                              100, 500, preset)
        if not model:
            cfg["stokes"]["model"] = shipped_model(cfg.grid())
        row = {"sim": spec.sim, "Q": spec.Q, "gamma": spec.gamma, "beta": spec.beta}
        done = _finished_run(cfg)       # a finished run with this very namelist: reuse it
        try:
            if done is not None:
                with open_run(done) as ds:
                    wall = float(ds.attrs.get("wall_time", float("nan")))
                row.update(status="stable", steps=None, wall_time=wall)
                run = done
                echo(f"stability: sim {spec.sim}: reusing {done}")
            else:
                res = Simulation(cfg, resume=False).run()
                row.update(status="stable", steps=res.steps, wall_time=res.wall_time)
                run = res.run_file
        except BlowUp as exc:
            row.update(status=f"stopped: {exc}".split(";")[0], steps=None)
            run = Path(cfg["output"]["directory"])
        ref = open_run(camp.sim_dir(spec.sim) / "run.nc")
        ds = open_run(run)
        row.update(t_end=float(ds["history_time"][-1]),
                   T_mean=_late_mean(ds["T_mean"].values, late),
                   T_mean_ref=_late_mean(ref["T_mean"].values, late),
                   Nu_top=_late_mean(ds["Nu_top"].values, late),
                   Nu_top_ref=_late_mean(ref["Nu_top"].values, late),
                   t_end_ref=float(ref["history_time"][-1]))
        row["t_equal"], row["T_mean_change"] = _equal_time_change(ds, ref, "T_mean", late)
        row["Nu_top_change"] = _equal_time_change(ds, ref, "Nu_top", late)[1]
        row["steps"] = row["steps"] or int(ds.sizes["step"]) - 1     # the history holds step 0
        pairs.append((spec, ds, ref))
        echo(f"stability: sim {spec.sim}: {row['status']}, {row['steps']} steps to t = "
             f"{row['t_end']:.3g}; mean T {row['T_mean']:.4f} (reference {row['T_mean_ref']:.4f})"
             f", Nu_top {row['Nu_top']:.3f} (reference {row['Nu_top_ref']:.3f})")
        rows.append(row)
    keys = ["sim", "Q", "gamma", "beta", "status", "steps", "t_end", "T_mean", "T_mean_ref",
            "Nu_top", "Nu_top_ref", "t_end_ref", "t_equal", "T_mean_change", "Nu_top_change",
            "wall_time"]
    _write_table(rows, keys, out / "stability")
    if pairs:
        plot_stability(pairs, out / "stability.png", provider)
    for _, ds, ref in pairs:
        ds.close()
        ref.close()
    return rows


SCENARIOS = {
    # name: (description, config changes, default end time)
    "eba": ("extended Boussinesq energy equation, Di = 0.1",
            {("physics", "di"): 0.1}, None),
    "decay": ("radioactive decay of the internal heating to t = 0.056",
              {("physics", "heating"): "decay"}, 0.056),
    "cold": ("cold start: T = 0 inside plus the perturbation reflected at 0",
             {("initial", "kind"): "cold"}, None),
    "linear": ("T = 0.75 inside with 0.05-thick linear boundary layers",
               {("initial", "kind"): "linear"}, None),
    "profile": ("start from a horizontally averaged profile (a file, e.g. from the profile "
                "predictor)", {("initial", "kind"): "profile"}, None),
    "extrapolate": ("parameters outside the training box: (Q, gamma, beta) = (0, 1e6, 1) "
                    "and (10, 1e10, 100)", {}, None),
}


def scenario(name, campaign_dir, model, out=None, sims=None, end_time=0.05, max_steps=10**6,
             profile_file=None, providers=("direct", "surrogate"), echo=print, skip=100):
    """One of the study's unseen scenarios (docs/theory.md section 7): the reference and the
    surrogate (and other providers) on the campaign's test simulations (or explicit
    parameters) with the scenario's change. profile_file may hold '{sim}', the simulation
    number (a predicted profile per simulation)."""
    if name not in SCENARIOS:
        raise ConfigError(f"scenario {name!r}: allowed {', '.join(SCENARIOS)}")
    desc, changes, t_end = SCENARIOS[name]
    if name == "profile" and not profile_file:
        raise ConfigError("scenario profile needs --profile FILE (text y T, or NetCDF)")
    specs, grid_preset = campaign_specs(campaign_dir, "test", sims)
    if name == "extrapolate":
        specs = [RunSpec("extrap-low", 0, 0.0, 1e6, 1.0), RunSpec("extrap-high", 1, 10.0, 1e10, 100.0)]
    if sims is None and name != "extrapolate":
        specs = specs[:1]

    def modify(cfg, spec):
        for (g, k), v in changes.items():
            cfg[g][k] = v
        if name == "profile":             # '{sim}' in the name: one profile per simulation
            cfg["initial"]["file"] = str(profile_file).replace("{sim}", str(spec.sim))
    modify.takes_spec = True
    echo(f"scenario {name}: {desc}")
    return evaluate(campaign_dir, out or f"scenario-{name}", providers,
                    end_time=t_end or end_time, max_steps=max_steps, model=model, specs=specs,
                    grid_preset=grid_preset, modify=modify, echo=echo, skip=skip)


def write_tables(results, out: Path):
    keys = ["sim", "Q", "gamma", "beta", "provider", "status", "steps", "wall_time", "speedup",
            "direct_fraction", "profile_mae", "mean_T_mae", "corr_T", "corr_u", "corr_v",
            "Nu_top", "Vrms", "dissipation_over_work"]
    _write_table(results, keys, out / "results")


def _write_table(rows, keys, stem: Path):
    """stem.csv and stem.md (a Markdown table, 4 significant digits)."""
    with open(stem.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")


def plot_comparison(runs: dict, path: Path, spec: RunSpec):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .output import open_run
    ok = {k: open_run(p) for k, p in runs.items() if p is not None}
    n = len(ok)
    fig = plt.figure(figsize=(12, 2.2 * n + 3))
    gs = fig.add_gridspec(n + 1, 3)
    for i, (prov, ds) in enumerate(ok.items()):
        ax = fig.add_subplot(gs[i, :])
        L = float(ds["x_face"][-1])
        ax.imshow(ds["T"].isel(time=-1).values, origin="lower", extent=[0, L, 0, 1],
                  cmap="RdYlBu_r", vmin=0, vmax=1.2, aspect="equal")
        ax.set_title(f"{prov}: final T, t = {float(ds['time'][-1]):.4g}", fontsize=9)
        ax.set_yticks([])
    axp = fig.add_subplot(gs[n, 0])
    axm = fig.add_subplot(gs[n, 1])
    axn = fig.add_subplot(gs[n, 2])
    for prov, ds in ok.items():
        axp.plot(ds["T_profile"].isel(time=-1), ds["y"], label=prov)
        axm.plot(ds["history_time"], ds["T_mean"], label=prov)
        axn.plot(ds["history_time"], ds["Nu_top"], label=prov)
    axp.set_xlabel("mean T profile")
    axm.set_xlabel("time")
    axm.set_ylabel("mean T")
    axn.set_xlabel("time")
    axn.set_ylabel("Nu top")
    axp.legend(fontsize=7)
    fig.suptitle(f"sim {spec.sim}: Q = {spec.Q:.3g}, gamma = {spec.gamma:.3g}, beta = {spec.beta:.3g}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    for ds in ok.values():
        ds.close()
