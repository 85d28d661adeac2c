"""Label-free scores of a feature set, from the spectrum of its covariance (docs/theory.md §9).

- RankMe (Garrido et al., ICML 2023, Eq. 1): the exponential of the entropy of the normalised
  singular values of the (centred) feature matrix, an effective rank between 1 and min(n, C).
- alpha-ReQ (Agrawal et al., NeurIPS 2022): the decay coefficient alpha of a power law
  lambda_i ~ i^(-alpha) fitted to the covariance eigenvalues by least squares in log-log
  coordinates. The paper finds the best linear-probe accuracy in an interval around alpha = 1.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7  # RankMe's epsilon (Garrido et al. 2023, Eq. 1)
CUTOFF = 1e-10  # eigenvalues below this share of the largest are rounding, not spectrum


def singular_values(X: np.ndarray) -> np.ndarray:
    """The singular values of the centred feature matrix X (n, C), largest first: (min(n, C),)."""
    X = np.asarray(X, np.float64)
    Xc = X - X.mean(0, keepdims=True)  # (n, C)
    return np.linalg.svd(Xc, compute_uv=False)


def rankme(X: np.ndarray) -> float:
    """RankMe(X) = exp(-sum_k p_k log p_k), p_k = s_k / ||s||_1 + eps (Garrido et al., Eq. 1), on
    the singular values s of the centred features. 1 for features on a line; min(n, C) for
    features of equal variance in every direction. NaN for constant features."""
    s = singular_values(X)
    if not np.isfinite(s).all() or s.sum() <= 0:
        return float("nan")
    p = s / s.sum() + EPS
    return float(np.exp(-(p * np.log(p)).sum()))


def alpha_req(X: np.ndarray) -> float:
    """alpha of the power law lambda_i = c i^(-alpha) fitted by least squares to log lambda_i
    against log i, over the covariance eigenvalues lambda_i (largest first) above CUTOFF times
    the largest. NaN with fewer than three such eigenvalues."""
    s = singular_values(X)
    lam = s**2 / max(len(np.asarray(X)) - 1, 1)  # (r,) covariance eigenvalues
    if not np.isfinite(lam).all() or lam.size == 0 or lam[0] <= 0:
        return float("nan")
    lam = lam[lam > CUTOFF * lam[0]]
    if len(lam) < 3:
        return float("nan")
    i = np.arange(1, len(lam) + 1, dtype=np.float64)
    slope = np.polyfit(np.log(i), np.log(lam), 1)[0]  # log lambda = -alpha log i + log c
    return float(-slope)
