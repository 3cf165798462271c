"""Buoyancy scaling of the Stokes surrogate's inputs and outputs (beyond the study).

The Stokes problem the surrogate replaces is, with p eliminated,

    -grad p + div(2 eta e(u)) = -Ra T y_hat,    div u = 0,    free-slip walls.

Two facts of that equation set the network's inputs and output scale:

1. Only the lateral anomaly T' = T - <T>_x drives flow: a buoyancy that depends on y alone
   is balanced by a hydrostatic pressure with u = 0, whatever eta is.
2. For a given viscosity field the velocity is linear in Ra T'. A flow's magnitude is
   therefore u ~ c Ra |T'| H^2 / eta_flow, with eta_flow the viscosity where the driving
   anomaly sits and moves: the fluidity (1/eta) average weighted by T'^2.

The network sees T'/a and log10(eta/eta_w) (and y), where

    a     = rms(T')                          (anomaly amplitude)
    eta_w = sum(T'^2) / sum(T'^2 / eta)      (anomaly-weighted fluidity average)
    s     = c Ra a / eta_w,  c = 2e-3        (velocity scale of this very snapshot)

and predicts u/s, v/s. The scale follows the flow over orders of magnitude within one
run (a near-conductive start has a ~1e-4 anomaly), which the study's per-run Eq. 4 scale
cannot; Q, gamma and beta enter only through eta and T, as in the equation itself, so a
parameter set outside the training box is no extrapolation in the inputs' kind. Which
average of eta scales the flow best was measured on the laptop campaign
(scripts/check_buoyancy_scale.py; docs/guide/training.md): over 2,820 snapshots of its 47
training runs, ln(Vrms/s) spreads with a standard deviation of 0.35 for eta_w, 0.51 for the
plain fluidity average, 0.61 for the geometric mean and 1.66 for the study's per-run Eq. 4
scale; c puts the median of Vrms/s near 1.

Symmetries of the equation: x -> L - x with u -> -u (the training augmentation), and
y -> 1 - y with v -> -v and T' -> -T' (not used: it would show the network stiff, cold
upwellings that no run has).
"""
from __future__ import annotations

import numpy as np

from .inputs import ETA_CLIP

#: Input channels of the buoyancy-scaled networks.
CHANNELS = ("anomaly", "log_relative_viscosity", "y")
N_CHANNELS = len(CHANNELS)
#: Anomalies are clipped to this many amplitudes (a sharp plume can reach ~10).
ANOMALY_CLIP = 20.0
#: The smallest anomaly amplitude treated as non-zero (an exactly layered T has no flow).
MIN_AMPLITUDE = 1e-12
#: Geometric factor of the scale: Vrms / (Ra a / eta_w) lies within exp(-7.2 .. -5.3) =
#: 0.7e-3 .. 5e-3 on the laptop campaign's training snapshots.
FLOW_FACTOR = 2e-3


def flow_viscosity(eta, anomaly) -> float:
    """eta_w = sum(T'^2) / sum(T'^2 / eta): the viscosity where the anomaly sits (the plain
    fluidity average where there is no anomaly)."""
    w = anomaly * anomaly
    total = float(np.sum(w))
    if not total > 0.0:
        return 1.0 / float(np.mean(1.0 / eta))
    return total / float(np.sum(w / eta))


def buoyancy_scale(T, eta, ra: float):
    """(T'/a, s, eta_w): the normalised lateral anomaly, the velocity scale
    s = c Ra a / eta_w and the flow viscosity, for T and eta at the centres (ny, nx)."""
    anomaly = T - T.mean(axis=-1, keepdims=True)
    a = max(float(np.sqrt(np.mean(anomaly * anomaly))), MIN_AMPLITUDE)
    eta_w = flow_viscosity(eta, anomaly)
    return anomaly / a, FLOW_FACTOR * ra * a / eta_w, eta_w


def buoyancy_inputs(T, eta, y, ra: float):
    """(channels (3, ny, nx), s): the network's input and the snapshot's velocity scale.

    eta is clipped to the input range of `inputs.ETA_CLIP` before its logarithm, as the
    study's channels are; y is the centres' height, (ny,) or (ny, nx)."""
    ny, nx = T.shape
    eta = np.clip(eta, *ETA_CLIP)
    anomaly, s, eta_w = buoyancy_scale(T, eta, ra)
    x = np.empty((N_CHANNELS, ny, nx))
    np.clip(anomaly, -ANOMALY_CLIP, ANOMALY_CLIP, out=x[0])
    x[1] = np.log10(eta / eta_w) / 8.0
    x[2] = np.broadcast_to(np.reshape(y, (ny, -1)), (ny, nx))
    return x, s
