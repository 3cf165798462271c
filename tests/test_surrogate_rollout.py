"""The surrogate provider in the time loop: runs, keeps the flow divergence-free, and the
advection still conserves heat (the budget closes through the walls and the source)."""
import numpy as np
import pytest

from conftest import make_config
from pymantle import open_run
from pymantle.campaign import run_campaign
from pymantle.config import ConfigError
from pymantle.simulation import Simulation


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from pymantle.ml.training.train import Trainer, TrainConfig
    d = tmp_path_factory.mktemp("sur")
    run_campaign(d / "ci", "ci", progress=False)
    cfg = TrainConfig.from_recipe(d / "ci", "laptop", out=str(d / "train"), epochs=1,
                                  samples_per_epoch=8, val_samples=4,
                                  model={"width": 4, "levels": 2, "layers_per_level": 1})
    Trainer(cfg).fit(progress=False)
    return d / "train" / "model.pt"


def test_surrogate_rollout_is_divergence_free_and_conserves_heat(tmp_path, tiny_model):
    cfg = make_config(tmp_path, "stokes.solver='surrogate'", f"stokes.model='{tiny_model}'",
                      "time.max_steps=12", "time.end_time=1.0", "physics.q=2.0",
                      "physics.gamma=1e5", "physics.beta=3.0")
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    its = ds["stokes_iterations"].values
    assert its[0] >= 1 and its[1] >= 1 and np.all(its[2:] == 0)   # 2 warm-up steps
    vmax = float(np.abs(ds["v"]).max())
    # the laptop recipe trains in float32: divergence at float32 round-off of the curl
    assert float(ds["div_max"][2:].max()) < 1e-6 * vmax / (1 / 8)
    # advection by the network's velocities conserves heat to round-off
    from pymantle.energy import EnergySolver
    sim = Simulation(cfg)
    T = ds["T"][-1].values.copy()
    eta_c, eta_n = sim.viscosity(T)
    u, v, _, _ = sim.provider.then.velocities(100, T, eta_c, eta_n)
    es = EnergySolver(sim.grid, kappa=0.0)
    total, dt = T.sum(), es.time_step(u, v)
    for _ in range(50):
        es.step(T, u, v, 0.0, dt)
    assert abs(T.sum() - total) < 1e-12 * total
    assert float(ds["T"].min()) >= 0.0 and float(ds["T"].max()) <= 2.0
    ds.close()


def test_surrogate_refuses_a_model_for_another_grid(tmp_path, tiny_model):
    cfg = make_config(tmp_path, "grid.preset='laptop'", "stokes.solver='surrogate'",
                      f"stokes.model='{tiny_model}'")
    with pytest.raises(ConfigError, match="trained on a 8x32 grid"):
        Simulation(cfg)


def test_every_solver_runs_a_few_steps_on_the_ci_grid(tmp_path):
    for solver in ("direct", "lagged", "iterative", "multigrid"):
        cfg = make_config(tmp_path / solver, f"stokes.solver='{solver}'", "time.max_steps=3",
                          "time.end_time=1.0", "physics.gamma=1e4")
        res = Simulation(cfg).run()
        assert res.steps == 3 and res.final["Vrms"] > 0
    cfg = make_config(tmp_path / "skip", "stokes.every=2", "time.max_steps=4", "time.end_time=1.0")
    ds = open_run(Simulation(cfg).run().directory)
    assert list(ds["stokes_iterations"].values[:4] >= 0) == [True, False, True, False]
    ds.close()


