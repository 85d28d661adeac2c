"""Building datasets: deterministic, split, and unknown kinds are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.data import build_dataset
from reprdyn.spec import validate_text


def test_build_is_deterministic_and_split():
    spec = validate_text("""spec_version: 1
name: t
model: {kind: molrg-optimal}
datasets: [{kind: molrg, name: m, n: 10, K: 2, d: 2, delta: 0.2, n_train: 30, n_test: 20}]
sigma: [1]
""")
    a, b = build_dataset(spec.datasets[0], 7), build_dataset(spec.datasets[0], 7)
    np.testing.assert_array_equal(a.x, b.x)
    assert (a.split == "train").sum() == 30 and (a.split == "test").sum() == 20
    assert a.classes == ["0", "1"] and a.extras["U"][1].shape == (2, 10, 2)
    c = build_dataset(spec.datasets[0], 8)
    assert not np.array_equal(a.x, c.x)


def test_unknown_kind_is_clear():
    class Cfg:
        kind = "cifar"

    with pytest.raises(ValueError, match="unknown dataset kind 'cifar'; expected one of"):
        build_dataset(Cfg(), 0)
