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
    _run(f".venv/bin/pymantle run {CI} {SHORT} --out run", d, env)
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
