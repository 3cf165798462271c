"""A fuzz corpus of mutated namelists (seeded, deterministic, built here from one valid base
and the schema in config.SCHEMA): every invalid one ends in exit status 2 and exactly one
line on stderr naming the field, group or line, with no traceback; no mutation, valid or
not, leaves a file or folder in the output location; the valid ones are accepted.

The CLI runs in process (`pymantle namelist --check FILE` and `pymantle run FILE` with the
simulation's `run` stopped where it would start computing, after the Simulation is set
up); a handful of cases also run as real subprocesses."""
import os
import random
import subprocess
import sys

import pytest

from pymantle import cli, config
from pymantle.config import SCHEMA

SEED = 19
BASE = {                      # group -> key -> namelist literal; a valid short ci run
    "grid": {"preset": "'ci'"},
    "physics": {"q": "5.0", "gamma": "1e5", "beta": "10.0"},
    "initial": {"kind": "'hot'", "seed": "1"},
    "time": {"end_time": "0.01", "max_steps": "3"},
    "stokes": {"solver": "'direct'"},
    "output": {"directory": "'{out}'", "plots": ".false.", "progress": ".false."},
}


def render(groups, comment=None):
    lines = [f"! {comment}"] if comment else []
    for g, entries in groups.items():
        lines.append(f"&{g}")
        lines += [f"  {k} = {v}" for k, v in entries.items()]
        lines.append("/")
    return "\n".join(lines) + "\n"


def with_value(group, key, literal):
    groups = {g: dict(e) for g, e in BASE.items()}
    groups.setdefault(group, {})[key] = literal
    return render(groups)


def _literal(x):
    if isinstance(x, bool):
        return ".true." if x else ".false."
    if isinstance(x, str):
        return repr(x)
    return repr(x)


# probes: the numbers that the range checks are tried with (the schema's check decides)
NUMBERS = [-1, -2, -1e300, 0, 0.5, 1.5, 3, 2**31, 10**10, 1e7, 1e13, 1e31, 1e300, -0.0]
WRONG_TYPE = {float: ["'lots'", ".true.", "'1.0'"], int: ["2.5", "'three'", ".false."],
              bool: ["3", "'yes'", "1.0"], str: ["42", ".true.", "1.5"]}


def _is_invalid(f, x):
    if f.type is int:
        if isinstance(x, float) and not x.is_integer():
            return True
        x = int(x)
    elif f.type is float:
        x = float(x)
    return f.check is not None and not f.check(x)


