"""Refined campaigns (campaign_refine.py): fine runs from a coarse campaign's snapshots, with
exact labels, the source's parameters and splits, and the campaign's resume rules."""
import numpy as np
import pytest

from conftest import make_config
from pymantle import config, open_run
from pymantle.campaign import read_index, run_campaign
from pymantle.campaign_refine import RefinePlan
from pymantle.config import ConfigError
from pymantle.output import interpolate_temperature
from pymantle.stokes import StokesSolver
from pymantle.physics import ViscosityField, face_buoyancy

GALERKIN = ["stokes.solver='galerkin'", "stokes.refresh_every=4"]


def _plan(source, steps=8):
    return RefinePlan(source, starts=2, steps=steps, seed=3, snapshot_every=4)


@pytest.fixture(scope="module")
def refined(ci_campaign_dir, tmp_path_factory):
    """The ci campaign (8x32) refined onto the laptop grid (32x128): 2 starts, 8 steps each,
    a snapshot every 4 steps, all direct-solve steps."""
    out = tmp_path_factory.mktemp("refined") / "laptop-from-ci"
    plan = _plan(ci_campaign_dir)
    run_campaign(out, "laptop", config.load(None, GALERKIN), progress=False, refine=plan)
    return out, plan


def test_refined_runs_carry_the_sources_parameters_and_splits(refined, ci_campaign_dir):
    out, plan = refined
    src = {r["sim"]: r for r in read_index(ci_campaign_dir)}
    rows = read_index(out)
    assert len(rows) == 2 * len(src)
    for r in rows:
        s = src[r["sim"] // 2]
        assert (r["split"], r["Q"], r["gamma"], r["beta"]) == (s["split"], s["Q"], s["gamma"],
                                                               s["beta"])
        assert r["status"] == "finished" and r["n_snapshots"] == 3       # steps 0, 4, 8


def test_refined_run_starts_from_the_interpolated_coarse_snapshot(refined):
    out, plan = refined
    run, snap = plan.start(5)
    assert run.parent.name == "sim-0002" and 5 % 2 == 1
    coarse = open_run(run)["T"].values[snap]
    fine = open_run(out / "sims" / "sim-0005")
    grid = make_config(out, "grid.preset='laptop'").grid()
    np.testing.assert_array_equal(fine["T"].values[0], interpolate_temperature(coarse, grid))
    # the two starts of a run come from the two halves of its trajectory
    n = open_run(run).sizes["time"]
    assert plan.start(4)[1] < n // 2 <= snap


def test_refined_snapshots_are_exact_stokes_solutions(refined):
    """The labels: every stored snapshot is a direct-solve step (relative L2 1e-10)."""
    out, _ = refined
    ds = open_run(out / "sims" / "sim-0003")
    cfg = make_config(out, "grid.preset='laptop'", f"physics.gamma={ds.attrs['gamma']}",
                      f"physics.beta={ds.attrs['beta']}")
    grid = cfg.grid()
    visc = ViscosityField(grid.centres()[1], ds.attrs["gamma"], ds.attrs["beta"])
    solver = StokesSolver(grid, method="direct")
    for k in range(ds.sizes["time"]):
        T = ds["T"].values[k]
        res = solver.solve(*visc(T), face_buoyancy(T, 1.0))
        err = np.hypot(np.linalg.norm(res.u - ds["u"].values[k]),
                       np.linalg.norm(res.v - ds["v"].values[k]))
        assert err <= 1e-10 * np.hypot(np.linalg.norm(res.u), np.linalg.norm(res.v))
    solver.destroy()


def test_a_rerun_skips_finished_runs_and_other_settings_are_refused(refined, ci_campaign_dir):
    out, plan = refined
    before = (out / "sims" / "sim-0000" / "run.nc").stat().st_mtime_ns
    run_campaign(out, "laptop", config.load(None, GALERKIN), progress=False, refine=plan)
    assert (out / "sims" / "sim-0000" / "run.nc").stat().st_mtime_ns == before
    with pytest.raises(ConfigError, match="refine"):
        run_campaign(out, "laptop", progress=False, refine=_plan(ci_campaign_dir, steps=9))


def test_bad_refine_settings_are_one_line_errors(tmp_path, ci_campaign_dir):
    with pytest.raises(ConfigError, match="--starts 0: allowed 1..100"):
        RefinePlan(ci_campaign_dir, starts=0)
    with pytest.raises(ConfigError, match="--refine: no index.csv"):
        RefinePlan(tmp_path)
