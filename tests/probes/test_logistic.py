"""The batched logistic probe against scikit-learn; its C grid is chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import stack
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from reprdyn.probes import (
    LogisticProbe,
    corrupt_labels,
)


def test_logistic_matches_sklearn():
    X, y = stack(3, n=500)
    Y = np.stack([y, corrupt_labels(y, 0.3, 3, np.random.default_rng(0))])
    probe = LogisticProbe(3, C=0.5).fit(X[:, :350], Y[:, :350])
    pred = probe.predict(X[:, 350:]).numpy()
    deltas = []
    for s in range(3):
        sc = StandardScaler().fit(X[s, :350])
        for t in range(2):
            ref = LogisticRegression(C=0.5, max_iter=1000).fit(sc.transform(X[s, :350]), Y[t, :350])
            a = (ref.predict(sc.transform(X[s, 350:])) == y[350:]).mean()
            deltas.append(abs(a - (pred[s, t] == y[350:]).mean()))
            W = probe.coef_[s, t].double().numpy()
            np.testing.assert_allclose(W - W.mean(1, keepdims=True), ref.coef_.T, atol=0.02)
    assert np.mean(deltas) <= 0.005


@pytest.mark.parametrize("C", [1.0, [0.1, 1.0]])
def test_logistic_fit_does_not_depend_on_its_stack_neighbours(C):
    """Target set 0 fitted alone, beside one other target set and beside four: the same weights and
    logits, bit for bit (each problem is solved by itself, with GEMMs of its own shape)."""
    X, y = stack(3, n=400)
    rng = np.random.default_rng(1)
    Y = np.stack([y] + [corrupt_labels(y, 0.2 * k, 3, rng) for k in range(1, 5)])
    fits = [
        LogisticProbe(3, C=C).fit(X[:, :300], Y[:T, :300], X[:, 300:], Y[:T, 300:])
        for T in (1, 2, 5)
    ]
    for other in fits[1:]:
        torch.testing.assert_close(other.coef_[:, :1], fits[0].coef_, rtol=0, atol=0)
        torch.testing.assert_close(other.intercept_[:, :1], fits[0].intercept_, rtol=0, atol=0)
        z = other.decision_function(X[:, 300:])[:, :1]
        torch.testing.assert_close(z, fits[0].decision_function(X[:, 300:]), rtol=0, atol=0)
    # and sigmas are just as separate: the stack of sigma 1 alone
    alone = LogisticProbe(3, C=C).fit(X[1:2, :300], Y[:2, :300], X[1:2, 300:], Y[:2, 300:])
    torch.testing.assert_close(alone.coef_, fits[1].coef_[1:2], rtol=0, atol=0)


def test_logistic_c_grid_is_chosen_on_validation():
    X, y = stack(4, n=400)
    probe = LogisticProbe(3, C=[1e-4, 1.0]).fit(
        X[:, :200], y[None, :200], X[:, 200:300], y[None, 200:300]
    )
    assert probe.C_.shape == (3, 1) and torch.all(probe.C_ == 1.0)  # 1e-4 barely learns
    with pytest.raises(ValueError, match="needs validation data"):
        LogisticProbe(3, C=[0.1, 1.0]).fit(X, y[None])
