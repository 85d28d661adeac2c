"""Distances between feature sets across sigma: sliced Wasserstein (POT) and linear CKA.

docs/theory.md §6 (Figure 7) compares each sigma's features with the features at
the best sigma by the sliced Wasserstein distance; linear CKA (Kornblith et al.
2019) compares every pair of sigmas up to rotation and isotropic scale.
"""

from __future__ import annotations

import numpy as np


def sliced_wasserstein(
    X: np.ndarray, Y: np.ndarray, projections: int = 128, seed: int = 0
) -> float:
    """SW_2 between the empirical distributions of rows of X (n, C) and Y (m, C), fixed projection
    seed."""
    import ot

    return float(
        ot.sliced_wasserstein_distance(
            np.asarray(X, np.float64),
            np.asarray(Y, np.float64),
            n_projections=projections,
            seed=seed,
        )
    )


def _centred(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, np.float64)
    return X - X.mean(0, keepdims=True)


def cka_matrix(feats: list[np.ndarray]) -> np.ndarray:
    """Linear CKA between every pair of (n, C_s) feature sets on the same n samples: (S, S).

    Uses the n x n Gram form <K_s, K_t>_F when n is smaller than the widths,
    else the C x C cross-covariance form; both give the same number.
    """
    Xs = [_centred(X) for X in feats]
    n, widest = Xs[0].shape[0], max(X.shape[1] for X in Xs)
    if n <= widest:
        G = [X @ X.T for X in Xs]  # (n, n) Gram matrices
        inner = np.array([[float((a * b).sum()) for b in G] for a in G])  # <K_s, K_t>_F
    else:
        # ||Xt^T Xs||_F^2
        inner = np.array([[float(np.square(b.T @ a).sum()) for b in Xs] for a in Xs])
    norm = np.sqrt(np.diag(inner))
    with np.errstate(invalid="ignore", divide="ignore"):
        return inner / np.outer(norm, norm)
