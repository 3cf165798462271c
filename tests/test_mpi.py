"""`mpiexec -n 2 pymantle run` solves the distributed Stokes system and matches 1 rank."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pymantle import open_run

pytestmark = pytest.mark.mpi


def mpi_env():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    return env


@pytest.mark.parametrize("solver", ["direct", "multigrid"])
def test_two_ranks_equal_one_rank(tmp_path, solver):
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("mpiexec not installed (scripts/setup.sh installs Open MPI)")
    args = ["-m", "pymantle.cli", "run", "--no-progress", "--set", "grid.preset='ci'",
            "--set", "time.max_steps=15", "--set", "time.end_time=1.0", "--set", "output.snapshot_every=5",
            "--set", "output.plots=.false.", "--set", "physics.gamma=1e4",
            "--set", f"stokes.solver='{solver}'", "--set", "stokes.rtol=1e-12"]
    one = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=mpi_env(), timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([mpiexec, "-n", "2", sys.executable, *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=mpi_env(), timeout=300)
    assert two.returncode == 0, two.stderr + two.stdout
    a, b = open_run(tmp_path / "one"), open_run(tmp_path / "two")
    assert a.sizes["time"] == b.sizes["time"] == 4
    scale = float(np.abs(a["v"]).max())
    assert scale > 0
    np.testing.assert_allclose(b["v"].values, a["v"].values, atol=1e-8 * scale)
    np.testing.assert_allclose(b["u"].values, a["u"].values, atol=1e-8 * scale)
    np.testing.assert_allclose(b["T"].values, a["T"].values, atol=1e-9)
