#!/usr/bin/env python
"""Stokes surrogate cost on this machine: forward time per step at the laptop (32x128) and
paper (126x504) grids in float32 and float64, with channels_last on and off, and training
samples per second (forward + backward + Adam) at the laptop grid, side by side in one run.
The network is the full-size study model (width 16, 5 levels, 6 layers, kernel 5, learned
padding) with random weights: the cost does not depend on the weights.
Writes a JSON record (scripts/benchlib.py).
Usage: python scripts/bench_model.py [--threads N] [--repeat 3] [--out docs/bench]"""
import argparse
import time

import torch

from benchlib import add_out_argument, md_table, record
from pymantle.ml.training.losses import surrogate_loss
from pymantle.ml.networks.study import StokesSurrogate, SurrogateConfig

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--threads", type=int, default=torch.get_num_threads())
ap.add_argument("--repeat", type=int, default=3)
add_out_argument(ap)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.set_flush_denormal(True)          # as the solver's surrogate provider does
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def timed(fn, repeat):
    fn()                                  # warm-up (allocations, cudnn choices)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


rows, res = [], {}
for name, (ny, nx) in {"laptop": (32, 128), "paper": (126, 504)}.items():
    for dtype in (torch.float32, torch.float64):
        for cl in (False, True):
            m = StokesSurrogate(SurrogateConfig(dtype=dtype), aspect=4.0).to(dev, dtype).eval()
            x = torch.randn(1, 7, ny, nx, dtype=dtype, device=dev)
            if cl:
                m = m.to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                t = timed(lambda: m(x), args.repeat if name == "laptop" else 1)
            key = f"{name}_{str(dtype)[6:]}{'_cl' if cl else ''}"
            res[key] = t
            rows.append({"grid": f"{name} {ny}x{nx}", "dtype": str(dtype)[6:],
                         "channels_last": cl, "forward_ms": t * 1e3})

# training throughput at the laptop grid, batch 16
m = StokesSurrogate(SurrogateConfig(dtype=torch.float32), aspect=4.0).to(dev, torch.float32)
opt = torch.optim.Adam(m.parameters(), 1e-3)
xb = torch.randn(16, 7, 32, 128, device=dev)
ub, vb = torch.randn(16, 1, 32, 129, device=dev), torch.randn(16, 1, 33, 128, device=dev)


def train_step():
    opt.zero_grad()
    up, vp = m(xb)
    loss, _ = surrogate_loss(up, vp, ub, vb, 4 / 128, 1 / 32)
    loss.backward()
    opt.step()


t_train = timed(train_step, 2)
table = md_table([dict(r, channels_last="on" if r["channels_last"] else "off") for r in rows],
                 [("grid", "grid", ""), ("dtype", "dtype", ""),
                  ("channels_last", "channels_last", ""), ("forward ms", "forward_ms", ".1f")])
record("bench_model", "surrogate forward and training cost",
       f"Full-size surrogate (2,133,385 parameters), random weights, {dev.type}, "
       f"{args.threads} thread(s); forward pass of one sample. Training at 32x128, batch 16, "
       f"float32: {t_train * 1e3:.0f} ms per batch = {16 / t_train:.1f} samples/s.",
       rows, f"RESULT forward_ms_laptop_f32={res['laptop_float32'] * 1e3:.1f} "
       f"forward_ms_laptop_f64={res['laptop_float64'] * 1e3:.1f} "
       f"forward_ms_paper_f32={res['paper_float32'] * 1e3:.0f} "
       f"forward_ms_paper_f64={res['paper_float64'] * 1e3:.0f} "
       f"train_ms_per_batch={t_train * 1e3:.0f} train_samples_per_s={16 / t_train:.1f}",
       out=args.out, settings={"threads": args.threads, "repeat": args.repeat,
                               "device": dev.type}, table=table)
