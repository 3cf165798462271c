"""ParaView's way in (pymantle/paraview.py): every finished run has a run.xdmf that VTK's
XDMF reader (ParaView's) opens as the run's time series, with the values of run.nc."""
import numpy as np
from vtkmodules import vtkIOXdmf2 as vtk       # scripts/setup.sh installs VTK for the tests

from conftest import make_config
from pymantle import open_run
from pymantle.paraview import write_xdmf
from pymantle.simulation import Simulation


def _read(path, t):
    from vtkmodules.util.numpy_support import vtk_to_numpy
    r = vtk.vtkXdmfReader()
    r.SetFileName(str(path))
    r.UpdateInformation()
    r.UpdateTimeStep(t)
    out = r.GetOutputDataObject(0)
    cells = out.GetCellData()
    return out, {cells.GetArrayName(i): vtk_to_numpy(cells.GetArray(i))
                 for i in range(cells.GetNumberOfArrays())}


def test_paraviews_xdmf_reader_opens_the_run_with_its_values(tmp_path):
    res = Simulation(make_config(tmp_path, "time.max_steps=12", "time.end_time=1.0",
                                 "output.snapshot_every=5")).run()
    xdmf = res.directory / "run.xdmf"
    assert xdmf.is_file()
    ds = open_run(res.directory)
    times = ds["time"].values
    assert len(times) == 4                      # steps 0, 5, 10 and the end, 12
    for k in (1, len(times) - 1):
        grid, cells = _read(xdmf, float(times[k]))
        assert grid.GetDimensions()[:2] == (33, 9)          # corners of 32 x 8 cells
        x0, x1, y0, y1 = grid.GetBounds()[:4]
        assert (x0, x1, y0, y1) == (0.0, 4.0, 0.0, 1.0)
        np.testing.assert_array_equal(cells["T"], ds["T"].values[k].ravel())
        np.testing.assert_array_equal(cells["eta"], ds["eta"].values[k].ravel())
        u, v = ds["u"].values[k], ds["v"].values[k]
        vel = cells["velocity"]
        np.testing.assert_allclose(vel[:, 0], (0.5 * (u[:, 1:] + u[:, :-1])).ravel(), rtol=1e-14)
        np.testing.assert_allclose(vel[:, 1], (0.5 * (v[1:] + v[:-1])).ravel(), rtol=1e-14)
        assert not vel[:, 2].any() and np.abs(vel[:, 1]).max() > 0
    ds.close()


def test_an_xdmf_elsewhere_points_at_the_run_file(tmp_path):
    res = Simulation(make_config(tmp_path, "time.max_steps=3", "time.end_time=1.0")).run()
    (tmp_path / "views").mkdir()
    other = write_xdmf(res.directory, tmp_path / "views" / "mine.xdmf")
    _, cells = _read(other, 0.0)
    np.testing.assert_array_equal(cells["T"], open_run(res.directory)["T"].values[0].ravel())
