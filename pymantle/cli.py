"""Command line: `pymantle run`, `pymantle benchmark`, `pymantle namelist`.

Every subcommand has its own --help. Errors in the input end in one line on stderr
naming the field and what is allowed, with exit status 2, before anything is written.
"""
from __future__ import annotations

import argparse
import sys


def _add_run(sub):
    p = sub.add_parser(
        "run", help="run a simulation (built-in default: laptop grid, mixed heating)",
        description="Run a convection simulation from a namelist (see `pymantle namelist`). "
                    "Without a namelist it runs the built-in default: laptop grid 32x128, "
                    "aspect ratio 4, Ra 1, Q 5, gamma 1e6, beta 10, to t = 0.1 (about 1,400 "
                    "steps, half a minute on 2 cores). Output "
                    "(run.nc, checkpoint.nc, PNG plots) goes to &output directory. Rerunning "
                    "the same command resumes from the last checkpoint. Under "
                    "`mpiexec -n K` the Stokes system is solved distributed.")
    p.add_argument("namelist", nargs="?", help="namelist file (default: built-in)")
    p.add_argument("--set", action="append", default=[], metavar="GROUP.KEY=VALUE",
                   help="override one namelist field, e.g. --set physics.q=3 (repeatable)")
    p.add_argument("--stokes", metavar="SOLVER",
                   help="velocity provider: direct, lagged, iterative, multigrid, surrogate, "
                        "galerkin (add --set stokes.correction='galerkin' to correct the "
                        "surrogate)")
    p.add_argument("--out", metavar="DIR", help="output directory (&output directory)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh even if DIR holds a checkpoint")
    p.add_argument("--petsc-options", metavar="OPTS",
                   help="PETSc options for the Stokes solver (prefix stokes_), e.g. "
                        "'-stokes_ksp_monitor' (&stokes petsc_options)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_benchmark(sub):
    p = sub.add_parser(
        "benchmark", help="run published benchmark cases and compare with reference values",
        description="Published cases kept in benchmarks/<case>/ (case.nml + reference.toml). "
                    "`run` prints one line per quantity: '<name> <computed> ref <value> rel.err "
                    "<e> tol <tol> pass|FAIL' or '<name> <computed> range [<min>, <max>] "
                    "inside|outside by <d> pass|FAIL', then 'RESULT case=<name> "
                    "pass=<true|false> steady=<true|false>', and exits 1 on a miss or a run "
                    "that did not reach steady state.")
    bsub = p.add_subparsers(dest="action", required=True)
    bsub.add_parser("list", help="list the cases with their sources")
    r = bsub.add_parser("run", help="run one case")
    r.add_argument("name")
    r.add_argument("--resolution", type=int, help="cells per unit length (default: the case's)")
    r.add_argument("--out", metavar="DIR", help="output directory (default: bench-<name>-<N>)")
    r.add_argument("--stokes", metavar="SOLVER", default=None, help="Stokes solver")
    r.add_argument("--start-from", metavar="RUN",
                   help="start from the last snapshot of a run of this case at another "
                        "resolution (interpolated), to shorten the spin-up")
    r.add_argument("--spinup-every", type=int, default=1, metavar="N",
                   help="reach steady state first with Stokes solved every N steps, then "
                        "confirm it with Stokes every step (a fixed point of both; several "
                        "times cheaper at 128x128; N = 5 settles where 20 may swing without "
                        "settling, which the run reports)")
    r.add_argument("--steady-tol", type=float, default=None,
                   help="steady when Nu and Vrms change by less than this per unit time "
                        "(default: the case's)")
    r.add_argument("--refine-walls", type=float, default=None, metavar="S",
                   help="wall refinement strength of the grid (&grid refine_walls; "
                        "default: the case's)")
    r.add_argument("--no-progress", action="store_true")


def _add_campaign(sub):
    p = sub.add_parser(
        "campaign", help="run many simulations over sampled (Q, gamma, beta): training data",
        description="Draw parameter sets (Q uniform, gamma and beta log-uniform in the "
                    "preset's box), split them train/cv/test, run each from the hot start to "
                    "statistical steady state storing a snapshot every 100 steps, and keep an "
                    "index.csv. Rerunning resumes; under `mpiexec -n K` the simulations are "
                    "spread over the ranks. The optional NAMELIST sets the base run options "
                    "(e.g. &stokes solver).")
    p.add_argument("namelist", nargs="?", help="base namelist for every simulation")
    p.add_argument("--preset", default="laptop", help="ci, laptop (default) or paper")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="campaign directory (default: campaign-<preset>)")
    p.add_argument("--n", type=int, default=None, help="number of simulations (preset's default)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--paper-sets", action="store_true",
                   help="run the study's 130 parameter sets (with --preset paper)")
    p.add_argument("--retry-failed", action="store_true", help="run failed simulations again")
    for key, what in (("q", "Q"), ("gamma", "gamma"), ("beta", "beta")):
        p.add_argument(f"--{key}", type=_float_pair, default=None, metavar="LO,HI",
                       help=f"sample {what} in LO..HI instead of the preset's range (your own "
                            "box; gamma and beta log-uniform, Q uniform)")
    p.add_argument("--array-index", type=int, default=None, metavar="I",
                   help="run only the I-th simulation (0-based): one task of a scheduler's "
                        "job array, e.g. --array-index $SLURM_ARRAY_TASK_ID "
                        "(docs/guide/campaigns.md)")
    p.add_argument("--refine", metavar="CAMPAIGN", default=None,
                   help="a refined campaign: each run starts from a stored snapshot of this "
                        "(coarser) campaign's run with the same parameters, interpolated onto "
                        "the preset's grid, and runs --steps steps (pymantle/campaign_refine.py)")
    p.add_argument("--starts", type=int, default=2,
                   help="with --refine: fine runs per coarse run (default 2)")
    p.add_argument("--steps", type=int, default=1000,
                   help="with --refine: steps of each fine run (default 1000)")
    p.add_argument("--no-progress", action="store_true")


