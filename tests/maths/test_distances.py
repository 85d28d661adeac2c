"""Sliced Wasserstein distance and linear CKA against direct computations."""

from __future__ import annotations

import numpy as np
import pytest


def test_sliced_wasserstein_against_sorted_projections():
    """SW_2 from POT equals sort-based 1-D Wasserstein on the same seeded projections, computed by
    hand."""
    import ot

    from reprdyn.maths.distances import sliced_wasserstein

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) * 1.5 + 1
    P = ot.sliced.get_random_projections(5, 64, seed=3)  # (d, L) unit directions
    w2 = [np.mean((np.sort(X @ P[:, j]) - np.sort(Y @ P[:, j])) ** 2) for j in range(64)]
    assert sliced_wasserstein(X, Y, 64, 3) == pytest.approx(np.sqrt(np.mean(w2)), rel=1e-10)
    assert sliced_wasserstein(X, X, 64, 3) == 0
    assert sliced_wasserstein(X, Y, 64, 3) == sliced_wasserstein(X, Y, 64, 3)  # fixed seed


def test_linear_cka_properties():
    from scipy.stats import ortho_group

    from reprdyn.maths.distances import cka_matrix

    def linear_cka(X, Y):
        return float(cka_matrix([X, Y])[0, 1])

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    Q = ortho_group.rvs(8, random_state=1)
    assert linear_cka(X, X) == pytest.approx(1)
    # orthogonal transform and isotropic scale
    assert linear_cka(X, 3.5 * X @ Q) == pytest.approx(1)
    Y = X @ rng.normal(size=(8, 8)) + rng.normal(size=(200, 8))
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)  # the HSIC form on Gram matrices, by hand
    K, L = Xc @ Xc.T, Yc @ Yc.T
    ref = (K * L).sum() / np.sqrt((K * K).sum() * (L * L).sum())
    assert linear_cka(X, Y) == pytest.approx(ref, rel=1e-10)
    few = cka_matrix([X[:5], Y[:5]])  # n < C: the Gram branch agrees with the covariance branch
    Xc5, Yc5 = X[:5] - X[:5].mean(0), Y[:5] - Y[:5].mean(0)
    cov = np.square(Yc5.T @ Xc5).sum() / np.sqrt(
        np.square(Xc5.T @ Xc5).sum() * np.square(Yc5.T @ Yc5).sum()
    )
    assert (
        few[0, 1] == pytest.approx(cov, rel=1e-10)
        and 0 < linear_cka(X, rng.normal(size=(200, 8))) < 0.2
    )
