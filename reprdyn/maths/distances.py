"""Distances between feature sets across sigma: sliced Wasserstein (POT), linear CKA and CKNNA.

docs/theory.md §6 (Figure 7) compares each sigma's features with the features at
the best sigma by the sliced Wasserstein distance; linear CKA (Kornblith et al.
2019) compares every pair of sigmas up to rotation and isotropic scale; CKNNA (Huh et al. 2024)
keeps only the pairs of samples that are near neighbours in both, as REPA and the Platonic
Representation work measure alignment.
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


def mutual_knn_masks(feats: list[np.ndarray], k: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """For each (n, C) feature set: its inner-product kernel K = Z Z^T on the L2-normalised rows
    Z, and the mask of each row's top-k neighbours under K (itself excluded): ([K], [mask])."""
    kernels, masks = [], []
    for X in feats:
        X = np.asarray(X, np.float64)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        Z = X / np.where(norms > 0, norms, 1.0)  # (n, C)
        K = Z @ Z.T  # (n, n)
        ranked = K.copy()
        np.fill_diagonal(ranked, -np.inf)
        top = np.argsort(-ranked, axis=1, kind="stable")[:, :k]  # (n, k): the first on ties
        mask = np.zeros(K.shape, bool)
        np.put_along_axis(mask, top, True, axis=1)
        kernels.append(K)
        masks.append(mask)
    return kernels, masks


def hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """The unbiased HSIC estimator of Song et al. (2012) between n x n kernels (diagonals set to
    0): [tr(K~ L~) + 1^T K~ 1 1^T L~ 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3))."""
    n = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    trace = float((Kt * Lt.T).sum())  # tr(K~ L~)
    both = float(Kt.sum() * Lt.sum()) / ((n - 1) * (n - 2))
    cross = 2.0 * float(Kt.sum(0) @ Lt.sum(1)) / (n - 2)  # 1^T K~ L~ 1
    return (trace + both - cross) / (n * (n - 3))


def cknna_matrix(feats: list[np.ndarray], k: int = 10) -> np.ndarray:
    """CKNNA (Huh et al. 2024, the Platonic Representation Hypothesis) between every pair of (n,
    C_s) feature sets on the same n samples: (S, S).

    Alignment is the unbiased HSIC of the two kernels kept only on pairs (i, j) where j is among
    i's top-k neighbours in both feature sets; CKNNA divides it by the geometric mean of each
    set's alignment with itself. n must exceed 3 and k.
    """
    n = len(feats[0])
    if n <= max(3, k):
        raise ValueError(f"cknna needs more samples than max(3, k={k}); got {n}")
    kernels, masks = mutual_knn_masks(feats, k)
    S = len(feats)
    own = np.array([hsic_unbiased(m * K, m * K) for K, m in zip(kernels, masks)])  # (S,)
    out = np.empty((S, S))
    for s in range(S):  # the masked kernels are not symmetric: (s, t) and (t, s) may differ
        for t in range(S):
            both = masks[s] & masks[t]
            out[s, t] = hsic_unbiased(both * kernels[s], both * kernels[t])
    with np.errstate(invalid="ignore", divide="ignore"):
        return out / np.sqrt(np.outer(own, own))
