"""The k-NN probe: DINO's weighted cosine vote, against scikit-learn's KNeighborsClassifier and a
plain loop over test samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import stack
from sklearn.neighbors import KNeighborsClassifier

from reprdyn.probes.knn import BLOCK, KNNProbe


@pytest.mark.parametrize("k", [1, 7, 20])
def test_vote_shares_are_scikit_learns_with_dinos_weights(k):
    X, y = stack(0, S=2, n=500, D=8)
    tr, te = slice(0, 400), slice(400, 500)
    probe = KNNProbe(3, k=k, temperature=0.1).fit(X[:, tr], y[None, tr])
    got = probe.decision_function(X[:, te]).numpy()  # (S, 1, m, K)
    for s in range(2):
        ref = KNeighborsClassifier(
            n_neighbors=k, metric="cosine", algorithm="brute",
            weights=lambda d: np.exp((1 - d) / 0.1),  # cosine distance = 1 - similarity
        ).fit(X[s, tr], y[tr])  # fmt: skip
        np.testing.assert_allclose(got[s, 0], ref.predict_proba(X[s, te]), rtol=1e-4, atol=1e-6)


def test_each_label_set_votes_with_the_same_neighbours():
    X, y = stack(1, S=1, n=300, D=5)
    flipped = (y + 1) % 3
    probe = KNNProbe(3, k=9).fit(X[:, :200], np.stack([y[:200], flipped[:200]]))
    p = probe.decision_function(X[:, 200:]).numpy()  # (1, 2, m, K)
    np.testing.assert_allclose(p[0, 1], np.roll(p[0, 0], 1, axis=-1), rtol=1e-12)


def test_a_row_does_not_depend_on_the_rows_scored_with_it():
    X, y = stack(2, S=2, n=BLOCK + 400, D=6)
    probe = KNNProbe(3, k=10).fit(X[:, :300], y[None, :300])
    whole = probe.decision_function(X[:, 300:])
    one = probe.decision_function(X[:, 300 + BLOCK + 5 : 300 + BLOCK + 6])
    torch.testing.assert_close(whole[:, :, BLOCK + 5 : BLOCK + 6], one, rtol=0, atol=0)


def test_neighbours_are_those_of_a_plain_loop():
    X, y = stack(3, S=1, n=260, D=4)
    probe = KNNProbe(3, k=6).fit(X[:, :200], y[None, :200])
    _, idx = probe.neighbours(X[:, 200:])
    train = X[0, :200] / np.linalg.norm(X[0, :200], axis=1, keepdims=True)
    for i, q in enumerate(X[0, 200:]):
        sim = train @ (q / np.linalg.norm(q))
        assert set(idx[0, i].tolist()) == set(np.argsort(-sim, kind="stable")[:6].tolist())
