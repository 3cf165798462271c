"""The README's first command against the reference: the built-in default case run with
MUMPS (`pymantle run`) and with a hybrid mode (default: `--stokes surrogate`), side by
side: the correlation of the final v, the final Vrms and Nu_top, the steps and the wall
time of each run. Prints one Markdown table.

    .venv/bin/python scripts/compare_default_case.py OUTDIR [--set GROUP.KEY=VALUE ...]
"""
import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from pymantle import open_run


def run(out: Path, *args):
    cmd = [sys.executable, "-m", "pymantle.cli", "run", "--out", str(out), "--overwrite",
           "--set", "output.progress=.false.", "--set", "output.plots=.false.", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return open_run(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--set", action="append", default=[], dest="sets",
                    help="settings of the hybrid run (default: stokes.solver='surrogate')")
    a = ap.parse_args()
    out = Path(a.outdir)
    ref = run(out / "direct")
    hybrid_args = [x for s in (a.sets or ["stokes.solver='surrogate'"]) for x in ("--set", s)]
    hyb = run(out / "hybrid", *hybrid_args)
    v_ref, v = ref["v"].isel(time=-1).values.ravel(), hyb["v"].isel(time=-1).values.ravel()
    corr = float(np.corrcoef(v_ref, v)[0, 1])
    print("| run | steps | wall s | Nu_top | Vrms | corr(v, MUMPS v) |\n|---|---|---|---|---|---|")
    for name, ds, c in (("MUMPS (`pymantle run`)", ref, 1.0),
                        ("hybrid (" + " ".join(a.sets or ["--stokes surrogate"]) + ")", hyb, corr)):
        print(f"| {name} | {ds.sizes['step']} | {float(ds.attrs['wall_time']):.1f} | "
              f"{float(ds['Nu_top'][-1]):.4g} | {float(ds['Vrms'][-1]):.4g} | {c:.3f} |")
    print(f"Vrms ratio {float(hyb['Vrms'][-1]) / float(ref['Vrms'][-1]):.3f}")


if __name__ == "__main__":
    main()
