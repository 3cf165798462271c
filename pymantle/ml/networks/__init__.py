"""The networks: the study's Stokes surrogate (study.py, layers.py), the buoyancy-scaled
U-net shipped for the laptop grid (buoyancy.py: its inputs and scale; buoyancy_unet.py;
projection.py), its two-grid form shipped for the paper grid (two_grid.py), the U-net
baselines that learn the whole time step (unet.py), the study's inputs and Eq. 4 scale
(inputs.py) and the steady-profile predictor (profile.py)."""
from __future__ import annotations

from importlib import import_module

#: The registry: a model file's class name -> (module, network class, its configuration
#: class). Model files store the class name and the configuration as a dict; `build` makes
#: the network back (weights are loaded by the caller).
NETWORKS = {
    "StokesSurrogate": ("study", "StokesSurrogate", "SurrogateConfig"),
    "BuoyancyUNet": ("buoyancy_unet", "BuoyancyUNet", "BuoyancyUNetConfig"),
    "TwoGridUNet": ("two_grid", "TwoGridUNet", "TwoGridConfig"),
    "UNet": ("unet", "UNet", "UNetConfig"),
}


def build(class_name: str, config: dict, aspect: float):
    """The registered network `class_name` with configuration `config` (a dict of its
    configuration class's fields) for a box of width `aspect`."""
    if class_name not in NETWORKS:
        raise ValueError(f"network {class_name!r}: known {', '.join(NETWORKS)}")
    module, cls, cfg_cls = NETWORKS[class_name]
    mod = import_module(f"{__name__}.{module}")
    return getattr(mod, cls)(getattr(mod, cfg_cls)(**config), aspect=aspect)
