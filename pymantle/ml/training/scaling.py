"""Per-simulation velocity scale of Eq. 4 (docs/theory.md section 4):

    s(Q, gamma, beta) = headroom * exp(a1 Q/10 + a2 ln(gamma) + a3 ln(beta))

fitted by a no-intercept least-squares regression of ln(max u) and ln(max v), stacked, on
[Q/10, ln gamma, ln beta] over the training simulations. The network learns u/s and v/s; a
scale multiplies velocities without shifting their mean, so mass conservation survives.
The scale itself lives in inputs.py (no I/O, what inference needs); this module fits it
on a campaign.
"""
from __future__ import annotations

import numpy as np

from ..networks.inputs import PAPER_COEFFICIENTS, VelocityScaling, _design  # noqa: F401  (their home)


def fit_from_campaign(directory, split: str = "train") -> VelocityScaling:
    """Fit on the largest |u| and |v| of each finished simulation of the split."""
    import netCDF4
    from ...campaign_index import DONE, Campaign, read_index
    rows = [r for r in read_index(directory) if r["split"] == split and r["status"] in DONE]
    if len(rows) < 3:
        raise ValueError(f"need at least 3 finished {split} simulations to fit the scaling, "
                         f"found {len(rows)}")
    camp = Campaign(directory=__import__("pathlib").Path(directory), preset="", seed=0)
    umax, vmax = [], []
    for r in rows:
        with netCDF4.Dataset(camp.sim_dir(r["sim"]) / "run.nc") as ds:
            umax.append(float(np.abs(ds["u"][:]).max()))
            vmax.append(float(np.abs(ds["v"][:]).max()))
    return VelocityScaling.fit([r["Q"] for r in rows], [r["gamma"] for r in rows],
                               [r["beta"] for r in rows], umax, vmax)
