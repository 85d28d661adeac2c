"""Noisy mixture of low-rank Gaussians, docs/theory.md §2 (the paper's Assumption 1)."""

from __future__ import annotations

import numpy as np


def molrg_bases(n: int, K: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """K mutually orthogonal orthonormal bases U_k in R^{n x d}, stacked as (K, n, d)."""
    Q, R = np.linalg.qr(rng.standard_normal((n, K * d)))  # (n, K d), orthonormal columns
    Q = Q * np.sign(np.diag(R))  # unique QR: fixes column signs
    return np.ascontiguousarray(Q.reshape(n, K, d).transpose(1, 0, 2))  # (K, n, d)


def molrg_sample(U: np.ndarray, delta: float, m: int, rng: np.random.Generator):
    """Draw m samples x0 = U_k a + delta (I - U_k U_k^T) e', with k ~ Uniform{0..K-1}.

    Returns x0 (m, n) float64 and labels (m,) int64.
    """
    K, n, d = U.shape
    y = rng.integers(0, K, size=m)  # pi_k = 1/K
    a = rng.standard_normal((m, d))
    e = rng.standard_normal((m, n))
    Uy = U[y]  # (m, n, d)
    signal = np.einsum("mnd,md->mn", Uy, a)
    # complement noise: delta * (e - U_k U_k^T e)
    noise = e - np.einsum("mnd,md->mn", Uy, np.einsum("mnd,mn->md", Uy, e))
    return signal + delta * noise, y.astype(np.int64)
