"""Trained probes over the whole stack at once: BatchNorm1d + Linear (the paper's Table 1
protocol) and Linear-ReLU-Linear (the posterior probe), with Adam and minibatches.

Every (feature set, target set) pair has its own weights; minibatch indices and
BatchNorm statistics depend on the inputs only, so they are shared by all
target sets of one feature set.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from .base import StackProbe


class _Trained(StackProbe):
    dtype = torch.float32

    def __init__(self, n_classes: int, epochs: int = 50, batch_size: int = 256, lr: float = 1e-3,
                 weight_decay: float = 0.0, hidden: int = 256, seed: int = 0, transform: str = "none",
                 standardize: bool = True, device: str = "cpu"):
        self.n_classes = n_classes
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.hidden = hidden
        self.seed = seed
        self.transform = transform
        self.standardize = standardize
        self.device = device

    def fit(self, X, Y, X_val=None, Y_val=None) -> "_Trained":
        X = self._fit_scaler(self._prepare(X))  # (S, n, C)
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        S, n, D = X.shape
        gen = torch.Generator().manual_seed(self.seed)
        params = self._init(S, Y.shape[0], D, gen)
        opt = torch.optim.Adam(list(params.values()), lr=self.lr, weight_decay=self.weight_decay)
        bs = min(self.batch_size, n)
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=gen).to(self.device)
            for i in range(0, n - bs + 1, bs):  # drop the last partial batch, as BatchNorm wants
                idx = order[i:i + bs]
                logits = self._forward(params, X[:, idx], train=True)  # (S, T, B, K)
                target = Y[:, idx][None].expand(S, -1, -1)
                loss = F.cross_entropy(logits.reshape(-1, self.n_classes), target.reshape(-1)) * S * Y.shape[0]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.params_ = {k: v.detach() for k, v in params.items()}
        return self

    def decision_function(self, X) -> torch.Tensor:
        with torch.no_grad():
            return self._forward(self.params_, self.transform_input(X), train=False)

    def _uniform(self, shape, fan_in, gen) -> torch.Tensor:
        bound = 1 / math.sqrt(fan_in)  # PyTorch's nn.Linear initialisation
        w = (torch.rand(shape, generator=gen, dtype=self.dtype) * 2 - 1) * bound
        return w.to(self.device).requires_grad_(True)


class BNLinearProbe(_Trained):
    """BatchNorm1d (affine, momentum 0.1) followed by Linear."""

    def _init(self, S, T, D, gen):
        self.running_mean_ = torch.zeros(S, D, dtype=self.dtype, device=self.device)
        self.running_var_ = torch.ones(S, D, dtype=self.dtype, device=self.device)
        ones = torch.ones(S, T, D, dtype=self.dtype, device=self.device)
        return {"gamma": ones.clone().requires_grad_(True), "beta": (ones * 0).requires_grad_(True),
                "W": self._uniform((S, T, D, self.n_classes), D, gen), "b": self._uniform((S, T, self.n_classes), D, gen)}

    def _forward(self, p, X, train: bool) -> torch.Tensor:
        if train:  # batch statistics; running statistics for evaluation
            mu, var = X.mean(1), X.var(1, unbiased=False)  # (S, D)
            with torch.no_grad():
                n = X.shape[1]
                self.running_mean_.lerp_(mu, 0.1)
                self.running_var_.lerp_(var * n / max(n - 1, 1), 0.1)
        else:
            mu, var = self.running_mean_, self.running_var_
        Xn = (X - mu[:, None]) / torch.sqrt(var[:, None] + 1e-5)  # (S, B, D)
        h = Xn[:, None] * p["gamma"][:, :, None] + p["beta"][:, :, None]  # (S, T, B, D)
        return torch.einsum("stbd,stdk->stbk", h, p["W"]) + p["b"][:, :, None]


class MLPProbe(_Trained):
    """Linear, ReLU, Linear: the posterior probe."""

    def _init(self, S, T, D, gen):
        H, K = self.hidden, self.n_classes
        return {"W1": self._uniform((S, T, D, H), D, gen), "b1": self._uniform((S, T, H), D, gen),
                "W2": self._uniform((S, T, H, K), H, gen), "b2": self._uniform((S, T, K), H, gen)}

    def _forward(self, p, X, train: bool) -> torch.Tensor:
        h = torch.relu(torch.einsum("sbd,stdh->stbh", X, p["W1"]) + p["b1"][:, :, None])  # (S, T, B, H)
        return torch.einsum("stbh,sthk->stbk", h, p["W2"]) + p["b2"][:, :, None]
