"""Segmentation probes over per-pixel features, fitted without ever holding every pixel's features.

`SegLinear` is ridge regression of one-hot mask labels on pixel features from
streamed normal equations: `partial_fit` adds a batch of pixels to X^T X, X^T Y
and the sums (float64), so memory is C x C whatever the number of pixels, and
`solve` gives the exact ridge solution for every lambda and label set at once
from one eigendecomposition. Features are standardised with the statistics of
the same pixels. Products that involve labels are taken per label set and lambda,
so each has one shape whatever the grid holds (see `reprdyn.probes.base`).
The seg-mlp probe is `MLPProbe` fitted on sampled pixels (see
`reprdyn.stages.segment`).
"""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_LAMBDAS = tuple(np.logspace(-6, 0, 13))  # on standardised features (unit variance)


class SegLinear:
    """Ridge on one-hot labels from sufficient statistics, for T label sets (label noise x seed) at
    once; the constructor stores settings, `partial_fit` and `solve` return self."""

    def __init__(self, n_classes: int, lambdas=None, device: str = "cpu"):
        self.n_classes = n_classes
        self.lambdas = lambdas
        self.device = device

    def partial_fit(self, X, Y) -> SegLinear:
        """Add pixels: X (n, C) features, Y (T, n) integer labels (every pixel counts; drop `ignore`
        pixels first)."""
        X = torch.as_tensor(X, dtype=torch.float64, device=self.device)  # (n, C)
        Y = torch.as_tensor(Y, device=self.device)  # (T, n)
        Yh = torch.nn.functional.one_hot(Y, self.n_classes).to(torch.float64)  # (T, n, K)
        if not hasattr(self, "n_"):
            C, T, K = X.shape[1], Y.shape[0], self.n_classes
            self.n_ = 0
            self.sx_ = torch.zeros(C, dtype=torch.float64, device=self.device)
            self.xx_ = torch.zeros(C, C, dtype=torch.float64, device=self.device)
            self.sy_ = torch.zeros(T, K, dtype=torch.float64, device=self.device)
            self.xy_ = torch.zeros(T, C, K, dtype=torch.float64, device=self.device)
        self.n_ += X.shape[0]
        self.sx_ += X.sum(0)
        self.xx_ += X.T @ X
        self.sy_ += Yh.sum(1)
        self.xy_ += torch.stack([X.T @ y for y in Yh])  # (T, C, K), one GEMM per label set
        return self

    def solve(self) -> SegLinear:
        """coef_ (T, L, C, K) and intercept_ (T, L, K) for every lambda, from the sums so far."""
        n = max(self.n_, 1)
        mu = self.sx_ / n  # (C,)
        cov = self.xx_ / n - torch.outer(mu, mu)
        sd = torch.sqrt(torch.diagonal(cov).clamp(min=0))
        sd = torch.where(sd > 1e-12, sd, torch.ones_like(sd))
        czz = cov / torch.outer(sd, sd)  # correlation of the standardised features
        ybar = self.sy_ / n  # (T, K)
        cxy = (self.xy_ / n - mu[None, :, None] * ybar[:, None, :]) / sd[None, :, None]  # (T, C, K)
        lam = torch.as_tensor(
            self.lambdas if self.lambdas is not None else DEFAULT_LAMBDAS, dtype=torch.float64
        ).to(self.device)
        e, V = torch.linalg.eigh(czz)  # czz = V diag(e) V^T serves every lambda
        shrink = 1 / (e.clamp(min=0)[None, :] + lam[:, None])  # (L, r)
        # W_z = V diag(1 / (e + lambda)) V^T c_xy, per label set and lambda: (T, L, C, K)
        Wz = torch.stack([torch.stack([V @ (h[:, None] * (V.T @ c)) for h in shrink]) for c in cxy])
        self.coef_ = Wz / sd[None, None, :, None]
        # b = ybar - mu W, per label set and lambda (a batched mu @ W could fold T into its rows)
        muW = torch.stack([torch.stack([mu @ w for w in coef_t]) for coef_t in self.coef_])
        self.intercept_ = ybar[:, None, :] - muW  # (T, L, K)
        self.lambda_grid_ = lam
        return self

    def decision_function(self, X) -> torch.Tensor:
        """Scores (T, L, m, K) of m pixels X (m, C) for every label set and lambda."""
        X = torch.as_tensor(X, dtype=torch.float64, device=self.device)  # (m, C)
        T, L = self.coef_.shape[:2]
        out = [[X @ self.coef_[t, j] + self.intercept_[t, j] for j in range(L)] for t in range(T)]
        return torch.stack([torch.stack(row) for row in out])  # (T, L, m, K)
