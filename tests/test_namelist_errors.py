"""Bad input ends in one line naming the field and what is allowed, and writes nothing."""
import subprocess
import sys

import pytest

from pymantle import config
from pymantle.config import ConfigError


def write(tmp_path, text):
    p = tmp_path / "bad.nml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,needle", [
    ("&physics\n qq = 1.0\n/\n", "unknown field &physics qq"),
    ("&phisics\n q = 1.0\n/\n", "unknown namelist group &phisics"),
    ("&physics\n q = 'lots'\n/\n", "&physics q = 'lots': expected a number"),
    ("&physics\n q = -1.0\n/\n", "&physics q = -1.0 is out of range: allowed 0 <= q <= 1e4"),
    ("&physics\n gamma = 0.5\n/\n", "&physics gamma = 0.5 is out of range"),
    ("&grid\n ny = 3.5\n/\n", "&grid ny = 3.5: expected an integer"),
    ("&grid\n preset = 'huge'\n/\n", "allowed one of ci, laptop, paper"),
    ("&stokes\n solver = 'magic'\n/\n", "&stokes solver = 'magic' is out of range"),
    ("&stokes\n autocast = 'fp8'\n/\n", "allowed one of none, bfloat16, float16"),
    ("&time\n courant = 2.0\n/\n", "&time courant = 2.0 is out of range: allowed 0 < courant <= 1"),
    ("&output\n plots = 3\n/\n", "&output plots = 3: expected a logical"),
    ("&initial\n kind = 'profile'\n/\n", "&initial file: required when kind = 'profile'"),
    ("&initial\n kind = 'restart'\n file = 'nowhere.nc'\n/\n", "&initial file = 'nowhere.nc': file not found"),
    ("&physics\n eta_min = 1.0\n eta_max = 0.5\n/\n", "&physics eta_min = 1.0 must be below eta_max"),
    ("&physics\n q = 1.0\n", "could not be parsed"),
])
def test_bad_namelist_gives_one_line_error(tmp_path, text, needle):
    with pytest.raises(ConfigError) as exc:
        config.load(write(tmp_path, text))
    msg = str(exc.value)
    assert needle in msg
    assert "\n" not in msg


def test_missing_namelist_file():
    with pytest.raises(ConfigError, match="namelist file 'no/such.nml' not found"):
        config.load("no/such.nml")


def test_override_errors():
    with pytest.raises(ConfigError, match="expected GROUP.KEY=VALUE"):
        config.load(None, ["q=3"])
    with pytest.raises(ConfigError, match="unknown field &physics z"):
        config.load(None, ["physics.z=3"])
    cfg = config.load(None, ["physics.q=3", "stokes.solver='lagged'", "output.plots=.false."])
    assert cfg["physics"]["q"] == 3.0 and cfg["stokes"]["solver"] == "lagged"
    assert cfg["output"]["plots"] is False


def test_cli_reports_error_and_writes_nothing(tmp_path):
    nml = write(tmp_path, f"&output\n directory = '{tmp_path / 'out'}'\n/\n&physics\n beta = 1e40\n/\n")
    proc = subprocess.run([sys.executable, "-m", "pymantle.cli", "run", str(nml)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "&physics beta = 1e+40 is out of range" in lines[0]
    assert not (tmp_path / "out").exists()


def test_namelist_reference_documents_every_field():
    ref = config.namelist_reference()
    for group, fields in config.SCHEMA.items():
        for key in fields:
            assert f"| &{group} | {key} |" in ref


def test_defaults_round_trip_through_a_namelist(tmp_path):
    p = tmp_path / "defaults.nml"
    config.defaults().to_namelist().write(str(p))
    assert config.load(p) == config.defaults()


def test_docs_namelist_reference_is_current():
    from pathlib import Path
    doc = (Path(__file__).parent.parent / "docs" / "namelist.md").read_text()
    assert config.namelist_reference() == doc, ("regenerate it: pymantle namelist > "
                                                "docs/namelist.md")


def test_readme_namelist_example_parses(tmp_path):
    from pathlib import Path
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("```fortran\n", 1)[1].split("```", 1)[0]
    cfg = config.load(write(tmp_path, block))
    assert cfg["physics"]["gamma"] == 1e6 and cfg["stokes"]["every"] == 1


def test_stored_namelist_without_a_newer_field_reads_to_the_same_config():
    # run files store their namelist; one written before a field existed (here: without
    # &stokes autocast) must read back to the config of today's defaults plus its values
    from pymantle.output import namelist_text
    cfg = config.load(None, ["physics.q=3.5", "grid.ny=16"])
    text = namelist_text(cfg)
    old = "\n".join(ln for ln in text.splitlines() if "autocast" not in ln)
    assert old != text
    assert namelist_text(config.loads(old)) == text
    with pytest.raises(ConfigError, match="physics"):
        config.loads(text.replace("q = 3.5", "q = -1.0"))


@pytest.mark.parametrize("text, message", [
    ("q = 3.0\n&physics gamma = 1e5 /\n",
     r"line 1: 'q = 3.0' stands outside any &group \.\.\. / block"),
    ("&physics q = 3.0\n&time end_time = 0.2 /\n",
     r"line 2: &time starts before &physics \(line 1\) is closed with '/'"),
    ("&physics q = 3.0 /\n&time end_time = 0.2 /\n&physics q = 4.0 /\n",
     r"line 3: &physics is given a second time \(first on line 1\)"),
])
def test_malformed_structure_is_one_line_naming_line_and_group(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, text))


def test_slashes_and_ampersands_in_strings_and_comments_are_not_structure(tmp_path):
    cfg = config.load(write(tmp_path, "! a/b &x\n&output directory = 'a/b&c' / ! end/\n"
                                      "&physics q = 2.5\n/\n"))
    assert cfg["output"]["directory"] == "a/b&c" and cfg["physics"]["q"] == 2.5


def test_cli_one_line_errors_for_small_misuses(tmp_path):
    """A folder as &stokes model, a zero benchmark resolution, and a run cut short by
    max_steps (which must say so)."""
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pymantle.cli", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
    (tmp_path / "models").mkdir()
    r = cli("run", "--set", "grid.preset='ci'", "--set", "stokes.solver='surrogate'",
            "--set", "stokes.model='models'", "--out", "a")
    assert r.returncode != 0 and "is a folder; name the model file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("benchmark", "run", "blankenbach-1a", "--resolution", "0", "--out", "b")
    assert r.returncode != 0 and "--resolution 0: allowed 2..2048" in r.stderr
    assert not (tmp_path / "b").exists()
    r = cli("run", "--set", "grid.preset='ci'", "--set", "time.max_steps=3", "--out", "c",
            "--set", "output.plots=.false.")
    assert r.returncode == 0, r.stderr
    assert "stopped by max_steps = 3 before end_time = 0.1" in r.stdout
