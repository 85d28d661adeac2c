"""Ensembles across sigmas: member strategies, soft voting, per-class accuracy."""

from __future__ import annotations

import numpy as np

from reprdyn.probes.ensemble import (
    accuracy,
    ensemble_members,
    select,
    soft_vote,
)


def test_ensemble_strategies_and_soft_vote():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 10, 4))  # (S, N, K)
    val = np.array([0.1, 0.5, 0.3, 0.4, 0.9, 0.2])
    # clipped at the end of the grid
    assert select(val, "neighbours", k=2)[1].tolist() == [2, 3, 4, 5]
    assert select(val, "all")[1].tolist() == list(range(6))
    best, top = select(val, "top", m=3)
    assert best == 4 and top.tolist() == [1, 3, 4]
    manual = (logits[2] + logits[3] + logits[4] + logits[5]) / 4
    np.testing.assert_allclose(soft_vote(logits, ensemble_members(4, 2, 6)), manual)
    assert select(np.array([0.5, 0.5]))[0] == 0  # ties go to the lower sigma


def test_accuracy_per_class():
    acc, per = accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]), 4)
    assert acc == 0.75 and per[0] == 0.5 and per[1] == 1 and per[2] == 1 and np.isnan(per[3])
