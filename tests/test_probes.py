"""Batched probes against scikit-learn and brute force; label noise; selection and ensembles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from reprdyn.probes import (
    BNLinearProbe,
    LogisticProbe,
    MLPProbe,
    RidgeProbe,
    accuracy,
    corrupt_labels,
    ensemble_members,
    select,
    soft_vote,
)
from reprdyn.probes.ridge import gcv, gram_path, loo


def stack(seed=0, S=3, n=400, D=6, K=3):
    """S feature sets of increasing separability, shared labels y."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = (
        rng.standard_normal((S, n, D)) * 3
        + np.eye(K, D)[y][None] * np.arange(1, S + 1)[:, None, None]
        + 10
    )
    return X, y


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


def test_seg_linear_streamed_equals_ridge_on_all_pixels_at_once():
    from sklearn.linear_model import Ridge

    from reprdyn.probes.segmentation import SegLinear

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6)) * [1, 2, 3, 0.5, 1, 10] + 3
    Y = np.stack([rng.integers(0, 3, 500), rng.integers(0, 3, 500)])  # two label sets
    lambdas = [1e-3, 0.1, 1.0]
    streamed = SegLinear(3, lambdas)
    for a in range(0, 500, 64):  # pixels arrive in slices
        streamed.partial_fit(X[a : a + 64], Y[:, a : a + 64])
    streamed.solve()
    mu, sd = X.mean(0), X.std(0)
    for t in range(2):
        for i, lam in enumerate(lambdas):
            # ridge on standardised features with penalty lambda * n (our lambda is per pixel)
            r = Ridge(alpha=lam * 500).fit((X - mu) / sd, np.eye(3)[Y[t]])
            want = r.predict((X[:7] - mu) / sd)
            got = streamed.decision_function(X[:7])[t, i].numpy()
            np.testing.assert_allclose(got, want, atol=1e-9)
