"""Closed-form ridge probe on one-hot targets, lambda by GCV, exact leave-one-out or validation.

One eigendecomposition of the Gram matrix Xc^T Xc = V diag(d^2) V^T per feature set serves every
lambda and every target set (label-noise level and seed) at once. The intercept is not penalised.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import StackProbe, one_hot

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
    XtY = torch.einsum("snc,tnk->stck", Xc, Yc)  # (S, T, C, K)
    # U = Xc V / d
    UtY = torch.einsum("scr,stck->strk", V, XtY) / d[:, None, :, None] * keep[:, None, :, None]
    return V, d * keep, UtY


def gcv(d, UtY, Yc, lambdas):
    """GCV score per (s, t, lambda): RSS / n / (1 - tr(H)/n)^2, in O(r) per lambda.

    RSS(lambda) = ||Yc||^2 - sum_j (2 g_j - g_j^2) ||(U^T Yc)_j||^2 with g = d^2/(d^2 + lambda).
    """
    n = Yc.shape[1]
    g = d[:, None, :] ** 2 / (d[:, None, :] ** 2 + lambdas[None, :, None])  # (S, L, r)
    e = UtY.square().sum(-1)  # (S, T, r)
    rss = Yc.square().sum((1, 2))[None, :, None] - torch.einsum("slr,str->stl", 2 * g - g**2, e)
    tr = 1 + g.sum(-1)  # (S, L) effective degrees of freedom, intercept included
    return rss / n / (1 - tr[:, None, :] / n) ** 2


def loo(Xc, V, d, UtY, Yc, lambdas):
    """Exact leave-one-out MSE per (s, t, lambda), with no refits.

    With H = 11^T/n + U diag(g) U^T, the LOO residual of sample i is (y_i - yhat_i) / (1 - H_ii).
    """
    S, n, _ = Xc.shape
    T, K, L, r = Yc.shape[0], Yc.shape[2], len(lambdas), d.shape[1]
    U = (Xc @ V) / torch.where(d > 0, d, torch.ones_like(d))[:, None, :]  # (S, n, r)
    g = d[:, None, :] ** 2 / (d[:, None, :] ** 2 + lambdas[None, :, None])  # (S, L, r)
    # (S, r, L, T, K)
    B = (g[:, :, :, None, None] * UtY.permute(0, 2, 1, 3)[:, None]).permute(0, 2, 1, 3, 4)
    fit = torch.bmm(U, B.reshape(S, r, L * T * K)).view(S, n, L, T, K)  # one GEMM per feature set
    rss = (Yc.permute(1, 0, 2)[None, :, None] - fit).square().sum(-1)  # (S, n, L, T)
    h = 1.0 / n + torch.einsum("snr,slr->snl", U**2, g)  # (S, n, L) leverages
    return (rss / (1 - h[..., None]) ** 2).mean(1).transpose(1, 2)  # (S, T, L)


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
        self.intercept_ = y_mean[None, :, 0] - torch.einsum(
            "sc,stck->stk", x_mean[:, 0], self.coef_
        )
        return self

    @staticmethod
    def _coef(V, d, UtY, lam):
        """W = V diag(d / (d^2 + lambda)) U^T Yc, for lam broadcastable to (S, T, r)."""
        return torch.einsum(
            "scr,str,strk->stck", V, d[:, None, :] / (d[:, None, :] ** 2 + lam), UtY
        )

    def _val_accuracy(self, V, d, UtY, x_mean, y_mean, lam, X_val, Y_val):
        Xv = self.transform_input(X_val) - x_mean  # (S, m, C)
        Yv = torch.as_tensor(np.asarray(Y_val), device=self.device)
        acc = []
        for lam_i in lam:  # (S, T) accuracy per lambda
            scores = torch.einsum("smc,stck->stmk", Xv, self._coef(V, d, UtY, lam_i)) + y_mean[None]
            acc.append((scores.argmax(-1) == Yv[None]).to(Xv.dtype).mean(-1))
        return torch.stack(acc, -1)  # (S, T, L)

    def decision_function(self, X) -> torch.Tensor:
        Xs = self.transform_input(X)  # (S, m, C)
        return torch.einsum("smc,stck->stmk", Xs, self.coef_) + self.intercept_[:, :, None]
