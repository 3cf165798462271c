"""Plots of a run (public: the CLI uses them, and so can post-processing scripts).

plot_temperature(ds, path)  final (or chosen) temperature field with streamlines of the flow
plot_history(ds, path)      Nu (top, bottom), Vrms and mean T against time
plot_profile(ds, path)      horizontally averaged temperature profile(s)
plot_run(run, outdir)       all three from a run file or directory
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _ds(run):
    from .output import open_run
    return open_run(run) if isinstance(run, (str, Path)) else run


def _draw_flow(ax, ds, index: int, L: float):
    """Streamlines of the flow (face velocities averaged to the centres), line width
    proportional to the speed, and the largest speed in the corner: the pattern and its
    strength at a glance, for any provider. streamplot needs evenly spaced points, so
    wall-refined rows are first interpolated onto even ones."""
    u = ds["u"].isel(time=index).values
    v = ds["v"].isel(time=index).values
    uc, vc = 0.5 * (u[:, 1:] + u[:, :-1]), 0.5 * (v[1:] + v[:-1])
    speed = np.hypot(uc, vc)
    top = float(speed.max())
    if not top > 0.0:
        return
    x, y = ds["x"].values, ds["y"].values
    ye = np.linspace(y[0], y[-1], len(y))
    if not np.allclose(y, ye):
        resample = lambda f: np.array([np.interp(ye, y, col) for col in f.T]).T  # noqa: E731
        uc, vc, speed = resample(uc), resample(vc), resample(speed)
    ax.streamplot(x, ye, uc, vc, color="k", linewidth=0.3 + 1.5 * speed / top,
                  density=(1.1 * L, 1.1), arrowsize=0.6)
    ax.set_xlim(0, L)
    ax.set_ylim(0, 1)
    ax.text(0.995, 1.02, f"max |u| = {top:.3g}", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=8)


def plot_temperature(run, path, index: int = -1):
    ds = _ds(run)
    T = ds["T"].isel(time=index)
    L = float(ds["x_face"][-1])
    fig, ax = plt.subplots(figsize=(min(3 + 2.5 * L, 14), 3.2))
    kw = dict(cmap="RdYlBu_r", vmin=0, vmax=max(1.0, float(T.max())))
    yf = ds["y_face"].values
    if np.allclose(np.diff(yf), yf[1] - yf[0]):
        im = ax.imshow(T.values, origin="lower", extent=[0, L, 0, 1], aspect="equal", **kw)
    else:   # wall-refined rows: draw each cell at its true height
        im = ax.pcolormesh(ds["x_face"].values, yf, T.values, shading="flat", **kw)
        ax.set_aspect("equal")
    _draw_flow(ax, ds, index, L)
    fig.colorbar(im, ax=ax, label="T", shrink=0.9)
    t = float(ds["time"][index])
    ax.set_title(f"temperature at t = {t:.4g} (Q={float(ds.attrs.get('q', 0)):.3g}, "
                 f"gamma={ds.attrs.get('gamma', 0):.3g}, beta={ds.attrs.get('beta', 0):.3g})")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_history(run, path):
    ds = _ds(run)
    t = ds["history_time"].values
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    axes[0].plot(t, ds["Nu_top"], label="Nu top")
    axes[0].plot(t, ds["Nu_bottom"], label="Nu bottom")
    axes[0].set_ylabel("Nu")
    axes[0].legend()
    late = t >= t[0] + 0.1 * (t[-1] - t[0])       # keep the start-up spike off the scale
    if late.sum() > 2:
        lo = float(min(ds["Nu_top"][late].min(), ds["Nu_bottom"][late].min()))
        hi = float(max(ds["Nu_top"][late].max(), ds["Nu_bottom"][late].max()))
        pad = 0.1 * (hi - lo) + 0.05 * max(abs(hi), abs(lo), 1e-3)
        axes[0].set_ylim(lo - pad, hi + pad)
    axes[1].plot(t, ds["Vrms"], color="C2")
    axes[1].set_ylabel("Vrms")
    if (ds["Vrms"] > 0).all() and float(ds["Vrms"].max()) > 100 * float(ds["Vrms"].min()):
        axes[1].set_yscale("log")
    axes[2].plot(t, ds["T_mean"], color="C3")
    axes[2].set_ylabel("mean T")
    axes[2].set_xlabel("time")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_profile(run, path, indices=(-1,)):
    ds = _ds(run)
    fig, ax = plt.subplots(figsize=(4, 5))
    for k in indices:
        ax.plot(ds["T_profile"].isel(time=k), ds["y"], label=f"t = {float(ds['time'][k]):.4g}")
    ax.set_xlabel("horizontally averaged T")
    ax.set_ylabel("y")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_run(run, outdir):
    outdir = Path(outdir)
    ds = _ds(run)
    try:
        return [plot_temperature(ds, outdir / "temperature.png"),
                plot_history(ds, outdir / "history.png"),
                plot_profile(ds, outdir / "profile.png")]
    finally:
        ds.close()
