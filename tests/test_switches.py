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
