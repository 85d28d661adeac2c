"""Class-specific SNR: empirical (THEORY.md §4, Definition 1) and closed form (§5, Theorem 1)."""
from __future__ import annotations

import numpy as np


def class_energy(f: np.ndarray, U: np.ndarray) -> np.ndarray:
    """||U_l^T f_i||^2 for every sample i and class l: (N, K) from f (N, n) and U (K, n, d)."""
    proj = np.einsum("in,knd->ikd", f, U)  # (N, K, d)
    return (proj ** 2).sum(-1)


def csnr(f: np.ndarray, y: np.ndarray, U: np.ndarray) -> tuple[float, np.ndarray]:
    """Empirical CSNR of features f (N, n) with labels y under class bases U (K, n, d).

    CSNR = E||U_k^T f||^2 / E sum_{l != k} ||U_l^T f||^2 with k the true class,
    a ratio of means (Definition 1). Returns (overall, per_class[K]); a class
    with no samples gives NaN.
    """
    E = class_energy(f, U)  # (N, K)
    on = E[np.arange(len(y)), y]  # (N,) ||U_k^T f||^2
    off = E.sum(1) - on  # (N,) sum over l != k
    K = U.shape[0]
    per = np.full(K, np.nan)
    for k in range(K):
        m = y == k
        if m.any():
            per[k] = on[m].mean() / off[m].mean()
    return float(on.mean() / off.mean()), per


def csnr_theory(sigma, K: int, d: int, delta: float) -> np.ndarray:
    """Closed-form CSNR of the optimal posterior at clean inputs (THEORY.md §5)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    d2, s2 = delta ** 2, sigma ** 2
    c = (1 - d2) / (2 * (1 + s2) * (d2 + s2))  # softmax temperature c(sigma), Prop. 1
    # phi_+ and phi_-: expected class confidences, evaluated stably in log space (Lemma 1)
    a, b = c * d, c * d2 * d
    m = np.maximum(a, b)
    Z = np.exp(a - m) + (K - 1) * np.exp(b - m)
    phi_p, phi_m = np.exp(a - m) / Z, np.exp(b - m) / Z
    h = (d2 + s2) / (d2 * (1 + s2))  # denoising rate h(sigma)
    num = (phi_p * h + (K - 1) * phi_m) ** 2
    den = (K - 1) * d2 * (phi_p + h * phi_m + (K - 2) * phi_m) ** 2
    return num / den
