import os

import numpy as np
import pytest

# One BLAS thread: the solves here are small, and spinning pool threads only cost time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pymantle import config  # noqa: E402


def make_config(tmp_path, *overrides, progress=False):
    """Default config on the ci grid, writing into tmp_path, with GROUP.KEY=VALUE overrides."""
    base = ["grid.preset='ci'", f"output.directory='{tmp_path / 'run'}'",
            f"output.progress={'.true.' if progress else '.false.'}", "output.plots=.false."]
    return config.load(None, base + list(overrides))


@pytest.fixture
def cfg_factory(tmp_path):
    return lambda *ov: make_config(tmp_path, *ov)


def stream_velocities(grid, seed=0):
    """Random divergence-free face velocities from a stream function on the corners that
    vanishes on the walls (u = d psi/dy, v = -d psi/dx)."""
    rng = np.random.default_rng(seed)
    psi = np.zeros(grid.corner_shape)
    psi[1:-1, 1:-1] = rng.standard_normal((grid.ny - 1, grid.nx - 1))
    u = (psi[1:, :] - psi[:-1, :]) / grid.dy_c[:, None]     # row heights: any grid
    v = -(psi[:, 1:] - psi[:, :-1]) / grid.dx
    return u, v


@pytest.fixture(scope="module")
def one_torch_thread():
    """Many tiny convolutions: on a busy 2-core machine OpenMP's thread hand-off costs
    ~15 ms per call, 1000x the work itself. One thread keeps these tests fast."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def ci_campaign_dir(tmp_path_factory):
    """A ci campaign shared by the tests that only read it (their trainers write elsewhere)."""
    from pymantle.campaign import run_campaign
    d = tmp_path_factory.mktemp("ci-campaign") / "ci"
    run_campaign(d, "ci", progress=False)
    return d
