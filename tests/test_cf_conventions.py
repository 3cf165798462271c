"""The CF checker (PyPI cfchecker) on the NetCDF files pymantle writes: run.nc of a ci run,
its checkpoint.nc, and a run.nc of a ci campaign (the files the evaluation and the ML
tools read; nothing else in pymantle writes NetCDF).

Offline tables: cfchecker downloads the CF standard-name, area-type and region-name tables
from cfconventions.org unless given files. The standard-name table is the one the
compliance-checker wheel ships as package data (compliance_checker/data/
cf-standard-name-table.xml, found with importlib.resources). No installed package ships
the area-type or region-name table, so the test writes empty ones: the files use no
area_type and no region names, and an empty table can only add errors (an unknown
name), never hide one.

Zero warnings and zero errors, but for one: SGRID requires cf_role = "grid_topology" on
the grid topology variable and CF's cf_role values do not include it (see the
pymantle.output docstring). That error, on 'grid' only, is tolerated; any other fails.
"""
from __future__ import annotations

from importlib import resources

import netCDF4
import pytest

from conftest import make_config

try:
    from cfchecker.cfchecks import CFChecker, CFVersion
except (ImportError, OSError) as exc:     # OSError: cfunits could not load libudunits2
    pytest.skip(f"cfchecker is not importable ({exc}); pip install cfchecker and "
                "apt-get install libudunits2-0", allow_module_level=True)

try:
    STANDARD_NAMES = resources.files("compliance_checker") / "data" / "cf-standard-name-table.xml"
    if not STANDARD_NAMES.is_file():
        raise FileNotFoundError(str(STANDARD_NAMES))
except (ImportError, FileNotFoundError) as exc:
    pytest.skip(f"no offline CF standard-name table: compliance-checker is not installed "
                f"or lacks its data file ({exc})", allow_module_level=True)

CLAIMED = "CF-1.8 SGRID-0.3"
#: the one tolerated message: SGRID's cf_role, which CF 9.5 does not list
SGRID_ROLE_ERROR = ("ERROR", "grid", "(9.5): Invalid value for cf_role attribute")


@pytest.fixture(scope="module")
def empty_tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("cf-tables")
    xml = ('<?xml version="1.0"?>\n<{0}><version_number>none (empty, offline)</version_number>'
           '<date>none</date></{0}>\n')
    (d / "area-type-table.xml").write_text(xml.format("area_type_table"))
    (d / "region-list.xml").write_text(xml.format("standardized_region_list"))
    return d / "area-type-table.xml", d / "region-list.xml"


def cf_messages(path, tables) -> list[tuple[str, str, str]]:
    """(category, variable or 'global', message) of every FATAL/ERROR/WARN, checking
    against the CF version the file claims."""
    checker = CFChecker(cfStandardNamesXML=str(STANDARD_NAMES), cfAreaTypesXML=str(tables[0]),
                        cfRegionNamesXML=str(tables[1]), version=CFVersion(), silent=True)
    checker.checker(str(path))
    assert str(checker.version) == "CF-1.8"          # what the file claims, recognised
    res = checker.all_results[str(path)]
    out = [(cat, "global", m) for cat in ("FATAL", "ERROR", "WARN") for m in res["global"][cat]]
    for var, by_cat in res["variables"].items():
        out += [(cat, var, m) for cat in ("FATAL", "ERROR", "WARN") for m in by_cat[cat]]
    return out


def assert_cf_clean(path, tables, sgrid: bool):
    msgs = cf_messages(path, tables)
    if sgrid:
        with netCDF4.Dataset(path) as ds:
            assert ds.Conventions == CLAIMED
            assert ds["grid"].cf_role == "grid_topology"
        assert msgs.count(SGRID_ROLE_ERROR) <= 1
        msgs = [m for m in msgs if m != SGRID_ROLE_ERROR]
    assert msgs == [], f"CF checker on {path.name}: {msgs}"


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    from pymantle.simulation import Simulation
    tmp = tmp_path_factory.mktemp("cf-run")
    res = Simulation(make_config(tmp, "time.max_steps=20", "output.snapshot_every=5")).run()
    return res.directory


def test_run_file_passes_cf_checker(ci_run, empty_tables):
    assert_cf_clean(ci_run / "run.nc", empty_tables, sgrid=True)


def test_checkpoint_passes_cf_checker(ci_run, empty_tables):
    path = ci_run / "checkpoint.nc"
    assert path.is_file()
    with netCDF4.Dataset(path) as ds:
        assert ds.Conventions == "CF-1.8"
    assert_cf_clean(path, empty_tables, sgrid=False)


def test_campaign_run_file_passes_cf_checker(ci_campaign_dir, empty_tables):
    from pymantle.campaign import Campaign
    path = Campaign(ci_campaign_dir, "", 0).sim_dir(0) / "run.nc"
    assert path.is_file()
    assert_cf_clean(path, empty_tables, sgrid=True)
