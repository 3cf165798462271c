"""The namelist schema: every input, its type, default, allowed range and meaning.

A run is configured by a Fortran namelist file (read with f90nml) with the groups below;
anything not given takes its default. Every bad input ends in one ConfigError line that
names the field and what is allowed, before anything is written.

    &grid     preset, nx, ny, aspect, refine_walls
    &physics  ra, q, gamma, beta, heating, decay_rate, di, t_surface, eta_min, eta_max
    &initial  kind, amplitude, t_inside, boundary_layer, file, snapshot, seed
    &time     end_time, max_steps, courant, limiter, dt_max
    &stokes   solver, every, relaxation, rtol, max_lagged_its, petsc_options, model
    &output   directory, snapshot_every, checkpoint_every, plots, progress
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import f90nml

from .grid import PRESETS, Grid


class ConfigError(ValueError):
    """A bad input, reported as a single line naming the field and what is allowed."""


@dataclass(frozen=True)
class Field:
    type: type
    default: Any
    check: Callable[[Any], bool] | None
    allowed: str          # what is allowed, in words, for the error message
    doc: str


def _range(lo=None, hi=None, lo_open=False):
    def ok(x):
        if not math.isfinite(x):
            return False
        if lo is not None and (x <= lo if lo_open else x < lo):
            return False
        return hi is None or x <= hi
    return ok


def _shell_words(text):
    """Splits into words as the Stokes solver splits it (an unclosed quote does not)."""
    import shlex
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def _choice(*opts):
    return lambda x: x in opts


SOLVERS = ("direct", "lagged", "iterative", "multigrid", "surrogate", "galerkin")
INITIAL_KINDS = ("hot", "cold", "linear", "sine", "conductive", "profile", "restart")
LIMITERS = ("upwind", "minmod", "vanleer", "mc", "superbee")
HEATING_LAWS = ("constant", "decay", "exponential")

SCHEMA: dict[str, dict[str, Field]] = {
    "grid": {
        "preset": Field(str, "laptop", _choice(*PRESETS), "one of " + ", ".join(PRESETS),
                        "grid preset: ci (8x32), laptop (32x128), paper (126x504)"),
        "nx": Field(int, 0, _range(0, 4096), "0 (from preset) or 2..4096",
                    "cells in x; 0 takes aspect * ny"),
        "ny": Field(int, 0, _range(0, 2048), "0 (from preset) or 2..2048",
                    "cells in y; 0 takes the preset's"),
        "aspect": Field(float, 0.0, _range(0.0, 64.0), "0 (from preset) or 0 < aspect <= 64",
                        "box width (height is 1); 0 takes the preset's (4)"),
        "refine_walls": Field(float, 0.0, _range(0.0, 3.0), "0 (uniform) or 0 < x <= 3",
                              "wall refinement strength s: row faces at (1 + tanh(s (2j/ny "
                              "- 1)) / tanh(s)) / 2, wall rows 2s/sinh(2s) of the uniform "
                              "height (0.30 at 1.5); Stokes solvers only, not the surrogate"),
    },
    "physics": {
        "ra": Field(float, 1.0, _range(0.0, 1e12), "0 <= ra <= 1e12",
                    "Rayleigh number (the study uses 1; vigour comes from gamma/beta)"),
        "q": Field(float, 5.0, _range(0.0, 1e4), "0 <= q <= 1e4", "internal heating rate Q"),
        "gamma": Field(float, 1e6, _range(1.0, 1e30), "1 <= gamma <= 1e30",
                       "viscosity contrast due to temperature, eta ~ exp(-ln(gamma) T)"),
        "beta": Field(float, 10.0, _range(1.0, 1e30), "1 <= beta <= 1e30",
                      "viscosity contrast due to depth, eta ~ exp(ln(beta) (1-y))"),
        "heating": Field(str, "constant", _choice(*HEATING_LAWS),
                         "one of " + ", ".join(HEATING_LAWS),
                         "internal heating law: constant q, four-isotope decay of q, "
                         "or q exp(-decay_rate t)"),
        "decay_rate": Field(float, 0.0, _range(0.0, 1e6), "0 <= decay_rate <= 1e6",
                            "rate of the single-exponential heating law"),
        "di": Field(float, 0.0, _range(0.0, 10.0), "0 <= di <= 10",
                    "dissipation number (0: Boussinesq; > 0: extended Boussinesq)"),
        "t_surface": Field(float, 0.0, _range(0.0, 100.0), "0 <= t_surface <= 100",
                           "non-dimensional surface temperature offset in the EBA "
                           "adiabatic term -di (T + t_surface) v"),
        "eta_min": Field(float, 0.0, _range(0.0, 1e30), "0 (no limit) or > 0",
                         "lower viscosity cut-off"),
        "eta_max": Field(float, 0.0, _range(0.0, 1e30), "0 (no limit) or > 0",
                         "upper viscosity cut-off"),
    },
    "initial": {
        "kind": Field(str, "hot", _choice(*INITIAL_KINDS), "one of " + ", ".join(INITIAL_KINDS),
                      "initial temperature (docs/theory.md section 2; 'sine' is the benchmark start, "
                      "'conductive' the steady conduction profile)"),
        "amplitude": Field(float, 0.01, _range(0.0, 1.0), "0 <= amplitude <= 1",
                           "perturbation amplitude (hot: random; sine: cos(pi x/L) sin(pi y))"),
        "t_inside": Field(float, -1.0, lambda x: x == -1.0 or 0.0 <= x <= 2.0,
                          "-1 (the kind's own) or 0..2",
                          "interior temperature (hot 1, cold 0, linear 0.75)"),
        "boundary_layer": Field(float, 0.05, _range(0.0, 0.5, lo_open=True), "0 < x <= 0.5",
                                "thickness of the linear boundary layers of 'linear'"),
        "file": Field(str, "", None, "a path", "profile (text or NetCDF) or run to restart from"),
        "snapshot": Field(int, -1, lambda x: x >= -1, "-1 (last) or a snapshot index >= 0",
                          "snapshot of 'file' to restart from"),
        "interpolate": Field(bool, False, None, ".true. or .false.",
                             "restart: interpolate T from a run on another grid of the same box"),
        "seed": Field(int, 0, _range(0, 2**31 - 1), "0..2**31-1", "seed of the random perturbation"),
    },
    "time": {
        "end_time": Field(float, 0.1, _range(0.0, 1e6, lo_open=True), "0 < end_time <= 1e6",
                          "simulated time to stop at"),
        "max_steps": Field(int, 1_000_000, _range(0, 10**9), "0..1e9", "step limit"),
        "courant": Field(float, 0.5, _range(0.0, 1.0, lo_open=True), "0 < courant <= 1",
                         "Courant factor of the advective time step"),
        "limiter": Field(str, "vanleer", _choice(*LIMITERS), "one of " + ", ".join(LIMITERS),
                         "slope limiter of the TVD advection"),
        "dt_max": Field(float, 0.0, _range(0.0, 1e6), "0 (none) or > 0", "upper bound on dt"),
        "stat_window": Field(float, 0.0, _range(0.0, 1e6), "0 (off) or > 0",
                             "stop at statistical steady state: the time means of mean T and "
                             "Nu_top over the last two windows of this length agree to "
                             "stat_tol (campaigns)"),
        "stat_tol": Field(float, 0.01, _range(0.0, 1.0, lo_open=True), "0 < tol <= 1",
                          "relative tolerance of the statistical steady-state test"),
        "steady_tol": Field(float, 0.0, _range(0.0, 1.0), "0 (off) or 0 < tol <= 1",
                            "stop at steady state: relative change of Nu and Vrms per unit "
                            "time below this"),
    },
    "stokes": {
        "solver": Field(str, "direct", _choice(*SOLVERS), "one of " + ", ".join(SOLVERS),
                        "velocity provider: direct (MUMPS LU every step), lagged (LU reused "
                        "as Krylov preconditioner), iterative (BiCGStab, under-relaxed), "
                        "multigrid (Schur fieldsplit + GAMG), surrogate (the CNN), galerkin "
                        "(coarse stream-function Galerkin solve with memory, no network: the "
                        "non-ML baseline of the correction below)"),
        "every": Field(int, 1, _range(1, 10**6), "1..1e6",
                       "solve Stokes (solver = 'surrogate': run the network and its "
                       "correction) every N steps "
                       "and reuse the velocities between (momentum skipping; the study's "
                       "baseline uses 100), or extrapolate them (extrapolate)"),
        "extrapolate": Field(bool, False, None, ".true. or .false.",
                             "with every > 1: between solves (network calls) extrapolate the "
                             "velocities linearly in time from the last two instead of "
                             "reusing the last (divergence-free; providers/stokes.py "
                             "SkipProvider; not in the study)"),
        "relaxation": Field(float, 0.99, _range(0.0, 1.0, lo_open=True), "0 < x <= 1",
                            "under-relaxation factor of the iterative solver"),
        "rtol": Field(float, 1e-9, _range(0.0, 1.0, lo_open=True), "0 < rtol < 1",
                      "relative tolerance of the Krylov solvers"),
        "max_lagged_its": Field(int, 4, _range(1, 1000), "1..1000",
                                "lagged mode refactorises when a solve needs more Krylov "
                                "iterations than this (one refactorisation costs about as "
                                "much as 5 iterations at 32x128)"),
        "petsc_options": Field(str, "", _shell_words, "PETSc options, e.g. '-stokes_ksp_monitor'",
                               "extra PETSc options (prefix stokes_) passed through"),
        "model": Field(str, "", None, "a model file", "surrogate model file (default: shipped)"),
        "autocast": Field(str, "none", _choice("none", "bfloat16", "float16"),
                          "one of none, bfloat16, float16",
                          "GPU only: run the surrogate's convolutions in this mixed "
                          "precision (the stream function's curl stays in the model's "
                          "precision, so the velocities stay divergence-free)"),
        "warmup_steps": Field(int, 2, _range(0, 10**6), "0..1e6",
                              "steps solved by the direct solver before the surrogate takes over"),
        "refresh_every": Field(int, 0, _range(0, 10**6), "0..1e6",
                               "solver = 'surrogate' or 'galerkin': the direct solver takes "
                               "every N-th step; a Galerkin memory (solver = 'galerkin', or "
                               "correction = 'galerkin') carries its flow into the steps "
                               "between (0: never; not in the study)"),
        "guard_tol": Field(float, 0.0, _range(0.0, 1e6), "0 (off) or 0 < tol <= 1e6",
                           "solver = 'surrogate' or 'galerkin': a step whose velocities leave "
                           "a relative curl of the momentum residual above this takes a "
                           "direct solve instead (stokes_residual.py; 0: no guard; not in "
                           "the study)"),
        "correction": Field(str, "none", _choice("none", "galerkin"), "one of none, galerkin",
                            "surrogate only: 'galerkin' replaces the network's velocities by "
                            "the Stokes solution within a few hundred divergence-free fields "
                            "built from them (galerkin_correction.py; not in the study)"),
        "correction_nodes": Field(int, 0, lambda n: n == 0 or 3 <= n <= 10**4,
                                  "0 (auto) or 3..ny/2 + 1",
                                  "hat-function nodes over the box height for the Galerkin "
                                  "correction and solver = 'galerkin', aspect * (n - 1) + 1 "
                                  "across; 0: about one every four rows and at least 9 (9 at "
                                  "32 rows, 33 at 126), ny/2 + 1 on grids of fewer than 16 rows"),
        "correction_memory": Field(bool, True, None, ".true. or .false.",
                                   "Galerkin correction and solver = 'galerkin': the last "
                                   "step's flow, hat-weighted, "
                                   "joins the span (twice the network's share of functions; "
                                   "more accurate in every laptop test run, docs/reports/2026-11-study-network-and-galerkin.md)"),
    },
    "output": {
        "directory": Field(str, "run", lambda s: s != "", "a directory path", "where output goes"),
        "snapshot_every": Field(int, 100, _range(1, 10**9), "1..1e9",
                                "store T, u, v, p, eta every N steps"),
        "checkpoint_every": Field(int, 500, _range(1, 10**9), "1..1e9",
                                  "write a restart checkpoint every N steps"),
        "plots": Field(bool, True, None, ".true. or .false.", "write PNG plots at the end"),
        "progress": Field(bool, True, None, ".true. or .false.", "show a progress bar"),
    },
}


class Config(dict):
    """Nested dict {group: {key: value}} with attribute access: cfg.physics['q']."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def grid(self) -> Grid:
        g = self["grid"]
        preset = PRESETS[g["preset"]]
        ny = g["ny"] or preset["ny"]
        aspect = g["aspect"] or preset["aspect"]
        nx = g["nx"] or int(round(aspect * ny))
        return Grid(nx=nx, ny=ny, aspect=aspect, refine=g["refine_walls"])

    def to_namelist(self) -> f90nml.Namelist:
        return f90nml.Namelist({k: dict(v) for k, v in self.items()})


