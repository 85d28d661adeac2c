"""Closed-form ridge probe on one-hot targets, lambda by GCV, exact leave-one-out or validation.

One eigendecomposition of the Gram matrix Xc^T Xc = V diag(d^2) V^T per feature set serves every
lambda and every target set (label-noise level and seed) at once. The intercept is not penalised.
Every product that involves targets is taken per target set t, with GEMMs of one shape whatever T
is, so a pair's numbers do not depend on its stack neighbours (see `base`).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import StackProbe, affine, one_hot

DEFAULT_LAMBDAS = tuple(np.logspace(-4, 2, 13))  # in units of n (the fit size)


def gram_path(Xc: torch.Tensor, Yc: torch.Tensor):
    """V (S, C, r), d (S, r) and UtY (S, T, r, K) from one eigendecomposition per feature set.

    Xc: (S, n, C) centred inputs; Yc: (T, n, K) centred targets. Directions with
    d ~ 0 are dropped (they carry no fit).
    """
    w, V = torch.linalg.eigh(Xc.transpose(1, 2) @ Xc)  # (S, C), (S, C, C): Xc^T Xc = V diag(w) V^T
    d = w.clamp(min=0).sqrt()
    keep = d > d.amax(-1, keepdim=True) * 1e-10
    d = torch.where(keep, d, torch.ones_like(d))  # placeholders, zeroed below
    Xct, S = Xc.transpose(1, 2), Xc.shape[0]  # (S, C, n)
    # U^T Yc with U = Xc V / d, per target set: (S, r, K) each
    UtY = [V.transpose(1, 2) @ (Xct @ y.expand(S, *y.shape)) for y in Yc]
    UtY = torch.stack(UtY, 1) / d[:, None, :, None] * keep[:, None, :, None]  # (S, T, r, K)
    return V, d * keep, UtY


def gcv(d, UtY, Yc, lambdas):
    """GCV score per (s, t, lambda): RSS / n / (1 - tr(H)/n)^2, in O(r) per lambda.

    RSS(lambda) = ||Yc||^2 - sum_j (2 g_j - g_j^2) ||(U^T Yc)_j||^2 with g = d^2/(d^2 + lambda).
    """
    n = Yc.shape[1]
    g = d[:, None, :] ** 2 / (d[:, None, :] ** 2 + lambdas[None, :, None])  # (S, L, r)
    e = UtY.square().sum(-1)  # (S, T, r)
    fitted = torch.stack([(2 * g - g**2) @ e[:, t, :, None] for t in range(e.shape[1])], 1)
    rss = Yc.square().sum((1, 2))[None, :, None] - fitted[..., 0]  # (S, T, L)
    tr = 1 + g.sum(-1)  # (S, L) effective degrees of freedom, intercept included
    return rss / n / (1 - tr[:, None, :] / n) ** 2


def loo(Xc, V, d, UtY, Yc, lambdas):
    """Exact leave-one-out MSE per (s, t, lambda), with no refits.

    With H = 11^T/n + U diag(g) U^T, the LOO residual of sample i is (y_i - yhat_i) / (1 - H_ii).
    """
    S, n, _ = Xc.shape
    T, L = Yc.shape[0], len(lambdas)
    U = (Xc @ V) / torch.where(d > 0, d, torch.ones_like(d))[:, None, :]  # (S, n, r)
    g = d[:, None, :] ** 2 / (d[:, None, :] ** 2 + lambdas[None, :, None])  # (S, L, r)
    h = 1.0 / n + torch.einsum("snr,slr->snl", U**2, g)  # (S, n, L) leverages
    out = torch.empty(S, T, L, dtype=Xc.dtype, device=Xc.device)
    for t in range(T):  # per target set and lambda: (n, r) x (r, K) GEMMs whatever T and L are
        for j in range(L):
            fit = U @ (g[:, j, :, None] * UtY[:, t])  # (S, n, K)
            rss = (Yc[t] - fit).square().sum(-1)  # (S, n)
            out[:, t, j] = (rss / (1 - h[:, :, j]) ** 2).mean(1)
    return out  # (S, T, L)


class RidgeProbe(StackProbe):
    """Ridge regression on one-hot labels; its class scores serve as logits."""

    def __init__(
        self,
        n_classes: int,
        lambdas=None,
        selection: str = "gcv",
        transform: str = "none",
        standardize: bool = True,
        device: str = "cpu",
    ):
        self.n_classes = n_classes
        self.lambdas = lambdas
        self.selection = selection
        self.transform = transform
        self.standardize = standardize
        self.device = device

    def fit(self, X, Y, X_val=None, Y_val=None, seeds=None) -> RidgeProbe:
        """Fit every (feature set, target set) pair; deterministic, so `seeds` is unused."""
        X = self._fit_scaler(self._prepare(X))  # (S, n, C)
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        n = X.shape[1]
        lam = torch.as_tensor(
            self.lambdas if self.lambdas is not None else DEFAULT_LAMBDAS,
            dtype=X.dtype,
            device=X.device,
        ) * (n if self.lambdas is None else 1)
        x_mean = X.mean(1, keepdim=True)  # zero when standardised; kept for standardize=False
        Yh = one_hot(Y, self.n_classes, X.dtype)  # (T, n, K)
        y_mean = Yh.mean(1, keepdim=True)
        Xc, Yc = X - x_mean, Yh - y_mean
        V, d, UtY = gram_path(Xc, Yc)
        if self.selection == "gcv":
            self.cv_ = gcv(d, UtY, Yc, lam)  # (S, T, L)
        elif self.selection == "loo":
            self.cv_ = loo(Xc, V, d, UtY, Yc, lam)
        elif self.selection == "val":
            if X_val is None:
                raise ValueError("ridge selection 'val' needs validation data")
            self.cv_ = -self._val_accuracy(V, d, UtY, x_mean, y_mean, lam, X_val, Y_val)
        else:
            raise ValueError(
                f"unknown ridge selection {self.selection!r}; expected one of ['gcv', 'loo', 'val']"
            )
        self.lambda_ = lam[self.cv_.argmin(-1)]  # (S, T)
        self.coef_ = self._coef(V, d, UtY, self.lambda_[..., None])  # (S, T, C, K)
        # b = ybar - xbar W, per target set: (S, 1, C) x (S, C, K)
        self.intercept_ = (
            y_mean[None, :, 0]
            - affine(
                x_mean, self.coef_, torch.zeros_like(y_mean[None, :, 0]).expand(X.shape[0], -1, -1)
            )[:, :, 0]
        )
        return self

    @staticmethod
    def _coef(V, d, UtY, lam):
        """W = V diag(d / (d^2 + lambda)) U^T Yc (S, T, C, K); lam broadcasts to (S, T, r)."""
        shrunk = (
            d[:, None, :, None] / (d[:, None, :, None] ** 2 + lam[..., None]) * UtY
        )  # (S,T,r,K)
        return torch.stack([V @ shrunk[:, t] for t in range(UtY.shape[1])], 1)

    def _val_accuracy(self, V, d, UtY, x_mean, y_mean, lam, X_val, Y_val):
        Xv = self.transform_input(X_val) - x_mean  # (S, m, C)
        Yv = torch.as_tensor(np.asarray(Y_val), device=self.device)
        acc = []
        for lam_i in lam:  # (S, T) accuracy per lambda
            W = self._coef(V, d, UtY, lam_i)  # (S, T, C, K)
            scores = affine(Xv, W, y_mean[None, :, 0].expand(W.shape[0], -1, -1))  # (S, T, m, K)
            acc.append((scores.argmax(-1) == Yv[None]).to(Xv.dtype).mean(-1))
        return torch.stack(acc, -1)  # (S, T, L)

    def decision_function(self, X) -> torch.Tensor:
        """Class scores (S, T, m, K), each pair's from GEMMs of its own shape (`affine`)."""
        return affine(self.transform_input(X), self.coef_, self.intercept_)
