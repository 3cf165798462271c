"""The shipped laptop model (pymantle/models/laptop.pt, the slim buoyancy-scaled U-net made by
`pymantle train --recipe buoyancy-slim` on the laptop campaign, docs/models/laptop.md): it is the
very file documented (pinned digest), loads with its metadata, predicts the solver's
velocities on two stored test-split snapshots it never trained on (MUMPS solutions of
2026-11-25, not of the campaign it trained on), and is what `stokes.solver = 'surrogate'`
uses on the laptop grid."""
from pathlib import Path

import numpy as np
import pytest

import pymantle
from conftest import make_config
from pymantle.grid import Grid
from pymantle.ml.checkpoint import load_model_file

MODEL = Path(pymantle.__file__).resolve().parent / "models" / "laptop.pt"
DATA = Path(__file__).parent / "data" / "laptop_test_snapshots.npz"
LAPTOP = {"nx": 128, "ny": 32, "aspect": 4.0}
# Measured at shipping, 2026-12-07 (relative L2, energy-norm error): sim 41 0.027 / 0.067,
# sim 5 0.027 / 0.097 (the wider network shipped before: 0.025 / 0.057, 0.023 / 0.084). A
# model that predicts zero scores 1 / 1; the study's network scored 0.54-0.76 in L2.
MAX_REL_L2, MAX_ENERGY, MIN_CORR = 0.05, 0.15, 0.99
SHA256 = "20619c0fd468dc288c026d9599295dbf03d36ab66b3005bcab24618ac1b66392"


def test_shipped_model_is_the_documented_one_with_its_training_record():
    payload = load_model_file(MODEL, expect_grid=LAPTOP)     # weights_only + SHA-256
    assert payload["sha256"] == SHA256                        # docs/guide/training.md's file
    assert payload["grid"] == LAPTOP
    assert payload["model"]["class"] == "BuoyancyUNet"
    assert payload["scaling"] == {"kind": "buoyancy"}
    tr = payload["training"]
    assert tr["recipe"] == "buoyancy-slim" and tr["variant"] == "buoyancy"
    assert '"strain": "energy"' in tr["config"]
    assert tr["samples_seen"] > 6 * 41_000                    # the study network saw 41k
    assert tr["box"] == {"Q": [0.0, 10.0], "gamma": [1e5, 1e6], "beta": [3.0, 30.0]}
    mc = payload["model"]["config"]                           # the slim shape (its recipe's)
    assert (mc["width"], mc["max_width"], mc["decoder_convs"]) == (8, 32, 1)
    n = payload["normalisation"]                              # the laptop campaign's box
    assert 0.0 <= n["q"][0] < n["q"][1] <= 10.0
    assert 5.0 - 1e-9 <= n["log_gamma"][0] < n["log_gamma"][1] <= 6.0 + 1e-9
    assert np.log10(3) - 1e-9 <= n["log_beta"][0] < n["log_beta"][1] <= np.log10(30) + 1e-9


@pytest.mark.parametrize("k", [0, 1])
def test_shipped_model_predicts_the_solver_velocities_on_unseen_snapshots(k, one_torch_thread):
    from pymantle.ml.evaluation.accuracy import dissipation
    from pymantle.physics import corner_viscosity, viscosity
    from pymantle.providers import SurrogateProvider
    z = np.load(DATA)
    sim, q, gamma, beta = z[f"params{k}"]
    g = Grid(**LAPTOP)
    _, y = g.centres()
    T = z[f"T{k}"]
    ph = {"q": q, "gamma": gamma, "beta": beta, "eta_min": 0.0, "eta_max": 0.0, "ra": 1.0}
    eta_c = viscosity(T, y, gamma, beta)
    u, v, _, _ = SurrogateProvider(g, ph, str(MODEL)).velocities(0, T, eta_c,
                                                                 corner_viscosity(eta_c))
    ur, vr = z[f"u{k}"], z[f"v{k}"]
    err = np.sqrt((np.sum((u - ur) ** 2) + np.sum((v - vr) ** 2))
                  / (np.sum(ur ** 2) + np.sum(vr ** 2)))
    en = corner_viscosity(eta_c)
    energy = np.sqrt(dissipation(u - ur, v - vr, eta_c, en, g.dx, 1 / g.ny)
                     / dissipation(ur, vr, eta_c, en, g.dx, 1 / g.ny))
    assert energy < MAX_ENERGY, (int(sim), energy)
    corr = np.corrcoef(np.concatenate([u.ravel(), v.ravel()]),
                       np.concatenate([ur.ravel(), vr.ravel()]))[0, 1]
    assert err < MAX_REL_L2, (int(sim), err)
    assert corr > MIN_CORR, (int(sim), corr)