def defaults() -> Config:
    return Config({g: {k: copy.copy(f.default) for k, f in fields.items()}
                   for g, fields in SCHEMA.items()})


def _coerce(group: str, key: str, value: Any) -> Any:
    f = SCHEMA[group][key]
    where = f"&{group} {key}"
    if f.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: expected a logical, {f.allowed}")
        return value
    if f.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{where} = {value!r}: expected an integer, allowed {f.allowed}")
    elif f.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} = {value!r}: expected a number, allowed {f.allowed}")
        value = float(value)
    elif f.type is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: expected a string, allowed {f.allowed}")
        value = value.strip()
        if "\x00" in value:
            raise ConfigError(f"{where} = {value!r}: contains a NUL character, allowed {f.allowed}")
    if f.check is not None and not f.check(value):
        raise ConfigError(f"{where} = {value!r} is out of range: allowed {f.allowed}")
    return value


def update(cfg: Config, group: str, key: str, value: Any) -> None:
    """Set one field with the same checks as the namelist reader."""
    group, key = group.lower(), key.lower()
    if group not in SCHEMA:
        raise ConfigError(f"unknown namelist group &{group}: allowed " + ", ".join(SCHEMA))
    if key not in SCHEMA[group]:
        raise ConfigError(f"unknown field &{group} {key}: allowed " + ", ".join(SCHEMA[group]))
    cfg[group][key] = _coerce(group, key, value)


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """'physics.q=3.5' -> ('physics', 'q', 3.5), values parsed as namelist literals."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: expected GROUP.KEY=VALUE, e.g. physics.q=3.5")
    lhs, rhs = text.split("=", 1)
    group, key = lhs.strip().split(".", 1)
    try:
        nml = f90nml.reads(f"&x\n v = {rhs.strip()}\n/\n")
        value = nml["x"]["v"]
    except Exception:
        value = rhs.strip()
    if value is None:  # f90nml returns None for bare words
        value = rhs.strip()
    return group, key, value


def load(path: str | Path | None = None, overrides: list[str] | None = None,
         check: bool = True) -> Config:
    """Read a namelist file over the defaults, then apply GROUP.KEY=VALUE overrides; the
    cross-field checks (`validate`) run at the end unless check=False (the caller sets
    more values first, e.g. the run command's --stokes, and validates then)."""
    cfg = defaults()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"namelist file {str(path)!r} not found")
        text, spans = path.read_text(errors="replace"), []
        unclosed = check_namelist_structure(text, str(path), spans)
        try:
            nml = _parse(text=None, path=path)
        except Exception as exc:  # f90nml raises several types on malformed input
            msg = unclosed or _first_bad_group(text, spans) or _first_line(exc)
            raise ConfigError(f"namelist file {str(path)!r} could not be parsed: {msg}") from None
        _apply(cfg, nml, str(path))
    for item in overrides or []:
        update(cfg, *parse_assignment(item))
    if check:
        validate(cfg)
    return cfg