def test_evaluate_runs_end_to_end_on_the_ci_campaign(tmp_path, tiny_model):
    from pymantle.evaluate import evaluate
    camp = tiny_model.parent.parent / "ci"
    provs = ("direct", "skip", "surrogate", "surrogate-galerkin", "galerkin-refresh")
    res = evaluate(camp, tmp_path / "ev", provs, "test",
                   end_time=1.0, max_steps=12, model=str(tiny_model), skip=4,
                   snapshot_every=3)
    by = {r["provider"]: r for r in res}
    assert set(by) == set(provs)
    d = by["direct"]
    assert d["profile_mae"] == 0 and d["mean_T_mae"] == 0 and d["corr_T"] == pytest.approx(1.0)
    assert by["skip"]["mean_T_mae"] > 0 and by["skip"]["corr_T"] > 0.5
    assert 0 < by["surrogate"]["profile_mae"] < 1
    # dissipation = buoyancy work holds for Stokes solutions only (reference-free check)
    assert d["dissipation_over_work"] == pytest.approx(1.0, rel=1e-6)
    assert abs(by["surrogate"]["dissipation_over_work"] - 1.0) > 1e-3
    # ... and for the Galerkin-corrected network flow, at every step (galerkin_correction.py)
    assert by["surrogate-galerkin"]["dissipation_over_work"] == pytest.approx(1.0, rel=1e-8)
    # galerkin-refresh: direct solves every `skip` steps, Galerkin steps between: both kinds
    # balance, and it solved as often as skip did
    gr = by["galerkin-refresh"]
    assert gr["dissipation_over_work"] == pytest.approx(1.0, rel=1e-8)
    assert gr["direct_fraction"] == 5 / 13             # steps 0, 1 (warm-up), 4, 8, 12
    assert by["skip"]["direct_fraction"] == 4 / 13     # steps 0, 4, 8, 12
    assert by["surrogate"]["direct_fraction"] == 2 / 13 and d["direct_fraction"] == 1.0
    ds = open_run(next((tmp_path / "ev").glob("*-galerkin-refresh-4")) / "run.nc")
    its = ds["stokes_iterations"].values
    assert [k for k in range(len(its)) if its[k] != 0] == [k for k in range(len(its))
                                                           if k < 2 or k % 4 == 0]
    ds.close()
    assert (tmp_path / "ev" / "results.csv").is_file() and (tmp_path / "ev" / "results.md").is_file()
    assert any(p.suffix == ".png" for p in (tmp_path / "ev").iterdir())
    # a second call with one more provider reuses the finished runs, with the same numbers
    said = []
    again = evaluate(camp, tmp_path / "ev", provs, "test",
                     end_time=1.0, max_steps=12, model=str(tiny_model), skip=4,
                     snapshot_every=3, echo=said.append)
    assert len(said) == len(provs) and all("reusing" in m for m in said)
    assert [r["mean_T_mae"] for r in again] == [r["mean_T_mae"] for r in res]


def test_stability_runs_the_surrogate_alone_and_compares_late_means(tmp_path, tiny_model):
    from pymantle.evaluate import stability
    camp = tiny_model.parent.parent / "ci"
    rows = stability(camp, str(tiny_model), steps=15, out=tmp_path / "st", echo=lambda m: None)
    assert rows and all(r["status"] == "stable" and r["steps"] == 15 for r in rows)
    for r in rows:
        assert 0.0 <= r["T_mean"] <= 2.0 and 0.0 < r["T_mean_ref"] < 1.0
        assert np.isfinite(r["Nu_top"]) and r["t_end"] > 0
    assert "| sim |" in (tmp_path / "st" / "stability.md").read_text()
    assert (tmp_path / "st" / "stability.png").stat().st_size > 0
    for r in rows:      # the equal-time window ends with the shorter run
        assert r["t_equal"] == pytest.approx(min(r["t_end"], r["t_end_ref"]))
        assert np.isfinite(r["T_mean_change"]) and np.isfinite(r["Nu_top_change"])
    # a second call reuses the finished runs (same namelist) and reports the same numbers
    said = []
    again = stability(camp, str(tiny_model), steps=15, out=tmp_path / "st", echo=said.append)
    assert any("reusing" in m for m in said)
    assert [(r["T_mean"], r["Nu_top"], r["steps"]) for r in again] == \
        [(r["T_mean"], r["Nu_top"], r["steps"]) for r in rows]
    # the Galerkin-corrected surrogate: its own runs, whose every step balances
    # dissipation against buoyancy work (Ra = 1)
    gal = stability(camp, str(tiny_model), steps=15, out=tmp_path / "sg", echo=lambda m: None,
                    provider="surrogate-galerkin")
    assert all(r["status"] == "stable" and r["steps"] == 15 for r in gal)
    ds = open_run(next((tmp_path / "sg").glob("*-surrogate-galerkin")) / "run.nc")
    assert np.allclose(ds["dissipation"][2:], ds["work"][2:], rtol=1e-8, atol=0)
    ds.close()


