"""scripts/bench_inference.py, small: the shipped laptop network's forward pass timed eagerly
and as the frozen graph, side by side, into a record whose frozen velocities equal eager's
(bit for bit at 32x128: the graph runs the same kernels in the same order)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_inference_records_the_frozen_graph_beside_eager(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_inference.py"),
                    "--grids", "laptop", "--repeat", "3", "--out", str(tmp_path)],
                   check=True, capture_output=True, text=True, timeout=300,
                   env={"PYTHONPATH": str(ROOT / "scripts"), "PATH": "/usr/bin:/bin",
                        "PYMANTLE_TORCH_THREADS": "1"})
    (path,) = tmp_path.glob("bench_inference-*.json")
    rows = {r["engine"]: r for r in json.loads(path.read_text())["rows"]}
    assert {"eager", "frozen"} <= set(rows)
    assert rows["frozen"]["max_rel_diff_from_eager"] == 0.0
    assert all(r["ms"] > 0 for r in rows.values())
