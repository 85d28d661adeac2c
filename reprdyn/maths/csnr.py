"""Class-specific SNR: empirical (docs/theory.md §4, Definition 1) and closed form (§5, Theorem
1)."""

from __future__ import annotations

import numpy as np


class ClassMoments:
    """Streaming per-class second moments sum_i f_i f_i^T, sums and counts (for CSNR of any layer).

    Rows are summed in fixed blocks of `block` consecutive rows, whatever chunks
    they arrive in, so the float result does not depend on how a stream is cut.
    """

    def __init__(self, n_classes: int, dim: int, block: int = 64):
        self.G = np.zeros((n_classes, dim, dim))  # (K, C, C)
        self.s = np.zeros((n_classes, dim))
        self.n = np.zeros(n_classes)
        self.block = block
        self._f: list[np.ndarray] = []
        self._y: list[np.ndarray] = []
        self._pending = 0

    def update(self, f: np.ndarray, y: np.ndarray) -> None:
        self._f.append(np.asarray(f, np.float64))
        self._y.append(np.asarray(y))
        self._pending += len(y)
        if self._pending >= self.block:
            self._drain(final=False)

    def _drain(self, final: bool) -> None:
        f, y = np.concatenate(self._f), np.concatenate(self._y)
        whole = len(y) if final else len(y) // self.block * self.block
        for start in range(0, whole, self.block):
            self._add(f[start : start + self.block], y[start : start + self.block])
        self._f, self._y, self._pending = [f[whole:]], [y[whole:]], len(y) - whole

    def _add(self, f: np.ndarray, y: np.ndarray) -> None:
        for k in np.unique(y):
            fk = f[y == k]  # (n_k, C)
            self.G[k] += fk.T @ fk
            self.s[k] += fk.sum(0)
            self.n[k] += len(fk)

    def second_moment(self, center: str | bool = "none") -> np.ndarray:
        """Per class, E[g g^T] of the features g about a centre: `none` g = f (the paper's raw
        moments), `global` g = f - the mean over all classes (what every class shares is
        removed, what tells them apart stays), `class` g = f - the class's own mean (its
        covariance). True and False are `class` and `none`."""
        if self._pending:
            self._drain(final=True)
        center = {True: "class", False: "none"}.get(center, center)
        n = np.maximum(self.n, 1)[:, None, None]
        M = self.G / n
        mu = self.s / n[:, :, 0]  # (K, C) class means
        if center == "class":
            return M - np.einsum("kc,kd->kcd", mu, mu)
        if center == "global":
            m = self.s.sum(0) / max(self.n.sum(), 1)  # (C,) the mean over every class
            cross = np.einsum("kc,d->kcd", mu, m)
            return M - cross - cross.transpose(0, 2, 1) + np.outer(m, m)[None]
        if center != "none":
            raise ValueError(f"unknown centring {center!r}; expected one of none, global, class")
        return M


def within_class(moments: ClassMoments) -> np.ndarray:
    """The pooled within-class covariance (C, C): the sum over classes and their samples of
    (f_i - mu_k)(f_i - mu_k)^T, over N."""
    M = moments.second_moment("class")  # (K, C, C) each class about its own mean
    n = moments.n
    return np.einsum("k,kcd->cd", n, M) / max(n.sum(), 1)


def whitener(W: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """T (C, C) with T^T W T = I on the directions W has (eigenvalues below `floor` x their mean
    are raised to it, so directions with no within-class spread are not blown up)."""
    w, V = np.linalg.eigh(W)
    w = np.maximum(w, floor * max(w.mean(), 1e-300))
    return V / np.sqrt(w)


def whiten(M: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-class second moments (K, C, C) in whitened coordinates g -> T^T g: T^T M_k T, as two
    matrix products (O(K C^3); a three-operand einsum without a contraction order is O(K C^4))."""
    return T.T[None] @ M @ T[None]  # (K, C, C)


def svd_bases(
    M: np.ndarray, rank: int | str | None, energy: float, n: np.ndarray | None = None
) -> list[np.ndarray]:
    """Per-class top-r right singular vectors of the feature matrix, from its second moment M (K, C,
    C).

    The right singular vectors of F_k are the eigenvectors of F_k^T F_k. The rank r is given
    (an int); `energy` (or None) keeps the smallest r that holds `energy` of the squared singular
    values; `auto` keeps the singular values above Gavish and Donoho's optimal hard threshold for
    noise of unknown level, which needs the class sizes `n`.
    """
    bases = []
    for k, Mk in enumerate(M):
        w, V = np.linalg.eigh(Mk)  # ascending
        w, V = np.clip(w[::-1], 0, None), V[:, ::-1]
        if isinstance(rank, int):
            r = min(rank, len(w))
        elif rank == "auto":
            r = hard_threshold_rank(w, int(n[k]) if n is not None else len(w))
        else:
            r = int(np.searchsorted(np.cumsum(w) / max(w.sum(), 1e-300), energy) + 1)
        bases.append(V[:, : min(r, len(w))])
    return bases


def hard_threshold_rank(w: np.ndarray, n: int) -> int:
    """How many singular values of an n x C matrix with squared singular values n * w (descending)
    stand above noise: Gavish & Donoho (2014), tau = omega(beta) * median singular value, with
    omega(beta) ~ 0.56 beta^3 - 0.95 beta^2 + 1.82 beta + 1.43 and beta = min/max of n and C.
    At least 1."""
    C = len(w)
    m = max(min(n, C), 1)
    beta = m / max(n, C, 1)
    s = np.sqrt(w[:m])  # singular values, up to the common factor sqrt(n)
    omega = 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43
    return max(int(np.sum(s > omega * np.median(s))), 1)


def csnr_of(moments: ClassMoments, cfg, true_bases: list | None) -> tuple[float, np.ndarray]:
    """(overall, per class) CSNR of one layer from its streamed moments, in the frame `cfg` (the
    spec's `csnr` block) chooses: the true bases as they are, SVD bases of the centred and
    whitened features by default (docs/theory.md §4)."""
    truth = true_bases is not None
    M = moments.second_moment(cfg.centre(truth))
    if cfg.whitened(truth):
        M = whiten(M, whitener(within_class(moments)))
    bases = true_bases if truth else svd_bases(M, cfg.rank, cfg.energy, moments.n)
    return csnr_from_moments(M, moments.n, bases)


def csnr_from_moments(M: np.ndarray, n: np.ndarray, bases) -> tuple[float, np.ndarray]:
    """CSNR from per-class second moments M (K, C, C), counts n (K,) and bases B_l (C, r_l).

    E_k||B_l^T f||^2 = tr(B_l^T M_k B_l), so this equals Definition 1's ratio of means over the
    samples (the tests compare it with that sample formula).
    """
    K = len(M)
    # (K, K): class k data, basis l
    E = np.array([[np.trace(B.T @ M[k] @ B) for B in bases] for k in range(K)])
    on = np.diag(E)
    off = E.sum(1) - on
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(n > 0, on / off, np.nan)
        overall = float((n * on).sum() / (n * off).sum())
    return overall, per


def csnr_theory(sigma, K: int, d: int, delta: float) -> np.ndarray:
    """Closed-form CSNR of the optimal posterior at clean inputs (docs/theory.md §5).

    At delta = 0 it is +inf at every sigma, the delta -> 0 limit: a clean sample then has no energy
    outside its own class subspace, and neither has the posterior's estimate.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    if delta == 0:
        return np.full(sigma.shape, np.inf)
    d2, s2 = delta**2, sigma**2
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