def test_equal_time_change_of_a_run_against_itself_is_zero_and_sees_a_scaled_copy():
    import xarray as xr
    from pymantle.evaluate import _equal_time_change
    t = np.linspace(0.0, 1.0, 101)
    ref = xr.Dataset({"history_time": ("step", t), "T_mean": ("step", 0.5 + t)})
    assert _equal_time_change(ref, ref, "T_mean", 0.2) == (1.0, 0.0)
    # a run twice as long, 10 % higher: compared over [0.8, 1] only, where it is 1.1x
    t2 = np.linspace(0.0, 2.0, 201)
    run = xr.Dataset({"history_time": ("step", t2), "T_mean": ("step", 1.1 * (0.5 + t2))})
    t1, change = _equal_time_change(run, ref, "T_mean", 0.2)
    assert t1 == 1.0 and change == pytest.approx(0.1, rel=1e-12)


@pytest.mark.parametrize("name", ["eba", "decay", "cold"])
def test_unseen_scenarios_run_reference_and_surrogate(tmp_path, tiny_model, name):
    from pymantle.evaluate import scenario
    camp = tiny_model.parent.parent / "ci"
    res = scenario(name, camp, str(tiny_model), tmp_path / name, max_steps=6, end_time=1.0,
                   echo=lambda *a: None)
    assert {r["provider"] for r in res} == {"direct", "surrogate"}
    ref = open_run(tmp_path / name / f"sim{res[0]['sim']:04d}-direct")
    if name == "eba":
        assert ref.attrs["di"] == 0.1
    if name == "decay":
        assert float(ref["heating"][-1]) < float(ref["heating"][0])
    if name == "cold":
        assert float(ref["T_mean"][0]) < 0.3
    ref.close()


def test_profile_predictor_fits_the_late_profiles_and_starts_a_run(tmp_path, tiny_model):
    from pymantle.ml.networks.profile import ProfilePredictor, late_profiles, train_profile_predictor, write_profile
    camp = tiny_model.parent.parent / "ci"
    pp, mse = train_profile_predictor(camp, epochs=400)
    rows, y, profs = late_profiles(camp)
    pred = np.array([pp.predict(r["Q"], r["gamma"], r["beta"], y) for r in rows])
    baseline = np.mean((profs - profs.mean(axis=0)) ** 2)       # one mean profile for all
    assert np.mean((pred - profs) ** 2) < 0.5 * baseline
    pp.save(tmp_path / "pp.pt")
    again = ProfilePredictor.load(tmp_path / "pp.pt")
    np.testing.assert_array_equal(again.predict(1.0, 1e5, 2.0, y), pp.predict(1.0, 1e5, 2.0, y))
    write_profile(tmp_path / "prof.txt", y, pred[0])
    cfg = make_config(tmp_path, "initial.kind='profile'", f"initial.file='{tmp_path / 'prof.txt'}'",
                      "initial.amplitude=0.0", "time.max_steps=2", "time.end_time=1.0")
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    np.testing.assert_allclose(ds["T_profile"][0].values, pred[0], atol=1e-12)
    ds.close()


def test_device_input_channels_match_the_host_inputs(tmp_path, tiny_model):
    """On a GPU the provider builds the viscosity channel on the device from T alone; the
    same code run on the CPU must reproduce `input_channels` (with and without the
    physics' viscosity limits)."""
    import torch
    from pymantle.grid import Grid
    from pymantle.ml.training.data import input_channels
    from pymantle.physics import viscosity
    from pymantle.providers import SurrogateProvider
    g = Grid.from_preset("ci")
    x, y = g.centres()
    T = np.random.default_rng(1).random(g.shape)
    for lims in ((0.0, 0.0), (1e-3, 10.0)):
        ph = {"q": 5.0, "gamma": 1e6, "beta": 30.0, "eta_min": lims[0], "eta_max": lims[1]}
        p = SurrogateProvider(g, ph, str(tiny_model))
        p._setup_device_inputs()
        p._T_dev.copy_(torch.from_numpy(T))
        p._device_inputs()
        ref = input_channels(T, viscosity(T, y, 1e6, 30.0, *lims), x, y, p.params)
        assert np.abs(p._in_dev[0].double().numpy() - ref).max() < 1e-6


