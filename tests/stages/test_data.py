"""Stage `data`: one task per dataset, keyed on what the cube's shape depends on; it stores each
sample's label and split and allocates the arrays every later task writes into."""

from __future__ import annotations

import numpy as np
from helpers import SMALL, molrg_spec

import reprdyn
from reprdyn.spec import validate_text
from reprdyn.stages import data


def _key(text: str) -> str:
    spec = validate_text(text)
    (task,) = data.plan(spec, None)
    return task.key


def test_the_key_moves_with_the_cube_shape():
    base = _key(molrg_spec())
    assert _key(molrg_spec(sigma="[0.5, 2]")) != base  # the sigma dim
    assert _key(molrg_spec(rest="analysis: {tolerance: 0.1}\n")) == base
    assert _key(molrg_spec(rest="analysis: {bootstrap: 10}\n")) != base  # the boot dim


def test_labels_splits_and_every_array_are_in_place(small_store):
    spec = validate_text(SMALL)
    res = reprdyn.open(small_store)
    d = res.data("toy")
    n_train, n_test = spec.datasets[0].n_train, spec.datasets[0].n_test
    assert d.sizes["sample"] == n_train + n_test and set(np.unique(d.split.values)) >= {"test"}
    assert sorted(np.unique(d.label.values)) == [0, 1, 2] and list(d["class"].values) == [
        "0",
        "1",
        "2",
    ]
    feats = res.features("toy", "output")["features"]
    assert feats.sizes["sample"] == n_train + n_test and feats.sizes["sigma"] == len(spec.sigmas)
