"""Metric `cka`: linear CKA between every pair of sigmas, against the formula written out."""

from __future__ import annotations

import numpy as np

from reprdyn.metrics import cka
from reprdyn.stages.base import Cell


def _linear_cka(a, b):
    a, b = a - a.mean(0), b - b.mean(0)
    return np.linalg.norm(b.T @ a) ** 2 / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b))


def test_cka_matrix_is_linear_cka_of_each_pair():
    rng = np.random.default_rng(1)
    X = [rng.normal(size=(80, 5)) for _ in range(3)]
    X[1] = X[0] @ rng.normal(size=(5, 5)) * 0.1 + X[1] * 0.01  # nearly a linear map of X[0]
    got = cka.compute(Cell(X=X))["cka"]
    assert got.shape == (1, 1, 3, 3)
    want = np.array([[_linear_cka(a, b) for b in X] for a in X])
    np.testing.assert_allclose(got[0, 0], want, rtol=1e-10)
    np.testing.assert_allclose(np.diag(got[0, 0]), 1.0)
