"""Fault injection on the ci grid: `pymantle run` and `pymantle campaign` killed (-9) or
stopped (SIGTERM) at seeded random moments and run again end where an uninterrupted run
ends, bit for bit; a second process on a folder in use is refused at once with one line;
corrupt or truncated checkpoints, run files and model files give one line, no traceback."""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from pymantle import open_run

RNG = random.Random(19)
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")
STEPS = 600                        # ~0.8 s of stepping on the ci grid, plus ~0.7 s start-up


def run_args(steps=STEPS):
    return ["--set", "grid.preset='ci'", "--set", "output.plots=.false.", "--no-progress",
            "--set", "time.end_time=1e6", "--set", f"time.max_steps={steps}",
            "--set", "output.checkpoint_every=40", "--set", "output.snapshot_every=25",
            "--set", "physics.gamma=1e5"]


RUN = run_args()
ARRAYS = ("T", "u", "v", "p", "time", "snapshot_step", "step", "history_time", "Nu_top",
          "Vrms", "T_mean", "dt", "stokes_iterations")


def pymantle(*args, **kw):
    return [sys.executable, "-m", "pymantle.cli", *args]


def run_cli(*args, timeout=120):
    return subprocess.run(pymantle(*args), capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def assert_same_run(a, b):
    da, db = open_run(a), open_run(b)
    try:
        for name in ARRAYS:
            np.testing.assert_array_equal(da[name].values, db[name].values, err_msg=name)
    finally:
        da.close(), db.close()


def one_line_error(r, *needles):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("ref") / "run"
    r = run_cli("run", *RUN, "--out", str(out))
    assert r.returncode == 0, r.stderr
    return out


def interrupt(out, sig, delay):
    """Start the run, send sig once it has written its first file plus delay seconds."""
    p = subprocess.Popen(pymantle("run", *RUN, "--out", str(out)), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 60
    while not (out / "run.nc.part").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    return p.returncode, err


def kill_and_resume(tmp_path, reference, sig, *expected_rc):
    out = tmp_path / "run"
    for delay in (RNG.uniform(0.0, 0.4), RNG.uniform(0.0, 0.4)):   # twice, then to the end
        rc, err = interrupt(out, sig, delay)
        assert rc in (*expected_rc, 0), err                           # 0: it finished first
        assert "Traceback" not in err, err
    r = run_cli("run", *RUN, "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert_same_run(reference, out)
    # (a kill inside write_checkpoint leaves its temporary file; the resumed run removes it)
    assert sorted(os.listdir(out)) == [".pymantle.lock", "checkpoint.nc", "run.nc", "run.xdmf"]


def test_kill9_run_and_resume_is_bit_identical(tmp_path, reference):
    kill_and_resume(tmp_path, reference, signal.SIGKILL, -signal.SIGKILL)


def test_sigterm_run_and_resume_is_bit_identical(tmp_path, reference):
    # 3: stopped by the run's handler; -15: the signal came before it was installed
    kill_and_resume(tmp_path, reference, signal.SIGTERM, 3, -signal.SIGTERM)


def test_a_resumed_run_removes_a_killed_checkpoint_write(finished):
    stray = finished / ".checkpoint-killed.nc"          # what a kill mid-write leaves
    shutil.copy(finished / "checkpoint.nc", stray)
    r = run_cli("run", *run_args(STEPS + 10), "--out", str(finished))
    assert r.returncode == 0, r.stderr
    assert not stray.exists()


def test_a_second_run_on_a_folder_in_use_is_refused_at_once(tmp_path, reference):
    out = tmp_path / "run"
    first = subprocess.Popen(pymantle("run", *RUN, "--out", str(out)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 60
    while not (out / "run.nc.part").exists() and time.time() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGSTOP)             # holds the folder while the second tries
    try:
        for args in (RUN, RUN + ["--overwrite"]):     # --overwrite must not delete its files
            t0 = time.time()
            second = run_cli("run", *args, "--out", str(out))
            one_line_error(second, "in use by another pymantle process", f"pid {first.pid}")
            assert time.time() - t0 < 30
    finally:
        first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert_same_run(reference, out)               # the first run did not notice


def test_kill9_campaign_and_rerun_matches_a_clean_one(tmp_path, ci_campaign_dir):
    from pymantle.campaign import read_index
    out = tmp_path / "camp"
    cmd = pymantle("campaign", "--preset", "ci", "--out", str(out), "--no-progress")
    for _ in range(2):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=ENV)
        deadline = time.time() + 60
        while (not list(out.glob("sims/*/run.nc.part")) and p.poll() is None
               and time.time() < deadline):
            time.sleep(0.01)
        time.sleep(RNG.uniform(0.0, 0.5))
        p.kill()
        p.communicate(timeout=60)
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    rows, ref = read_index(out), read_index(ci_campaign_dir)
    assert [(x["sim"], x["status"], x["steps"]) for x in rows] == \
        [(x["sim"], x["status"], x["steps"]) for x in ref]
    for x in ref:
        sim = f"sims/sim-{x['sim']:04d}"
        assert_same_run(ci_campaign_dir / sim, out / sim)


@pytest.fixture
def finished(tmp_path, reference):
    d = tmp_path / "run"
    shutil.copytree(reference, d)
    return d


def truncate(path, keep=3000):
    path.write_bytes(path.read_bytes()[:keep])


def scramble(path, n=200, seed=5):
    data, r = bytearray(path.read_bytes()), random.Random(seed)
    for _ in range(n):
        data[r.randrange(len(data))] = r.randrange(256)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [truncate, scramble, lambda p: p.write_bytes(b"")],
                         ids=["truncated", "scrambled", "empty"])
def test_a_damaged_checkpoint_is_one_line(finished, damage):
    damage(finished / "checkpoint.nc")
    r = run_cli("run", *run_args(STEPS + 10),
                "--out", str(finished))
    one_line_error(r, "checkpoint", "unreadable or incomplete")


@pytest.mark.parametrize("damage", [truncate, scramble], ids=["truncated", "scrambled"])
def test_a_damaged_run_file_as_a_restart_source_is_one_line(tmp_path, finished, damage):
    damage(finished / "run.nc")
    r = run_cli("run", *RUN, "--out", str(tmp_path / "new"), "--set",
                "initial.kind='restart'", "--set", f"initial.file='{finished}'")
    one_line_error(r, "&initial file")
    assert not (tmp_path / "new").exists()
    from pymantle.output import CorruptFile
    with pytest.raises(CorruptFile, match="not a readable NetCDF run file"):
        open_run(finished).close()


def test_extending_a_run_with_a_damaged_run_file_is_one_line(finished):
    truncate(finished / "run.nc")
    r = run_cli("run", *run_args(STEPS + 10),
                "--out", str(finished))
    one_line_error(r, "run.nc")


@pytest.mark.parametrize("damage", [truncate, scramble], ids=["truncated", "scrambled"])
def test_a_damaged_model_file_is_one_line(tmp_path, damage):
    from pymantle.ml.checkpoint import load_model_file  # noqa: F401 (torch importable)
    model = tmp_path / "model.pt"
    shutil.copy(os.path.join(os.path.dirname(__import__("pymantle").__file__), "models",
                             "laptop.pt"), model)
    damage(model)
    r = run_cli("run", *RUN, "--out", str(tmp_path / "out"), "--stokes", "surrogate",
                "--set", f"stokes.model='{model}'")
    one_line_error(r, "&stokes model")
    assert not (tmp_path / "out").exists()
