#!/usr/bin/env python
"""Convergence table of benchmark runs (docs/guide/benchmarks.md).

Produce the runs with `pymantle benchmark run CASE --resolution N [--start-from RUN]`
(each finer run started from the converged coarser one), then
    python scripts/convergence_table.py CASE:DIR [CASE:DIR ...]
prints one row per run: the final (steady) values, the references and the relative errors
(or the distance outside a published range), and writes them as a JSON record
(scripts/benchlib.py; docs/bench/ unless --out DIR comes first)."""
import sys

from benchlib import RECORDS, md_table, record
from pymantle import open_run
from pymantle.benchmarks import compare, load_case, quantities
from pymantle.config import Config, loads

argv = sys.argv[1:]
out = RECORDS
if argv[:1] == ["--out"]:
    out, argv = argv[1], argv[2:]
rows = []
for arg in argv:
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
    row = {"case": name, "grid": grid, "run": path, "state": ds.attrs.get("status", "?"),
           "verdict": "pass" if ok else "miss"}
    for ln in lines:
        q, value, ref, err = ln.split()[:4]
        row[q] = float(value)
        try:
            row[f"{q}_reference"] = float(ref)
        except ValueError:                      # a published range "[lo,hi]"
            row[f"{q}_reference"] = ref
        row[f"{q}_error"] = float(err)
    row["quantities"] = "; ".join(f"{ln.split()[0]} {float(ln.split()[1]):.6g} "
                                  f"({float(ln.split()[3]):.2e})" for ln in lines)
    rows.append(row)
    ds.close()
record("convergence_table", "benchmark convergence",
       "Benchmark convergence (value and relative error against the reference; for Tosi "
       "case 1 the distance outside the published min-max range, 0 inside).",
       rows, f"RESULT runs={len(rows)} pass={sum(r['verdict'] == 'pass' for r in rows)}",
       out=out, table=md_table(rows, [("case", "case", ""), ("grid", "grid", ""),
                                      ("state", "state", ""), ("quantities", "quantities", ""),
                                      ("verdict", "verdict", "")]))
