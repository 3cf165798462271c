"""The published benchmark cases (benchmarks/<case>/: case.nml + reference.toml) as tests,
ASPECT-style: input plus expected statistics.

- Every case at 16 cells per unit length, to steady state, against the statistics stored in
  tests/data/benchmark_cases_16.toml (2 minutes for all seven on 2 cores): a regression
  test of the whole solver on the published setups.
- At their reference resolution each case must land within its tolerance of the published
  values (benchmarks.run_case compares every quantity). Minutes each: marked slow
  (pytest -m slow)."""
import tomllib
from pathlib import Path

import pytest

from pymantle import benchmarks


@pytest.mark.slow
@pytest.mark.parametrize("name", ["blankenbach-1a"])
def test_published_case_within_tolerance_at_its_resolution(name, tmp_path):
    case = benchmarks.load_case(name)
    ok = benchmarks.run_case(name, resolution=case.default_resolution,
                             out=str(tmp_path / name), progress=False,
                             echo=lambda *_: None)
    assert ok, f"{name} outside its published tolerance at {case.default_resolution}"


def _computed_quantities():
    """Every quantity name a benchmark run can compare: the diagnostics plus the derived."""
    import numpy as np
    from pymantle import config, diagnostics
    from pymantle.grid import Grid
    g = Grid(nx=8, ny=8, aspect=1.0)
    T = np.full(g.shape, 0.5)
    z = np.zeros
    d = diagnostics.compute(g, T, z(g.u_shape), z(g.v_shape), np.ones(g.shape),
                            np.ones((g.ny + 1, g.nx + 1)))
    return set(benchmarks.quantities(d, config.defaults()))


@pytest.mark.parametrize("case", benchmarks.list_cases(), ids=lambda c: c.name)
def test_every_case_is_well_formed(case):
    # its namelist validates, it cites a source, and every published quantity is one the
    # run computes, with min < max or a value and a tolerance
    case.config(resolution=16, out="unused", progress=False)
    assert case.reference.get("source") and case.reference["name"] == case.name
    known = _computed_quantities()
    quantities = case.reference["quantity"]
    assert quantities
    for q in quantities:
        assert q["name"] in known, q["name"]
        if "min" in q:
            assert q["min"] < q["max"], q["name"]
        else:
            assert "reference" in q and case.tolerance(16) is not None, q["name"]


EXPECTED_16 = Path(__file__).parent / "data" / "benchmark_cases_16.toml"


@pytest.mark.parametrize("case", benchmarks.list_cases(), ids=lambda c: c.name)
def test_every_case_reproduces_its_statistics_at_16_cells(case, tmp_path):
    from pymantle.simulation import run
    with open(EXPECTED_16, "rb") as fh:
        expected = tomllib.load(fh)
    assert case.name in expected, f"add {case.name}'s 16-cell statistics to {EXPECTED_16.name}"
    cfg = case.config(resolution=16, out=str(tmp_path / case.name), progress=False)
    res = run(cfg)
    assert res.status == "steady", res.status
    got = benchmarks.quantities(res.final, cfg)
    for name, value in expected[case.name].items():
        assert got[name] == pytest.approx(value, rel=1e-5, abs=1e-9), name
