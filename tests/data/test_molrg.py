"""MoLRG data (docs/theory.md §2): bases, class covariances and energy expectations by Monte
Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.data.molrg import molrg_bases, molrg_sample


def test_bases_orthonormal_and_mutually_orthogonal():
    U = molrg_bases(20, 4, 3, np.random.default_rng(0))  # (K, n, d)
    G = np.einsum("knd,lne->kdle", U, U).reshape(12, 12)  # all pairs U_k^T U_l
    np.testing.assert_allclose(G, np.eye(12), atol=1e-12)


def test_class_covariance_matches_sigma_k():
    rng = np.random.default_rng(1)
    U = molrg_bases(8, 2, 2, rng)
    x, y = molrg_sample(U, 0.4, 200_000, rng)
    for k in range(2):
        P = U[k] @ U[k].T
        Sigma_k = P + 0.4**2 * (np.eye(8) - P)
        emp = np.cov(x[y == k].T)
        np.testing.assert_allclose(emp, Sigma_k, atol=0.01)  # MC error ~ 1/sqrt(1e5)
    assert abs((y == 0).mean() - 0.5) < 0.01  # pi_k = 1/K


def test_energy_expectations():
    rng = np.random.default_rng(2)
    U = molrg_bases(50, 3, 5, rng)
    x, y = molrg_sample(U, 0.3, 30_000, rng)
    E = (np.einsum("in,knd->ikd", x, U) ** 2).sum(-1)  # (N, K)
    own = E[np.arange(len(y)), y]
    other = E[np.arange(len(y)), (y + 1) % 3]
    assert own.mean() == pytest.approx(5, rel=0.02)  # E||U_k^T x0||^2 = d
    assert other.mean() == pytest.approx(0.09 * 5, rel=0.02)  # delta^2 d