def _parse(text=None, path=None):
    with contextlib.redirect_stdout(io.StringIO()):   # f90nml prints on some errors
        return f90nml.reads(text) if path is None else f90nml.read(str(path))


def _first_line(exc) -> str:
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _first_bad_group(text: str, spans) -> str | None:
    """f90nml's errors name no line: the first &group ... / block that fails alone."""
    lines = text.splitlines()
    for name, a, b in spans:
        try:
            _parse("\n".join(lines[a - 1:b]) + "\n")
        except Exception as exc:
            return f"&{name} (lines {a}-{b}): {_first_line(exc)}"
    return None


def _strip_comment(line: str, quote: str | None = None) -> tuple[str, str | None, bool]:
    """The line without its comment (a '!' outside quotes), the quote still open at its
    end (f90nml continues a string on the next line) and whether it opened on this line;
    quoted text is blanked, so a '/' or '&' inside a string is not read as structure."""
    out, opened_here = [], False
    for ch in line:
        if quote:
            out.append(" " if ch != quote else ch)
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote, opened_here = ch, True
            out.append(ch)
        elif ch == "!":
            break
        else:
            out.append(ch)
    return "".join(out), quote, opened_here


def check_namelist_structure(text: str, where: str, spans: list | None = None) -> str | None:
    """What f90nml would read silently with other values: text outside any &group ... /
    block (dropped), a group opened before the previous one is closed with '/' (merged
    into it), a group given twice (the last one wins). One line, naming line and group.
    Returns what f90nml's error at the end of the file means (a group left open), if any;
    spans, if given, gets (group, first line, last line) of each block."""
    import re
    current, seen = None, {}                 # the open group and its line; groups seen
    quote, opened = None, 0                  # a string open at a line's end, and its line
    for n, raw in enumerate(text.splitlines(), start=1):
        line, quote, opened_here = _strip_comment(raw, quote)
        opened = n if opened_here else opened
        for tok in re.findall(r"&\w+|/|[^\s&/]+(?:\s*=)?", line):
            if tok.lower() == "&end" or tok == "/":    # '&end': the old terminator
                if current is not None and spans is not None:
                    spans.append((current[0], current[1], n))
                current = None
            elif tok.startswith("&"):
                name = tok[1:].lower()
                if current is not None:
                    raise ConfigError(f"{where} line {n}: &{name} starts before &{current[0]} "
                                      f"(line {current[1]}) is closed with '/'")
                if name in seen:
                    raise ConfigError(f"{where} line {n}: &{name} is given a second time "
                                      f"(first on line {seen[name]}); merge the two")
                seen[name] = n
                current = (name, n)
            elif current is None:
                raise ConfigError(f"{where} line {n}: {raw.strip()!r} stands outside any "
                                  "&group ... / block (a missing &group line?)")
    if quote is not None:
        raise ConfigError(f"{where} line {opened}: a string opened with {quote} is never "
                          "closed")
    return None if current is None else f"line {current[1]}: &{current[0]} is never closed with '/'"


