"""Campaigns: the ci campaign end to end, resume after a killed simulation, the index
against the files, the sampled distribution, corrupt files, the selection view, and the
torch Dataset over the files."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from pymantle import campaign, open_run
from pymantle.campaign import PRESETS, read_index, run_campaign, sample_parameters
from pymantle.output import CorruptFile
from pymantle.simulation import Simulation


@pytest.fixture(scope="module")
def ci_campaign(tmp_path_factory):
    d = tmp_path_factory.mktemp("camp") / "ci"
    run_campaign(d, "ci", progress=False)
    return d


def test_ci_campaign_end_to_end_and_index_matches_files(ci_campaign):
    rows = read_index(ci_campaign)
    assert len(rows) == PRESETS["ci"].n_sims
    assert {r["split"] for r in rows} == {"train", "cv", "test"}
    for r in rows:
        assert r["status"] == "finished", r
        ds = open_run(ci_campaign / "sims" / f"sim-{r['sim']:04d}")
        assert ds.sizes["time"] == r["n_snapshots"] == 9          # steps 0, 5, ..., 40
        assert int(ds["snapshot_step"][-1]) == r["steps"] == 40
        assert ds.attrs["q"] == pytest.approx(r["Q"])
        assert ds.attrs["gamma"] == pytest.approx(r["gamma"])
        assert np.all(np.diff(ds["snapshot_step"].values) == 5)
        ds.close()


def test_rerun_skips_finished_simulations(ci_campaign):
    before = {p: p.stat().st_mtime_ns for p in ci_campaign.glob("sims/*/run.nc")}
    run_campaign(ci_campaign, "ci", progress=False)
    after = {p: p.stat().st_mtime_ns for p in ci_campaign.glob("sims/*/run.nc")}
    assert before == after


def test_resume_after_a_killed_simulation_matches_a_clean_campaign(ci_campaign, tmp_path):
    class Dies(Simulation):
        def run(self):
            if self.cfg["physics"]["q"] == target_q:
                from pymantle.providers import make_provider
                inner = make_provider(self.cfg, self.grid)
                orig = inner.velocities

                def velocities(step, *a):
                    if step == 25:
                        raise KeyboardInterrupt("killed")
                    return orig(step, *a)
                inner.velocities = velocities
                self.provider = inner
            return super().run()

    rows = read_index(ci_campaign)
    target_q = rows[2]["Q"]
    d = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        run_campaign(d, "ci", progress=False, simulation_factory=Dies)
    status = {r["sim"]: r["status"] for r in read_index(d)}
    assert status[0] == status[1] == "finished" and status[2] == "running"
    run_campaign(d, "ci", progress=False)
    assert all(r["status"] == "finished" for r in read_index(d))
    a = open_run(ci_campaign / "sims" / "sim-0002")
    b = open_run(d / "sims" / "sim-0002")
    np.testing.assert_array_equal(a["T"].values, b["T"].values)
    a.close(), b.close()


def test_a_failed_simulation_is_recorded_and_the_campaign_goes_on(tmp_path):
    class Fails(Simulation):
        def run(self):
            if self.cfg["initial"]["seed"] == 1:
                raise RuntimeError("solver exploded")
            return super().run()
    d = tmp_path / "f"
    run_campaign(d, "ci", progress=False, simulation_factory=Fails, echo=lambda *a: None)
    rows = {r["sim"]: r for r in read_index(d)}
    assert rows[1]["status"] == "failed" and "solver exploded" in rows[1]["error"]
    assert all(rows[i]["status"] == "finished" for i in (0, 2, 3))


def test_corrupt_file_is_reported_and_rerun(ci_campaign, tmp_path):
    d = tmp_path / "c"
    shutil.copytree(ci_campaign, d)
    f = d / "sims" / "sim-0001" / "run.nc"
    f.write_bytes(f.read_bytes()[:2000])                  # truncated
    with pytest.raises(CorruptFile, match="sim-0001/run.nc"):
        campaign.check_run_file(f)
    from pymantle.ml.training.data import SnapshotDataset
    ds = SnapshotDataset(d, split=read_index(d)[1]["split"])
    with pytest.raises(CorruptFile, match="sim-0001"):
        for k in range(len(ds)):
            ds[k]
    msgs = []
    run_campaign(d, "ci", progress=False, echo=msgs.append)
    assert any("sim 1" in m and "truncated" in m for m in msgs)
    assert campaign.check_run_file(f) == 9


def test_sampled_distribution_matches_the_box():
    box = PRESETS["paper"]
    sims = sample_parameters(4000, box, seed=11)
    q = np.array([s.Q for s in sims])
    lg = np.log10([s.gamma for s in sims])
    lb = np.log10([s.beta for s in sims])
    assert stats.kstest(q, stats.uniform(0, 10).cdf).pvalue > 1e-3
    assert stats.kstest(lg, stats.uniform(6, 4).cdf).pvalue > 1e-3
    assert stats.kstest(lb, stats.uniform(0, 2).cdf).pvalue > 1e-3
    splits = [s.split for s in sims]
    assert splits.count("cv") / 4000 == pytest.approx(16 / 128, abs=0.002)
    assert splits.count("test") / 4000 == pytest.approx(18 / 128, abs=0.002)
    assert sample_parameters(10, box, 3) == sample_parameters(10, box, 3)


def test_paper_sets_are_the_studys_128():
    sims = campaign.paper_parameters()
    assert len(sims) == 128
    assert sum(s.split == "train" for s in sims) == 94
    assert sum(s.split == "cv" for s in sims) == 16 and sum(s.split == "test" for s in sims) == 18


def test_selection_view_first_and_random_later_without_duplicates(ci_campaign):
    sel = campaign.select_snapshots(ci_campaign, "train", first=3, later=4, seed=1)
    n_train = sum(r["split"] == "train" for r in read_index(ci_campaign))
    assert len(sel) == n_train * 7 and len(set(sel)) == len(sel)
    by_sim = {}
    for s, k in sel:
        by_sim.setdefault(s, []).append(k)
    for ks in by_sim.values():
        assert ks[:3] == [0, 1, 2] and all(3 <= k < 9 for k in ks[3:])
    assert campaign.select_snapshots(ci_campaign, "train", 200, 800) == \
        [(s, k) for s in sorted(by_sim) for k in range(9)]


def test_dataset_yields_inputs_and_scaled_targets(ci_campaign):
    from pymantle.ml.training.data import N_CHANNELS, SnapshotDataset
    ds = SnapshotDataset(ci_campaign, "train")
    x, u, v = ds[len(ds) - 1]
    assert x.shape == (N_CHANNELS, 8, 32) and u.shape == (8, 33) and v.shape == (9, 32)
    sim, snap = ds.items[-1]
    run = open_run(ci_campaign / "sims" / f"sim-{sim:04d}")
    r = ds.rows[sim]
    s = ds.scaling.scale(r["Q"], r["gamma"], r["beta"])[0]
    np.testing.assert_allclose(u.numpy() * s, run["u"][snap].values, rtol=1e-14)
    np.testing.assert_allclose(x[6].numpy(), run["T"][snap].values)
    assert 0.0 <= float(x[3, 0, 0]) <= 1.0 and float(x[0].max()) < 1.0
    run.close()


def test_scaling_fit_on_the_studys_velocity_ranges():
    import csv
    from pymantle.ml.training.scaling import VelocityScaling
    with open(campaign.DATA / "paper-velocity-ranges.csv") as fh:
        rows = list(csv.DictReader(fh))
    col = lambda k: np.array([float(r[k]) for r in rows])  # noqa: E731
    fit = VelocityScaling.fit(col("Q"), col("gamma"), col("beta"), col("u_max"), col("v_max"))
    np.testing.assert_allclose(fit.coefficients, (1.813, 0.435, -0.468), atol=2e-3)


def test_two_ranks_share_a_campaign_and_equal_a_serial_one(tmp_path, ci_campaign_dir):
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("mpiexec not installed (scripts/setup.sh installs Open MPI)")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "pymantle.cli", "campaign",
                           "--preset", "ci", "--out", str(tmp_path / "m"), "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "6/6 simulations done" in proc.stdout
    assert all(r["status"] == "finished" for r in read_index(tmp_path / "m"))
    # each simulation runs on one rank: the same runs as the serial campaign, bit for bit
    from pymantle import open_run
    serial = sorted((ci_campaign_dir / "sims").iterdir())
    assert len(serial) == 6
    assert [p.name for p in serial] == sorted(p.name for p in (tmp_path / "m" / "sims").iterdir())
    for sim in serial:
        a, b = open_run(sim), open_run(tmp_path / "m" / "sims" / sim.name)
        for name in ("T", "u", "v", "Nu_top", "Vrms"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=sim.name)


def test_sigterm_stops_the_campaign_without_marking_failures(tmp_path):
    import signal
    import time
    cmd = [sys.executable, "-m", "pymantle.cli", "campaign", "--preset", "ci", "--out",
           str(tmp_path / "s"), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list((tmp_path / "s").glob("sims/*/run.nc.part")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    # 3: stopped cleanly by the run's handler; -15: the signal came before it was installed
    assert proc.returncode in (3, -signal.SIGTERM), err
    rows = read_index(tmp_path / "s")
    assert not any(r["status"] == "failed" for r in rows)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "6/6 simulations done" in done.stdout


def _array_task(out, index, *extra):
    cmd = [sys.executable, "-m", "pymantle.cli", "campaign", "--preset", "ci", "--out",
           str(out), "--array-index", str(index), "--no-progress", *extra]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def test_job_array_tasks_share_a_folder_and_equal_a_serial_campaign(tmp_path, ci_campaign_dir):
    """A scheduler's job array (one process per --array-index, all at once on one folder)
    makes the serial campaign's runs bit for bit; a second task with a taken index stops
    with one line and records no failure; a finished index is skipped."""
    from pymantle import open_run
    out = tmp_path / "array"
    procs = [_array_task(out, i) for i in range(6)]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    rows = read_index(out)
    assert len(rows) == 6 and all(r["status"] == "finished" for r in rows)
    for sim in sorted((ci_campaign_dir / "sims").iterdir()):
        a, b = open_run(sim), open_run(out / "sims" / sim.name)
        for name in ("T", "u", "v", "Nu_top", "Vrms"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=sim.name)
    again = _array_task(out, 2)
    so, se = again.communicate(timeout=300)
    assert again.returncode == 0 and "6/6 simulations done" in so


def test_two_tasks_on_one_index_do_not_both_write_it(tmp_path):
    """A task whose simulation another process is running (its run folder locked) stops
    with one line and records no failure."""
    from pymantle.lock import DirectoryLock
    out = tmp_path / "busy"
    with DirectoryLock(out / "sims" / "sim-0001"):
        p = _array_task(out, 1)
        so, se = p.communicate(timeout=300)
    assert p.returncode == 2 and len(se.strip().splitlines()) == 1, se
    assert "sim-0001" in se and "in use" in se, se
    assert all(r["status"] != "failed" for r in read_index(out))
    assert not (out / "sims" / "sim-0001" / "status.json").exists()


def test_an_array_index_outside_the_campaign_is_refused(tmp_path):
    p = _array_task(tmp_path / "x", 6)
    so, se = p.communicate(timeout=120)
    assert p.returncode == 2 and "--array-index 6: allowed 0..5" in se


def test_a_campaign_over_your_own_box(tmp_path):
    """--q/--gamma/--beta replace the preset's ranges: the draws lie in the new box, the
    box is recorded (and reaches a model trained on the campaign); another box on the same
    folder is refused; a box out of the namelist's limits is a one-line error."""
    from pymantle.campaign import setup
    camp, meta = setup(tmp_path / "b", "laptop", 200, 3, False,
                       box={"q": (0.0, 2.0), "gamma": (1e7, 1e9)})
    q = np.array([s.Q for s in camp.sims])
    g = np.array([s.gamma for s in camp.sims])
    b = np.array([s.beta for s in camp.sims])
    assert 0.0 <= q.min() and q.max() <= 2.0 and q.max() > 1.5
    assert 1e7 <= g.min() and g.max() <= 1e9 and np.log10(g).std() > 0.4
    assert 3.0 <= b.min() and b.max() <= 30.0                    # the preset's beta
    assert meta["box"]["gamma"] == (1e7, 1e9)
    run_campaign(tmp_path / "c", "ci", n=3, box={"q": (0.0, 2.0)}, progress=False)
    assert all(r["Q"] <= 2.0 for r in read_index(tmp_path / "c"))
    with pytest.raises(campaign.ConfigError, match="box"):
        run_campaign(tmp_path / "c", "ci", n=3, box={"q": (0.0, 3.0)}, progress=False)
    with pytest.raises(campaign.ConfigError, match=r"--gamma 0,10: allowed 1 <= low"):
        setup(tmp_path / "d", "ci", None, 0, False, box={"gamma": (0.0, 10.0)})
