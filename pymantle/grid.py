"""MAC (Arakawa C) grid geometry: cell centres, faces and corners of a box, uniform or
refined towards the top and bottom walls (stretched in y only).

Arrays are NumPy C-ordered with shape (rows, columns) = (y, x), matching NetCDF's (y, x)
and torch's (H, W). Their transposes are Fortran-ordered (x, y) views with no copy, which is
what the Fortran kernels see (see fortran/energy.f90 for the index layout).

    T, p, eta   (ny, nx)       cell centres
    u           (ny, nx + 1)   vertical faces, column i at x = i dx
    v           (ny + 1, nx)   horizontal faces, row j at y = j dy
    psi, eta_n  (ny + 1, nx + 1)  cell corners

Wall refinement (refine = s > 0) moves the row faces to
    y_j = (1 + tanh(s (2 j/ny - 1)) / tanh(s)) / 2,
a smooth symmetric map, so neighbouring rows differ in height by O(dy^2) and the scheme
stays second order; the wall rows are 2 s / sinh(2 s) times the uniform height (0.30 at
s = 1.5). Cell centres sit at the midpoints of their faces. s = 0 is the uniform grid, with
exactly the coordinates and spacings of before.
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
    refine: float = 0.0  # wall refinement strength s; 0 = uniform

    def __post_init__(self):
        if self.nx < 2 or self.ny < 2:
            raise ValueError(f"grid needs at least 2 x 2 cells, got nx={self.nx}, ny={self.ny}")
        if not self.refine >= 0.0:
            raise ValueError(f"grid refine must be >= 0, got {self.refine}")

    @property
    def uniform(self) -> bool:
        return self.refine == 0.0

    @classmethod
    def from_preset(cls, name: str) -> "Grid":
        p = PRESETS[name]
        return cls(nx=int(round(p["aspect"] * p["ny"])), ny=p["ny"], aspect=p["aspect"])

    @property
    def dx(self) -> float:
        return self.aspect / self.nx

    @property
    def dy(self) -> float:
        """The row height of a uniform grid; a stretched grid has none (use dy_c, dy_f)."""
        if not self.uniform:
            raise ValueError("Grid.dy is undefined on a wall-refined grid: use the row "
                             "heights dy_c or the face control heights dy_f")
        return 1.0 / self.ny

    @property
    def dy_c(self) -> np.ndarray:
        """Row (cell) heights (ny,); they sum to 1 and weight area means."""
        if self.uniform:
            return np.full(self.ny, 1.0 / self.ny)
        return np.diff(self.y_f)

    @property
    def dy_f(self) -> np.ndarray:
        """Control heights of the horizontal faces (ny + 1,): the distance between the
        centres a face separates, half the wall row's height on the walls."""
        h = self.dy_c
        return np.concatenate([[0.5 * h[0]], 0.5 * (h[:-1] + h[1:]), [0.5 * h[-1]]])

    @property
    def dy_min(self) -> float:
        """Smallest row height (the time-step limits use it)."""
        return 1.0 / self.ny if self.uniform else float(self.dy_c.min())

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
        if self.uniform:
            return (np.arange(self.ny) + 0.5) * self.dy
        yf = self.y_f
        return 0.5 * (yf[:-1] + yf[1:])

    @property
    def x_f(self) -> np.ndarray:
        return np.arange(self.nx + 1) * self.dx

    @property
    def y_f(self) -> np.ndarray:
        if self.uniform:
            return np.arange(self.ny + 1) * self.dy
        s = self.refine
        y = 0.5 * (1.0 + np.tanh(s * (2.0 * np.arange(self.ny + 1) / self.ny - 1.0)) / np.tanh(s))
        y[0], y[-1] = 0.0, 1.0
        return y

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