def loads(text: str) -> Config:
    """A namelist held as text (e.g. the one a run file stores) over today's defaults: a
    namelist written before a field existed reads to the same config as one with the
    field at its default."""
    cfg = defaults()
    _apply(cfg, f90nml.reads(text), "namelist text")
    validate(cfg)
    return cfg


def _apply(cfg: Config, nml, where: str) -> None:
    for group, entries in nml.items():
        if group not in SCHEMA:
            raise ConfigError(f"unknown namelist group &{group} in {where}: allowed "
                              + ", ".join(SCHEMA))
        for key, value in entries.items():
            if isinstance(value, list):
                raise ConfigError(f"&{group} {key}: expected one value, got a list")
            update(cfg, group, key, value)


def validate(cfg: Config) -> None:
    """Checks that involve more than one field."""
    p = cfg["physics"]
    if p["eta_min"] > 0 and p["eta_max"] > 0 and p["eta_min"] >= p["eta_max"]:
        raise ConfigError(f"&physics eta_min = {p['eta_min']} must be below eta_max = "
                          f"{p['eta_max']}")
    if p["di"] > 0 and p["ra"] <= 0:
        raise ConfigError(f"&physics di = {p['di']} needs ra > 0 (dissipation scales with "
                          "Di/Ra)")
    g = cfg["grid"]
    if g["nx"] and not g["ny"]:
        raise ConfigError("&grid nx is set but ny is not: give both, or ny alone")
    if 0 < g["nx"] < 2 or 0 < g["ny"] < 2:
        raise ConfigError("&grid nx, ny: at least 2 cells each")
    if not g["nx"]:
        preset = PRESETS[g["preset"]]
        nx = int(round((g["aspect"] or preset["aspect"]) * (g["ny"] or preset["ny"])))
        if nx < 2:
            raise ConfigError(f"&grid aspect * ny gives nx = {nx}: at least 2 cells; raise "
                              "aspect or ny, or give nx")
    k = cfg["initial"]["kind"]
    if k in ("profile", "restart") and not cfg["initial"]["file"]:
        raise ConfigError(f"&initial file: required when kind = '{k}' (a path to an existing file)")
    if k in ("profile", "restart") and not Path(cfg["initial"]["file"]).exists():
        raise ConfigError(f"&initial file = {cfg['initial']['file']!r}: file not found")
    check_stokes_options(cfg)


