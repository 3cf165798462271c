"""A campaign directory's index, as the readers of its data need it (a leaf module).

The machine-learning side (datasets, scaling fit, packs, accuracy) reads campaigns but
never runs them: it needs the layout (`Campaign.sim_dir`), the finished statuses, the
rows of index.csv and the study's snapshot selection, and nothing of the solver.
campaign.py, which runs campaigns, builds on this module; this module imports neither
it nor the solver.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ConfigError

DONE = ("finished", "steady", "statistically steady")
INDEX_FIELDS = ["sim", "split", "Q", "gamma", "beta", "status", "n_snapshots", "steps",
                "time", "wall_time", "error"]


@dataclass
class SimSpec:
    sim: int
    split: str
    Q: float
    gamma: float
    beta: float


@dataclass
class Campaign:
    directory: Path
    preset: str
    seed: int
    sims: list[SimSpec] = field(default_factory=list)

    def sim_dir(self, i: int) -> Path:
        return self.directory / "sims" / f"sim-{i:04d}"


def read_index(directory: str | Path) -> list[dict]:
    """Rows of index.csv with numbers parsed; a missing or malformed index is reported."""
    path = Path(directory) / "index.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no index.csv in {str(directory)!r}: not a campaign directory")
    rows = []
    try:
        with open(path) as fh:
            for r in csv.DictReader(fh):
                r["sim"] = int(r["sim"])
                for k in ("Q", "gamma", "beta", "time", "wall_time"):
                    r[k] = float(r[k])
                r["n_snapshots"], r["steps"] = int(r["n_snapshots"]), int(r["steps"])
                rows.append(r)
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is malformed ({exc}); rerun the campaign to rebuild it") from None
    return rows


def select_snapshots(directory, split: str = "train", first: int = 200, later: int = 800,
                     seed: int = 0) -> list[tuple[int, int]]:
    """The study's selection as a view over the stored data (nothing deleted): for every
    finished simulation of the split, its first `first` snapshots plus up to `later`
    random later ones, without duplicates. Returns (sim, snapshot) pairs."""
    rng = np.random.default_rng(seed)
    out = []
    for row in read_index(directory):
        if row["split"] != split or row["status"] not in DONE:
            continue
        n = row["n_snapshots"]
        head = list(range(min(first, n)))
        rest = np.arange(min(first, n), n)
        pick = sorted(rng.choice(rest, size=min(later, rest.size), replace=False).tolist())
        out.extend((row["sim"], k) for k in head + pick)
    return out
