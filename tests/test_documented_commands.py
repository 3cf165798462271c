"""Every shell command and Python block in README.md and docs/guide/ runs (issue 26).

The commands are read from the pages' ```bash blocks (continuation lines joined, comments
dropped) and each must have an entry in COMMANDS: how it runs here, on the ci grid or with
a small input. Most run as written, with a few arguments appended (`+ ...`); a command
that needs other inputs names its small form in full (`= ...`); the long ones run only
under `-m slow`. They run in a scratch folder that looks like the repository root (its
configs/, scripts/, benchmarks/ and pymantle/ linked, `.venv` the running interpreter's
environment), holding a finished ci run (`run`), a ci campaign (`campaign-laptop`) and a
small model file for it (`train/model.pt`). The Python blocks run there too, and the
namelist (```fortran) blocks must load. A documented command with no entry fails the
test: add it to COMMANDS with its small form.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
FENCED = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)

CI = "--set \"grid.preset='ci'\""
SHORT = "--set time.max_steps=4 --set time.end_time=1.0 --no-progress"
LAPTOP_SHORT = "--set time.max_steps=4 --set time.end_time=1.0 --no-progress"
SLOW = "slow"

#: documented command -> "+ ARGS" (run as written with ARGS appended), "= COMMAND" (run this
#: small form instead), "slow = COMMAND" (only under -m slow), or "ci" (it is .ci/run)
COMMANDS = {
    # README: the two commands (.ci/run runs the second; the first's run, shortened here)
    "bash scripts/setup.sh && .venv/bin/pymantle run configs/hybrid.nml":
        f"= .venv/bin/pymantle run configs/hybrid.nml {LAPTOP_SHORT} --out first",
    "bash scripts/setup.sh && .venv/bin/python -m pytest -q": "ci",
    "bash scripts/setup.sh": "ci",
    ".venv/bin/pymantle --help": "+ > /dev/null",
    ".venv/bin/pymantle run --out reference": f"+ {CI} {SHORT} --overwrite",
    ".venv/bin/pymantle run configs/fast.nml --out fast": f"+ {LAPTOP_SHORT}",
    ".venv/bin/pymantle run --set physics.q=3 --set stokes.solver='lagged' --out q3":
        f"+ {CI} {SHORT}",
    ".venv/bin/pymantle run --set \"grid.preset='paper'\" --stokes surrogate "
    "--set time.end_time=0.01 --out paper": f"+ {SHORT}",
    "mpiexec -n 2 .venv/bin/pymantle run --out mpi": f"+ {CI} {SHORT}",
    ".venv/bin/pymantle benchmark run blankenbach-1a --resolution 32":
        "= .venv/bin/pymantle benchmark run blankenbach-1a --resolution 16 --no-progress "
        "--out bb16-readme",
    # the guide
    ".venv/bin/pymantle run configs/hybrid.nml --out hybrid": f"+ {LAPTOP_SHORT}",
    ".venv/bin/pymantle run --stokes surrogate --out plain": f"+ {LAPTOP_SHORT}",
    ".venv/bin/pymantle namelist": "+ > /dev/null",
    ".venv/bin/pymantle run --stokes galerkin --set stokes.refresh_every=20 --out galerkin":
        f"+ {CI} {SHORT}",
    ".venv/bin/pymantle benchmark list": "+ > /dev/null",
    ".venv/bin/pymantle benchmark run blankenbach-1a --resolution 64":
        "= .venv/bin/pymantle benchmark run blankenbach-1a --resolution 16 --no-progress "
        "--out bb16",
    ".venv/bin/pymantle benchmark run blankenbach-2a --resolution 128 --start-from RUN64 "
    "--stokes lagged --spinup-every 5 --steady-tol 1e-5":
        "slow = .venv/bin/pymantle benchmark run blankenbach-2a --resolution 8 --no-progress "
        "--out b2a8 && .venv/bin/pymantle benchmark run blankenbach-2a --resolution 16 "
        "--start-from b2a8 --stokes lagged --spinup-every 5 --steady-tol 1e-5 --no-progress",
    ".venv/bin/pymantle benchmark run blankenbach-2a --refine-walls 1.5 --resolution 64":
        "slow = .venv/bin/pymantle benchmark run blankenbach-2a --refine-walls 1.5 "
        "--resolution 16 --no-progress --out b2ar16",
    ".venv/bin/python scripts/convergence_table.py blankenbach-1a:run-32 blankenbach-1a:run-64":
        "= .venv/bin/pymantle benchmark run blankenbach-1a --resolution 16 --no-progress "
        "--out run-16 && .venv/bin/python scripts/convergence_table.py --out records "
        "blankenbach-1a:run-16",
    ".venv/bin/python scripts/bench_summary.py --write docs/bench/summary.md":
        "= .venv/bin/python scripts/bench_summary.py --write summary.md",
    ".venv/bin/python scripts/bench_summary.py --dir /tmp/my-records --host myhost":
        "= mkdir -p my-records && cp docs/bench/bench_time_loop-*.json my-records/ && "
        ".venv/bin/python scripts/bench_summary.py --dir my-records --host vm",
    "export OPENBLAS_NUM_THREADS=1": "+",
    ".venv/bin/pymantle campaign --preset laptop configs/campaign-galerkin-trajectories.nml "
    "--out campaign-laptop --array-index \"$SLURM_ARRAY_TASK_ID\" --no-progress":
        "= export SLURM_ARRAY_TASK_ID=2 && .venv/bin/pymantle campaign --preset ci "
        "configs/campaign-galerkin-trajectories.nml --out campaign-array --array-index "
        "\"$SLURM_ARRAY_TASK_ID\" --no-progress",
    "OPENBLAS_NUM_THREADS=1 mpiexec -n 2 .venv/bin/pymantle campaign --preset paper --refine "
    "campaign-laptop --starts 2 --steps 500 configs/campaign-galerkin-trajectories.nml "
    "--out campaign-paper-refined":
        "= OPENBLAS_NUM_THREADS=1 mpiexec -n 2 .venv/bin/pymantle campaign --preset laptop "
        "--refine campaign-laptop --starts 1 --steps 4 "
        "configs/campaign-galerkin-trajectories.nml --out campaign-refined --no-progress",
    "OPENBLAS_NUM_THREADS=1 mpiexec -n 2 .venv/bin/pymantle campaign --preset laptop "
    "--out campaign-laptop":
        "= OPENBLAS_NUM_THREADS=1 mpiexec -n 2 .venv/bin/pymantle campaign --preset ci "
        "--out campaign-ci --no-progress",
    "OPENBLAS_NUM_THREADS=1 mpiexec -n 2 .venv/bin/pymantle campaign --preset laptop "
    "configs/campaign-galerkin-trajectories.nml --out campaign-laptop":
        "= OPENBLAS_NUM_THREADS=1 mpiexec -n 2 .venv/bin/pymantle campaign --preset ci "
        "configs/campaign-galerkin-trajectories.nml --out campaign-ci-galerkin --no-progress",
    ".venv/bin/python -m pymantle.ml.evaluation.accuracy campaign-laptop --split test "
    "--out acc-test.csv": "= .venv/bin/python -m pymantle.ml.evaluation.accuracy "
                          "campaign-laptop --split test --model train/model.pt "
                          "--out acc-test.csv",
    ".venv/bin/python -m pymantle.ml.evaluation.accuracy campaign-laptop --model "
    "train/model.pt": "+",
    ".venv/bin/pymantle evaluate campaign-laptop --providers direct,skip,surrogate "
    "--end-time 0.1": "+ --model train/model.pt --max-steps 6 --skip 3 --out ev1",
    ".venv/bin/pymantle evaluate campaign-laptop --providers direct,galerkin-refresh --skip 100 "
    "--end-time 0.1": "+ --max-steps 6 --out ev2",
    ".venv/bin/pymantle evaluate campaign-laptop --providers direct,surrogate-guard "
    "--guard-tol 0.15": "+ --model train/model.pt --max-steps 6 --out ev3",
    ".venv/bin/pymantle evaluate campaign-laptop --sims 41 --grid paper --from-campaign "
    "--reference-steps 2000 --providers direct,skip,surrogate,first-command --out paper-rollouts":
        "= .venv/bin/pymantle evaluate campaign-laptop --grid laptop --from-campaign "
        "--reference-steps 6 --skip 3 --providers direct,skip,surrogate,first-command "
        "--out fine-rollouts",
    ".venv/bin/pymantle evaluate campaign-laptop --stability 10000":
        "= .venv/bin/pymantle evaluate campaign-laptop --stability 5 --model train/model.pt "
        "--out stab",
    ".venv/bin/pymantle scenario eba campaign-laptop --model pymantle/models/laptop.pt":
        "= .venv/bin/pymantle scenario eba campaign-laptop --model train/model.pt "
        "--max-steps 5 --out sc-eba",
    ".venv/bin/pymantle scenario decay campaign-laptop --model pymantle/models/laptop.pt":
        "= .venv/bin/pymantle scenario decay campaign-laptop --model train/model.pt "
        "--max-steps 5 --out sc-decay",
    ".venv/bin/pymantle evaluate campaign-laptop --unet unet1.pt,unet3.pt":
        "= .venv/bin/pymantle train campaign-laptop --recipe laptop --network unet1 --out u1 "
        "--epochs 1 --samples-per-epoch 4 --val-samples 2 --no-progress && .venv/bin/pymantle "
        "evaluate campaign-laptop --unet u1/model.pt --unet-steps 2 --out unet-eval",
    ".venv/bin/pymantle xdmf run": "+",
    # training
    ".venv/bin/pymantle train campaign-laptop --out train-slim":
        "+ --epochs 1 --samples-per-epoch 8 --val-samples 4 --no-progress",
    "cp train-slim/model.pt pymantle/models/laptop.pt": "= cp train-slim/model.pt laptop-copy.pt",
    ".venv/bin/pymantle train campaign-laptop --out train-slim60 --epochs 60 "
    "--milestones 30,42,50,56":
        "= .venv/bin/pymantle train campaign-laptop --out train-slim60 --epochs 1 "
        "--milestones 30,42,50,56 --samples-per-epoch 8 --val-samples 4 --no-progress",
    ".venv/bin/pymantle train campaign-paper-refined --recipe two_grid --init "
    "train-slim60/model.pt --samples-per-epoch 256 --val-samples 64 --epochs 40 "
    "--out train-paper":
        "= .venv/bin/pymantle train campaign-refined --recipe two_grid --init "
        "train-slim60/model.pt --samples-per-epoch 4 --val-samples 2 --epochs 1 "
        "--width 4 --levels 2 --out train-paper --no-progress",
    "cp train-paper/model.pt pymantle/models/paper.pt": "= cp train-paper/model.pt paper-copy.pt",
    ".venv/bin/pymantle train campaign-laptop --recipe buoyancy-slim --epochs 60 --milestones "
    "30,42,50,56 --width 4 --levels 4 --layers 1 --max-width 32 --decoder-convs 1 "
    "--out cmp-arch-B":
        "= .venv/bin/pymantle train campaign-laptop --recipe buoyancy-slim --epochs 1 "
        "--milestones 30,42,50,56 --width 4 --levels 4 --layers 1 --max-width 32 "
        "--decoder-convs 1 --samples-per-epoch 8 --val-samples 4 --out cmp-arch-B --no-progress",
    ".venv/bin/python scripts/check_model.py cmp-arch-B/model.pt --train-dir cmp-arch-B "
    "campaign-laptop": "+ --out .",
    # the tutorial
    ".venv/bin/pymantle namelist --check my-planet.nml": "+",
    ".venv/bin/pymantle run my-planet.nml": f"+ {LAPTOP_SHORT} --overwrite",
    ".venv/bin/pymantle run my-planet.nml --stokes surrogate --out my-planet-net":
        f"+ {LAPTOP_SHORT} --overwrite",
    ".venv/bin/python scripts/compare_runs.py my-planet my-planet-net --png "
    "my-planet-net/compare.png": "+",
    ".venv/bin/pymantle run my-planet.nml --stokes surrogate --out my-planet-fine --set "
    "\"grid.preset='paper'\" --set \"initial.kind='restart'\" --set "
    "\"initial.file='my-planet/run.nc'\" --set initial.interpolate=.true. "
    "--set time.end_time=0.002": f"+ {SHORT}",
    "mpiexec -n 2 .venv/bin/pymantle campaign --preset laptop --gamma 1e6,1e7 --beta 1,10 "
    "configs/campaign-galerkin-trajectories.nml --out campaign-mine":
        "= mpiexec -n 2 .venv/bin/pymantle campaign --preset ci --gamma 1e6,1e7 --beta 1,10 "
        "configs/campaign-galerkin-trajectories.nml --out campaign-mine --no-progress",
    ".venv/bin/pymantle train campaign-mine --out train-mine":
        "+ --epochs 1 --samples-per-epoch 8 --val-samples 4 --width 4 --levels 2 --no-progress",
    ".venv/bin/python -m pymantle.ml.evaluation.accuracy campaign-mine --model "
    "train-mine/model.pt": "+",
    ".venv/bin/pymantle run my-planet.nml --stokes surrogate --set "
    "\"stokes.model='train-mine/model.pt'\" --out my-planet-mine": f"+ {CI} {SHORT}",
}


def commands(text: str) -> list[str]:
    """The commands of a bash block: continuation lines joined, comments and blanks out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            out.append(" ".join(line.split()))
    return out


