#!/usr/bin/env python
"""Fingerprint short runs of every provider, to hold a refactor to bit-identical results.

Runs a fixed set of short cases (ci and laptop grids: direct, lagged, iterative, multigrid,
skip-N, galerkin with refresh and guard, the shipped network plain / guarded / corrected,
EBA, decaying heating, a resume after a stop) and records the SHA-256 of every array each
run writes (fields, histories; wall-clock columns left out) in a JSON file.

    python scripts/check_bit_identity.py --write before.json   # on the old code
    python scripts/check_bit_identity.py --check before.json   # on the new code: exit 1 on any change
"""
import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from pymantle import config
from pymantle.output import open_run
from pymantle.simulation import run

CASES = {
    "direct": ["grid.preset='ci'"],
    "lagged": ["grid.preset='ci'", "stokes.solver='lagged'"],
    "iterative": ["grid.preset='ci'", "stokes.solver='iterative'"],
    "multigrid": ["grid.preset='ci'", "stokes.solver='multigrid'"],
    "skip5": ["grid.preset='ci'", "stokes.every=5"],
    "galerkin-refresh": ["grid.preset='ci'", "stokes.solver='galerkin'", "stokes.refresh_every=10"],
    "galerkin-guard": ["grid.preset='ci'", "stokes.solver='galerkin'", "stokes.guard_tol=1e-3"],
    "eba": ["grid.preset='ci'", "physics.di=0.5"],
    "decay": ["grid.preset='ci'", "physics.heating='decay'", "physics.decay_rate=2.0"],
    "surrogate": ["stokes.solver='surrogate'"],
    "surrogate-guard": ["stokes.solver='surrogate'", "stokes.guard_tol=1e-2"],
    "surrogate-galerkin": ["stokes.solver='surrogate'", "stokes.correction='galerkin'",
                           "stokes.refresh_every=10"],
}
WALL_CLOCK = ("wall", "time_per_step", "elapsed")


def fingerprint(run_dir: Path) -> dict:
    ds = open_run(run_dir)
    prints = {}
    for name, var in ds.variables.items():
        if any(w in name for w in WALL_CLOCK):
            continue
        a = np.ascontiguousarray(var.values)
        if a.dtype.kind in "fiub":
            prints[name] = hashlib.sha256(a.tobytes()).hexdigest()[:16]
    ds.close()
    return prints


def run_case(overrides, out: Path, steps: int, resume_at: int | None = None) -> dict:
    base = [f"time.max_steps={steps}", "output.snapshot_every=10", "output.checkpoint_every=10",
            "output.plots=.false.", "output.progress=.false.", f"output.directory='{out}'"]
    if resume_at:   # stop part-way, then resume from the checkpoint to the full length
        run(config.load(None, overrides + base[1:] + [f"time.max_steps={resume_at}"]))
    run(config.load(None, overrides + base))
    return fingerprint(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", help="record the fingerprints here")
    g.add_argument("--check", help="compare with the fingerprints recorded here")
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ov in CASES.items():
            results[name] = run_case(ov, Path(tmp) / name, args.steps)
            print(f"{name}: {len(results[name])} arrays", flush=True)
        results["direct-resumed"] = run_case(CASES["direct"], Path(tmp) / "resumed", args.steps,
                                             resume_at=args.steps // 2)
    if args.write:
        Path(args.write).write_text(json.dumps(results, indent=1, sort_keys=True))
        print(f"wrote {args.write}")
        return 0
    ref = json.loads(Path(args.check).read_text())
    bad = [f"{case}.{k}" for case in ref for k in ref[case]
           if results.get(case, {}).get(k) != ref[case][k]]
    bad += [f"{case}.{k} (new)" for case in results for k in results[case]
            if k not in ref.get(case, {})]
    print("bit-identical" if not bad else "CHANGED: " + ", ".join(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
