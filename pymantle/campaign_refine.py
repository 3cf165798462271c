"""Refined campaigns: training data on a fine grid, from the snapshots of a coarse campaign.

    pymantle campaign --preset paper --refine campaign-laptop [NAMELIST] --starts 2 --steps 1000

A campaign to statistical steady state at 126x504 costs days of MUMPS on two cores (up to
1e5 steps of ~0.45 s each per run); a network needs labels, one fine Stokes solve each, on
realistic fine temperature fields. A refined campaign gets both for a few core-hours: each
of its runs takes one stored snapshot of a coarse run (same Q, gamma, beta and split),
interpolates T onto the fine grid (`&initial kind = 'restart', interpolate = .true.`) and
advances it for `steps` fine steps, over which the boundary layers and plumes sharpen to
the fine grid's scale. With the base namelist configs/campaign-galerkin-trajectories.nml
(the Galerkin solver with a direct solve every 20 steps) every stored snapshot, every 100
steps, is a direct Stokes solution of its T: the labels are exact, and the trajectories
cost about a tenth of MUMPS every step.

Each coarse run gives `starts` fine runs, started from snapshots drawn (seeded) from
`starts` equal stretches of its stored trajectory, so the onset, the transient and the
developed state are all represented. Fine run k of coarse run s is simulation
s * starts + k of the refined campaign; its row in index.csv carries s's parameters and
split, so no fine snapshot of a test run reaches training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .campaign_index import DONE, Campaign, SimSpec, read_index
from .config import ConfigError


@dataclass
class RefinePlan:
    source: Path            # the coarse campaign directory
    starts: int = 2         # fine runs per coarse run
    steps: int = 1000       # fine steps per run
    seed: int = 0           # draws of the start snapshots
    snapshot_every: int = 0  # 0: the preset's (100)

    def __post_init__(self):
        self.source = Path(self.source)
        if not 1 <= self.starts <= 100:
            raise ConfigError(f"--starts {self.starts}: allowed 1..100")
        if not 1 <= self.steps <= 10**6:
            raise ConfigError(f"--steps {self.steps}: allowed 1..1000000")
        try:
            rows = read_index(self.source)
        except FileNotFoundError as exc:
            raise ConfigError(f"--refine: {exc}") from None
        self._rows = [r for r in rows if r["status"] in DONE and r["n_snapshots"] > 0]
        if not self._rows:
            raise ConfigError(f"--refine {str(self.source)!r}: no finished simulation in it")

    def meta(self) -> dict:
        """What campaign.json records (a rerun must name the same)."""
        return {"source": str(self.source.resolve()), "starts": self.starts,
                "steps": self.steps, "seed": self.seed, "snapshot_every": self.snapshot_every}

    def box(self) -> dict | None:
        """The source campaign's (Q, gamma, beta) box: the refined runs' parameters."""
        import json
        meta = self.source / "campaign.json"
        return json.loads(meta.read_text()).get("box") if meta.is_file() else None

    def sims(self) -> list[SimSpec]:
        return [SimSpec(r["sim"] * self.starts + k, r["split"], r["Q"], r["gamma"], r["beta"])
                for r in self._rows for k in range(self.starts)]

    def start(self, sim: int) -> tuple[Path, int]:
        """(coarse run file, snapshot index) fine simulation `sim` starts from."""
        src, k = divmod(sim, self.starts)
        row = next(r for r in self._rows if r["sim"] == src)
        n = row["n_snapshots"]
        edges = np.linspace(0, n, self.starts + 1).astype(int)
        lo, hi = edges[k], max(edges[k + 1], edges[k] + 1)
        rng = np.random.default_rng([self.seed, src, k])
        run = Campaign(self.source, "", 0).sim_dir(src) / "run.nc"
        return run, int(rng.integers(lo, min(hi, n)))

    def apply(self, cfg, spec: SimSpec) -> None:
        """Turn a campaign run's configuration into a refined run's: the start snapshot,
        interpolated, and the step limit (no steady-state test: a fixed stretch)."""
        run, snap = self.start(spec.sim)
        ini = cfg["initial"]
        ini["kind"], ini["file"] = "restart", str(run)
        ini["snapshot"], ini["interpolate"] = snap, True
        tm = cfg["time"]
        tm["max_steps"], tm["stat_window"] = self.steps, 0.0
        if self.snapshot_every:
            cfg["output"]["snapshot_every"] = self.snapshot_every
