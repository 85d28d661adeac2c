"""The bundled digits: scaled, stratified, resizable."""

from __future__ import annotations

import numpy as np

from reprdyn.data import build_dataset


def test_digits_scaled_stratified_and_resizable():
    from reprdyn.spec.datacfg import DigitsData

    a = build_dataset(DigitsData(kind="digits", name="d", test_fraction=0.25), 0)
    assert a.x.shape == (1797, 1, 8, 8) and a.x.min() == -1 and a.x.max() == 1
    te = a.y[a.split == "test"]
    assert len(te) == 450
    # stratified
    np.testing.assert_allclose(np.bincount(te) / len(te), np.bincount(a.y) / len(a.y), atol=0.01)
    b = build_dataset(DigitsData(kind="digits", name="d", test_fraction=0.25), 1)
    assert not np.array_equal(a.y, b.y)  # the split is set by the seed
    c = build_dataset(DigitsData(kind="digits", name="d16", size=16), 0)
    assert c.x.shape == (1797, 1, 16, 16) and c.x.min() >= -1 and c.x.max() <= 1