def test_surrogate_on_the_laptop_grid_defaults_to_the_shipped_model(tmp_path, one_torch_thread):
    from pymantle.output import open_run
    from pymantle.simulation import Simulation
    cfg = make_config(tmp_path, "grid.preset='laptop'", "stokes.solver='surrogate'",
                      "time.max_steps=30", "time.end_time=1.0")
    assert cfg["stokes"]["model"] == ""
    res = Simulation(cfg).run()
    ds = open_run(res.directory)
    assert res.steps == 30
    assert np.all(np.isfinite(ds["Vrms"].values)) and float(ds["Vrms"][-1]) > 0
    vmax = float(np.abs(ds["v"]).max())
    assert float(ds["div_max"][2:].max()) < 1e-6 * vmax * 32    # float32 curl round-off
    ds.close()


def test_shipped_model_rollout_follows_mumps_through_the_onset(tmp_path, one_torch_thread):
    # The default case from the hot start, 150 steps with MUMPS and with the network alone:
    # through the onset (Vrms 1 -> 60) the network's flow and the temperature it advects
    # stay with MUMPS's. Measured 2026-12-03: corr(v) 0.994 / 0.985 / 0.991 at steps
    # 50 / 100 / 150, max |dT| 0.002 / 0.008 / 0.034. The network's velocities scaled by
    # 0.8 fail (Vrms 50.5 against 65.6); an untrained network fails the correlation.
    from pymantle.output import open_run
    from pymantle.simulation import Simulation
    runs = {}
    for solver in ("direct", "surrogate"):
        cfg = make_config(tmp_path / solver, "grid.preset='laptop'",
                          f"stokes.solver='{solver}'", "time.max_steps=150",
                          "time.end_time=1.0", "output.snapshot_every=50",
                          "physics.q=5.0", "physics.gamma=1e6", "physics.beta=10.0")
        runs[solver] = open_run(Simulation(cfg).run().directory)
    ref, net = runs["direct"], runs["surrogate"]
    for i, max_dT in ((1, 0.01), (2, 0.03), (3, 0.1)):
        corr = np.corrcoef(ref["v"][i].values.ravel(), net["v"][i].values.ravel())[0, 1]
        dT = float(np.abs(ref["T"][i] - net["T"][i]).max())
        assert corr > 0.97 and dT < max_dT, (i, corr, dT)
    vr, vn = float(ref["Vrms"][-1]), float(net["Vrms"][-1])
    assert abs(vn - vr) < 0.15 * vr, (vn, vr)
    ref.close()
    net.close()


def test_a_run_outside_the_training_box_says_so_in_one_line(capsys, one_torch_thread):
    """gamma = 3e6 lies outside the laptop box (1e5..1e6): one line at the start names it;
    a run inside says nothing."""
    from pymantle.providers import SurrogateProvider
    g = Grid(**LAPTOP)
    base = {"q": 5.0, "gamma": 5e5, "beta": 10.0, "eta_min": 0.0, "eta_max": 0.0, "ra": 1.0}
    SurrogateProvider(g, base, str(MODEL))
    assert capsys.readouterr().err == ""
    SurrogateProvider(g, {**base, "gamma": 3e6}, str(MODEL))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gamma = 3e+06" in err[0] and "outside the box" in err[0]