def test_galerkin_memory_restart_is_bit_identical(tmp_path, tiny_model):
    # With memory the correction keeps the last flow between steps; a resumed run rebuilds
    # it from the checkpoint's velocities and repeats the uninterrupted run bit for bit.
    from test_restart import KillAt
    from pymantle.providers import make_provider
    common = ["stokes.solver='surrogate'", f"stokes.model='{tiny_model}'",
              "stokes.correction='galerkin'", "stokes.correction_memory=.true.",
              "time.end_time=1.0", "time.max_steps=24", "output.checkpoint_every=10",
              "physics.q=2.0", "physics.gamma=1e5", "physics.beta=3.0"]
    Simulation(make_config(tmp_path / "a", *common)).run()
    cfg = make_config(tmp_path / "b", *common)
    sim = Simulation(cfg)
    sim.provider = KillAt(make_provider(cfg, sim.grid), 15)
    with pytest.raises(KeyboardInterrupt):
        sim.run()
    assert Simulation(cfg).run().resumed_from == 10
    a, b = open_run(tmp_path / "a" / "run"), open_run(tmp_path / "b" / "run")
    for name in ("T", "u", "v", "Nu_top", "dissipation", "work"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    # every corrected step balances dissipation and buoyancy work (Ra = 1)
    np.testing.assert_allclose(a["dissipation"].values[2:], a["work"].values[2:], rtol=1e-8)
    a.close()
    b.close()


def test_prefetching_the_next_step_changes_nothing(tmp_path, tiny_model):
    """The loop asks the surrogate for step n+1 before it takes step n's diagnostics; the
    provider writes those velocities into its other buffer, so step n's diagnostics still
    see step n's flow. History and fields must equal a run whose provider ignores every
    prefetch (a shared buffer would hand the diagnostics the next step's flow)."""
    from mpi4py import MPI
    from petsc4py import PETSc
    from pymantle.providers import VelocityProvider, make_provider

    class NoPrefetch(VelocityProvider):
        name = "surrogate"

        def __init__(self, inner):
            self.inner = inner

        def velocities(self, step, T, eta_c, eta_n):
            return self.inner.velocities(step, T, eta_c, eta_n)

        def close(self):
            self.inner.close()

    runs = {}
    for tag in ("prefetch", "plain"):
        cfg = make_config(tmp_path / tag, "stokes.solver='surrogate'",
                          f"stokes.model='{tiny_model}'", "time.max_steps=15",
                          "time.end_time=1.0", "physics.q=2.0", "physics.gamma=1e5",
                          "physics.beta=3.0", "output.snapshot_every=5")
        prov = make_provider(cfg, cfg.grid(), comm=PETSc.Comm(MPI.COMM_WORLD))
        res = Simulation(cfg, provider=prov if tag == "prefetch" else NoPrefetch(prov)).run()
        runs[tag] = open_run(res.directory)
    a, b = runs["prefetch"], runs["plain"]
    for k in ("T", "u", "v", "Nu_top", "Vrms", "dissipation", "div_max", "work", "dt"):
        np.testing.assert_array_equal(a[k].values, b[k].values, err_msg=k)
    assert float(np.abs(a["Vrms"].values[3:]).min()) > 0     # there is a flow to get wrong
    a.close()
    b.close()


def test_evaluate_on_a_finer_grid_from_the_campaigns_states(tmp_path, tiny_model):
    """--grid and --from-campaign: every run starts from its campaign run's last snapshot,
    interpolated onto the other grid; with reference_steps the direct run takes that many
    steps and the others stop at the time it reached. Extrapolated skipping is closer to
    the reference than plain skipping, at the same number of solves."""
    from pymantle.evaluate import evaluate
    from pymantle.output import interpolate_temperature
    camp = tiny_model.parent.parent / "ci"
    res = evaluate(camp, tmp_path / "fine", ("direct", "skip", "skip-extrapolate"), "test",
                   grid="laptop", from_campaign=True, reference_steps=40, skip=8,
                   snapshot_every=10)
    by = {r["provider"]: r for r in res}
    assert by["direct"]["steps"] == 41                    # steps 0..40 in the history
    ref = open_run(next((tmp_path / "fine").glob("*-direct")) / "run.nc")
    sim = int(res[0]["sim"])
    coarse = open_run(camp / "sims" / f"sim-{sim:04d}")
    grid = make_config(tmp_path, "grid.preset='laptop'").grid()
    np.testing.assert_array_equal(ref["T"].values[0],
                                  interpolate_temperature(coarse["T"].values[-1], grid))
    t_ref = float(ref["history_time"][-1])
    for prov in ("skip", "skip-extrapolate"):
        run = open_run(next((tmp_path / "fine").glob(f"*-{prov}-8")) / "run.nc")
        assert float(run["history_time"][-1]) == pytest.approx(t_ref, rel=1e-12)
        assert by[prov]["direct_fraction"] == pytest.approx(by["skip"]["direct_fraction"],
                                                            abs=0.05)
    assert by["skip-extrapolate"]["mean_T_mae"] < by["skip"]["mean_T_mae"]