def check_stokes_options(cfg: Config) -> None:
    """&stokes settings that do not apply to the chosen solver, or not to this grid, are
    refused (run by `validate` at load time, and again by make_provider for a config
    changed in code)."""
    st, method, grid = cfg["stokes"], cfg["stokes"]["solver"], cfg.grid()
    if method in ("surrogate", "galerkin") and not grid.uniform:
        raise ConfigError(f"&grid refine_walls = {grid.refine}: the {method} provider supports "
                          "uniform grids only (refine_walls = 0); use a Stokes solver")
    if st["correction"] != "none" and method != "surrogate":
        raise ConfigError(f"&stokes correction = {st['correction']!r}: applies to solver = "
                          "'surrogate' only (allowed here: 'none')")
    if st["refresh_every"] and method not in ("surrogate", "galerkin"):
        raise ConfigError(f"&stokes refresh_every = {st['refresh_every']}: applies to solver = "
                          "'surrogate' or 'galerkin' only (allowed here: 0; a Stokes solver "
                          "skips solves with every = N)")
    if st["guard_tol"] and method not in ("surrogate", "galerkin"):
        raise ConfigError(f"&stokes guard_tol = {st['guard_tol']}: applies to solver = "
                          "'surrogate' or 'galerkin' only (allowed here: 0)")
    if st["every"] > 1 and method == "galerkin":
        raise ConfigError(f"&stokes every = {st['every']}: applies to the Stokes solvers and "
                          "the surrogate (allowed with solver = 'galerkin': 1; refresh_every "
                          "= N runs the direct solver every N steps)")
    if st["extrapolate"] and st["every"] == 1:
        raise ConfigError("&stokes extrapolate = .true.: applies with every > 1 only (allowed "
                          "here: .false.)")
    most = grid.ny // 2 + 1
    if st["correction_nodes"] > most:
        raise ConfigError(f"&stokes correction_nodes = {st['correction_nodes']}: allowed 0 "
                          f"(auto) or 3..{most} (ny/2 + 1) on this grid")


def namelist_reference() -> str:
    """The markdown reference of every field: docs/namelist.md is exactly this
    (`pymantle namelist > docs/namelist.md` regenerates it; a test holds them equal)."""
    lines = ["# Namelist reference", "",
             "Generated by `pymantle namelist > docs/namelist.md` from pymantle/config.py. "
             "Notes on wall-refined",
             "grids, the Galerkin correction and the environment switches: "
             "[guide/namelist-notes.md](guide/namelist-notes.md).", "",
             "| group | field | default | allowed | meaning |", "|---|---|---|---|---|"]
    for g, fields in SCHEMA.items():
        for k, f in fields.items():
            d = f.default
            if isinstance(d, bool):
                d = ".true." if d else ".false."
            elif isinstance(d, str):
                d = f"'{d}'"
            lines.append(f"| &{g} | {k} | {d} | {f.allowed} | {f.doc} |")
    return "\n".join(lines) + "\n"
