"""Rollouts of the U-net baselines (docs/theory.md section 7): the network replaces the whole step.

A U-net maps (T, u, v) at snapshot k to snapshot k+1 (100 solver steps later in the real
campaigns), so it is not a velocity provider inside the solver's time loop: it *is* the time
loop. `UNetStepper` applies a model file to NumPy fields; `rollout` starts from a stored
run's first snapshot, applies the stepper again and again, and compares every prediction
with the stored snapshot of the same index (the reference solver's state 100 steps on):

    T_rms_error   RMS of T - T_ref over the box
    T_mean_error  mean T - mean T_ref
    profile_mae   MAE of the horizontally averaged T profile

A rollout counts as *diverged* at the first snapshot step where T_rms_error exceeds
`DIVERGED_RMS` (0.1: a tenth of the temperature scale) or a value is not finite; the study's
U-nets diverged within 16 snapshot steps (1,600 solver steps). As in the hybrid rollout, T
is clipped to [0, 2] and its wall values are the boundary conditions' after each step.

`evaluate_unets` does this for every chosen test run of a campaign and writes unet.csv,
unet.md and unet_errors.png (`pymantle evaluate CAMPAIGN --unet MODEL[,MODEL...]`). The
arrays-in core (`rollout`) needs torch and NumPy only, so it also runs on a GPU node from a
packed copy of the test runs (scripts/gpu_export.py, scripts/gpu_check.py).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DIVERGED_RMS = 0.1


class UNetStepper:
    """A U-net model file applied to (T, u, v) NumPy fields of one simulation."""

    def __init__(self, path_or_payload, physics: dict, aspect: float, nx: int, ny: int,
                 device=None):
        import torch
        from ..checkpoint import load_model_file
        from ..networks.inputs import InputNormalisation, VelocityScaling
        from ..networks.unet import UNet, UNetConfig
        payload = path_or_payload if isinstance(path_or_payload, dict) else \
            load_model_file(path_or_payload, expect_grid={"nx": nx, "ny": ny, "aspect": aspect},
                            expect_class="UNet")
        mc = dict(payload["model"]["config"])
        self.dtype = getattr(torch, str(mc.get("dtype", "float64")))
        mc["dtype"] = self.dtype
        self.variant = mc.get("variant", "unet")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = UNet(UNetConfig(**mc), aspect=aspect).to(self.dtype)
        self.model.load_state_dict(payload["state_dict"])
        self.model.to(self.device).eval()
        torch.set_flush_denormal(True)
        n = payload["normalisation"]
        self.normalisation = InputNormalisation(tuple(n["q"]), tuple(n["log_gamma"]),
                                                tuple(n["log_beta"]))
        self.scale = float(VelocityScaling.from_dict(payload["scaling"]).scale(
            physics["q"], physics["gamma"], physics["beta"])[0])
        self.physics, self.aspect = physics, aspect

    def step(self, T, u, v):
        """(T, u, v) one snapshot step later; T clipped to [0, 2]."""
        import torch
        from ..networks.inputs import step_inputs
        x = step_inputs(T, self.physics, self.aspect, self.normalisation, u / self.scale,
                        v / self.scale)
        with torch.inference_mode():
            Tn, un, vn = self.model(torch.from_numpy(x[None]).to(self.device, self.dtype))
        Tn = np.clip(Tn[0, 0].double().cpu().numpy(), 0.0, 2.0)
        return Tn, un[0, 0].double().cpu().numpy() * self.scale, \
            vn[0, 0].double().cpu().numpy() * self.scale


def rollout(stepper: UNetStepper, T_ref: np.ndarray, u0, v0, max_steps: int | None = None,
            start: int = 0) -> dict:
    """Roll the stepper out from snapshot `start` of a reference series T_ref (n, ny, nx)
    (u0, v0: the velocities of that snapshot) and compare each step with the reference;
    returns per-step error arrays and the step at which the rollout diverged (None: it did
    not, within the series)."""
    T_ref = T_ref[start:]
    n = len(T_ref) - 1 if max_steps is None else min(max_steps, len(T_ref) - 1)
    T, u, v = np.asarray(T_ref[0], float), np.asarray(u0, float), np.asarray(v0, float)
    rms, mean_err, prof = [], [], []
    diverged = None
    t0 = time.perf_counter()
    for k in range(1, n + 1):
        T, u, v = stepper.step(T, u, v)
        ref = np.asarray(T_ref[k], float)
        if not (np.isfinite(T).all() and np.isfinite(u).all() and np.isfinite(v).all()):
            diverged = diverged or k
            break
        rms.append(float(np.sqrt(np.mean((T - ref) ** 2))))
        mean_err.append(float(T.mean() - ref.mean()))
        prof.append(float(np.abs(T.mean(axis=1) - ref.mean(axis=1)).mean()))
        if diverged is None and rms[-1] > DIVERGED_RMS:
            diverged = k
    return {"steps": len(rms), "start": start, "diverged_at": diverged, "T_rms_error": np.array(rms),
            "T_mean_error": np.array(mean_err), "profile_mae": np.array(prof),
            "ms_per_step": (time.perf_counter() - t0) / max(len(rms), 1) * 1e3}


def summary_row(name: str, sim: int, r: dict) -> dict:
    at = lambda k: float(r["T_rms_error"][k - 1]) if len(r["T_rms_error"]) >= k else float("nan")  # noqa: E731
    return {"model": name, "sim": sim, "start": r["start"], "snapshot_steps": r["steps"],
            "diverged_at": r["diverged_at"] if r["diverged_at"] is not None else "",
            "T_rms_1": at(1), "T_rms_4": at(4), "T_rms_16": at(16),
            "T_mean_mae": float(np.abs(r["T_mean_error"]).mean()) if r["steps"] else float("nan"),
            "profile_mae": float(np.mean(r["profile_mae"])) if r["steps"] else float("nan"),
            "ms_per_snapshot_step": r["ms_per_step"]}


def evaluate_unets(campaign_dir, models, split="test", sims=None, out="unet",
                   max_steps=None, start=0, echo=print) -> list[dict]:
    """Roll every U-net model file out on the chosen runs of a campaign from snapshot
    `start` (0 is the hot start, whose first step is the run's largest change); writes
    OUT/unet.csv, OUT/unet.md and OUT/unet_errors.png; returns the rows."""
    import netCDF4
    from ...campaign_index import Campaign
    from ...evaluate import _write_table, campaign_specs
    from ...output import run_physics
    from ..training.data import require_uniform_rows
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs, _ = campaign_specs(campaign_dir, split, sims)
    camp = Campaign(Path(campaign_dir), "", 0)
    rows, curves = [], {}
    for spec in specs:
        with netCDF4.Dataset(camp.sim_dir(spec.sim) / "run.nc") as nc:
            T_ref = np.asarray(nc["T"][:], float)
            if T_ref.shape[0] < start + 2:
                continue
            u0, v0 = np.asarray(nc["u"][start], float), np.asarray(nc["v"][start], float)
            require_uniform_rows(nc, camp.sim_dir(spec.sim) / "run.nc")
            nx, ny, aspect = len(nc.dimensions["x"]), len(nc.dimensions["y"]), float(nc.aspect)
            physics = run_physics(nc)
        for path in models:
            st = UNetStepper(path, physics, aspect, nx, ny)
            r = rollout(st, T_ref, u0, v0, max_steps, start)
            name = f"{Path(path).parent.name}/{Path(path).name}"
            rows.append(summary_row(st.variant, spec.sim, r))
            curves[(st.variant, spec.sim)] = r["T_rms_error"]
            echo(f"unet: sim {spec.sim} {st.variant} ({name}): {r['steps']} snapshot steps, "
                 f"diverged at {r['diverged_at']}, T rms error after 1/4/16 steps "
                 f"{rows[-1]['T_rms_1']:.3g}/{rows[-1]['T_rms_4']:.3g}/{rows[-1]['T_rms_16']:.3g}")
    _write_table(rows, list(rows[0]), out / "unet")
    plot_errors(curves, out / "unet_errors.png")
    return rows


def plot_errors(curves: dict, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = {}
    for (variant, _), err in curves.items():
        first = variant not in colours
        c = colours.setdefault(variant, f"C{len(colours)}")
        ax.semilogy(np.arange(1, len(err) + 1), np.maximum(err, 1e-6), color=c, alpha=0.7,
                    label=variant if first else None)
    ax.axhline(DIVERGED_RMS, color="k", ls="--", lw=0.8, label="diverged")
    ax.set_xlabel("snapshot step (100 solver steps)")
    ax.set_ylabel("RMS error of T against the reference")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
