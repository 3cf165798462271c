#!/usr/bin/env python
"""Convergence table of benchmark runs for docs/benchmarks.md.

Produce the runs with `pymantle benchmark run CASE --resolution N [--start-from RUN]`
(each finer run started from the converged coarser one), then
    python scripts/convergence_table.py CASE:DIR [CASE:DIR ...]
prints, and appends to docs/benchmarks.md, one row per run: the final (steady) values,
the references and the relative errors (or the distance outside a published range)."""
import sys

from benchlib import append
from pymantle import open_run
from pymantle.benchmarks import compare, load_case, quantities
from pymantle.config import Config, loads

rows = []
for arg in sys.argv[1:]:
    name, path = arg.split(":", 1)
    case = load_case(name)
    ds = open_run(path)
    final = {k: float(ds[k][-1]) for k in ("Nu_top", "Nu_bottom", "Vrms", "T_mean", "urms_top",
                                         "umax_top", "work", "dissipation")}
    cfg = Config({"physics": {"ra": float(ds.attrs["ra"])}})
    n = ds.sizes["y"]
    refine = loads(str(ds.attrs["namelist"]))["grid"]["refine_walls"]
    grid = f"{ds.sizes['x']}x{n}" + (f", refine_walls {refine:g}" if refine else "")
    lines, ok = compare(case, quantities(final, cfg), n)
    cells = "; ".join(f"{ln.split()[0]} {float(ln.split()[1]):.6g} ({float(ln.split()[3]):.2e})"
                      for ln in lines)
    rows.append(f"| {name} | {grid} | {ds.attrs.get('status', '?')} | {cells} | "
                f"{'pass' if ok else 'miss'} |")
    ds.close()
body = ("Benchmark convergence (value and relative error against the reference; for Tosi "
        "case 1 the distance outside the published min-max range, 0 inside):\n\n"
        "| case | grid | state | quantities | verdict |\n|---|---|---|---|---|\n" + "\n".join(rows))
append("Benchmark convergence", body, f"RESULT runs={len(rows)}")
