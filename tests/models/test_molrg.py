"""The analytic MoLRG posterior (docs/theory.md §3) against brute-force Gaussian-mixture Bayes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reprdyn.data.molrg import molrg_bases
from reprdyn.models.molrg import MolrgPosterior


def brute_force_posterior(x, sigma, U, delta):
    """E[x0 | x] for the mixture of N(0, Sigma_k) with pi_k = 1/K, by explicit Bayes."""
    K, n, _ = U.shape
    logp, means = [], []
    for k in range(K):
        P = U[k] @ U[k].T
        Sigma_k = P + delta**2 * (np.eye(n) - P)
        C = Sigma_k + sigma**2 * np.eye(n)  # covariance of x_sigma given class k
        Cinv = np.linalg.inv(C)
        _, logdet = np.linalg.slogdet(C)
        logp.append(-0.5 * np.einsum("bi,ij,bj->b", x, Cinv, x) - 0.5 * logdet)
        means.append(x @ (Sigma_k @ Cinv).T)  # Sigma_k (Sigma_k + sigma^2 I)^{-1} x
    logp = np.stack(logp, 1)  # (B, K)
    w = np.exp(logp - logp.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return np.einsum("bk,kbn->bn", w, np.stack(means))


@pytest.mark.parametrize("sigma", [0.0, 0.05, 0.3, 1.0, 4.0])
@pytest.mark.parametrize("delta", [0.2, 0.5])
def test_posterior_equals_bayes(sigma, delta):
    rng = np.random.default_rng(0)
    U = molrg_bases(6, 2, 2, rng)
    x = rng.standard_normal((64, 6)) * 1.5
    ours = MolrgPosterior(U, delta)(torch.tensor(x), sigma).numpy()
    np.testing.assert_allclose(
        ours, brute_force_posterior(x, sigma, U, delta), rtol=1e-9, atol=1e-12
    )


def test_delta_zero_small_sigma_is_projection():
    rng = np.random.default_rng(1)
    U = molrg_bases(6, 2, 2, rng)
    x = np.einsum("nd,bd->bn", U[0], rng.standard_normal((5, 2)))  # on subspace 0
    out = MolrgPosterior(U, 0.0)(torch.tensor(x), 0.0).numpy()
    np.testing.assert_allclose(out, x, atol=1e-12)