def corpus():
    """[(case id, bytes, expected: None for valid, else a substring of the one line)]"""
    rng = random.Random(SEED)
    cases = []
    add = lambda name, text, needle: cases.append(  # noqa: E731
        (name, text if isinstance(text, bytes) else text.encode(), needle))
    # every field: wrong types, and out-of-range values by its own check
    for g, fields in SCHEMA.items():
        for k, f in fields.items():
            where = f"&{g} {k}"
            add(f"type-{g}-{k}", with_value(g, k, rng.choice(WRONG_TYPE[f.type])), where)
            if f.type in (int, float):
                bad = [x for x in NUMBERS if _is_invalid(f, x)]
                for x in rng.sample(bad, min(2, len(bad))):
                    add(f"range-{g}-{k}-{x}", with_value(g, k, repr(x)), where)
                good = [x for x in NUMBERS if not _is_invalid(f, x)]
                assert good or f.type is int, where
            if f.type is float:          # NaN and infinities, in Fortran's spellings
                lit = rng.choice(["nan", "NaN", "inf", "-inf", "+Infinity", "1e999", "-1d999"])
                add(f"nonfinite-{g}-{k}-{lit}", with_value(g, k, lit), where)
            if f.type is str and f.check is not None:
                bad = {"petsc_options": "'-stokes_ksp_type \"gmres'", "directory": "''"}
                add(f"choice-{g}-{k}", with_value(g, k, bad.get(k, "'bogus-value'")), where)
            add(f"list-{g}-{k}", with_value(g, k, "1, 2"), where)
    # unknown groups and keys, structure
    add("unknown-group", render({**BASE, "phisics": {"q": "1.0"}}), "&phisics")
    add("unknown-key", with_value("physics", "qq", "1.0"), "&physics qq")
    add("unknown-key-case", with_value("stokes", "SOLVR", "'direct'"), "&stokes solvr")
    add("derived-type-key", with_value("physics", "q%a", "1.0"), "&physics (lines 4-9)")
    add("indexed-key", with_value("physics", "q(2)", "1.0"), "&physics q")
    text = render(BASE)
    lines = text.splitlines(keepends=True)
    slashes = [i for i, ln in enumerate(lines) if ln.strip() == "/"]
    opens = [i for i, ln in enumerate(lines) if ln.startswith("&")]
    for i in rng.sample(slashes, 3):                      # a missing '/'
        add(f"no-slash-{i}", "".join(lines[:i] + lines[i + 1:]), "line")
    for i in rng.sample(opens, 3):                        # a missing '&group'
        add(f"no-group-{i}", "".join(lines[:i] + lines[i + 1:]), "line")
    add("no-final-slash", text.rstrip().rstrip("/"), "never closed")
    add("duplicate-group", text + "&physics q = 2.0 /\n", "&physics is given a second time")
    add("text-before", "hello world\n" + text, "line 1")
    add("text-after", text + "q = 3.0\n", "stands outside")
    add("text-between", text.replace("/\n&time", "/\nend_time = 1\n&time"), "stands outside")
    add("after-slash", text.replace("/\n&time", "/ junk\n&time"), "stands outside")
    add("old-dollar-syntax", "$physics q = 1.0 $end\n", "line 1")
    add("unclosed-string", with_value("output", "directory", "'never closed"), "never closed")
    for n in rng.sample(range(1, len(text) - 2), 6):     # truncated inside a group
        cut = text[:n]
        if cut.rstrip().endswith("/") or not cut.strip():
            continue
        add(f"truncated-{n}", cut, "line")
    # garbage, empty, encodings
    for j in range(4):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        add(f"garbage-prefix-{j}", b"\x80" + junk + b"\n" + text.encode(), "")
    add("garbage-value", with_value("physics", "q", "\x01\x02\x7f"), "&physics q")
    add("nul-in-string", with_value("output", "directory", "'a\x00b'"), "&output directory")
    add("latin1-value", with_value("stokes", "model", "'modèle.pt'").encode("latin-1"), "")
    add("utf16", text.encode("utf-16"), "")
    add("binary", bytes(range(256)) * 4, "")
    # huge numbers and negative counts
    add("huge-int", with_value("grid", "ny", "1" + "0" * 30), "&grid ny")
    add("huge-float", with_value("physics", "q", "1e308"), "&physics q")
    add("huge-seed", with_value("initial", "seed", str(2**31)), "&initial seed")
    add("negative-steps", with_value("time", "max_steps", "-1"), "&time max_steps")
    add("negative-snapshot-every", with_value("output", "snapshot_every", "-100"),
        "&output snapshot_every")
    add("zero-every", with_value("stokes", "every", "0"), "&stokes every")
    add("negative-correction-nodes", with_value("stokes", "correction_nodes", "-3"),
        "&stokes correction_nodes")
    # cross-field rules
    add("eta-order", with_value("physics", "eta_min", "2.0").replace(
        "&physics\n", "&physics\n  eta_max = 1.0\n"), "eta_min")
    add("nx-without-ny", with_value("grid", "nx", "16"), "&grid nx")
    add("nx-from-aspect-0", with_value("grid", "aspect", "0.01").replace(
        "&grid\n", "&grid\n  ny = 4\n"), "&grid aspect")
    add("di-without-ra", with_value("physics", "di", "0.5").replace(
        "&physics\n", "&physics\n  ra = 0.0\n"), "&physics di")
    add("profile-without-file", with_value("initial", "kind", "'profile'"), "&initial file")
    add("restart-missing-file", with_value("initial", "file", "'nowhere.nc'").replace(
        "'hot'", "'restart'"), "&initial file")
    add("nodes-for-grid", with_value("stokes", "correction_nodes", "10000").replace(
        "'direct'", "'galerkin'"),
        "&stokes correction_nodes")
    # valid mutations: accepted
    add("valid-base", text, None)
    add("valid-empty", b"", None)
    add("valid-comments-only", "! nothing here / & really\n\n", None)
    add("valid-uppercase", text.upper().replace("'CI'", "'ci'").replace("'HOT'", "'hot'")
        .replace("'DIRECT'", "'direct'").replace("'{OUT}'", "'{out}'"), None)
    add("valid-end-terminator", text.replace("/\n", "&end\n"), None)
    add("valid-one-line-groups", text.replace("\n  ", " ").replace("\n/", " /"), None)
    add("valid-crlf", text.replace("\n", "\r\n"), None)
    add("valid-int-for-float", with_value("physics", "q", "3"), None)
    add("valid-integral-float-for-int", with_value("time", "max_steps", "3.0"), None)
    add("valid-slash-in-string", with_value("stokes", "petsc_options", "'-a/b &c'"), None)
    add("valid-bounds", with_value("time", "courant", "1.0").replace(
        "&physics\n", "&physics\n  di = 10.0\n  t_surface = 100.0\n"), None)
    for g, fields in SCHEMA.items():              # a field at its default, given explicitly
        k = rng.choice([k for k in fields if k != "directory"])
        add(f"valid-default-{g}-{k}", with_value(g, k, _literal(fields[k].default)), None)
    return cases


CASES = corpus()
# Invalid only with the grid would be accepted by `namelist --check` if it read the
# namelist alone; config.validate builds the grid, so none is left (nodes-for-grid was).
RUN_ONLY: set[str] = set()