def documented() -> dict[str, list]:
    found = {"bash": [], "python": [], "fortran": []}
    for page in PAGES:
        for lang, body in FENCED.findall(page.read_text()):
            rel = str(page.relative_to(ROOT))
            if lang == "bash":
                found["bash"] += [(rel, c) for c in commands(body)]
            elif lang in found:
                found[lang].append((rel, body))
    return found


DOCUMENTED = documented()


def test_every_documented_command_has_a_small_form():
    missing = sorted({c for _, c in DOCUMENTED["bash"] if c not in COMMANDS})
    assert not missing, ("add to COMMANDS (tests/test_documented_commands.py):\n"
                         + "\n".join(missing))
    stale = sorted(set(COMMANDS) - {c for _, c in DOCUMENTED["bash"]})
    assert not stale, ("no page documents these any more: drop them from COMMANDS:\n"
                       + "\n".join(stale))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, ci_campaign_dir):
    """A folder that looks like the repository root, with a ci run, a ci campaign named
    campaign-laptop and a small model file trained on it (train/model.pt)."""
    d = tmp_path_factory.mktemp("docs")
    for name in ("configs", "scripts", "benchmarks", "pymantle", "docs"):
        (d / name).symlink_to(ROOT / name)
    (d / ".venv").symlink_to(Path(sys.prefix))
    (d / "campaign-laptop").symlink_to(ci_campaign_dir)
    env = _env()
    for folder in ("run", "reference"):           # what the Python blocks open
        _run(f".venv/bin/pymantle run {CI} {SHORT} --out {folder}", d, env)
    planet = next(t for p, t in DOCUMENTED["fortran"] if "my-planet" in t)
    (d / "my-planet.nml").write_text(planet)         # the tutorial's namelist, as written
    _run(f".venv/bin/pymantle run my-planet.nml {LAPTOP_SHORT}", d, env)
    _run(f".venv/bin/pymantle run my-planet.nml --stokes surrogate --out my-planet-net "
         f"{LAPTOP_SHORT}", d, env)
    _run(".venv/bin/pymantle train campaign-laptop --out train --epochs 1 "
         "--samples-per-epoch 8 --val-samples 4 --width 4 --levels 2 --no-progress", d, env)
    return d


