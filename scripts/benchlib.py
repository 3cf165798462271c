"""Shared helpers of the scripts/bench_*.py benchmarks: timing, machine description, and
appending a dated section to docs/benchmarks.md."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def best_of(fn, repeat=5, number=1):
    """Best wall time of `number` calls, over `repeat` tries (seconds per call)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def append(title: str, body: str, result: str) -> None:
    """Append a section to docs/benchmarks.md and print the RESULT line last."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = f"\n## {title} ({stamp})\n\nMachine: {machine()}\n\n{body.rstrip()}\n\n`{result}`\n"
    DOC.parent.mkdir(exist_ok=True)
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\nAppended by scripts/bench_*.py; newest last.\n")
    with open(DOC, "a") as fh:
        fh.write(text)
    print(body)
    print(result)


def random_model_file(path, nx, ny, dtype="float32", aspect=4.0):
    """A full-size surrogate with random weights as a model file, for timing (the cost of
    the network does not depend on its weights); plausible normalisation and scaling."""
    import torch
    from pymantle.ml.checkpoint import save_model
    from pymantle.ml.models import StokesSurrogate, SurrogateConfig
    m = StokesSurrogate(SurrogateConfig(dtype=getattr(torch, dtype)), aspect=aspect)
    return save_model(path, m.state_dict(),
                      model={"class": "StokesSurrogate", "config": {"dtype": dtype}},
                      grid={"nx": nx, "ny": ny, "aspect": aspect},
                      normalisation={"q": [0, 10], "log_gamma": [5, 6], "log_beta": [0.5, 1.5]},
                      scaling={"coefficients": [1.8, 0.43, -0.46], "headroom": 5})



def random_buoyancy_model_file(path, nx, ny, aspect=4.0, **config):
    """The shipped buoyancy-scaled U-net's architecture (pymantle/ml/buoyancy_unet.py,
    default configuration unless overridden) with random weights, as a model file."""
    import dataclasses
    import torch
    from pymantle.ml.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
    from pymantle.ml.checkpoint import save_model
    cfg = BuoyancyUNetConfig(**config)
    m = BuoyancyUNet(cfg, aspect=aspect)
    plain = {k: (str(v).replace("torch.", "") if isinstance(v, torch.dtype) else v)
             for k, v in dataclasses.asdict(cfg).items()}
    return save_model(path, m.state_dict(), model={"class": "BuoyancyUNet", "config": plain},
                      grid={"nx": nx, "ny": ny, "aspect": aspect},
                      normalisation={"q": [0, 10], "log_gamma": [5, 6], "log_beta": [0.5, 1.5]},
                      scaling={"kind": "buoyancy"})
