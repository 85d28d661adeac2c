"""The one layer resolver: which of a spec's layers each model has, how wide each is once pooled,
and which give the spatial maps dense sets need.

Validation (`reprdyn.runner.checks`, on untrained builds), the data stage and the budget (on the
models themselves) all ask it, so an unknown layer gets one message wherever it is found.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError, did_you_mean
from ..spec.kinds import OUTPUT, PIXELS
from ..spec.patterns import expand, has_patterns, is_pattern

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


def _candidates(known: Shapes, dense: bool) -> list[str]:
    """The names a pattern may expand to: every layer that ran (only maps, for a dense set)."""
    return [x for x in known if x != OUTPUT and (not dense or spatial(known[x]))]


def _pattern_problems(spec, where: str, known: Shapes) -> list[tuple[tuple, str]]:
    """A pattern of `layers` or of a dense set that matches no layer of this model (`where`)."""
    found = []
    groups = [(("layers",), spec.layers, False)]
    groups += [(("dense", k), v, True) for k, v in (spec.dense or {}).items()]
    for loc, entries, dense in groups:
        _, empty = expand(entries, _candidates(known, dense))
        for i in empty:
            what = "no layer with a spatial map" if dense else "no layer"
            found.append(
                (
                    (*loc, i),
                    f"layer pattern {entries[i]!r} matches {what} of {where} (`*` stays within "
                    "one dotted name, `**` crosses them)" + hint(entries[i], list(known)),
                )
            )
    return found


def problems(spec, shapes: dict[str, Shapes]) -> list[tuple[tuple, str]]:
    """(location, message) for every pooled or dense layer a model lacks, every dense layer
    without a spatial map, and every layer pattern that matches nothing; `shapes` maps each
    model's name to its layers' shapes."""
    found = []
    for model, known in shapes.items():
        where = f"model {model!r}" if model else "the model"
        names = [*known, PIXELS]
        found += _pattern_problems(spec, where, known)
        for i, layer in enumerate(spec.layers):
            if layer not in known and layer != PIXELS and not is_pattern(layer):
                found.append(
                    (("layers", i), f"unknown layer {layer!r} for {where}" + hint(layer, names))
                )
        for i, probe in enumerate(spec.probes):
            flat = [x for x in spec.probe_layers(probe) if x in known and not spatial(known[x])]
            if probe.tokens and flat:
                found.append(
                    (
                        ("probes", i),
                        f"probe {probe.label!r} attends over a layer's spatial tokens, but layer "
                        f"{flat[0]!r} of {where} gives per-sample shape {known[flat[0]]}, not a "
                        "(C, h, w) map; give the probe `layers` with a spatial map",
                    )
                )
        for set_name, members in (spec.dense or {}).items():
            for i, layer in enumerate(members):
                loc = ("dense", set_name, i)
                if is_pattern(layer):
                    continue
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


def concrete(spec, shapes: dict[str, Shapes]):
    """The spec with every layer pattern expanded to the layers it matches (in the network's
    order), once every model agrees on them; a problem is an InputError at its spec field."""
    check(spec, shapes)
    if not has_patterns(spec):
        return spec
    lists = {}
    for model, known in shapes.items():
        pooled = expand(spec.layers, _candidates(known, False))[0]
        dense = {k: expand(v, _candidates(known, True))[0] for k, v in (spec.dense or {}).items()}
        lists[model] = (pooled, dense or None)
    (first, got), *rest = lists.items()
    for model, other in rest:
        if other != got:
            loc = ("layers",) if other[0] != got[0] else ("dense",)
            raise InputError(
                f"the layer patterns match different layers in models {first!r} and {model!r}; "
                "list the layers by name (`reprdyn layers SPEC --match PATTERN` shows each "
                "model's)",
                at=loc,
            )
    layers, dense = got
    probes = [
        p.model_copy(update={"layers": expand(p.layers, layers)[0]})
        if p.layers and not p.dense
        else p
        for p in spec.probes
    ]
    return spec.model_copy(update={"layers": layers, "dense": dense, "probes": probes})


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