def test_corpus_is_large_and_covers_every_field():
    assert len(CASES) >= 100
    assert len({c[0] for c in CASES}) == len(CASES)
    named = " ".join(c[0] for c in CASES)
    for g, fields in SCHEMA.items():
        for k in fields:
            assert f"type-{g}-{k}" in named


class _WouldCompute(Exception):
    pass


@pytest.fixture(scope="module")
def stop_before_computing():
    """simulation.run up to its time loop: the Simulation is set up (grid, provider,
    checks that need them), then the run stops before it takes the folder."""
    import pymantle.simulation as simulation
    mp = pytest.MonkeyPatch()

    def run(cfg, comm=None, resume=True):
        simulation.Simulation(cfg, comm=comm, resume=resume).provider.close()
        raise _WouldCompute
    mp.setattr(simulation, "run", run)
    yield
    mp.undo()


def _main(argv, capsys):
    try:
        rc = cli.main(argv)
    except _WouldCompute:
        rc = "would compute"
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("name,data,needle", CASES, ids=[c[0] for c in CASES])
def test_mutated_namelist(tmp_path, monkeypatch, capsys, stop_before_computing,
                          name, data, needle):
    monkeypatch.chdir(tmp_path)                   # a default 'run' folder would land here
    out = tmp_path / "out"
    nml = tmp_path / "case.nml"
    nml.write_bytes(data.replace(b"{out}", str(out).encode()))
    for argv in (["namelist", "--check", str(nml)], ["run", str(nml)]):
        rc, stdout, err = _main(argv, capsys)
        assert sorted(os.listdir(tmp_path)) == ["case.nml"], (argv, rc, err)
        assert "Traceback" not in err + stdout
        if needle is None or (name in RUN_ONLY and argv[0] == "namelist"):
            assert err == "", err
            assert rc == (0 if argv[0] == "namelist" else "would compute")
        else:
            lines = err.splitlines()
            assert rc == 2 and len(lines) == 1, (argv, rc, err)
            assert lines[0].startswith("pymantle: error: ") and needle in lines[0], lines[0]
            assert stdout == "", stdout


def test_a_few_as_real_subprocesses(tmp_path):
    """The same contract with a fresh interpreter: exit status, one line, nothing written."""
    picks = ["range-physics-gamma", "no-final-slash", "garbage-prefix-0", "nul-in-string",
             "unclosed-string"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    for name, data, needle in CASES:
        if not any(name.startswith(p) for p in picks):
            continue
        picks = [p for p in picks if not name.startswith(p)]
        out = tmp_path / "out"
        nml = tmp_path / "case.nml"
        nml.write_bytes(data.replace(b"{out}", str(out).encode()))
        r = subprocess.run([sys.executable, "-m", "pymantle.cli", "run", str(nml)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 2, (name, r.stderr)
        assert len(r.stderr.splitlines()) == 1 and needle in r.stderr, (name, r.stderr)
        assert sorted(os.listdir(tmp_path)) == ["case.nml"], name
    assert picks == []


def test_a_run_refused_after_taking_the_folder_leaves_no_folder(tmp_path):
    """An &initial file that exists but cannot be read is found once the run holds the
    output folder: the folder it created goes again."""
    (tmp_path / "garbage.txt").write_bytes(b"\xff\xfe not a profile\n")
    for kind in ("profile", "restart"):
        nml = tmp_path / "case.nml"
        nml.write_text(render({**BASE, "initial": {"kind": f"'{kind}'",
                                                    "file": f"'{tmp_path / 'garbage.txt'}'"},
                               "output": {"directory": f"'{tmp_path / 'out'}'",
                                          "plots": ".false.", "progress": ".false."}}))
        r = subprocess.run([sys.executable, "-m", "pymantle.cli", "run", str(nml)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
        assert "&initial file" in r.stderr
        assert not (tmp_path / "out").exists(), os.listdir(tmp_path / "out")
    (tmp_path / "out").mkdir()                    # a folder that was there stays
    r = subprocess.run([sys.executable, "-m", "pymantle.cli", "run", str(nml)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and (tmp_path / "out").is_dir()


def test_cli_options_are_values_not_namelist_text(tmp_path, capsys, stop_before_computing):
    """--out with a quote in it is a folder name; --out '' and an unbalanced
    --petsc-options are one-line errors."""
    rc, _, err = _main(["run", "--set", "grid.preset='ci'", "--out", str(tmp_path / "a'b")],
                       capsys)
    assert rc == "would compute", err
    for argv, needle in [(["--out", ""], "&output directory"),
                         (["--petsc-options", "-a 'b"], "&stokes petsc_options"),
                         (["--stokes", "magic"], "&stokes solver")]:
        rc, _, err = _main(["run", *argv], capsys)
        assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert os.listdir(tmp_path) == []
