"""The layer resolver: unknown layers, dense sets without maps, and layer patterns expanded
against the layers a network really has (reprdyn.models.layers), on hand-written shape tables."""

from __future__ import annotations

import pytest
from helpers import BASE

from reprdyn.errors import InputError
from reprdyn.models import layers
from reprdyn.spec import validate_text

MLP = BASE.replace(
    "model: {kind: molrg-optimal}",
    "models:\n  a: {kind: diffusion, network: {kind: mlp, width: 8}, precond: {kind: edm}, "
    "train: {data: m, steps: 2}}\n  b: {kind: diffusion, network: {kind: mlp, width: 8}, "
    "precond: {kind: edm}, train: {data: m, steps: 2}}",
)
SHAPES = {  # definition order, as extract.layer_shapes reports them
    "enc.0": (8, 4, 4), "enc.0.conv": (8, 4, 4), "enc.1": (16, 2, 2), "mid": (16, 2, 2),
    "mid.emb": (16,), "dec.0": (8, 4, 4), "head": (10,), "output": (2,),
}  # fmt: skip


def _spec(tail: str, masks: bool = False):
    text = MLP + tail
    if masks:  # glyphs: images with per-pixel masks, which dense sets need
        lines = text.splitlines(keepends=True)
        i = next(i for i, line in enumerate(lines) if "kind: molrg," in line)
        lines[i] = '  - {kind: glyphs, name: m, chars: "01", n_train: 10, n_test: 10}\n'
        text = "".join(lines)
    return validate_text(text, checks=False)  # the shapes are given here


def test_patterns_expand_in_network_order_and_dense_sets_get_maps_only():
    spec = _spec(
        "layers: [pixels, 'dec.*', 'enc.*', mid]\n"
        "dense: {all: ['**'], coarse: ['enc.1', 'mid']}\n"
        "probes: [{kind: ridge}, {kind: ridge, name: r2, layers: ['enc.?']}]\n"
    )
    got = layers.concrete(spec, {"a": SHAPES, "b": SHAPES})
    assert got.layers == ["pixels", "dec.0", "enc.0", "enc.1", "mid"]
    assert got.dense == {
        "all": ["enc.0", "enc.0.conv", "enc.1", "mid", "dec.0"],  # not mid.emb, head or output
        "coarse": ["enc.1", "mid"],
    }
    assert got.probes[1].layers == ["enc.0", "enc.1"] and got.probes[0].layers is None
    # the concrete spec is the explicit one: the same run
    from reprdyn.spec import spec_hash

    explicit = _spec(
        "layers: [pixels, dec.0, enc.0, enc.1, mid]\n"
        "dense: {all: [enc.0, enc.0.conv, enc.1, mid, dec.0], coarse: ['enc.1', 'mid']}\n"
        "probes: [{kind: ridge}, {kind: ridge, name: r2, layers: [enc.0, enc.1]}]\n"
    )
    assert spec_hash(got) == spec_hash(explicit)
    assert layers.concrete(explicit, {"a": SHAPES}) is explicit  # nothing to expand


def test_a_pattern_that_matches_nothing_is_an_error_at_its_entry():
    spec = _spec("layers: [mid, 'up.*']\n")
    with pytest.raises(
        InputError, match=r"layer pattern 'up\.\*' matches no layer of model 'a'"
    ) as e:
        layers.concrete(spec, {"a": SHAPES, "b": SHAPES})
    assert e.value.at == ("layers", 1)
    spec = _spec("dense: {d: ['mid.*']}\nprobes: [{kind: seg-linear}]\n", masks=True)
    with pytest.raises(InputError, match="matches no layer with a spatial map") as e:
        layers.concrete(spec, {"a": SHAPES})  # mid.emb is a vector
    assert e.value.at == ("dense", "d", 0)


def test_models_whose_patterns_expand_differently_are_refused():
    other = {k: v for k, v in SHAPES.items() if k != "enc.1"}
    with pytest.raises(InputError, match="match different layers in models 'a' and 'b'") as e:
        layers.concrete(_spec("layers: ['enc.*']\n"), {"a": SHAPES, "b": other})
    assert e.value.at == ("layers",)


def test_a_probe_reading_tokens_needs_layers_with_a_spatial_map():
    spec = _spec("layers: [mid, mid.emb]\nprobes: [{kind: ridge}, {kind: attentive}]\n")
    with pytest.raises(InputError, match="probe 'attentive' attends over a layer's spatial") as e:
        layers.concrete(spec, {"a": SHAPES})
    assert e.value.at == ("probes", 1) and "'mid.emb'" in str(e.value)
    fine = _spec("layers: [mid, mid.emb]\nprobes: [{kind: attentive, layers: [mid]}]\n")
    assert layers.concrete(fine, {"a": SHAPES}) is fine
