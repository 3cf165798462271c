"""The buoyancy-scaled U-net surrogate: its scale follows the Stokes equation's linearity,
its projection is exactly divergence-free and never adds error, and it trains, saves,
loads and runs in the time loop through the same seam as the study's network."""
import numpy as np
import pytest
import torch
from mpi4py import MPI

from conftest import make_config, stream_velocities
from pymantle.grid import Grid
from pymantle.ml.networks.buoyancy import buoyancy_inputs, buoyancy_scale
from pymantle.ml.networks.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
from pymantle.ml.training.losses import relative_l2_loss
from pymantle.ml.networks.layers import divergence
from pymantle.ml.networks.projection import DivergenceFreeProjection
from pymantle.physics import corner_viscosity, viscosity
from pymantle.providers import StokesProvider

CI = Grid(nx=32, ny=8)


def _plume_temperature(grid, amplitude, seed=0):
    x, y = grid.centres()
    rng = np.random.default_rng(seed)
    wiggle = np.cos(np.pi * x / 2.0) * np.sin(np.pi * y)       # x, y: (ny, nx)
    return (1.0 - y) + amplitude * (wiggle + 0.1 * rng.standard_normal(grid.shape))


def _stokes(grid, T, eta):
    sp = StokesProvider(grid, 1e5, "direct", comm=MPI.COMM_SELF)
    u, v, _, _ = sp.velocities(0, T, eta, corner_viscosity(eta))
    return u.copy(), v.copy()


def test_scale_follows_the_stokes_linearity_in_the_anomaly():
    """Same viscosity, anomaly x3: the solver's flow triples, and so does s, while the
    network's inputs do not change at all; a layered T (no anomaly) has no flow."""
    _, y = CI.centres()
    T1 = _plume_temperature(CI, 0.05)
    mean = T1.mean(axis=1, keepdims=True)
    T3 = mean + 3.0 * (T1 - mean)
    eta = viscosity(T1, y, 1e3, 3.0)
    (u1, v1), (u3, v3) = _stokes(CI, T1, eta), _stokes(CI, T3, eta)
    x1, s1 = buoyancy_inputs(T1, eta, y, 1e5)
    x3, s3 = buoyancy_inputs(T3, eta, y, 1e5)
    np.testing.assert_allclose(u3, 3.0 * u1, rtol=1e-8, atol=1e-10 * np.abs(u1).max())
    assert s3 / s1 == pytest.approx(3.0, rel=1e-12)
    np.testing.assert_allclose(x3, x1, atol=1e-12)
    layered = np.broadcast_to(mean, CI.shape).copy()
    ul, vl = _stokes(CI, layered, eta)
    assert np.abs(ul).max() < 1e-9 * np.abs(u1).max()
    assert buoyancy_scale(layered, eta, 1e5)[1] < 1e-9 * s1


def test_projection_is_divergence_free_idempotent_and_never_adds_error():
    dx, dy = CI.dx, 1.0 / CI.ny
    P = DivergenceFreeProjection(CI.ny, CI.nx, dx, dy).double()
    ut, vt = (torch.from_numpy(a)[None, None] for a in stream_velocities(CI, seed=3))
    rng = np.random.default_rng(0)
    noise_u = torch.from_numpy(rng.standard_normal(ut.shape))
    noise_v = torch.from_numpy(rng.standard_normal(vt.shape))
    noise_u[..., 0] = noise_u[..., -1] = 0.0
    noise_v[..., 0, :] = noise_v[..., -1, :] = 0.0
    u, v = ut + noise_u, vt + noise_v
    pu, pv = P(u, v)
    scale = float(torch.abs(u).max())
    assert float(divergence(pu, pv, dx, dy).abs().max()) < 1e-10 * scale / dx
    assert float(divergence(u, v, dx, dy).abs().max()) > 1.0
    qu, qv = P(pu, pv)
    assert float((qu - pu).abs().max()) < 1e-10 * scale
    err = lambda a, b: float(torch.sqrt(((a - ut) ** 2).sum() + ((b - vt) ** 2).sum()))  # noqa: E731
    assert err(pu, pv) < 0.8 * err(u, v)
    su, sv = P(ut, vt)                                     # divergence-free: unchanged
    assert float((su - ut).abs().max()) < 1e-10 * float(ut.abs().max())


