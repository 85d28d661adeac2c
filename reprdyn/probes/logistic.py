"""Multinomial L2 logistic regression fitted with full-batch L-BFGS over the whole stack at once.

Each (feature set, target set, C) problem minimises scikit-learn's objective
    C * sum_i CE(x_i W + b, y_i) + ||W||^2 / 2      (the intercept is not penalised),
here divided by C * n so that problems of any size share one L-BFGS run. With
several values of C, the best is picked per problem on validation data.
"""
from __future__ import annotations

import numpy as np
import torch

from .base import StackProbe


class LogisticProbe(StackProbe):
    dtype = torch.float32  # agrees with scikit-learn's float64 fits to well under 0.5 points (tests)

    def __init__(self, n_classes: int, C=1.0, max_iter: int = 500, tol: float = 1e-4, transform: str = "none",
                 standardize: bool = True, device: str = "cpu"):
        self.n_classes = n_classes
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.transform = transform
        self.standardize = standardize
        self.device = device

    def fit(self, X, Y, X_val=None, Y_val=None) -> "LogisticProbe":
        X = self._fit_scaler(self._prepare(X))  # (S, n, C)
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        S, n, D = X.shape
        T, K = Y.shape[0], self.n_classes
        Cs = torch.as_tensor(np.atleast_1d(self.C), dtype=X.dtype, device=X.device)  # (G,)
        W = torch.zeros(S, T, len(Cs), D, K, dtype=X.dtype, device=X.device, requires_grad=True)
        b = torch.zeros(S, T, len(Cs), K, dtype=X.dtype, device=X.device, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1, max_iter=self.max_iter, history_size=20,
                                tolerance_grad=self.tol, tolerance_change=1e-12, line_search_fn="strong_wolfe")
        target = Y[None, :, None, :].expand(S, T, len(Cs), n)  # (S, T, G, n)

        def closure():
            opt.zero_grad()
            logits = torch.einsum("snd,stgdk->stgnk", X, W) + b[:, :, :, None]  # (S, T, G, n, K)
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, K), target.reshape(-1), reduction="none")
            data = ce.view(S, T, len(Cs), n).mean(-1)  # (S, T, G)
            reg = (W ** 2).sum((-1, -2)) / (2 * Cs * n)
            loss = (data + reg).sum()
            loss.backward()
            return loss

        opt.step(closure)
        W, b = W.detach(), b.detach()
        if len(Cs) > 1:
            if X_val is None:
                raise ValueError("a grid of C values needs validation data to choose from")
            Xv = self.transform_input(X_val)
            Yv = torch.as_tensor(np.asarray(Y_val), device=self.device)
            pred = (torch.einsum("smd,stgdk->stgmk", Xv, W) + b[:, :, :, None]).argmax(-1)
            pick = (pred == Yv[None, :, None]).double().mean(-1).argmax(-1)  # (S, T): best C on validation
        else:
            pick = torch.zeros(S, T, dtype=torch.long, device=X.device)
        idx = pick[..., None, None, None].expand(S, T, 1, D, K)
        self.coef_ = W.gather(2, idx)[:, :, 0]  # (S, T, D, K)
        self.intercept_ = b.gather(2, pick[..., None, None].expand(S, T, 1, K))[:, :, 0]  # (S, T, K)
        self.C_ = Cs[pick]  # (S, T)
        return self

    def decision_function(self, X) -> torch.Tensor:
        Xs = self.transform_input(X)  # (S, m, D)
        return torch.einsum("smd,stdk->stmk", Xs, self.coef_) + self.intercept_[:, :, None]