def _env():
    return dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                PYMANTLE_TORCH_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1",
                MPLBACKEND="Agg")


def _run(cmd: str, cwd: Path, env: dict, timeout: int = 900):
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, executable="/bin/bash")
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def small_form(cmd: str) -> tuple[str | None, bool]:
    """(the command to run, slow?) for a documented command; None: not run here."""
    how = COMMANDS[cmd]
    if how == "ci":
        return None, False
    slow = how.startswith("slow")
    how = how.split("slow", 1)[1].strip() if slow else how
    if how.startswith("+"):
        return f"{cmd} {how[1:].strip()}", slow
    return how[1:].strip(), slow


def _cases():
    seen, out = set(), []
    for page, cmd in DOCUMENTED["bash"]:
        if cmd in seen or cmd not in COMMANDS:
            continue
        seen.add(cmd)
        run, slow = small_form(cmd)
        if run is None:
            continue
        marks = [pytest.mark.slow] if slow else []
        out.append(pytest.param(cmd, run, id=f"{page}:{cmd[:60]}", marks=marks))
    return out


@pytest.mark.parametrize("documented_command,small", _cases())
def test_documented_command_runs(documented_command, small, scratch):
    _run(small, scratch, _env())


@pytest.mark.parametrize("page,code", [pytest.param(p, c, id=f"{p}:{i}")
                                       for i, (p, c) in enumerate(DOCUMENTED["python"])])