@pytest.mark.parametrize("ny,nx", [(8, 32), (32, 128), (21, 84)])
def test_fast_projection_equals_the_matrix_projection(ny, nx):
    """The inference path's DCT projection is the training path's, to round-off."""
    from pymantle.ml.networks.projection import FaceProjection
    dx, dy = 4.0 / nx, 1.0 / ny
    rng = np.random.default_rng(ny)
    u, v = rng.standard_normal((ny, nx + 1)), rng.standard_normal((ny + 1, nx))
    u[:, [0, -1]] = v[[0, -1], :] = 0.0
    pu, pv = DivergenceFreeProjection(ny, nx, dx, dy)(
        torch.from_numpy(u)[None, None], torch.from_numpy(v)[None, None])
    FaceProjection(ny, nx, dx, dy)(u, v)
    np.testing.assert_allclose(u, pu[0, 0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(v, pv[0, 0].numpy(), rtol=0, atol=1e-12)
    assert np.abs(divergence(u, v, dx, dy)).max() < 1e-11 * np.abs(u).max() / dx


def _small_model_file(tmp_path):
    """(model, path): a random-weight buoyancy U-net for the ci grid, saved as a model file."""
    from pymantle.ml.checkpoint import save_model
    model = BuoyancyUNet(BuoyancyUNetConfig(width=4, levels=3))
    path = tmp_path / "m.pt"
    save_model(path, model.state_dict(),
               model={"class": "BuoyancyUNet", "config": {"width": 4, "levels": 3,
                                                          "dtype": "float32"}},
               grid={"nx": CI.nx, "ny": CI.ny, "aspect": 4.0},
               normalisation={"q": [0, 10], "log_gamma": [5, 6], "log_beta": [0.5, 1.5]},
               scaling={"kind": "buoyancy"})
    return model, path


def test_provider_projects_the_networks_faces_in_float64(tmp_path, one_torch_thread):
    """The provider's velocities: the network's faces times s, projected on the host in
    float64: the model's own output times s to float32 round-off, divergence-free to
    float64 round-off (the model's own projection ends in float32: 1e-7)."""
    from pymantle.providers.surrogate import SurrogateProvider
    model, path = _small_model_file(tmp_path)
    physics = {"q": 5.0, "gamma": 1e5, "beta": 10.0, "ra": 1.0}
    prov = SurrogateProvider(CI, physics, str(path))
    assert prov.project_here
    T = _plume_temperature(CI, 0.05)
    eta = viscosity(T, CI.centres()[1], 1e5, 10.0)
    u, v, _, _ = prov.velocities(0, T, eta, corner_viscosity(eta))
    x, s = buoyancy_inputs(T, eta, CI.centres()[1], 1.0)
    with torch.no_grad():
        mu, mv = prov.model(torch.from_numpy(x)[None].float())
    scale = np.abs(u).max()
    np.testing.assert_allclose(u, s * mu[0, 0].double().numpy(), rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(v, s * mv[0, 0].double().numpy(), rtol=0, atol=1e-5 * scale)
    assert np.abs(divergence(u, v, CI.dx, 1.0 / CI.ny)).max() < 1e-12 * scale * CI.ny


def test_frozen_graph_gives_the_eager_networks_velocities(tmp_path, one_torch_thread,
                                                          monkeypatch):
    """The CPU path runs the network as a frozen TorchScript graph (ml/inference.py,
    frozen_faces); PYMANTLE_FROZEN_GRAPH=0 runs it eagerly. Same velocities to float32
    round-off, and the graph is what the provider calls by default."""
    import torch
    from pymantle.providers.surrogate import SurrogateProvider
    torch.manual_seed(3)
    _, path = _small_model_file(tmp_path)
    physics = {"q": 5.0, "gamma": 1e5, "beta": 10.0, "ra": 1.0}
    T = _plume_temperature(CI, 0.05)
    eta = viscosity(T, CI.centres()[1], 1e5, 10.0)
    got = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("PYMANTLE_FROZEN_GRAPH", flag)
        prov = SurrogateProvider(CI, physics, str(path))
        assert isinstance(prov.faces, torch.jit.ScriptModule) == (flag == "1")
        u, v, _, _ = prov.velocities(0, T, eta, corner_viscosity(eta))
        got[flag] = (u.copy(), v.copy())
    scale = np.abs(got["0"][0]).max()
    assert scale > 0
    for a, b in zip(got["1"], got["0"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("output", ["projected", "stream_mac"])
def test_network_velocities_are_divergence_free_with_closed_walls(output, one_torch_thread):
    m = BuoyancyUNet(BuoyancyUNetConfig(width=4, levels=3, output=output,
                                        dtype=torch.float64))
    x = torch.randn(2, 3, CI.ny, CI.nx, dtype=torch.float64)
    with torch.no_grad():
        u, v = m(x)
    assert u.shape == (2, 1, CI.ny, CI.nx + 1) and v.shape == (2, 1, CI.ny + 1, CI.nx)
    div = divergence(u, v, CI.dx, 1.0 / CI.ny).abs().max()
    assert float(div) < 1e-9 * float(u.abs().max()) / CI.dx
    assert float(u[..., [0, -1]].abs().max()) == 0.0 and float(v[..., [0, -1], :].abs().max()) == 0.0


def test_relative_l2_loss_is_blind_to_each_snapshots_magnitude():
    ut, vt = (torch.from_numpy(a)[None, None] for a in stream_velocities(CI, seed=1))
    up, vp = 1.1 * ut, 1.1 * vt
    loss, _ = relative_l2_loss(torch.cat([up, 1e-4 * up]), torch.cat([vp, 1e-4 * vp]),
                               torch.cat([ut, 1e-4 * ut]), torch.cat([vt, 1e-4 * vt]))
    assert float(loss) == pytest.approx(0.1, rel=1e-12)


@pytest.fixture
def campaign_dir(ci_campaign_dir):
    return ci_campaign_dir


def test_trains_saves_and_runs_in_the_time_loop(campaign_dir, tmp_path, one_torch_thread):
    from pymantle.ml.checkpoint import load_model_file
    from pymantle.ml.training.train import Trainer, TrainConfig
    from pymantle.output import open_run
    from pymantle.simulation import Simulation
    cfg = TrainConfig.from_recipe(campaign_dir, "buoyancy", out=str(tmp_path / "t"), epochs=3,
                                  samples_per_epoch=32, val_samples=8, milestones=(),
                                  model={"width": 4, "levels": 3})
    tr = Trainer(cfg)
    assert len(tr.train_ds) == 2 * len(tr.train_ds.snapshots)      # with mirror images
    hist = tr.fit(progress=False)
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]
    payload = load_model_file(tmp_path / "t" / "model.pt", expect_grid={"nx": 32, "ny": 8,
                                                                         "aspect": 4.0},
                              expect_class="StokesSurrogate")
    assert payload["model"]["class"] == "BuoyancyUNet"
    assert payload["scaling"] == {"kind": "buoyancy"}
    # the file is the best epoch's; every epoch: 32 drawn samples plus the 2 transient
    # ones that each batch of 14 adds
    best = min(range(len(hist)), key=lambda i: hist[i]["val_loss"])
    assert payload["training"]["epochs"] == best + 1
    assert payload["training"]["samples_seen"] == 38 * (best + 1)
    assert all(h["samples"] == 38 for h in hist)
    assert payload["training"]["variant"] == "buoyancy"
    run = make_config(tmp_path, "stokes.solver='surrogate'", "time.max_steps=12",
                      "time.end_time=1.0", f"stokes.model='{tmp_path / 't' / 'model.pt'}'")
    res = Simulation(run).run()
    ds = open_run(res.directory)
    assert res.steps == 12 and np.all(np.isfinite(ds["T"].values))
    vmax = float(np.abs(ds["v"]).max())
    assert vmax > 0 and float(ds["div_max"][2:].max()) < 1e-5 * vmax * CI.ny
    ds.close()


def test_model_file_digest_covers_the_metadata(campaign_dir, tmp_path, one_torch_thread):
    from pymantle.ml.checkpoint import ModelFileError, load_model_file
    from pymantle.ml.training.train import Trainer, TrainConfig
    cfg = TrainConfig.from_recipe(campaign_dir, "buoyancy", out=str(tmp_path / "t"), epochs=1,
                                  samples_per_epoch=8, val_samples=4,
                                  model={"width": 4, "levels": 2})
    Trainer(cfg).fit(progress=False)
    payload = load_model_file(tmp_path / "t" / "model.pt")
    for key, change in [("scaling", {"kind": "eq4"}), ("grid", dict(payload["grid"], aspect=2.0)),
                        ("normalisation", dict(payload["normalisation"], q=[0.0, 99.0]))]:
        torch.save(dict(payload, **{key: change}), tmp_path / f"{key}.pt")
        with pytest.raises(ModelFileError, match="SHA-256"):
            load_model_file(tmp_path / f"{key}.pt")


def test_strain_energy_is_the_solvers_dissipation_with_the_inputs_viscosity():
    """The loss's energy norm (torch, viscosity rebuilt from input channel 1) equals the
    accuracy tool's dissipation (NumPy, the solver's corner law) of the same flow."""
    from pymantle.ml.evaluation.accuracy import dissipation
    from pymantle.ml.training.losses import relative_viscosity, strain_energy
    T = _plume_temperature(CI, 0.05)
    _, y = CI.centres()
    eta = viscosity(T, y, 1e5, 10.0)
    x, _ = buoyancy_inputs(T, eta, y, 1e5)
    u, v = stream_velocities(CI, seed=7)
    eta_w = eta[0, 0] / 10 ** (8.0 * x[1, 0, 0])            # the scale the channel divides by
    expected = dissipation(u, v, eta / eta_w, corner_viscosity(eta) / eta_w, CI.dx, 1 / CI.ny)
    t = lambda a: torch.from_numpy(a)[None, None]  # noqa: E731
    ec, en = relative_viscosity(torch.from_numpy(x)[None])
    got = strain_energy(t(u), t(v), CI.dx, 1 / CI.ny, ec, en)
    assert float(got[0]) == pytest.approx(expected, rel=1e-9)


def test_strain_weight_ramps_in_and_validation_uses_the_full_weight(campaign_dir, tmp_path,
                                                                     one_torch_thread):
    from pymantle.ml.training.train import Trainer, TrainConfig
    tr = Trainer(TrainConfig.from_recipe(campaign_dir, "buoyancy", out=str(tmp_path / "t"),
                                         model={"width": 4, "levels": 2}))
    assert tr.cfg.strain == "energy" and tr.cfg.strain_ramp == (4, 12)
    w = tr.cfg.strain_weight
    got = []
    for epoch in (0, 4, 8, 12, 30):
        tr.epoch = epoch
        got.append(tr.strain_weight())
    assert got == [0.0, 0.0, pytest.approx(0.5 * w), w, w]
    tr.model.eval()
    tr.epoch = 0
    assert tr.strain_weight() == w


def test_a_failing_trace_leaves_the_network_eager_with_a_note(tmp_path, one_torch_thread,
                                                              monkeypatch, capsys):
    """TorchScript is deprecated in torch 2.13: should tracing fail in a later torch, the
    provider says so in one line and runs the network eagerly."""
    import torch
    from pymantle.providers.surrogate import SurrogateProvider

    def broken(*args, **kwargs):
        raise RuntimeError("no TorchScript here")
    monkeypatch.setattr(torch.jit, "trace", broken)
    _, path = _small_model_file(tmp_path)
    prov = SurrogateProvider(CI, {"q": 5.0, "gamma": 1e5, "beta": 10.0, "ra": 1.0}, str(path))
    assert not isinstance(prov.faces, torch.jit.ScriptModule)
    assert "runs eagerly" in capsys.readouterr().err
    T = _plume_temperature(CI, 0.05)
    eta = viscosity(T, CI.centres()[1], 1e5, 10.0)
    u, _, _, _ = prov.velocities(0, T, eta, corner_viscosity(eta))
    assert np.isfinite(u).all() and np.abs(u).max() > 0
