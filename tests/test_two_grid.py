"""The two-grid network (ml/networks/two_grid.py) on small grids: its remap matrices, that it starts
as the coarse network's flow interpolated and projected, that it trains on a refined
campaign from a coarse model file and runs in the time loop, and which model file a run
picks up (the one shipped for its grid preset)."""
import numpy as np
import pytest
import torch

from conftest import make_config
from pymantle import config
from pymantle.campaign import run_campaign
from pymantle.campaign_refine import RefinePlan
from pymantle.config import ConfigError
from pymantle.ml.networks.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
from pymantle.ml.networks.layers import divergence
from pymantle.ml.networks.two_grid import (Remap, TwoGridConfig, TwoGridUNet, interpolation_matrix,
                                  overlap_matrix)

SMALL = {"width": 4, "levels": 3}


def test_restriction_conserves_and_interpolation_is_exact_for_linear_fields():
    R = overlap_matrix(32, 126)
    np.testing.assert_allclose(R.sum(axis=1), 1.0)
    fine = (np.arange(126) + 0.5) / 126
    coarse = (np.arange(32) + 0.5) / 32
    f = np.random.default_rng(0).standard_normal(126)
    assert np.mean(R @ f) == pytest.approx(np.mean(f), abs=1e-14)   # conservative
    np.testing.assert_allclose(R @ fine, coarse, atol=1.0 / 126**2)  # y averages to ~y
    M = interpolation_matrix(coarse, fine)
    inside = (fine >= coarse[0]) & (fine <= coarse[-1])
    np.testing.assert_allclose((M @ coarse)[inside], fine[inside], atol=1e-12)
    np.testing.assert_allclose((M @ coarse)[~inside], np.clip(fine, coarse[0], coarse[-1])[~inside])


def test_interpolated_faces_keep_the_walls_closed():
    remap = Remap((21, 84), (8, 32))
    u, v = torch.randn(1, 1, 8, 33), torch.randn(1, 1, 9, 32)
    u[..., [0, -1]] = 0.0
    v[..., [0, -1], :] = 0.0
    uf, vf = remap.prolong(u, v)
    assert uf.shape == (1, 1, 21, 85) and vf.shape == (1, 1, 22, 84)
    assert float(uf[..., [0, -1]].abs().max()) == 0.0
    assert float(vf[..., [0, -1], :].abs().max()) == 0.0


def test_untrained_fine_part_gives_the_coarse_flow_interpolated(one_torch_thread):
    coarse = BuoyancyUNet(BuoyancyUNetConfig(**SMALL))
    net = TwoGridUNet(TwoGridConfig(coarse=SMALL, coarse_shape=(8, 32)))
    net.coarse.load_state_dict(coarse.state_dict())
    x = torch.randn(2, 3, 21, 84)
    with torch.no_grad():
        u, v = net(x)
        remap = net.remap(21, 84)
        uc, vc = coarse.faces(remap.restrict(x))
        ui, vi = net.projection(21, 84)(*remap.prolong(uc, vc))
    torch.testing.assert_close(u, ui)
    torch.testing.assert_close(v, vi)
    div = float(divergence(u.double(), v.double(), 4 / 84, 1 / 21).abs().max())
    assert div < 1e-4 * float(u.abs().max()) * 84


@pytest.fixture(scope="module")
def refined_ci(ci_campaign_dir, tmp_path_factory):
    """The ci campaign's runs refined onto the laptop grid: a fine campaign of 12 runs."""
    out = tmp_path_factory.mktemp("tg") / "fine"
    base = config.load(None, ["stokes.solver='galerkin'", "stokes.refresh_every=4"])
    run_campaign(out, "laptop", base, progress=False,
                 refine=RefinePlan(ci_campaign_dir, starts=2, steps=8, seed=1, snapshot_every=4))
    return out


def test_trains_from_a_coarse_model_file_and_runs_in_the_time_loop(ci_campaign_dir, refined_ci,
                                                                    tmp_path, one_torch_thread):
    from pymantle.ml.checkpoint import load_model_file
    from pymantle.ml.training.train import TrainConfig, Trainer
    from pymantle.simulation import Simulation
    coarse_cfg = TrainConfig.from_recipe(ci_campaign_dir, "buoyancy", out=str(tmp_path / "c"),
                                         epochs=1, samples_per_epoch=16, val_samples=4,
                                         milestones=(), model=SMALL)
    Trainer(coarse_cfg).fit(progress=False)
    cfg = TrainConfig.from_recipe(refined_ci, "two_grid", out=str(tmp_path / "f"), epochs=2,
                                  samples_per_epoch=8, val_samples=4, milestones=(),
                                  init=str(tmp_path / "c" / "model.pt"),
                                  model={"width": 4, "levels": 2})
    tr = Trainer(cfg)
    before = {k: v.clone() for k, v in tr.model.coarse.state_dict().items()}
    coarse_file = load_model_file(tmp_path / "c" / "model.pt")
    for k, v in coarse_file["state_dict"].items():       # the coarse part starts as the file
        torch.testing.assert_close(before[k], v)
    tr.fit(progress=False)
    payload = load_model_file(tmp_path / "f" / "model.pt", expect_grid={"nx": 128, "ny": 32,
                                                                        "aspect": 4.0},
                              expect_class="StokesSurrogate")
    assert payload["model"]["class"] == "TwoGridUNet"
    assert tuple(payload["model"]["config"]["coarse_shape"]) == (8, 32)
    run = make_config(tmp_path, "grid.preset='laptop'", "stokes.solver='surrogate'",
                      "time.max_steps=6", "time.end_time=1.0",
                      f"stokes.model='{tmp_path / 'f' / 'model.pt'}'")
    res = Simulation(run).run()
    assert res.steps == 6 and np.isfinite(res.final["Vrms"]) and res.final["Vrms"] > 0


def test_a_run_picks_the_model_shipped_for_its_grid(tmp_path, monkeypatch):
    """Model selection: pymantle/models/<preset>.pt for the run's grid; a grid with none
    is told to train one (the ci grid here, in a package folder with no ci.pt)."""
    from pymantle.providers import factory
    laptop = config.load(None, ["grid.preset='laptop'"]).grid()
    paper = config.load(None, ["grid.preset='paper'"]).grid()
    assert factory.shipped_model(laptop).endswith("models/laptop.pt")
    assert factory.shipped_model(paper).endswith("models/paper.pt")
    assert factory.shipped_model(config.load(None, ["grid.preset='ci'"]).grid()) == ""
    with pytest.raises(ConfigError, match="none is shipped for a 8x32 grid"):
        factory.make_provider(make_config(tmp_path, "stokes.solver='surrogate'"),
                              config.load(None, ["grid.preset='ci'"]).grid())
