"""Trained (MLP) probes learn, are seeded, and evaluate with running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import stack

from reprdyn.probes import (
    BNLinearProbe,
    LogisticProbe,
    MLPProbe,
)


@pytest.mark.parametrize("cls", [BNLinearProbe, MLPProbe])
def test_trained_probes_learn_and_are_seeded(cls):
    X, y = stack(5, n=600)
    Y = np.stack([y, y])
    a = cls(3, epochs=30, batch_size=64, lr=1e-2, hidden=32, seed=1).fit(X[:, :400], Y[:, :400])
    b = cls(3, epochs=30, batch_size=64, lr=1e-2, hidden=32, seed=1).fit(X[:, :400], Y[:, :400])
    za, zb = a.decision_function(X[:, 400:]), b.decision_function(X[:, 400:])
    assert za.shape == (3, 2, 200, 3)
    torch.testing.assert_close(za, zb)  # deterministic per seed
    acc = (za.argmax(-1).numpy() == y[400:]).mean((1, 2))
    lin = LogisticProbe(3).fit(X[:, :400], Y[:, :400]).predict(X[:, 400:]).numpy()
    assert np.all(acc > (lin == y[400:]).mean((1, 2)) - 0.05) and acc[-1] > 0.5  # chance: 1/3


def test_bn_uses_running_statistics_at_evaluation():
    X, y = stack(6, S=1, n=300)
    p = BNLinearProbe(3, epochs=5, batch_size=50).fit(X, y[None])
    sc = (X - X.mean(1, keepdims=True)) / X.std(1, keepdims=True)
    np.testing.assert_allclose(p.running_mean_.numpy(), np.zeros((1, 6)), atol=0.05)
    np.testing.assert_allclose(p.running_var_.numpy(), sc.var(1), atol=0.1)
