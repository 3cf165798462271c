"""One writer per output folder (lock.py): a second live process is refused at once, a
killed holder leaves no stale lock, and unusable folders give one line."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import make_config
from pymantle.config import ConfigError
from pymantle.lock import DirectoryLock, FolderBusy
from pymantle.simulation import Simulation

HOLD = ("import sys, time; from pymantle.lock import DirectoryLock; "
        "DirectoryLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)")


def _holder(folder):
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_second_process_is_refused_and_a_killed_holder_leaves_no_lock(tmp_path):
    p = _holder(tmp_path / "out")
    try:
        with pytest.raises(FolderBusy, match=rf"in use by another pymantle process \(pid {p.pid}\)"):
            DirectoryLock(tmp_path / "out").acquire()
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    with DirectoryLock(tmp_path / "out"):          # the kernel dropped the dead one's lock
        pass


def test_a_run_refuses_a_folder_in_use_before_writing(tmp_path):
    cfg = make_config(tmp_path, "time.max_steps=3")
    out = tmp_path / "run"
    p = _holder(out)
    try:
        with pytest.raises(FolderBusy, match="output folder"):
            Simulation(cfg).run()
        assert sorted(os.listdir(out)) == [".pymantle.lock"]
    finally:
        p.kill()
        p.wait()
    assert Simulation(cfg).run().steps == 3


def test_unusable_folders_give_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        DirectoryLock(tmp_path / "file").acquire()
    with pytest.raises(ConfigError, match=r"cannot be written \(Not a directory\)"):
        DirectoryLock(tmp_path / "file" / "sub").acquire()


def test_campaign_train_and_evaluate_refuse_a_folder_in_use(tmp_path):
    from pymantle.campaign import run_campaign
    from pymantle.evaluate import evaluate
    from pymantle.ml.training.train import Trainer, TrainConfig
    camp = tmp_path / "camp"
    run_campaign(camp, "ci", progress=False)
    for folder, call in [
            (camp, lambda: run_campaign(camp, "ci", progress=False)),
            (tmp_path / "tr", lambda: Trainer(TrainConfig.from_recipe(
                camp, "buoyancy", out=str(tmp_path / "tr"), epochs=1, samples_per_epoch=4,
                model={"width": 4, "levels": 2})).fit(progress=False)),
            (tmp_path / "ev", lambda: evaluate(camp, tmp_path / "ev", ("direct",), sims=[0],
                                               max_steps=2, echo=lambda *_: None))]:
        before = sorted(os.listdir(folder)) if folder.exists() else []
        p = _holder(folder)
        try:
            with pytest.raises(FolderBusy):
                call()
            assert sorted(os.listdir(folder)) == sorted(set(before) | {".pymantle.lock"})
        finally:
            p.kill()
            p.wait()


def test_evaluate_on_a_missing_campaign_writes_nothing(tmp_path):
    from pymantle.evaluate import evaluate
    with pytest.raises(FileNotFoundError, match="not a campaign directory"):
        evaluate(tmp_path / "missing", tmp_path / "ev")
    assert not (tmp_path / "ev").exists()
