"""Published benchmark cases as a user feature (`pymantle benchmark list|run`).

Each case lives in benchmarks/<name>/ (as ASPECT keeps them): case.nml, the namelist of
the run, and reference.toml with the reference values (a value with a tolerance per
resolution, or a published [min, max] range) and their source.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import config

_HERE = Path(__file__).resolve().parent


def cases_dir() -> Path:
    """benchmarks/ of the source tree (editable install) or of the installed package."""
    for cand in (_HERE / "benchmarks", _HERE.parent / "benchmarks"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("benchmark cases not found (expected a benchmarks/ folder)")


@dataclass
class Case:
    name: str
    path: Path
    reference: dict

    @property
    def description(self) -> str:
        return self.reference.get("description", "")

    @property
    def default_resolution(self) -> int:
        return int(self.reference.get("default_resolution", 32))

    def tolerance(self, resolution: int) -> float | None:
        tol = self.reference.get("tolerance")
        if not tol:
            return None
        keys = sorted(int(k) for k in tol)
        usable = [k for k in keys if k <= resolution] or keys[:1]
        return float(tol[str(usable[-1])])

    def config(self, resolution: int | None = None, out: str | None = None,
               stokes: str | None = None, progress: bool = True,
               start_from: str | None = None,
               refine_walls: float | None = None) -> config.Config:
        n = resolution or self.default_resolution
        overrides = [f"initial.kind='restart'", f"initial.file='{start_from}'",
                     "initial.interpolate=.true."] if start_from else []
        overrides += [f"grid.ny={n}", f"output.progress={'.true.' if progress else '.false.'}",
                     f"output.directory='{out or f'bench-{self.name}-{n}'}'"]
        if stokes:
            overrides.append(f"stokes.solver='{stokes}'")
        if refine_walls is not None:
            overrides.append(f"grid.refine_walls={refine_walls!r}")
        cfg = config.load(self.path / "case.nml", overrides)
        cfg["grid"]["nx"] = int(round(cfg["grid"]["aspect"] * n))
        return cfg


def list_cases() -> list[Case]:
    root = cases_dir()
    return [load_case(p.name) for p in sorted(root.iterdir()) if (p / "case.nml").is_file()]


def load_case(name: str) -> Case:
    path = cases_dir() / name
    if not (path / "case.nml").is_file():
        known = ", ".join(p.name for p in sorted(cases_dir().iterdir()) if (p / "case.nml").is_file())
        raise config.ConfigError(f"benchmark {name!r} not found: allowed {known}")
    with open(path / "reference.toml", "rb") as fh:
        return Case(name, path, tomllib.load(fh))


def quantities(final: dict, cfg: config.Config) -> dict:
    """Diagnostics of the final state plus the derived ones the references use."""
    q = dict(final)
    ra = cfg["physics"]["ra"]
    q["dissipation_over_ra"] = final["dissipation"] / ra if ra else 0.0
    return q


def compare(case: Case, values: dict, resolution: int) -> tuple[list[str], bool]:
    """One line per quantity and the verdict. A reference value with a tolerance reads
    '<name> <computed> ref <value> rel.err <e> tol <tol> pass|FAIL'; a published range
    '<name> <computed> range [<min>, <max>] inside|outside by <d> (relative to the range's
    middle) pass|FAIL'."""
    lines, ok = [], True
    tol = case.tolerance(resolution)
    for item in case.reference["quantity"]:
        name = item["name"]
        val = values[name]
        if "reference" in item:
            ref = float(item["reference"])
            err = abs(val - ref) / abs(ref)
            good = tol is not None and err <= tol
            tol_text = f"{tol:.3g}" if tol is not None else "none"
            lines.append(f"{name} {val:.8g} ref {ref:.8g} rel.err {err:.3e} tol {tol_text} "
                         f"{'pass' if good else 'FAIL'}")
        else:
            lo, hi = float(item["min"]), float(item["max"])
            good = lo <= val <= hi
            where = "inside" if good else (
                f"outside by {min(abs(val - lo), abs(val - hi)) / abs(0.5 * (lo + hi)):.3e}")
            lines.append(f"{name} {val:.8g} range [{lo:.8g}, {hi:.8g}] {where} "
                         f"{'pass' if good else 'FAIL'}")
        ok = ok and good
    return lines, ok


