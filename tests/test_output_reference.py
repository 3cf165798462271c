"""The output reference (docs/guide/output.md) lists exactly the variables a run writes,
with their dimensions, grid locations, units and meanings; its Python block runs."""
import re
from pathlib import Path

from conftest import make_config
from pymantle.output import variable_reference
from pymantle.simulation import Simulation

DOC = Path(__file__).resolve().parent.parent / "docs" / "guide" / "output.md"


def test_the_variable_table_is_what_a_run_writes(tmp_path):
    res = Simulation(make_config(tmp_path, "time.max_steps=3", "time.end_time=1.0")).run()
    text = DOC.read_text()
    documented = re.search(r"<!-- variables: begin -->\n(.*?)<!-- variables: end -->", text,
                           re.S).group(1)
    assert documented == variable_reference(res.directory), (
        "docs/guide/output.md is out of date: paste pymantle.output.variable_reference(RUN)")
