"""Trainer: checkpoint round trip and exact resume, model files refused when tampered or
mismatched, torchrun data parallelism on 2 CPU processes."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from pymantle.ml.checkpoint import ModelFileError, load_model_file, save_model

TINY = {"width": 4, "levels": 2, "layers_per_level": 1, "kernel_size": 3, "groups": 2}


@pytest.fixture
def campaign_dir(ci_campaign_dir):
    return ci_campaign_dir


def trainer(campaign_dir, out, epochs):
    from pymantle.ml.training.train import Trainer, TrainConfig
    cfg = TrainConfig.from_recipe(campaign_dir, "laptop", out=str(out), epochs=epochs,
                                  samples_per_epoch=8, val_samples=4, model=dict(TINY))
    return Trainer(cfg)


def test_training_resumes_exactly(campaign_dir, tmp_path):
    a = trainer(campaign_dir, tmp_path / "a", 2)
    ha = a.fit(progress=False)
    b = trainer(campaign_dir, tmp_path / "b", 1)
    b.fit(progress=False)
    b2 = trainer(campaign_dir, tmp_path / "b", 2)
    assert b2.resume() and b2.epoch == 1
    hb = b2.fit(progress=False)
    for k, w in a.model.state_dict().items():
        assert torch.equal(w, b2.model.state_dict()[k]), k
    assert ha[-1]["train_loss"] == hb[-1]["train_loss"]
    assert (tmp_path / "a" / "training_curve.png").stat().st_size > 1000


def test_model_file_round_trip_and_refusals(campaign_dir, tmp_path):
    tr = trainer(campaign_dir, tmp_path / "t", 1)
    tr.fit(progress=False)
    path = tmp_path / "t" / "model.pt"
    payload = load_model_file(path, expect_grid={"nx": 32, "ny": 8, "aspect": 4.0})
    for k, w in tr.model.state_dict().items():
        if k in payload["state_dict"]:
            assert payload["state_dict"][k].shape == w.shape
    assert payload["grid"] == {"nx": 32, "ny": 8, "aspect": 4.0}
    assert len(payload["scaling"]["coefficients"]) == 3
    with pytest.raises(ModelFileError, match="trained on a 8x32 grid; this run has 32x128"):
        load_model_file(path, expect_grid={"nx": 128, "ny": 32, "aspect": 4.0})
    # tampered weights
    sd = {k: v.clone() for k, v in payload["state_dict"].items()}
    first = next(iter(sd))
    sd[first].view(-1)[0] += 1.0
    bad = dict(payload, state_dict=sd)
    torch.save(bad, tmp_path / "tampered.pt")
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_model_file(tmp_path / "tampered.pt")
    # not a model file, or one carrying pickled code
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ModelFileError, match="not a pymantle surrogate"):
        load_model_file(tmp_path / "other.pt")
    torch.save({"code": np.float64}, tmp_path / "pickled.pt")
    with pytest.raises(ModelFileError, match="weights_only"):
        load_model_file(tmp_path / "pickled.pt")
    (tmp_path / "trunc.pt").write_bytes(path.read_bytes()[:500])
    with pytest.raises(ModelFileError):
        load_model_file(tmp_path / "trunc.pt")
    with pytest.raises(ModelFileError, match="not found"):
        load_model_file(tmp_path / "none.pt")


def test_torchrun_two_processes_equal_one_with_the_same_global_batch(campaign_dir, tmp_path):
    # Each rank takes half of every batch and DDP averages the gradients, so one epoch on
    # 2 processes must give the weights of one process on the whole batch (to float32
    # round-off); ranks that never synchronised would each step on half the data.
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun not installed")
    args = ["-m", "pymantle.cli", "train", str(campaign_dir), "--epochs", "1",
            "--samples-per-epoch", "8", "--width", "4", "--levels", "2", "--layers", "1",
            "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    one = subprocess.run([sys.executable, *args, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([torchrun, "--standalone", "--nproc-per-node", "2", *args,
                          "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert two.returncode == 0, two.stderr[-2000:]
    assert "1 epochs" in two.stdout
    # The networks must compute the same function. (Not every weight must agree: a
    # convolution's bias that feeds a one-channel GroupNorm group cancels in it, so its
    # true gradient is zero and Adam turns each process's round-off into a step of its own.)
    from pymantle.ml.networks import build
    pa = load_model_file(tmp_path / "one" / "model.pt")
    pb = load_model_file(tmp_path / "two" / "model.pt")
    nets = []
    for payload in (pa, pb):
        net = build(payload["model"]["class"], dict(payload["model"]["config"]), 4.0)
        net.load_state_dict(payload["state_dict"])
        nets.append(net.eval())
    x = torch.randn(3, 3, 8, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        (ua, va), (ub, vb) = nets[0](x), nets[1](x)
    scale = float(ua.abs().max())
    assert scale > 0
    np.testing.assert_allclose(ub.numpy(), ua.numpy(), rtol=0, atol=2e-4 * scale)
    np.testing.assert_allclose(vb.numpy(), va.numpy(), rtol=0, atol=2e-4 * scale)


def test_ablation_trains_variants_and_reports_wall_errors(campaign_dir, tmp_path):
    from pymantle.ml.evaluation.ablation import ablate
    rows = ablate(campaign_dir, tmp_path / "abl", variants=["learned", "zeros", "soft"],
                  epochs=1, samples_per_epoch=8, model_overrides=dict(TINY), progress=False,
                  echo=lambda *a: None)
    by = {r["variant"]: r for r in rows}
    assert by["learned"]["ratio_left"] == 1.0
    assert by["zeros"]["parameters"] < by["learned"]["parameters"]
    for r in rows:
        assert all(np.isfinite(r[s]) and r[s] > 0 for s in ("left", "right", "top", "bottom"))
    assert (tmp_path / "abl" / "ablation.md").is_file() and (tmp_path / "abl" / "ablation.png").is_file()


def test_training_pack_round_trip_and_training(campaign_dir, tmp_path):
    """A pack rebuilds the campaign's inputs and scaled velocities to float32 precision,
    trains by the same Trainer, and a damaged pack is refused in one line."""
    from pymantle.ml.training.data import SnapshotDataset
    from pymantle.ml.training.pack import PackDataset, PackError, write_pack
    from pymantle.ml.training.train import Trainer, TrainConfig
    pack = tmp_path / "ci.npz"
    summary = write_pack(campaign_dir, pack, progress=False)
    assert summary["train"] > 0 and summary["cv"] > 0 and summary["v_rel"] < 1e-5
    pk = PackDataset(pack, "cv")
    ref = SnapshotDataset(campaign_dir, "cv", scaling=pk.scaling, normalisation=pk.normalisation)
    assert pk.items == ref.items
    for k in (0, len(pk) - 1):
        for a, b in zip(pk[k], ref[k]):
            assert a.shape == b.shape
            assert float((a - b).abs().max()) <= 2e-6 * max(float(b.abs().max()), 1.0)
    cfg = TrainConfig.from_recipe(pack, "laptop", out=str(tmp_path / "t"), epochs=1,
                                  samples_per_epoch=8, val_samples=4, model=dict(TINY))
    tr = Trainer(cfg)
    assert tr.aspect == 4.0 and (tr.ny, tr.nx) == (8, 32)
    tr.fit(progress=False)
    assert np.isfinite(tr.history[-1]["val_loss"])
    assert load_model_file(tmp_path / "t" / "model.pt",
                           expect_grid={"nx": 32, "ny": 8, "aspect": 4.0})["grid"]["nx"] == 32
    broken = tmp_path / "broken.npz"
    broken.write_bytes(pack.read_bytes()[:1000])
    with pytest.raises(PackError, match="broken.npz: unreadable or truncated training pack"):
        PackDataset(broken)
