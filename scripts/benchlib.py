"""Shared helpers of the scripts/bench_*.py benchmarks: timing, the machine's description,
and the machine-readable record of each run.

Every benchmark run writes one JSON record (`record`), by default into docs/bench/ (or the
folder given by --out), named <script>-<YYYY-MM-DDTHHMM>-<host>.json, holding:

    schema     "pymantle-bench/1"
    script     e.g. "bench_rollout"
    title      one line: what is measured
    date       local time of the run, ISO 8601
    host       the machine's host name
    machine    {"cpu", "cores", "python", "platform", "torch" (if imported), "device" (GPU)}
    command    the command line that made the record (python scripts/bench_x.py ...)
    git        {"commit", "dirty"} of the working tree, where git is at hand
    env        the thread settings (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, ...)
    settings   the script's arguments
    rows       every measured number: one object per table row, units in the key names
    results    the headline numbers and ratios (the RESULT line, as numbers)
    notes      how to read the table (the text printed above it)

`python scripts/bench_summary.py` renders the latest record of each script into a markdown
table (docs/bench/summary.md). Nothing is appended to the docs by hand."""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Default folder of the JSON records (override with a script's --out).
RECORDS = ROOT / "docs" / "bench"
SCHEMA = "pymantle-bench/1"


def add_out_argument(ap) -> None:
    """The --out option every benchmark takes: the folder its JSON record goes into."""
    ap.add_argument("--out", default=str(RECORDS),
                    help="folder of the JSON record of this run (default: docs/bench)")


def best_of(fn, repeat=5, number=1):
    """Best wall time of `number` calls, over `repeat` tries (seconds per call)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def cpu_name() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine() -> str:
    """One line: CPU, cores, Python (the old markdown sections' 'Machine:' line)."""
    return f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def machine_info() -> dict:
    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["device"] = torch.cuda.get_device_name(0)
    return info


def _git() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
        return {"commit": commit or None, "dirty": bool(dirty.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def command_line() -> str:
    """How this run was started, relative to the repository root where it can be."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join(["python", str(script), *sys.argv[1:]])


def parse_result(result: str) -> dict:
    """'RESULT a=1.5 b=2' -> {'a': 1.5, 'b': 2.0} (non-numbers kept as text)."""
    out = {}
    for tok in result.split()[1:] if result.startswith("RESULT") else result.split():
        key, _, val = tok.partition("=")
        try:
            out[key] = float(val)
        except ValueError:
            out[key] = val
    return out


def md_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Markdown table of `rows`: columns are (header, key, format) with format like '.1f'."""
    head = "| " + " | ".join(h for h, _, _ in columns) + " |"
    sep = "|" + "---|" * len(columns)
    lines = [head, sep]
    for r in rows:
        cells = []
        for _, key, fmt in columns:
            v = r.get(key)
            cells.append("-" if v is None else (format(v, fmt) if fmt else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _plain(x):
    """JSON-ready copy: NumPy scalars to Python numbers, NaN and infinities to None."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and not isinstance(x, (str, bytes)):
        x = x.item()
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return None
    return x


def record(script: str, title: str, notes: str, rows: list[dict], result: str, *,
           out: str | Path | None = None, settings: dict | None = None,
           table: str | None = None, extra: dict | None = None) -> Path:
    """Write this run's JSON record (module docstring) and print the table and the RESULT
    line (last). Returns the record's path."""
    now = _dt.datetime.now().astimezone()
    host = socket.gethostname().split(".")[0] or "host"
    folder = Path(out) if out is not None else RECORDS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{script}-{now.strftime('%Y-%m-%dT%H%M')}-{host}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{script}-{now.strftime('%Y-%m-%dT%H%M')}-{host}-{n}.json"
    rec = {"schema": SCHEMA, "script": script, "title": title,
           "date": now.isoformat(timespec="seconds"), "host": host, "machine": machine_info(),
           "command": command_line(), "git": _git(),
           "env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                             "MKL_NUM_THREADS") if k in os.environ},
           "settings": settings or {}, "rows": rows, "results": parse_result(result),
           "notes": notes.strip()}
    if extra:
        rec.update(extra)
    path.write_text(json.dumps(_plain(rec), indent=1, allow_nan=False) + "\n")
    print(notes.strip())
    if table:
        print()
        print(table)
    print(f"record: {path}")
    print(result)
    return path

def random_model_file(path, nx, ny, dtype="float32", aspect=4.0):
    """A full-size surrogate with random weights as a model file, for timing (the cost of
    the network does not depend on its weights); plausible normalisation and scaling."""
    import torch
    from pymantle.ml.checkpoint import save_model
    from pymantle.ml.networks.study import StokesSurrogate, SurrogateConfig
    m = StokesSurrogate(SurrogateConfig(dtype=getattr(torch, dtype)), aspect=aspect)
    return save_model(path, m.state_dict(),
                      model={"class": "StokesSurrogate", "config": {"dtype": dtype}},
                      grid={"nx": nx, "ny": ny, "aspect": aspect},
                      normalisation={"q": [0, 10], "log_gamma": [5, 6], "log_beta": [0.5, 1.5]},
                      scaling={"coefficients": [1.8, 0.43, -0.46], "headroom": 5})



def random_buoyancy_model_file(path, nx, ny, aspect=4.0, **config):
    """The shipped buoyancy-scaled U-net's architecture (pymantle/ml/networks/buoyancy_unet.py,
    default configuration unless overridden) with random weights, as a model file."""
    import dataclasses
    import torch
    from pymantle.ml.networks.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
    from pymantle.ml.checkpoint import save_model
    cfg = BuoyancyUNetConfig(**config)
    m = BuoyancyUNet(cfg, aspect=aspect)
    plain = {k: (str(v).replace("torch.", "") if isinstance(v, torch.dtype) else v)
             for k, v in dataclasses.asdict(cfg).items()}
    return save_model(path, m.state_dict(), model={"class": "BuoyancyUNet", "config": plain},
                      grid={"nx": nx, "ny": ny, "aspect": aspect},
                      normalisation={"q": [0, 10], "log_gamma": [5, 6], "log_beta": [0.5, 1.5]},
                      scaling={"kind": "buoyancy"})
