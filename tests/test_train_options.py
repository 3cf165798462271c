"""`pymantle train`'s flags come from TrainConfig (ml/training/options.py): every option field is
a flag, a flag left out keeps the recipe's value, and the parsed values reach the config."""
import dataclasses

import pytest

from pymantle.cli import build_parser
from pymantle.ml.training.train import RECIPES, TrainConfig
from pymantle.ml.training.options import config_from_arguments, option_fields


def _config(*argv):
    return config_from_arguments(build_parser().parse_args(["train", "camp", *argv]))


def test_every_option_field_is_a_flag():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.items()
                 if a[0] == "train")[1]
    flags = {o for a in train._actions for o in a.option_strings}
    names = [f.name for f in option_fields()]
    assert len(names) >= 20
    for name in names:
        assert "--" + name.replace("_", "-") in flags, name
    # campaign, out, recipe and model are set otherwise, not as option fields
    assert {"campaign", "recipe", "model"}.isdisjoint(names)


def test_flags_left_out_keep_the_recipe():
    cfg = _config("--recipe", "buoyancy")
    for key, value in RECIPES["buoyancy"].items():
        assert getattr(cfg, key) == value, key
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert cfg.batch_size == defaults["batch_size"] == 16


def test_parsed_flags_reach_the_config():
    cfg = _config("--recipe", "buoyancy", "--epochs", "3", "--milestones", "1,2",
                  "--no-derivative", "--batch-size", "8", "--strain", "none",
                  "--mass", "none", "--lr-factor", "0.25", "--width", "12", "--output", "faces")
    assert (cfg.epochs, cfg.milestones, cfg.derivative, cfg.batch_size) == (3, (1, 2), False, 8)
    assert cfg.strain is None and cfg.mass is None and cfg.lr_factor == 0.25
    assert cfg.model == {"width": 12, "output": "faces"} and cfg.network == "buoyancy"


def test_soft_output_takes_mass_everywhere_unless_told():
    assert _config("--output", "soft").mass == "all"
    assert _config("--output", "soft", "--mass", "boundary").mass == "boundary"


def test_layers_refused_for_a_unet():
    with pytest.raises(ValueError, match="--layers/--output apply to the surrogates"):
        _config("--network", "unet2", "--layers", "3")
