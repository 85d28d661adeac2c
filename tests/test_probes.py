"""Probes against scikit-learn, label-noise corruption, ensembles, selection without test labels."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from reprdyn.probes import (LogisticProbe, accuracy, corrupt_labels, ensemble_members, make_probe,
                            soft_vote)


def blobs(seed=0, n=400, D=6, K=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = rng.standard_normal((n, D)) * 3 + np.eye(K, D)[y] * 4 + 10
    return X, y


def test_logistic_matches_sklearn_on_standardised_data():
    X, y = blobs()
    ours = LogisticProbe(C=0.5).fit(X[:300], y[:300])
    sc = StandardScaler().fit(X[:300])
    ref = LogisticRegression(C=0.5, max_iter=1000).fit(sc.transform(X[:300]), y[:300])
    np.testing.assert_allclose(ours.decision_function(X[300:]), ref.decision_function(sc.transform(X[300:])),
                               rtol=1e-6, atol=1e-6)
    assert ours is ours.fit(X, y)  # fit returns self


def test_abs_transform_and_no_standardize():
    X, y = blobs(1)
    ours = LogisticProbe(transform="abs", standardize=False).fit(X - 10, y)
    ref = LogisticRegression(max_iter=1000).fit(np.abs(X - 10), y)
    np.testing.assert_array_equal(ours.predict(X - 10), ref.predict(np.abs(X - 10)))


def test_missing_class_gets_minus_inf():
    X, y = blobs(2)
    keep = y != 2
    probe = LogisticProbe(n_classes=3).fit(X[keep], y[keep])
    z = probe.decision_function(X)
    assert z.shape == (len(X), 3) and np.all(z[:, 2] == -np.inf)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.37, 0.8])
def test_label_noise_exact_fraction_and_always_wrong(p):
    y = np.random.default_rng(0).integers(0, 5, 1001)
    noisy = corrupt_labels(y, p, 5, np.random.default_rng(1))
    changed = noisy != y
    assert changed.sum() == round(p * len(y))  # exact count, and every flip leaves its class
    again = corrupt_labels(y, p, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(noisy, again)  # deterministic per seed
    assert noisy.min() >= 0 and noisy.max() < 5


def test_label_noise_targets_are_uniform_over_other_classes():
    y = np.zeros(60_000, dtype=int)
    noisy = corrupt_labels(y, 0.5, 4, np.random.default_rng(2))
    counts = np.bincount(noisy[noisy != 0], minlength=4)[1:]
    assert np.all(np.abs(counts / counts.sum() - 1 / 3) < 0.01)


def test_ensemble_equals_manual_average():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 10, 4))  # (S, N, K)
    idx = ensemble_members(4, 2, 6)
    np.testing.assert_array_equal(idx, [2, 3, 4, 5])  # clipped at the end of the grid
    manual = (logits[2] + logits[3] + logits[4] + logits[5]) / 4
    np.testing.assert_allclose(soft_vote(logits, idx), manual)
    np.testing.assert_array_equal(ensemble_members(0, 2, 6), [0, 1, 2])


def test_accuracy_per_class():
    acc, per = accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 0, 2]), 4)
    assert acc == 0.75 and per[0] == 0.5 and per[1] == 1 and per[2] == 1 and np.isnan(per[3])


def test_make_probe_table():
    class Cfg:
        kind = "svm"
    with pytest.raises(ValueError, match="unknown probe kind 'svm'; expected one of"):
        make_probe(Cfg(), 3)
