"""The `pymantle train` flags, generated from TrainConfig's fields (one place to add an
option: a field made with train._option), plus the network-shape flags that go into
TrainConfig.model.

A flag's default is None: a flag left out takes the recipe's value (train.RECIPES), else
the field's default, which the help shows. Booleans get --x / --no-x, tuples a comma list,
and the nullable choices (mass, strain) accept 'none'."""
from __future__ import annotations

import argparse
import dataclasses

from .train import RECIPES, SURROGATES, TrainConfig

#: Network-shape flags: (flag name, type, choices, help). They fill TrainConfig.model.
MODEL_FLAGS = (
    ("width", int, None, "filters per layer (study: 16)"),
    ("levels", int, None, "resolutions (study: 5)"),
    ("layers", int, None, "conv layers per resolution (study: 6); the surrogates only"),
    ("padding", str, ("learned", "zeros", "replicate"), "padding of the convolutions"),
    ("output", str, ("stream_mac", "stream_colocated", "soft", "projected", "faces"),
     "surrogate: stream_mac, stream_colocated or soft; buoyancy: projected, faces or "
     "stream_mac; the surrogates only"),
    ("norm", str, ("group", "none"), "buoyancy: GroupNorm after each convolution, or none"),
    ("activation", str, ("gelu", "relu"), "buoyancy: the activation"),
    ("max_width", int, None, "buoyancy: cap on the coarse levels' channels (0: none)"),
    ("decoder_convs", int, None, "buoyancy: convolutions per decoder level (0: as encoder)"),
)


def option_fields() -> list[dataclasses.Field]:
    """TrainConfig's fields that are train CLI flags."""
    return [f for f in dataclasses.fields(TrainConfig) if "help" in f.metadata]


def _tuple_of_ints(text: str) -> tuple:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers") from None


def _field_type(f: dataclasses.Field):
    kind = str(f.type)
    if kind.startswith("tuple"):
        return _tuple_of_ints
    for name, typ in (("int", int), ("float", float), ("bool", bool)):
        if kind == name:
            return typ
    return str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per TrainConfig option and the network-shape flags to `parser`."""
    for f in option_fields():
        flag = "--" + f.name.replace("_", "-")
        typ = _field_type(f)
        default = f.default if f.default is not dataclasses.MISSING else None
        shown = ("off" if default in (None, ()) else
                 ",".join(map(str, default)) if isinstance(default, tuple) else default)
        text = f"{f.metadata['help']} (default: the recipe's, else {shown})"
        if typ is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=text)
        else:
            parser.add_argument(flag, type=typ, default=None, help=text,
                                choices=f.metadata.get("choices"))
    for name, typ, choices, text in MODEL_FLAGS:
        parser.add_argument("--" + name.replace("_", "-"), type=typ, choices=choices,
                            default=None, help=text)


def config_from_arguments(args: argparse.Namespace) -> TrainConfig:
    """TrainConfig of a parsed `pymantle train` command line (args.campaign, .recipe, .out).
    Raises ValueError for a network-shape flag the chosen network does not have."""
    overrides = {f.name: getattr(args, f.name) for f in option_fields()}
    network = args.network or RECIPES.get(args.recipe, {}).get("network", "surrogate")
    if network not in SURROGATES and (args.layers or args.output):
        raise ValueError(f"--layers/--output apply to the surrogates, not {network}")
    shape = ("norm", "activation", "max_width", "decoder_convs")
    if network != "buoyancy" and any(getattr(args, k, None) is not None for k in shape):
        raise ValueError("--norm/--activation/--max-width/--decoder-convs apply to the "
                         f"buoyancy network, not {network}")
    layers_key = "layers_per_level" if network == "surrogate" else "convs_per_level"
    model = {(layers_key if name == "layers" else name): getattr(args, name)
             for name, *_ in MODEL_FLAGS if getattr(args, name) is not None}
    cfg = TrainConfig.from_recipe(args.campaign, args.recipe, out=args.out, model=model,
                                  **{**overrides, "network": network})
    if args.output == "soft" and args.mass is None:
        cfg.mass = "all"      # the soft output is not divergence-free: mass everywhere
    return cfg