def _float_pair(text: str) -> tuple[float, float]:
    """argparse type of --q/--gamma/--beta: '1e5,1e7' -> (1e5, 1e7)."""
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LO,HI") from None
    return lo, hi


def _int_list(text: str) -> list[int]:
    """argparse type of --sims: '3,5,8' -> [3, 5, 8]."""
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from None


def _add_train(sub):
    p = sub.add_parser(
        "train", help="train the Stokes surrogate on a campaign",
        description="Train the CNN that maps temperature (and viscosity, coordinates, "
                    "parameters) to a stream function whose curl gives the velocities "
                    "(docs/theory.md sections 4-6). Writes DIR/checkpoint.pt every epoch (rerun to "
                    "resume), DIR/model.pt (best on the cv split; what `pymantle run --stokes "
                    "surrogate` reads), DIR/training.csv and DIR/training_curve.png. "
                    "Data-parallel: torchrun --nproc-per-node K -m pymantle.cli train ...")
    p.add_argument("campaign", help="campaign directory (pymantle campaign) or a training "
                                    "pack (pymantle pack)")
    p.add_argument("--recipe", default="buoyancy-slim",
                   help="buoyancy-slim (default: the shipped laptop network, "
                        "pymantle/models/laptop.pt), two_grid (the shipped paper-grid network "
                        "on a refined campaign, with --init the coarse grid's model file), "
                        "buoyancy (the wider U-net shipped before 2026-12-07), laptop (the "
                        "study's network, 40 epochs x 1,024 samples, float32) or paper (the "
                        "study's recipe: 150 epochs over every selected snapshot, float64); "
                        "docs/guide/training.md")
    p.add_argument("--out", default="train", help="output directory (default: train)")
    from .ml.training.options import add_arguments
    add_arguments(p)      # one flag per TrainConfig option (ml/training/options.py)
    p.add_argument("--budget", type=float,
                   help="start no new epoch after this many seconds of this call (rerun "
                        "to go on): equal-budget comparisons of variants")
    p.add_argument("--no-progress", action="store_true")


