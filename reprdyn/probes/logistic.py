"""Multinomial L2 logistic regression, every (feature set, target set, C) problem solved by its own
L-BFGS.

Each problem minimises scikit-learn's objective
    C * sum_i CE(x_i W + b, y_i) + ||W||^2 / 2      (the intercept is not penalised),
here divided by C * n (the same minimiser). The problems are solved side by side by `lbfgs`, each
with its own history, line search and stopping test, so a problem's answer does not depend on what
else is in the stack. With several values of C, the best is picked per problem on validation data.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import StackProbe, affine
from .lbfgs import lbfgs


class LogisticProbe(StackProbe):
    # agrees with scikit-learn's float64 fits to well under 0.5 points (tests)
    dtype = torch.float32

    def __init__(
        self,
        n_classes: int,
        C=1.0,
        max_iter: int = 500,
        tol: float = 1e-4,
        transform: str = "none",
        standardize: bool = True,
        device: str = "cpu",
    ):
        self.n_classes = n_classes
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.transform = transform
        self.standardize = standardize
        self.device = device

    def fit(self, X, Y, X_val=None, Y_val=None, seeds=None) -> LogisticProbe:
        """Fit every (feature set, target set) pair; deterministic, so `seeds` is unused."""
        X = self._fit_scaler(self._prepare(X))  # (S, n, D)
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        S, n, D = X.shape
        T, K = Y.shape[0], self.n_classes
        Cs = torch.as_tensor(np.atleast_1d(self.C), dtype=X.dtype, device=X.device)  # (G,)
        G = len(Cs)
        onehot = torch.nn.functional.one_hot(Y, K).to(X.dtype)  # (T, n, K)
        Xt = X.transpose(1, 2)  # (S, D, n)

        def fun(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # rows of x are (s, t, g) problems; each target set and C is computed by itself, one
            # GEMM per sigma of the same shape whatever else is in the stack, so a problem's
            # numbers never depend on its neighbours (adding label-noise levels or seeds moves
            # nothing)
            x = x.view(S, T, G, D * K + K)
            f, g = torch.empty(S, T, G, dtype=x.dtype), torch.empty_like(x)
            for t in range(T):
                for j in range(G):
                    W, b = x[:, t, j, : D * K].view(S, D, K), x[:, t, j, D * K :]
                    logits = torch.baddbmm(b[:, None], X, W)  # (S, n, K)
                    logp = torch.log_softmax(logits, -1)
                    ce = -(logp * onehot[t]).sum(-1).mean(-1)  # (S,)
                    f[:, t, j] = ce + (W * W).sum((1, 2)) / (2 * Cs[j] * n)
                    resid = (logp.exp() - onehot[t]) / n  # d(mean CE)/d logits
                    g[:, t, j, : D * K] = (torch.bmm(Xt, resid) + W / (Cs[j] * n)).reshape(S, -1)
                    g[:, t, j, D * K :] = resid.sum(1)
            return f.reshape(-1), g.reshape(S * T * G, -1)

        x0 = torch.zeros(S * T * G, D * K + K, dtype=X.dtype, device=X.device)
        x, self.n_iter_ = lbfgs(fun, x0, self.max_iter, self.tol)
        W, b = x[:, : D * K].view(S, T, G, D, K), x[:, D * K :].view(S, T, G, K)
        self.n_iter_ = self.n_iter_.view(S, T, G)
        if G > 1:
            if X_val is None:
                raise ValueError("a grid of C values needs validation data to choose from")
            Xv = self.transform_input(X_val)
            Yv = torch.as_tensor(np.asarray(Y_val), device=self.device)
            # (S, T, G, m): each C's logits by its own GEMMs, as in the fit
            pred = torch.stack([affine(Xv, W[:, :, j], b[:, :, j]) for j in range(G)], 2).argmax(-1)
            # (S, T): best C on validation
            pick = (pred == Yv[None, :, None]).double().mean(-1).argmax(-1)
        else:
            pick = torch.zeros(S, T, dtype=torch.long, device=X.device)
        idx = pick[..., None, None, None].expand(S, T, 1, D, K)
        self.coef_ = W.gather(2, idx)[:, :, 0]  # (S, T, D, K)
        # (S, T, K)
        self.intercept_ = b.gather(2, pick[..., None, None].expand(S, T, 1, K))[:, :, 0]
        self.C_ = Cs[pick]  # (S, T)
        return self

    def decision_function(self, X) -> torch.Tensor:
        """Logits (S, T, m, K), each pair's from GEMMs of its own shape (`affine`)."""
        return affine(self.transform_input(X), self.coef_, self.intercept_)
