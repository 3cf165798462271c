"""The published benchmark cases (benchmarks/<case>/: case.nml + reference.toml) as tests,
ASPECT-style: input plus expected statistics. At their reference resolution each case must
land within its tolerance of the published values (benchmarks.run_case compares every
quantity). Minutes each on 2 cores: marked slow (pytest -m slow)."""
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