def _describe_run(res, cfg, echo) -> None:
    """How the run ended: steady or not (with the last measured rate), warnings, resume."""
    tm = cfg["time"]
    resumed = (f" (resumed from step {res.resumed_from}; {res.total_wall_time:.1f} s in all "
               "sessions)" if res.resumed_from is not None else "")
    echo(f"# {res.status} after {res.steps} steps, t = {res.time:.4g}, "
         f"{res.wall_time:.1f} s{resumed}")
    for w in res.warnings:
        echo(f"# warning: {w}")
    if res.status != "steady":
        echo(f"# warning: not at steady state by end_time = {tm['end_time']} or max_steps = "
             f"{tm['max_steps']} (steady_tol = {tm['steady_tol']:g}); the comparison below "
             "is of the last state")


def run_case(name: str, resolution: int | None = None, out: str | None = None,
             stokes: str | None = None, progress: bool = True, start_from: str | None = None,
             spinup_every: int = 1, steady_tol: float | None = None,
             refine_walls: float | None = None, echo=print) -> bool:
    """Run a case to steady state and compare with its reference values.

    spinup_every = N > 1 first runs to steady state solving Stokes only every N steps, then
    restarts from that state with Stokes every step and runs to steady state again. A
    steady state is a fixed point of both (T stops changing, so lagged velocities are the
    current ones), and the explicit energy step's Courant limit, not the Stokes solve, sets
    the step count: at 128x128 this makes the spin-up ~10x cheaper. Only the second phase's
    result is compared."""
    from .simulation import run
    case = load_case(name)
    if spinup_every < 1:
        raise config.ConfigError(f"--spinup-every {spinup_every}: allowed 1 or more")
    if resolution is not None and not 2 <= resolution <= 2048:
        raise config.ConfigError(f"--resolution {resolution}: allowed 2..2048 cells per unit "
                                 "length")
    if steady_tol is not None and not steady_tol > 0:
        raise config.ConfigError(f"--steady-tol {steady_tol}: allowed > 0")

    def make(start, directory, every=1):
        c = case.config(resolution, directory, stokes, progress, start, refine_walls)
        if steady_tol is not None:
            c["time"]["steady_tol"] = steady_tol
        c["stokes"]["every"] = every
        return c

    cfg = make(start_from, out)
    n = cfg["grid"]["ny"]
    if spinup_every > 1:
        pre = run(make(start_from, str(Path(cfg["output"]["directory"]) / "spinup"), spinup_every))
        echo(f"# spin-up with Stokes every {spinup_every} steps: {pre.status} after "
             f"{pre.steps} steps, t = {pre.time:.4g}, {pre.wall_time:.1f} s")
        for w in pre.warnings:
            echo(f"# warning: spin-up {w}: try a smaller --spinup-every (5 settles where "
                 "20 may not)")
        cfg = make(str(pre.directory), out)
    res = run(cfg)
    lines, ok = compare(case, quantities(res.final, cfg), n)
    refine = cfg["grid"]["refine_walls"]
    grid_note = f", refine_walls = {refine:g}" if refine else ""
    echo(f"# {case.name} at {cfg['grid']['nx']}x{n} cells{grid_note}; "
         f"{case.reference.get('source', '')}")
    _describe_run(res, cfg, echo)
    for line in lines:
        echo(line)
    steady = res.status == "steady"
    ok = ok and steady           # a state that is still changing is not the benchmark's
    echo(f"RESULT case={case.name} pass={'true' if ok else 'false'} "
         f"steady={'true' if steady else 'false'}")
    return ok
