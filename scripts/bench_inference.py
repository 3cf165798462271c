#!/usr/bin/env python
"""The shipped networks' forward pass on the CPU, run four ways, side by side in one run.

- eager: `model.faces(x)` in torch's eager mode (PYMANTLE_FROZEN_GRAPH=0);
- frozen: the frozen TorchScript graph the provider runs by default (ml/inference.py,
  frozen_faces);
- onnxruntime: the same function exported to ONNX and run by ONNX Runtime's CPU provider
  with all graph optimisations (only where onnxruntime and onnx are installed: they are
  not dependencies of pymantle);
- compiled: torch.compile (Inductor), with --compile only (its first call takes about a
  minute).

One thread for every engine, calls taken in turn so that load on the machine falls on all
alike, medians over --repeat calls after three warm-up calls; the largest difference of
each engine's velocities from eager's, relative to their largest magnitude; the seconds the
frozen graph and the ONNX session take to build, once per run (tracing and freezing;
export and session). Writes a JSON
record (scripts/benchlib.py). Usage:
    python scripts/bench_inference.py [--grids laptop,paper] [--repeat 40] [--compile]
        [--out docs/bench]"""
import argparse
import os
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchlib import add_out_argument, md_table, record  # noqa: E402
from pymantle import config  # noqa: E402
from pymantle.ml.inference import frozen_faces, load_surrogate, place_model  # noqa: E402
from pymantle.ml.networks.buoyancy import buoyancy_inputs  # noqa: E402
from pymantle.physics import viscosity  # noqa: E402
from pymantle.providers.factory import shipped_model  # noqa: E402


#: seconds each engine took to build (tracing, export), once per run
SETUP: dict[str, float] = {}


def sample_inputs(grid):
    """The buoyancy inputs of a conductive profile with three plumes (costs do not depend
    on the field)."""
    x, y = grid.centres()
    T = np.clip((1 - y) + 0.3 * np.cos(3 * np.pi * x / grid.aspect) * np.sin(np.pi * y), 0, 1.5)
    inputs, _ = buoyancy_inputs(T, viscosity(T, y, 1e6, 10.0), y, 1.0)
    return torch.from_numpy(inputs)[None].float()


def onnx_engine(model, x):
    """ONNX Runtime on the exported `faces`, or None where it is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import tempfile
    from pymantle.ml.inference import faces_module
    t0 = time.perf_counter()
    path = os.path.join(tempfile.mkdtemp(), "faces.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(faces_module(model), (x,), path, input_names=["x"], dynamo=False)
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    SETUP["onnxruntime"] = time.perf_counter() - t0
    xn = x.numpy()
    return lambda _x: [torch.from_numpy(a) for a in sess.run(None, {"x": xn})]


def engines(model, x, channels_last, compile_too):
    """{name: callable(x) -> (u, v)}."""
    xl = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    t0 = time.perf_counter()
    graph = frozen_faces(model, x.shape[-2:], x.dtype, channels_last)
    SETUP["frozen"] = time.perf_counter() - t0
    out = {"eager": lambda _x: model.faces(xl), "frozen": lambda _x: graph(xl)}
    ort_call = onnx_engine(model, x)
    if ort_call is not None:
        out["onnxruntime"] = ort_call
    if compile_too:
        comp = torch.compile(lambda t: model.faces(t), dynamic=False)
        out["compiled"] = lambda _x: comp(xl)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", default="laptop,paper")
    ap.add_argument("--repeat", type=int, default=40, help="timed calls (paper: /4)")
    ap.add_argument("--compile", action="store_true", help="also torch.compile (slow start)")
    add_out_argument(ap)
    a = ap.parse_args()
    rows, results = [], {}
    for preset in a.grids.split(","):
        grid = config.load(None, [f"grid.preset='{preset}'"]).grid()
        path = shipped_model(grid)
        if path is None:
            print(f"{preset}: no shipped model: skipped")
            continue
        model, dtype, _, _ = load_surrogate(grid, path)
        _, _, channels_last = place_model(model, dtype)
        x = sample_inputs(grid).to(dtype)
        calls = engines(model, x, channels_last, a.compile)
        repeat = a.repeat if preset == "laptop" else max(a.repeat // 4, 5)
        times = {k: [] for k in calls}
        with torch.inference_mode():
            ref = [t.double() for t in calls["eager"](x)]
            diff = {}
            for k, f in calls.items():
                for _ in range(3):
                    got = f(x)
                diff[k] = max(float((g.double() - r).abs().max() / r.abs().max())
                              for g, r in zip(got, ref))
            for _ in range(repeat):
                for k, f in calls.items():
                    t0 = time.perf_counter()
                    f(x)
                    times[k].append(time.perf_counter() - t0)
        eager = np.median(times["eager"])
        for k, ts in times.items():
            ms = float(np.median(ts)) * 1e3
            rows.append({"grid": f"{preset} {grid.ny}x{grid.nx}", "engine": k, "ms": ms,
                         "eager_over_this": float(eager / np.median(ts)),
                         "max_rel_diff_from_eager": diff[k], "setup_s": SETUP.get(k)})
            results[f"{preset}_{k}_ms"] = ms
    cols = [("grid", "grid", ""), ("engine", "engine", ""), ("ms per forward", "ms", ".2f"),
            ("eager / this", "eager_over_this", ".2f"),
            ("max rel. diff from eager", "max_rel_diff_from_eager", ".1e"),
            ("set-up s", "setup_s", ".2f")]
    notes = ("The shipped networks' face velocities (forward pass only, float32, one thread, "
             "batch 1), each engine timed in turn; medians.")
    record("bench_inference", "the network's forward pass: eager, frozen graph, ONNX Runtime",
           notes, rows, "RESULT " + " ".join(f"{k}={v:.3g}" for k, v in results.items()),
           out=a.out, table=md_table(rows, cols),
           settings={"grids": a.grids, "repeat": a.repeat, "compile": a.compile,
                     "torch_threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
