"""The ridge probe against scikit-learn; the leave-one-out shortcut against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import stack
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from reprdyn.probes import (
    RidgeProbe,
    corrupt_labels,
)
from reprdyn.probes.ridge import gcv, gram_path, loo


def test_ridge_equals_sklearn_at_fixed_lambda():
    X, y = stack()
    Y = np.stack([y, np.roll(y, 1)])  # two target sets
    probe = RidgeProbe(3, lambdas=[7.5], selection="loo").fit(X[:, :300], Y[:, :300])
    scores = probe.decision_function(X[:, 300:]).numpy()  # (S, T, m, K)
    for s in range(3):
        sc = StandardScaler().fit(X[s, :300])
        for t in range(2):
            ref = Ridge(alpha=7.5).fit(sc.transform(X[s, :300]), np.eye(3)[Y[t, :300]])
            np.testing.assert_allclose(
                scores[s, t], ref.predict(sc.transform(X[s, 300:])), atol=1e-9
            )
    assert probe is probe.fit(X, Y)


def test_loo_shortcut_equals_brute_force():
    rng = np.random.default_rng(1)
    n, D, K = 40, 5, 3
    X, y = rng.standard_normal((1, n, D)), rng.integers(0, K, n)
    Xc = torch.as_tensor(X - X.mean(1, keepdims=True))
    Yh = np.eye(K)[y][None]  # (T=1, n, K)
    Yc = torch.as_tensor(Yh - Yh.mean(1, keepdims=True))
    lam = torch.tensor([0.1, 3.0, 50.0], dtype=torch.float64)
    V, d, UtY = gram_path(Xc, Yc)
    loo_mse, gcv_score = loo(Xc, V, d, UtY, Yc, lam), gcv(d, UtY, Yc, lam)
    for li, lam_i in enumerate(lam.tolist()):
        errs = []
        for i in range(n):  # refit without sample i, with an unpenalised intercept
            keep = np.arange(n) != i
            m = Ridge(alpha=lam_i).fit(X[0, keep], Yh[0, keep])
            errs.append(((m.predict(X[0, i : i + 1]) - Yh[0, i]) ** 2).sum())
        assert float(loo_mse[0, 0, li]) == pytest.approx(np.mean(errs), rel=1e-9)
        full = Ridge(alpha=lam_i).fit(X[0], Yh[0])
        H = np.ones((n, n)) / n + Xc[0].numpy() @ np.linalg.solve(
            Xc[0].numpy().T @ Xc[0].numpy() + lam_i * np.eye(D), Xc[0].numpy().T
        )
        rss = ((full.predict(X[0]) - Yh[0]) ** 2).sum(1).mean()
        assert float(gcv_score[0, 0, li]) == pytest.approx(
            rss / (1 - np.trace(H) / n) ** 2, rel=1e-9
        )


def test_ridge_lambda_choice_follows_its_criterion():
    X, y = stack(2, n=300, D=20)
    Y = np.stack([y, corrupt_labels(y, 0.5, 3, np.random.default_rng(0))])
    lam = torch.as_tensor(np.logspace(-4, 2, 13)) * 300
    for sel in ("gcv", "loo"):
        p = RidgeProbe(3, selection=sel).fit(X, Y)
        assert p.cv_.shape == (3, 2, 13) and torch.equal(p.lambda_, lam[p.cv_.argmin(-1)])
    # more label noise wants more shrinkage
    assert torch.all(
        RidgeProbe(3, selection="loo").fit(X, Y).lambda_[:, 1]
        >= RidgeProbe(3).fit(X, Y).lambda_[:, 0]
    )
    val = RidgeProbe(3, selection="val").fit(X[:, :200], Y[:, :200], X[:, 200:], Y[:, 200:])
    assert val.lambda_.shape == (3, 2)
    with pytest.raises(ValueError, match="needs validation data"):
        RidgeProbe(3, selection="val").fit(X, Y)
