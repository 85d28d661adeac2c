"""A process's context: datasets built once, a model's train split, layer widths from the built
shapes, and a rebind that keeps what was built."""

from __future__ import annotations

import numpy as np
from helpers import molrg_spec, trained_spec

from reprdyn.runner.context import Context
from reprdyn.spec import validate_text


def test_datasets_are_built_once_and_the_train_split_is_the_train_rows():
    spec = validate_text(trained_spec(rest="layers: [fc2]\n"))
    ctx = Context.create(spec, device="cpu")
    data = ctx.data.get("m")
    assert ctx.data.get("m") is data
    train = ctx.data.train_split(spec.model)
    np.testing.assert_array_equal(train.y, data.y[data.split == "train"])


def test_layer_widths_come_from_the_built_shapes():
    spec = validate_text(trained_spec(width=24, rest="layers: [fc1, fc2, output]\n"))
    ctx = Context.create(spec, device="cpu")
    assert ctx.models.channels("m") == {"fc1": 24, "fc2": 24, "output": 12}  # output: molrg n
    assert ctx.device == "cpu" and ctx.models.cfg("").kind == "diffusion"


def test_a_rebind_keeps_the_built_data_and_models():
    spec = validate_text(molrg_spec())
    ctx = Context.create(spec, device="cpu")
    data = ctx.data.get("m")
    narrower = validate_text(molrg_spec(rest="layers: [output]\n"))
    again = ctx.rebind(narrower, "s.zarr")
    assert again.data.get("m") is data and again.models is ctx.models and again.spec is narrower
