"""An XDMF description of a run file, so that ParaView (and VisIt, or any VTK-based tool)
opens run.nc as a time series of fields on the box.

run.nc is NetCDF4, i.e. HDF5: the XDMF file (run.xdmf, written beside it at the end of
every run, or by `pymantle xdmf RUN`) holds no data, only XML that points into run.nc's
HDF5 datasets. Per snapshot:

    grid       the cell corners (x_face, y_face): a 2-D rectilinear mesh of ny x nx cells
    T, p, eta  cell data (the cell-centred values, read as they are)
    velocity   cell data, a vector: (u, v) averaged from the faces to the cell centres
               (XDMF Function items over hyperslabs of u and v: nothing is copied)

Open run.xdmf in ParaView with the "XDMF Reader" (Xdmf2; the default for .xdmf), press
Apply, and step through time; Cell Data to Point Data then gives smooth contours and
streamlines (Stream Tracer on "velocity"). Moving the run folder keeps it working: the
XDMF names run.nc by its file name, relative to itself.
"""
from __future__ import annotations

from pathlib import Path

import netCDF4

from .output import run_path

XDMF_FILE = "run.xdmf"


def _hdf(name: str, dims, h5: str) -> str:
    return (f'<DataItem Dimensions="{" ".join(map(str, dims))}" NumberType="Float" '
            f'Precision="8" Format="HDF">{h5}:/{name}</DataItem>')


def _slab(name: str, k: int, start: tuple, count: tuple, full: tuple, h5: str) -> str:
    """Snapshot k of variable `name`, from `start` (y, x) over `count` (ny, nx)."""
    sel = f"{k} {start[0]} {start[1]} 1 1 1 1 {count[0]} {count[1]}"
    return (f'<DataItem ItemType="HyperSlab" Dimensions="{count[0]} {count[1]}" '
            f'Type="HyperSlab"><DataItem Dimensions="3 3" Format="XML">{sel}</DataItem>'
            f'{_hdf(name, full, h5)}</DataItem>')


def _function(expr: str, dims: str, children: str) -> str:
    return (f'<DataItem ItemType="Function" Function="{expr}" Dimensions="{dims}">'
            f'{children}</DataItem>')


def _snapshot(k: int, t: float, nt: int, ny: int, nx: int, h5: str) -> str:
    cell = (ny, nx)
    lines = [f'<Grid Name="snapshot {k}" GridType="Uniform"><Time Value="{t!r}"/>',
             f'<Topology TopologyType="2DRectMesh" Dimensions="{ny + 1} {nx + 1}"/>',
             f'<Geometry GeometryType="VXVY">{_hdf("x_face", (nx + 1,), h5)}'
             f'{_hdf("y_face", (ny + 1,), h5)}</Geometry>']
    for name in ("T", "p", "eta"):
        lines.append(f'<Attribute Name="{name}" AttributeType="Scalar" Center="Cell">'
                     f'{_slab(name, k, (0, 0), cell, (nt, ny, nx), h5)}</Attribute>')
    fu, fv = (nt, ny, nx + 1), (nt, ny + 1, nx)
    # nested Functions: Xdmf2 evaluates one arithmetic expression per item reliably
    uc = _function("0.5 * ($0 + $1)", f"{ny} {nx}", _slab("u", k, (0, 0), cell, fu, h5)
                   + _slab("u", k, (0, 1), cell, fu, h5))
    vc = _function("0.5 * ($0 + $1)", f"{ny} {nx}", _slab("v", k, (0, 0), cell, fv, h5)
                   + _slab("v", k, (1, 0), cell, fv, h5))
    zero = _function("0.0 * $0", f"{ny} {nx}", _slab("T", k, (0, 0), cell, (nt, ny, nx), h5))
    lines.append('<Attribute Name="velocity" AttributeType="Vector" Center="Cell">'
                 f'{_function("JOIN($0, $1, $2)", f"{ny} {nx} 3", uc + vc + zero)}'
                 '</Attribute>')
    lines.append("</Grid>")
    return "\n".join(lines)


def write_xdmf(run, out: str | Path | None = None) -> Path:
    """Write the XDMF description of a run file (or a run folder's run.nc) beside it, or to
    `out`; returns its path."""
    path = run_path(run)
    out = Path(out) if out is not None else path.parent / XDMF_FILE
    with netCDF4.Dataset(path) as ds:
        nt, ny, nx = (len(ds.dimensions[d]) for d in ("time", "y", "x"))
        times = [float(t) for t in ds["time"][:]]
    h5 = path.name if out.parent.resolve() == path.parent.resolve() else str(path.resolve())
    body = [_snapshot(k, t, nt, ny, nx, h5) for k, t in enumerate(times)]
    text = "\n".join(['<?xml version="1.0" ?>', '<Xdmf Version="2.0">', "<Domain>",
                      '<Grid Name="run" GridType="Collection" CollectionType="Temporal">',
                      *body, "</Grid>", "</Domain>", "</Xdmf>"]) + "\n"
    tmp = out.with_name("." + out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out