def _add_pack(sub):
    p = sub.add_parser(
        "pack", help="pack a campaign's training snapshots into one portable .npz",
        description="Write the selected train and cv snapshots of a campaign (T and the "
                    "stream function of the scaled velocities, float32, ~30 kB each) with the "
                    "input normalisation and velocity scaling into one .npz, so that "
                    "`pymantle train PACK.npz` runs where only torch is installed (a GPU "
                    "node). The rebuild of velocities and viscosity is checked before writing.")
    p.add_argument("campaign", help="campaign directory")
    p.add_argument("out", help="output .npz file")
    p.add_argument("--train", type=int, default=0, help="random subset size (0: all selected)")
    p.add_argument("--cv", type=int, default=0, help="random subset size (0: all selected)")
    p.add_argument("--sims", type=_int_list,
                   help="comma list: only these simulations, all their selected snapshots"
                        " (whole runs, for the U-nets' consecutive pairs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _add_evaluate(sub):
    p = sub.add_parser(
        "evaluate", help="run the reference and the baselines/surrogate on test simulations",
        description="For each test simulation of a campaign, run the direct solver (the "
                    "reference) and each chosen provider to the same end time, and report "
                    "the MAE of the late horizontally averaged T profile, the MAE of the mean-T "
                    "series, Pearson correlations of the final fields, Nu, Vrms and the "
                    "wall-clock speed-up (results.csv, results.md, PNGs).")
    p.add_argument("campaign", help="campaign directory")
    p.add_argument("--model", help="surrogate model file (default: the one shipped for the grid)")
    p.add_argument("--providers", default="direct,skip,surrogate",
                   help="comma list of direct, skip, iterative, lagged, surrogate, "
                        "surrogate-galerkin (the surrogate with &stokes correction = "
                        "'galerkin' without memory), surrogate-galerkin-memory (with "
                        "memory), galerkin (the correction with no network: a coarse "
                        "Galerkin solve, the non-ML baseline), galerkin-refresh and "
                        "surrogate-galerkin-refresh, surrogate-refresh (galerkin, "
                        "surrogate-galerkin-memory and surrogate with a direct solve every "
                        "--skip steps), surrogate-guard, galerkin-guard, surrogate-galerkin-guard (a direct solve "
                        "wherever the residual exceeds --guard-tol), skip-extrapolate (skip, "
                        "the velocities extrapolated between solves), surrogate-every (the "
                        "network every --every steps, extrapolated between), hybrid (the "
                        "README's first command, configs/hybrid.nml), lagged-fischer, "
                        "lagged-pod, iterative-fischer, iterative-pod (PETSc's reuse of "
                        "earlier solutions as initial guesses)")
    p.add_argument("--guard-tol", type=float, default=0.1,
                   help="&stokes guard_tol of the *-guard providers (default 0.1)")
    p.add_argument("--split", default="test")
    p.add_argument("--sims", type=_int_list,
                   help="comma list of simulation numbers (instead of --split)")
    p.add_argument("--end-time", type=float, default=0.05)
    p.add_argument("--max-steps", type=int, default=10**6)
    p.add_argument("--skip", type=int, default=100,
                   help="momentum-skip interval (study: 100); also galerkin-refresh's")
    p.add_argument("--every", type=int, default=4,
                   help="surrogate-every: the network every N steps, extrapolated between")
    p.add_argument("--grid", default=None,
                   help="grid preset of the runs (default: the campaign's)")
    p.add_argument("--from-campaign", action="store_true",
                   help="start each run from the last snapshot of the campaign's run, "
                        "interpolated onto --grid (a developed state), not the hot start")
    p.add_argument("--reference-steps", type=int, default=None, metavar="N",
                   help="the direct run takes N steps (no end time); the others run to the "
                        "time it reached")
    p.add_argument("--out", default="evaluation")
    p.add_argument("--stability", type=int, metavar="STEPS",
                   help="instead: run the surrogate alone for STEPS steps on each simulation "
                        "and compare its late mean T and Nu with the campaign's stored run")
    p.add_argument("--stability-provider", default="surrogate",
                   choices=("surrogate", "surrogate-galerkin", "surrogate-galerkin-memory",
                            "galerkin"),
                   help="the provider of the --stability runs")
    p.add_argument("--unet", metavar="MODEL[,MODEL...]",
                   help="instead: roll these U-net baselines (pymantle train --network unetN) "
                        "out from each simulation's first snapshot and compare every snapshot "
                        "step with the stored run (unet.csv, unet.md, unet_errors.png)")
    p.add_argument("--unet-steps", type=int, help="at most this many snapshot steps")
    p.add_argument("--unet-start", type=int, default=0,
                   help="start from this snapshot (0: the hot start; its first step is the "
                        "largest change of the run)")


def _add_scenario(sub):
    from .evaluate import SCENARIOS
    p = sub.add_parser(
        "scenario", help="the study's unseen scenarios: reference vs surrogate",
        description="Run the direct solver and the surrogate on a test simulation of a "
                    "campaign with one change the network never saw: "
                    + "; ".join(f"{k}: {v[0]}" for k, v in SCENARIOS.items()) + ".")
    p.add_argument("name", choices=sorted(SCENARIOS))
    p.add_argument("campaign", help="campaign directory (parameters and grid)")
    p.add_argument("--model", required=True, help="surrogate model file")
    p.add_argument("--sims", type=_int_list,
                   help="comma list of simulation numbers (default: first test one)")
    p.add_argument("--end-time", type=float, default=0.05)
    p.add_argument("--max-steps", type=int, default=10**6)
    p.add_argument("--profile", help="profile file for the 'profile' scenario")
    p.add_argument("--providers", default="direct,surrogate",
                   help="comma list, as for evaluate (the direct reference always runs)")
    p.add_argument("--out", help="output directory (default: scenario-NAME)")


def _add_profile(sub):
    p = sub.add_parser(
        "profile", help="predict a late-time mean temperature profile (for 'profile' starts)",
        description="Train (or load) the profile predictor on a campaign's late-time "
                    "horizontally averaged profiles and write the predicted T(y) for given "
                    "(Q, gamma, beta) as a text file that &initial kind = 'profile' reads.")
    p.add_argument("campaign", help="campaign directory")
    p.add_argument("--params", required=True, metavar="Q,GAMMA,BETA")
    p.add_argument("--out", default="profile.txt")
    p.add_argument("--predictor", help="predictor file to load, or to write after training "
                                       "(default: CAMPAIGN/profile_predictor.pt)")


def _add_ablate(sub):
    from .ml.evaluation.ablation import VARIANTS
    p = sub.add_parser(
        "ablate", help="train the surrogate's variants and compare their wall errors",
        description="Train each variant (" + ", ".join(VARIANTS) + ") with the same recipe "
                    "and seed, and report the cv-split velocity MAE on each wall and inside, "
                    "with ratios against learned padding (ablation.md, .csv, .png).")
    p.add_argument("campaign")
    p.add_argument("--recipe", default="laptop")
    p.add_argument("--variants", help="comma list (default: all)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--samples-per-epoch", type=int)
    p.add_argument("--out", default="ablation")
    p.add_argument("--no-progress", action="store_true")


def _add_namelist(sub):
    p = sub.add_parser("namelist", help="print the namelist reference or the defaults",
                       description="Print every namelist field with its default, allowed "
                                   "values and meaning (markdown), or --defaults as a namelist.")
    p.add_argument("--defaults", action="store_true", help="print the defaults as a namelist")
    p.add_argument("--check", metavar="FILE", help="only validate FILE and report")


def _add_xdmf(sub):
    p = sub.add_parser("xdmf", help="write run.xdmf: open a run in ParaView",
                       description="Write the XDMF description of a run (run.xdmf beside its "
                                   "run.nc; every run writes it when it finishes): ParaView's "
                                   "XDMF reader then opens the run as a time series of T, p, "
                                   "eta and the velocity on the box (pymantle/paraview.py).")
    p.add_argument("run", help="run folder or run file")
    p.add_argument("--out", help="the XDMF file (default: run.xdmf beside the run file)")


def cmd_xdmf(args) -> int:
    from .paraview import write_xdmf
    print(f"wrote {write_xdmf(args.run, args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = argparse.ArgumentParser(
        prog="pymantle",
        description="Mantle convection (2D Boussinesq, infinite Prandtl number) on a staggered "
                    "grid with PETSc Stokes solvers and Fortran energy kernels.")
    ap.add_argument("--version", action="version", version=f"pymantle {__version__}")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_benchmark(sub)
    _add_campaign(sub)
    _add_train(sub)
    _add_xdmf(sub)
    _add_pack(sub)
    _add_evaluate(sub)
    _add_scenario(sub)
    _add_profile(sub)
    _add_ablate(sub)
    _add_namelist(sub)
    return ap


def cmd_run(args) -> int:
    from pathlib import Path
    from . import config
    overrides = list(args.set)
    if args.no_progress:
        overrides.append("output.progress=.false.")
    cfg = config.load(args.namelist, overrides, check=False)     # validated below, with
    # --stokes and --out as values, not namelist text: a quote in a folder name is a name
    if args.stokes:
        config.update(cfg, "stokes", "solver", args.stokes)
    if args.out is not None:
        config.update(cfg, "output", "directory", args.out)
    if args.petsc_options:
        config.update(cfg, "stokes", "petsc_options", args.petsc_options)
    config.validate(cfg)
    outdir = Path(cfg["output"]["directory"])
    fresh = not outdir.exists()
    from .simulation import run
    try:
        res = run(cfg, resume=not args.overwrite)
    except config.ConfigError:
        if fresh:
            _remove_if_only_lock(outdir)
        raise
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == 0:
        f = res.final
        extra = f" (resumed from step {res.resumed_from})" if res.resumed_from else ""
        tm = cfg["time"]
        if res.status == "finished" and res.time < tm["end_time"] * (1 - 1e-12):
            extra += (f" (stopped by max_steps = {tm['max_steps']} before end_time = "
                      f"{tm['end_time']:.6g})")
        print(f"{res.status}: {res.steps} steps to t = {res.time:.6g} in {res.wall_time:.1f} s"
              f"{extra}; Nu_top = {f['Nu_top']:.5g}, Nu_bottom = {f['Nu_bottom']:.5g}, "
              f"Vrms = {f['Vrms']:.5g}, mean T = {f['T_mean']:.5g}")
        print(f"output: {res.run_file}")
    return 0


def _remove_if_only_lock(folder) -> None:
    """A run refused after it took the folder's lock (an unreadable &initial file, say)
    leaves no folder behind that it created: removed under the lock, if it holds nothing
    else."""
    import os
    from .config import ConfigError
    from .lock import LOCK_NAME, DirectoryLock
    try:
        if os.listdir(folder) != [LOCK_NAME]:
            return
        with DirectoryLock(folder):
            if os.listdir(folder) == [LOCK_NAME]:
                os.unlink(folder / LOCK_NAME)
                folder.rmdir()
    except (OSError, ConfigError):
        pass                 # in use by another process, or no longer ours to remove


def cmd_benchmark(args) -> int:
    from . import benchmarks
    if args.action == "list":
        for case in benchmarks.list_cases():
            print(f"{case.name:18s} {case.description}")
        return 0
    ok = benchmarks.run_case(args.name, resolution=args.resolution, out=args.out,
                             stokes=args.stokes, progress=not args.no_progress,
                             start_from=args.start_from, spinup_every=args.spinup_every,
                             steady_tol=args.steady_tol, refine_walls=args.refine_walls)
    return 0 if ok else 1


def cmd_campaign(args) -> int:
    from . import campaign, config
    if args.n is not None and not 1 <= args.n <= 100000:
        raise config.ConfigError(f"--n {args.n}: allowed 1..100000")
    base = config.load(args.namelist)
    refine = None
    if args.refine:
        from .campaign_refine import RefinePlan
        refine = RefinePlan(args.refine, args.starts, args.steps, args.seed)
    out = args.out or f"campaign-{args.preset}"
    box = {k: getattr(args, k) for k in ("q", "gamma", "beta") if getattr(args, k)}
    if args.array_index is not None:
        camp = campaign.run_array_task(out, args.array_index, args.preset, base, n=args.n,
                                       seed=args.seed, paper_sets=args.paper_sets,
                                       retry_failed=args.retry_failed,
                                       progress=not args.no_progress, refine=refine, box=box)
    else:
        camp = campaign.run_campaign(out, args.preset, base, n=args.n, seed=args.seed,
                                     paper_sets=args.paper_sets,
                                     progress=not args.no_progress,
                                     retry_failed=args.retry_failed, refine=refine,
                                     box=box)
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == 0:
        rows = campaign.read_index(camp.directory)
        done = sum(r["status"] in campaign.DONE for r in rows)
        failed = sum(r["status"] == "failed" for r in rows)
        print(f"campaign {camp.directory}: {done}/{len(rows)} simulations done, {failed} failed; "
              f"index: {camp.directory / 'index.csv'}")
    return 0


def cmd_train(args) -> int:
    from .ml.training.train import Trainer
    from .ml.training.options import config_from_arguments
    try:
        cfg = config_from_arguments(args)
    except ValueError as exc:
        print(f"pymantle train: {exc}", file=sys.stderr)
        return 2
    tr = Trainer(cfg)
    resumed = tr.resume()
    hist = tr.fit(progress=not args.no_progress, budget_s=args.budget)
    if tr.rank == 0:
        last = hist[-1] if hist else {}
        print(f"{'resumed; ' if resumed else ''}{tr.epoch} epochs; best validation loss "
              f"{tr.best:.4g}; last train loss {last.get('train_loss', float('nan')):.4g}; "
              f"model: {tr.out / 'model.pt'}")
    return 0


def cmd_pack(args) -> int:
    from .ml.training.pack import write_pack
    if not args.out.endswith(".npz"):
        print(f"pymantle: error: pack out = {args.out!r}: must end in .npz", file=sys.stderr)
        return 2
    r = write_pack(args.campaign, args.out, n_train=args.train, n_cv=args.cv, seed=args.seed,
                   progress=not args.no_progress, sims=args.sims)
    print(f"{r['path']}: {r['train']} train + {r['cv']} cv snapshots, "
          f"{r['bytes'] / 2**20:.1f} MiB; rebuild check: v {r['v_rel']:.1e} relative, "
          f"log10 eta {r['log_eta']:.1e}")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate
    if args.stability:
        from .evaluate import stability
        rows = stability(args.campaign, args.model, args.stability, args.split, args.sims,
                         args.out, provider=args.stability_provider)
        n = sum(r["status"] == "stable" for r in rows)
        print(f"RESULT stable={n}/{len(rows)} steps={args.stability}; table: {args.out}/stability.md")
        return 0
    if args.unet:
        from .ml.evaluation.unet_rollout import evaluate_unets
        rows = evaluate_unets(args.campaign, args.unet.split(","), args.split, args.sims, args.out,
                              args.unet_steps, args.unet_start)
        div = sorted(r["diverged_at"] for r in rows if r["diverged_at"] != "")
        print(f"RESULT rollouts={len(rows)} diverged={len(div)} median_diverged_at="
              f"{div[len(div) // 2] if div else 'none'}; table: {args.out}/unet.md")
        return 0
    res = evaluate(args.campaign, args.out, tuple(args.providers.split(",")), args.split,
                   args.sims, args.end_time, args.max_steps, args.model, args.skip,
                   guard_tol=args.guard_tol, every=args.every, grid=args.grid,
                   from_campaign=args.from_campaign,
                   reference_steps=args.reference_steps)
    print(open(f"{args.out}/results.md").read(), end="")
    print(f"{len(res)} runs; tables and figures in {args.out}/")
    return 0


def cmd_scenario(args) -> int:
    from .evaluate import scenario
    out = args.out or f"scenario-{args.name}"
    res = scenario(args.name, args.campaign, args.model, out, args.sims, args.end_time,
                   args.max_steps, args.profile, tuple(args.providers.split(",")))
    print(open(f"{out}/results.md").read(), end="")
    print(f"{len(res)} runs; tables and figures in {out}/")
    return 0


def cmd_profile(args) -> int:
    from pathlib import Path
    from .config import ConfigError
    from .ml.networks.profile import ProfilePredictor, late_profiles, train_profile_predictor, write_profile
    try:
        q, gamma, beta = (float(x) for x in args.params.split(","))
    except ValueError:
        raise ConfigError(f"--params {args.params!r}: expected Q,GAMMA,BETA numbers") from None
    path = Path(args.predictor or Path(args.campaign) / "profile_predictor.pt")
    if path.is_file():
        pp = ProfilePredictor.load(path)
    else:
        pp, mse = train_profile_predictor(args.campaign)
        pp.save(path)
        print(f"trained the profile predictor (mean squared error {mse:.2e}): {path}")
    _, y, _ = late_profiles(args.campaign)
    write_profile(args.out, y, pp.predict(q, gamma, beta, y))
    print(f"profile for Q={q}, gamma={gamma:g}, beta={beta:g}: {args.out}")
    return 0


def cmd_ablate(args) -> int:
    from .ml.evaluation.ablation import ablate
    ablate(args.campaign, args.out, args.recipe,
           args.variants.split(",") if args.variants else None, args.epochs,
           args.samples_per_epoch, progress=not args.no_progress)
    print(open(f"{args.out}/ablation.md").read(), end="")
    return 0


def cmd_namelist(args) -> int:
    from . import config
    if args.check:
        config.load(args.check)
        print(f"{args.check}: OK")
    elif args.defaults:
        import io
        buf = io.StringIO()
        config.defaults().to_namelist().write(buf)
        print(buf.getvalue(), end="")
    else:
        print(config.namelist_reference(), end="")
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .config import ConfigError
    from .ml.training.pack import PackError
    from .output import CorruptFile
    try:
        return {"run": cmd_run, "benchmark": cmd_benchmark, "campaign": cmd_campaign,
                "train": cmd_train, "pack": cmd_pack, "evaluate": cmd_evaluate, "scenario": cmd_scenario,
                "profile": cmd_profile, "ablate": cmd_ablate,
                "namelist": cmd_namelist, "xdmf": cmd_xdmf}[args.command](args)
    except (ConfigError, CorruptFile, PackError, FileNotFoundError) as exc:
        print(f"pymantle: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from .simulation import BlowUp, Interrupted
        if isinstance(exc, (BlowUp, Interrupted)):
            print(f"pymantle: {exc}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
