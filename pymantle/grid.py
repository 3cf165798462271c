"""MAC (Arakawa C) grid geometry: cell centres, faces and corners of a uniform box.

Arrays are NumPy C-ordered with shape (rows, columns) = (y, x), matching NetCDF's (y, x)
and torch's (H, W). Their transposes are Fortran-ordered (x, y) views with no copy, which is
what the Fortran kernels see (see fortran/energy.f90 for the index layout).

    T, p, eta   (ny, nx)       cell centres
    u           (ny, nx + 1)   vertical faces, column i at x = i dx
    v           (ny + 1, nx)   horizontal faces, row j at y = j dy
    psi, eta_n  (ny + 1, nx + 1)  cell corners
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Grid presets: rows (ny) and aspect ratio; nx = aspect * ny.
PRESETS = {
    "ci": {"ny": 8, "aspect": 4.0},        # tiny, for tests
    "laptop": {"ny": 32, "aspect": 4.0},   # the default: 32 x 128 cells
    "paper": {"ny": 126, "aspect": 4.0},   # the study's grid: 126 x 504 cells
}


@dataclass(frozen=True)
class Grid:
    nx: int
    ny: int
    aspect: float = 4.0  # box width; the height is 1

    def __post_init__(self):
        if self.nx < 2 or self.ny < 2:
            raise ValueError(f"grid needs at least 2 x 2 cells, got nx={self.nx}, ny={self.ny}")

    @classmethod
    def from_preset(cls, name: str) -> "Grid":
        p = PRESETS[name]
        return cls(nx=int(round(p["aspect"] * p["ny"])), ny=p["ny"], aspect=p["aspect"])

    @property
    def dx(self) -> float:
        return self.aspect / self.nx

    @property
    def dy(self) -> float:
        return 1.0 / self.ny

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def u_shape(self) -> tuple[int, int]:
        return (self.ny, self.nx + 1)

    @property
    def v_shape(self) -> tuple[int, int]:
        return (self.ny + 1, self.nx)

    @property
    def corner_shape(self) -> tuple[int, int]:
        return (self.ny + 1, self.nx + 1)

    # 1-D coordinates ------------------------------------------------------------------
    @property
    def x_c(self) -> np.ndarray:
        return (np.arange(self.nx) + 0.5) * self.dx

    @property
    def y_c(self) -> np.ndarray:
        return (np.arange(self.ny) + 0.5) * self.dy

    @property
    def x_f(self) -> np.ndarray:
        return np.arange(self.nx + 1) * self.dx

    @property
    def y_f(self) -> np.ndarray:
        return np.arange(self.ny + 1) * self.dy

    # 2-D coordinates (ny, nx)-style meshes --------------------------------------------
    def centres(self):
        return np.meshgrid(self.x_c, self.y_c)

    def u_points(self):
        return np.meshgrid(self.x_f, self.y_c)

    def v_points(self):
        return np.meshgrid(self.x_c, self.y_f)

    def corners(self):
        return np.meshgrid(self.x_f, self.y_f)

    @property
    def n_unknowns(self) -> int:
        """Size of the Stokes system (all face velocities and all pressures)."""
        nx, ny = self.nx, self.ny
        return (nx + 1) * ny + nx * (ny + 1) + nx * ny
