"""Metric `class_accuracy`: per-class test accuracy, against a count written out here."""

from __future__ import annotations

import numpy as np

from reprdyn.metrics import class_accuracy
from reprdyn.stages.base import Cell


def test_per_class_accuracy_is_the_share_of_each_class_predicted_right():
    rng = np.random.default_rng(0)
    S, T, m, K = 3, 2, 50, 4
    logits, y = rng.normal(size=(S, T, m, K)), rng.integers(0, K, m)
    got = class_accuracy.compute(Cell(logits=logits, y_test=y, K=K))["class_accuracy"]
    assert got.shape == (S, T, K)
    for s in range(S):
        for t in range(T):
            pred = logits[s, t].argmax(-1)
            for k in range(K):
                assert got[s, t, k] == (pred[y == k] == k).mean()