# -- the paper-grid network (pymantle/models/paper.pt, docs/models/paper.md) ------------------

PAPER_MODEL = MODEL.parent / "paper.pt"
PAPER_DATA = Path(__file__).parent / "data" / "paper_test_snapshots.npz"
PAPER = {"nx": 504, "ny": 126, "aspect": 4.0}
PAPER_SHA256 = "56c8ff448ab70822c4bc7a18ca82211207f19ab09a798df70f4a10f0278b4085"
# Measured at shipping, 2026-12-07, on two test-split snapshots of the refined campaign (fine
# runs of 500 steps from laptop test runs 41 and 5; labels: direct solves): relative L2
# 0.026 / 0.033, energy-norm error 0.099 / 0.159, correlation 0.9997 / 0.9995. The laptop
# network applied to this grid as it is scores 0.4-2.5 in L2 on such fields.
PAPER_MAX_REL_L2, PAPER_MAX_ENERGY = 0.06, 0.25


def test_paper_model_is_the_documented_two_grid_network():
    payload = load_model_file(PAPER_MODEL, expect_grid=PAPER)
    assert payload["sha256"] == PAPER_SHA256
    assert payload["model"]["class"] == "TwoGridUNet"
    assert tuple(payload["model"]["config"]["coarse_shape"]) == (32, 128)
    tr = payload["training"]
    assert tr["recipe"] == "two_grid" and tr["campaign"].endswith("campaign-paper-refined")
    assert tr["box"] == {"Q": [0.0, 10.0], "gamma": [1e5, 1e6], "beta": [3.0, 30.0]}


@pytest.mark.parametrize("k", [0, 1])
def test_paper_model_predicts_the_solver_velocities_on_unseen_fine_snapshots(k, one_torch_thread):
    from pymantle.ml.evaluation.accuracy import dissipation
    from pymantle.physics import corner_viscosity, viscosity
    from pymantle.providers import SurrogateProvider
    z = np.load(PAPER_DATA)
    sim, q, gamma, beta, _ = z[f"params{k}"]
    g = Grid(**PAPER)
    _, y = g.centres()
    T = z[f"T{k}"].astype(float)
    ph = {"q": q, "gamma": gamma, "beta": beta, "eta_min": 0.0, "eta_max": 0.0, "ra": 1.0}
    eta_c = viscosity(T, y, gamma, beta)
    eta_n = corner_viscosity(eta_c)
    u, v, _, _ = SurrogateProvider(g, ph, str(PAPER_MODEL)).velocities(0, T, eta_c, eta_n)
    ur, vr = z[f"u{k}"].astype(float), z[f"v{k}"].astype(float)
    err = np.sqrt((np.sum((u - ur) ** 2) + np.sum((v - vr) ** 2))
                  / (np.sum(ur ** 2) + np.sum(vr ** 2)))
    energy = np.sqrt(dissipation(u - ur, v - vr, eta_c, eta_n, g.dx, 1 / g.ny)
                     / dissipation(ur, vr, eta_c, eta_n, g.dx, 1 / g.ny))
    assert err < PAPER_MAX_REL_L2, (int(sim), err)
    assert energy < PAPER_MAX_ENERGY, (int(sim), energy)


def test_surrogate_on_the_paper_grid_defaults_to_the_paper_model(tmp_path, one_torch_thread):
    from pymantle.simulation import Simulation
    cfg = make_config(tmp_path, "grid.preset='paper'", "stokes.solver='surrogate'",
                      "time.max_steps=4", "time.end_time=1.0")
    sim = Simulation(cfg)
    assert type(sim.provider.then.model).__name__ == "TwoGridUNet"     # after the warm-up
    res = sim.run()
    assert res.steps == 4 and res.final["Vrms"] > 0
