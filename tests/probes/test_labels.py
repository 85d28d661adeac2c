"""Label noise: the exact fraction flipped, always to a wrong class, uniformly."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.probes.labels import corrupt_labels


@pytest.mark.parametrize("p", [0.0, 0.2, 0.37, 0.8])
@pytest.mark.parametrize("kind", ["uniform", "pair"])
def test_label_noise_exact_fraction_and_always_wrong(p, kind):
    y = np.random.default_rng(0).integers(0, 5, 1001)
    noisy = corrupt_labels(y, p, 5, np.random.default_rng(1), kind)
    changed = noisy != y
    assert changed.sum() == round(p * len(y))  # exact count, and every flip leaves its class
    np.testing.assert_array_equal(noisy, corrupt_labels(y, p, 5, np.random.default_rng(1), kind))
    if kind == "pair":
        assert np.all(noisy[changed] == (y[changed] + 1) % 5)


def test_uniform_noise_targets_are_uniform_over_other_classes():
    y = np.zeros(60_000, dtype=int)
    noisy = corrupt_labels(y, 0.5, 4, np.random.default_rng(2))
    counts = np.bincount(noisy[noisy != 0], minlength=4)[1:]
    assert np.all(np.abs(counts / counts.sum() - 1 / 3) < 0.01)
    with pytest.raises(ValueError, match="unknown label-noise kind"):
        corrupt_labels(y, 0.5, 4, np.random.default_rng(2), "symmetric")
