"""The PYMANTLE_* environment switches are read in pymantle/switches.py only."""
import re
from pathlib import Path

import pymantle


def test_environment_switches_are_read_in_one_place():
    root = Path(pymantle.__file__).parent
    readers = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
               if re.search(r"environ(\.get)?\s*[\[(]\s*[\"']PYMANTLE_", p.read_text())]
    assert readers == ["switches.py"]


def test_a_switch_set_to_0_turns_its_feature_off(monkeypatch):
    from pymantle import switches
    assert switches.cuda_graph() and switches.keep_freed_memory()
    monkeypatch.setenv("PYMANTLE_CUDA_GRAPH", "0")
    monkeypatch.setenv("PYMANTLE_CONV_IMPL", "dense")
    assert not switches.cuda_graph() and switches.conv_impl("banks") == "dense"


def test_torch_threads_default_to_one_unless_told(monkeypatch):
    import pytest
    from pymantle import switches
    monkeypatch.delenv("PYMANTLE_TORCH_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert switches.torch_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")          # the user's own choice stands
    assert switches.torch_threads() is None
    monkeypatch.setenv("PYMANTLE_TORCH_THREADS", "3")
    assert switches.torch_threads() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("PYMANTLE_TORCH_THREADS", bad)
        with pytest.raises(ValueError, match="PYMANTLE_TORCH_THREADS.*integer >= 1"):
            switches.torch_threads()


def test_the_network_on_the_cpu_takes_the_switch_threads(monkeypatch):
    import torch
    from pymantle.grid import Grid
    from pymantle.ml.inference import place_model
    from pymantle.ml.networks.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setenv("PYMANTLE_TORCH_THREADS", "2")
        model = BuoyancyUNet(BuoyancyUNetConfig(), aspect=Grid.from_preset("ci").aspect)
        place_model(model, torch.float32)
        assert torch.get_num_threads() == 2
        monkeypatch.delenv("PYMANTLE_TORCH_THREADS")
        place_model(model, torch.float32)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
