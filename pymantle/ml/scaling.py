"""Per-simulation velocity scale of Eq. 4 (model.md section 4):

    s(Q, gamma, beta) = headroom * exp(a1 Q/10 + a2 ln(gamma) + a3 ln(beta))

fitted by a no-intercept least-squares regression of ln(max u) and ln(max v), stacked, on
[Q/10, ln gamma, ln beta] over the training simulations. The network learns u/s and v/s; a
scale multiplies velocities without shifting their mean, so mass conservation survives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The study's published coefficients.
PAPER_COEFFICIENTS = (1.80167667, 0.4330392, -0.46052953)


def _design(Q, gamma, beta):
    return np.column_stack([np.asarray(Q, float) / 10.0, np.log(gamma), np.log(beta)])


@dataclass(frozen=True)
class VelocityScaling:
    coefficients: tuple[float, float, float] = PAPER_COEFFICIENTS
    headroom: float = 5.0

    def scale(self, Q, gamma, beta):
        a = np.asarray(self.coefficients)
        return self.headroom * np.exp(_design(np.atleast_1d(Q), np.atleast_1d(gamma),
                                              np.atleast_1d(beta)) @ a)

    @classmethod
    def fit(cls, Q, gamma, beta, u_max, v_max, headroom: float = 5.0) -> "VelocityScaling":
        """No-intercept fit of ln(u_max) and ln(v_max), stacked, on [Q/10, ln g, ln b]."""
        X = _design(Q, gamma, beta)
        y = np.concatenate([np.log(u_max), np.log(v_max)])
        coef, *_ = np.linalg.lstsq(np.vstack([X, X]), y, rcond=None)
        return cls(tuple(float(c) for c in coef), headroom)

    def to_dict(self) -> dict:
        return {"coefficients": list(self.coefficients), "headroom": self.headroom}

    @classmethod
    def from_dict(cls, d: dict) -> "VelocityScaling":
        return cls(tuple(float(c) for c in d["coefficients"]), float(d["headroom"]))


def fit_from_campaign(directory, split: str = "train") -> VelocityScaling:
    """Fit on the largest |u| and |v| of each finished simulation of the split."""
    import netCDF4
    from ..campaign import DONE, read_index
    rows = [r for r in read_index(directory) if r["split"] == split and r["status"] in DONE]
    if len(rows) < 3:
        raise ValueError(f"need at least 3 finished {split} simulations to fit the scaling, "
                         f"found {len(rows)}")
    from ..campaign import Campaign
    camp = Campaign(directory=__import__("pathlib").Path(directory), preset="", seed=0)
    umax, vmax = [], []
    for r in rows:
        with netCDF4.Dataset(camp.sim_dir(r["sim"]) / "run.nc") as ds:
            umax.append(float(np.abs(ds["u"][:]).max()))
            vmax.append(float(np.abs(ds["v"][:]).max()))
    return VelocityScaling.fit([r["Q"] for r in rows], [r["gamma"] for r in rows],
                               [r["beta"] for r in rows], umax, vmax)
