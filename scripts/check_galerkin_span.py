#!/usr/bin/env python
"""How close do the surrogate and its Galerkin corrections come to the Stokes solution,
snapshot by snapshot? (issue 5: the spurious flow of near-conductive states.)

For stored snapshots of a campaign's test runs (T and the direct solver's u, v), compare
with the stored velocities:
  raw        the shipped network's velocities;
  net        the correction over the network's flow re-weighted by hats only;
  hats       the correction over coarse hats only: a coarse stream-function Stokes solve
             that never looks at the network (the control: what the network adds);
  enriched   both together (the correction as `correction_memory = .false.` runs it;
             a snapshot has no last step for the memory),
each on hat lattices of several sizes. Reports the relative L2 error of (u, v) and the
ratio dissipation / (Ra work), medians over the convecting (Vrms > 1) and the
near-conductive snapshots; writes a CSV and a PNG and appends the table to docs/reports/2026-11-study-network-and-galerkin.md.
Usage: python scripts/check_galerkin_span.py CAMPAIGN [--nodes 5,9,17] [--out DIR]
       (a few minutes on one core at the laptop grid)"""
import argparse
import datetime
import os
import re
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from pymantle import diagnostics, open_run  # noqa: E402
from pymantle.evaluate import campaign_specs  # noqa: E402
from pymantle.galerkin_correction import GalerkinCorrection  # noqa: E402
from pymantle.grid import Grid  # noqa: E402
from pymantle.physics import corner_viscosity, viscosity  # noqa: E402
from pymantle.providers import SurrogateProvider, shipped_model  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("campaign")
ap.add_argument("--model", help="model file (default: the one shipped for the grid)")
ap.add_argument("--nodes", default="5,9,17", help="lattice nodes over the height")
ap.add_argument("--out", default="galerkin-span")
ap.add_argument("--no-doc", action="store_true", help="do not append to docs/reports/2026-11-study-network-and-galerkin.md")
args = ap.parse_args()
torch.set_num_threads(1)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

specs, preset = campaign_specs(args.campaign)
grid = Grid.from_preset(preset)
model = args.model or shipped_model(grid)
_, y = grid.centres()
nodes = [int(n) for n in args.nodes.split(",")]
variants = ["raw"] + [f"{kind}{n}" for n in nodes for kind in ("net", "hats", "enriched")]
rows = []
for spec in tqdm(specs, desc="test runs"):
    ds = open_run(Path(args.campaign) / "sims" / f"sim-{spec.sim:04d}" / "run.nc")
    ra = float(ds.attrs["ra"])
    ph = dict(q=spec.Q, gamma=spec.gamma, beta=spec.beta, ra=ra)
    net = SurrogateProvider(grid, ph, model)
    corr = {n: (GalerkinCorrection(grid, ra, n, int(grid.aspect * (n - 1)) + 1, enrich=False),
                GalerkinCorrection(grid, ra, n, int(grid.aspect * (n - 1)) + 1, enrich=True))
            for n in nodes}
    nt = ds.sizes["time"]
    for k in sorted({1, 2, nt // 4, nt // 2, nt - 1}):
        T, ur, vr = (ds[f][k].values for f in ("T", "u", "v"))
        eta_c = viscosity(T, y, spec.gamma, spec.beta)
        eta_n = corner_viscosity(eta_c)
        u, v, _, _ = net.velocities(0, T, eta_c, eta_n)
        u, v = u.copy(), v.copy()
        fields = {"raw": (u, v)}
        for n, (plain, rich) in corr.items():
            fields[f"net{n}"] = plain.correct(T, u, eta_c, eta_n)
            fields[f"hats{n}"] = rich.correct(T, np.zeros_like(u), eta_c, eta_n)
            fields[f"enriched{n}"] = rich.correct(T, u, eta_c, eta_n)
        norm = np.sqrt((ur ** 2).sum() + (vr ** 2).sum())
        row = {"sim": spec.sim, "snapshot": k, "time": float(ds["time"][k]),
               "Vrms": diagnostics.compute(grid, T, ur, vr, eta_c, eta_n)["Vrms"]}
        for name, (a, b) in fields.items():
            row[f"err_{name}"] = np.sqrt(((a - ur) ** 2).sum() + ((b - vr) ** 2).sum()) / norm
            d = diagnostics.compute(grid, T, a, b, eta_c, eta_n)
            row[f"ratio_{name}"] = d["dissipation"] / (ra * d["work"]) if d["work"] else np.nan
        rows.append(row)
    ds.close()

import pandas as pd  # noqa: E402

df = pd.DataFrame(rows)
df.to_csv(out / "galerkin_span.csv", index=False)
groups = {"convecting (Vrms > 1)": df[df.Vrms > 1], "near-conductive (Vrms <= 1)": df[df.Vrms <= 1]}
lines = ["| span | K (functions) | " + " | ".join(f"median error, {g} ({len(d)})" for g, d in groups.items())
         + " |", "|---|---|" + "---|" * len(groups)]
for name in variants:
    kind, n = re.fullmatch(r"([a-z]+)(\d*)", name).groups()
    ny_, nx_ = int(n or 0), int(grid.aspect * (int(n or 0) - 1)) + 1
    size = {"raw": "-", "net": ny_ * nx_, "hats": (ny_ - 2) * (nx_ - 2),
            "enriched": ny_ * nx_ + (ny_ - 2) * (nx_ - 2)}[kind]
    lines.append(f"| {name} | {size} | " + " | ".join(
        f"{d[f'err_{name}'].median():.3g}" for d in groups.values()) + " |")
table = "\n".join(lines)
print(table)

import matplotlib  # noqa: E402
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
fig, ax = plt.subplots(figsize=(7, 4.5))
for name, mk in (("raw", "o"), (f"net{nodes[1 if len(nodes) > 1 else 0]}", "s"),
                 (f"hats{nodes[1 if len(nodes) > 1 else 0]}", "^"),
                 (f"enriched{nodes[1 if len(nodes) > 1 else 0]}", "D")):
    ax.loglog(df.Vrms, df[f"err_{name}"], mk, ms=4, label=name, alpha=0.8)
ax.axhline(1.0, color="k", lw=0.6)
ax.set_xlabel("Vrms of the reference snapshot")
ax.set_ylabel("relative L2 error of (u, v)")
ax.set_title("Surrogate velocities and their Galerkin corrections (test runs)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out / "galerkin_span.png", dpi=110)
if not args.no_doc:
    doc = Path(__file__).resolve().parent.parent / "docs" / "reports" / "2026-11-study-network-and-galerkin.md"
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    with open(doc, "a") as fh:
        fh.write(f"\n<!-- scripts/check_galerkin_span.py {args.campaign} ({stamp}) -->\n\n"
                 f"Snapshot errors on {df.sim.nunique()} test runs, {len(df)} snapshots "
                 f"(model {Path(model).name}):\n\n{table}\n")
print(f"RESULT snapshots={len(df)} " + " ".join(
    f"median_err_convecting_{v}={groups['convecting (Vrms > 1)'][f'err_{v}'].median():.3g}"
    for v in variants))
