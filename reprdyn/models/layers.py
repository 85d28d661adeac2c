"""The one layer resolver: which of a spec's layers each model has, how wide each is once pooled,
and which give the spatial maps dense sets need.

Validation (`reprdyn.checks`, on untrained builds), the data stage and the budget (on the models
themselves) all ask it, so an unknown layer gets one message wherever it is found.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, did_you_mean
from ..spec.kinds import OUTPUT, PIXELS

Shapes = dict[str, tuple[int, ...]]  # layer -> per-sample output shape, channels first


def hint(layer: str, known: list[str], shown: int = 12) -> str:
    """'; did you mean ...? (valid: the outer blocks ...)' without listing every leaf of a big
    network."""
    outer = [k for k in known if k.count(".") <= 1]
    listed = ", ".join(outer[:shown]) + (
        f", ... ({len(known)} in all)" if len(known) > len(outer[:shown]) else ""
    )
    return did_you_mean(layer, known, 0.5) + f" (valid: {listed}; `reprdyn layers SPEC` lists them)"


def spatial(shape: tuple[int, ...]) -> bool:
    """Whether a layer's output is a map (C, h, w); patch tokens on the latent grid are reported
    as (D, gh, gw) (`extract.Reader`)."""
    return len(shape) == 3


def problems(spec, shapes: dict[str, Shapes]) -> list[tuple[tuple, str]]:
    """(location, message) for every pooled or dense layer a model lacks, and every dense layer
    without a spatial map; `shapes` maps each model's name to its layers' shapes."""
    found = []
    for model, known in shapes.items():
        where = f"model {model!r}" if model else "the model"
        names = [*known, PIXELS]
        for i, layer in enumerate(spec.layers):
            if layer not in known and layer != PIXELS:
                found.append(
                    (("layers", i), f"unknown layer {layer!r} for {where}" + hint(layer, names))
                )
        for set_name, members in (spec.dense or {}).items():
            for i, layer in enumerate(members):
                loc = ("dense", set_name, i)
                if layer not in known:
                    found.append((loc, f"unknown layer {layer!r} for {where}" + hint(layer, names)))
                elif not spatial(known[layer]):
                    found.append(
                        (
                            loc,
                            f"layer {layer!r} of {where} gives per-sample shape {known[layer]}, "
                            "not a (C, h, w) map; dense sets need layers with a spatial map (conv "
                            "blocks, or transformer blocks' image tokens)",
                        )
                    )
    return found


def check(spec, shapes: dict[str, Shapes]) -> None:
    """Raise the first problem as an InputError placed at its spec field."""
    found = problems(spec, shapes)
    if found:
        loc, message = found[0]
        raise InputError(message, at=loc)


def widths(spec, shapes: dict[str, Shapes]) -> dict[str, int]:
    """The pooled width of every layer read from the network (`output` flattened); the models of
    one cube must agree on them."""
    check(spec, shapes)
    out = None
    for model, known in shapes.items():
        w = {
            x: int(np.prod(known[x])) if x == OUTPUT else int(known[x][0])
            for x in spec.hooked_layers
        }
        if out is not None and w != out:
            raise InputError(
                f"models disagree on layer widths ({out} vs {w}); models compared in one spec "
                "must share the probed layers' widths"
            )
        out = w
    return out or {}