def test_documented_python_runs(page, code, scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    import matplotlib
    matplotlib.use("Agg")
    exec(compile(code, f"{page} (python block)", "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("page,text", [pytest.param(p, t, id=f"{p}:{i}")
                                       for i, (p, t) in enumerate(DOCUMENTED["fortran"])])
def test_documented_namelist_loads(page, text, tmp_path):
    from pymantle import config
    path = tmp_path / "doc.nml"
    path.write_text(text)
    config.load(path)


def test_the_first_commands_namelist_is_the_evaluated_first_command():
    """configs/hybrid.nml (the README's first command) is what the evaluation and the
    benchmarks measure as 'first-command'."""
    from pymantle import config
    from pymantle.evaluate import PROVIDER_SETTINGS
    cfg = config.load(ROOT / "configs" / "hybrid.nml")
    expected = config.defaults()
    expected["stokes"].update(PROVIDER_SETTINGS["first-command"])
    assert cfg["stokes"] == expected["stokes"]


def test_the_fast_namelist_is_the_evaluated_fast_mode():
    """configs/fast.nml is what the evaluation and the benchmarks measure as
    'surrogate-every-4'."""
    from pymantle import config
    cfg = config.load(ROOT / "configs" / "fast.nml")
    assert (cfg["stokes"]["solver"], cfg["stokes"]["every"], cfg["stokes"]["extrapolate"],
            cfg["stokes"]["correction"], cfg["stokes"]["refresh_every"]) == (
        "surrogate", 4, True, "none", 0)
