"""Ablations of the surrogate (docs/theory.md section 7; issue 5), one command:

    pymantle ablate CAMPAIGN [--recipe laptop] [--variants a,b,...] [--out DIR]

trains every variant with the same recipe and seed on the same campaign, then measures on
the cv split the MAE of the velocities on each wall (left, right, bottom, top: the outermost
column or row of the face arrays, tangential components, where padding matters) and inside,
and the validation loss. Reports the error ratios against the learned-padding model, as the
study did (learned padding up to 8x more accurate on the boundaries than zero padding).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

VARIANTS = {
    "learned": {},                                            # the study's best model
    "zeros": {"model": {"padding": "zeros"}},
    "replicate": {"model": {"padding": "replicate"}},
    "zeros64": {"model": {"padding": "zeros", "width": 64}},
    "soft": {"model": {"output": "soft"}, "mass": "all"},    # u, v directly, mass in the loss
    "no_range_weighting": {"range_weighting": False},
    "no_derivative": {"derivative": False},
}
SIDES = ("left", "right", "bottom", "top", "interior")


def side_errors(trainer, max_samples=64) -> dict:
    """MAE of u/s and v/s on each wall line and inside, over the cv split."""
    import torch
    ds = trainer.val_ds
    idx = np.arange(min(len(ds), max_samples))
    acc = {s: [] for s in SIDES}
    trainer.model.eval()
    with torch.no_grad():
        for k0 in range(0, len(idx), 8):
            x, u, v = trainer._stack(ds, idx[k0:k0 + 8])
            up, vp = trainer.model(x)
            eu, ev = (up - u).abs(), (vp - v).abs()
            # tangential velocity on each wall: v along the sides, u along bottom and top
            acc["left"].append(float(ev[..., :, 0].mean()))
            acc["right"].append(float(ev[..., :, -1].mean()))
            acc["bottom"].append(float(eu[..., 0, :].mean()))
            acc["top"].append(float(eu[..., -1, :].mean()))
            acc["interior"].append(float(0.5 * (eu[..., 2:-2, 2:-2].mean() + ev[..., 2:-2, 2:-2].mean())))
    trainer.model.train()
    return {s: float(np.mean(v)) for s, v in acc.items()}


def variant_trainer(campaign, name, out="ablation", recipe="laptop", epochs=None,
                    samples_per_epoch=None, model_overrides=None, milestones=None):
    """The Trainer of one variant (resumed from OUT/NAME/checkpoint.pt if there)."""
    from ..training.train import Trainer, TrainConfig
    v = VARIANTS[name]
    model = {**(model_overrides or {}), **v.get("model", {})}
    kw = {k: val for k, val in v.items() if k != "model"}
    cfg = TrainConfig.from_recipe(campaign, recipe, out=str(Path(out) / name), epochs=epochs,
                                  samples_per_epoch=samples_per_epoch, model=model,
                                  milestones=milestones, **kw)
    tr = Trainer(cfg)
    tr.resume()
    return tr


def ablate(campaign, out="ablation", recipe="laptop", variants=None, epochs=None,
           samples_per_epoch=None, model_overrides=None, progress=True, echo=print,
           milestones=None, budget_s=None) -> list[dict]:
    """Train (or resume) every variant, then report. Variants may also be trained apart
    (`variant_trainer(...).fit()`, e.g. one process each on a GPU) and reported here with
    budget_s=0, which trains nothing more."""
    out = Path(out)
    names = variants or list(VARIANTS)
    bad = [n for n in names if n not in VARIANTS]
    if bad:
        from ...config import ConfigError
        raise ConfigError(f"--variants {','.join(bad)}: allowed {', '.join(VARIANTS)}")
    rows = []
    for name in names:
        tr = variant_trainer(campaign, name, out, recipe, epochs, samples_per_epoch,
                             model_overrides, milestones)
        hist = tr.fit(progress=progress, budget_s=budget_s)
        err = side_errors(tr)
        from ..networks.study import count_parameters
        rows.append({"variant": name, "parameters": count_parameters(tr.model),
                     "epochs": tr.epoch,
                     "val_loss": hist[-1]["val_loss"] if hist else float("nan"), **err})
        echo(f"ablation {name}: val loss {rows[-1]['val_loss']:.4g}, interior MAE "
             f"{err['interior']:.3g}")
    ref = next((r for r in rows if r["variant"] == "learned"), None)
    for r in rows:
        for s in SIDES:
            r[f"ratio_{s}"] = r[s] / ref[s] if ref and ref[s] > 0 else float("nan")
    out.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    with open(out / "ablation.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    fmt = lambda x: f"{x:.4g}" if isinstance(x, float) else str(x)  # noqa: E731
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    (out / "ablation.md").write_text(
        "Velocity MAE (scaled) on each wall and inside, cv split; ratio_* = variant / learned "
        "padding (> 1: the learned padding is more accurate there).\n\n" + "\n".join(lines) + "\n")
    _plot(rows, out / "ablation.png")
    return rows


def _plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    w = 0.8 / len(rows)
    for i, r in enumerate(rows):
        ax.bar(np.arange(len(SIDES)) + i * w, [r[s] for s in SIDES], w, label=r["variant"])
    ax.set_xticks(np.arange(len(SIDES)) + 0.4 - w / 2, SIDES)
    ax.set_ylabel("MAE of scaled velocity (cv)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
