"""Closed-form ridge probe on one-hot targets, lambda by exact leave-one-out or GCV.

One SVD per feature set serves every lambda and every target set (label-noise
level and seed) at once.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import StackProbe, one_hot

DEFAULT_LAMBDAS = tuple(np.logspace(-4, 2, 13))  # in units of n (the fit size)


def ridge_path(Xc: torch.Tensor, Yc: torch.Tensor, lambdas: torch.Tensor):
    """Everything the lambda grid needs, from one SVD per feature set.

    Xc: (S, n, C) centred inputs; Yc: (T, n, K) centred targets; lambdas: (L,).
    Returns U (S, n, r), d (S, r), UtY (S, T, r, K), V (S, C, r).
    """
    U, d, Vh = torch.linalg.svd(Xc, full_matrices=False)  # Xc = U diag(d) Vh
    UtY = torch.einsum("snr,tnk->strk", U, Yc)
    return U, d, UtY, Vh.transpose(1, 2)


def loo_and_gcv(U, d, UtY, Yc, lambdas):
    """Exact leave-one-out MSE and GCV score per (s, t, lambda), for ridge with an unpenalised intercept.

    With H = 11^T/n + U diag(d^2/(d^2+lambda)) U^T, the LOO residual is
    (y_i - yhat_i) / (1 - H_ii): no refits.
    """
    n = U.shape[1]
    g = d[:, None, :] ** 2 / (d[:, None, :] ** 2 + lambdas[None, :, None])  # (S, L, r) shrinkage
    fit = torch.einsum("snr,slr,strk->stlnk", U, g, UtY)  # (S, T, L, n, K) centred fitted values
    resid = Yc[None, :, None] - fit
    h = 1.0 / n + torch.einsum("snr,slr->sln", U ** 2, g)  # (S, L, n) leverages
    loo = ((resid / (1 - h[:, None, :, :, None])) ** 2).sum(-1).mean(-1)  # (S, T, L)
    tr = 1 + g.sum(-1)  # (S, L) effective degrees of freedom
    gcv = (resid ** 2).sum(-1).mean(-1) / (1 - tr[:, None, :] / n) ** 2
    return loo, gcv


class RidgeProbe(StackProbe):
    """Ridge regression on one-hot labels; scores are the class scores (used as logits)."""

    def __init__(self, n_classes: int, lambdas=None, selection: str = "loo", transform: str = "none",
                 standardize: bool = True, device: str = "cpu"):
        self.n_classes = n_classes
        self.lambdas = lambdas
        self.selection = selection
        self.transform = transform
        self.standardize = standardize
        self.device = device

    def fit(self, X, Y, X_val=None, Y_val=None) -> "RidgeProbe":
        X = self._fit_scaler(self._prepare(X))  # (S, n, C)
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        S, n, _ = X.shape
        lam = torch.as_tensor(self.lambdas if self.lambdas is not None else DEFAULT_LAMBDAS,
                              dtype=X.dtype, device=X.device) * (n if self.lambdas is None else 1)
        x_mean = X.mean(1, keepdim=True)  # zero when standardised; kept for standardize=False
        Yh = one_hot(Y, self.n_classes, X.dtype)  # (T, n, K)
        y_mean = Yh.mean(1, keepdim=True)
        U, d, UtY, V = ridge_path(X - x_mean, Yh - y_mean, lam)
        if self.selection in ("loo", "gcv"):
            loo, gcv = loo_and_gcv(U, d, UtY, Yh - y_mean, lam)
            self.cv_ = loo if self.selection == "loo" else gcv  # (S, T, L)
            pick = self.cv_.argmin(-1)  # (S, T)
        elif self.selection == "val":
            if X_val is None:
                raise ValueError("ridge selection 'val' needs validation data")
            pick = self._pick_on_val(U, d, UtY, V, x_mean, y_mean, lam, X_val, Y_val)
        else:
            raise ValueError(f"unknown ridge selection {self.selection!r}; expected one of ['gcv', 'loo', 'val']")
        self.lambda_ = lam[pick]  # (S, T)
        coef = d[:, None, :] / (d[:, None, :] ** 2 + self.lambda_[..., None])  # (S, T, r)
        self.coef_ = torch.einsum("scr,str,strk->stck", V, coef, UtY)  # (S, T, C, K)
        self.intercept_ = y_mean[None, :, 0] - torch.einsum("sc,stck->stk", x_mean[:, 0], self.coef_)
        return self

    def _pick_on_val(self, U, d, UtY, V, x_mean, y_mean, lam, X_val, Y_val):
        Xv = self.transform_input(X_val)  # (S, m, C)
        Yv = torch.as_tensor(np.asarray(Y_val), device=self.device)
        coef = d[:, None, :] / (d[:, None, :] ** 2 + lam[None, :, None])  # (S, L, r)
        W = torch.einsum("scr,slr,strk->stlck", V, coef, UtY)  # (S, T, L, C, K)
        scores = torch.einsum("smc,stlck->stlmk", Xv - x_mean, W) + y_mean[None, :, None]
        acc = (scores.argmax(-1) == Yv[None, :, None]).double().mean(-1)  # (S, T, L)
        return acc.argmax(-1)

    def decision_function(self, X) -> torch.Tensor:
        Xs = self.transform_input(X)  # (S, m, C)
        return torch.einsum("smc,stck->stmk", Xs, self.coef_) + self.intercept_[:, :, None]
