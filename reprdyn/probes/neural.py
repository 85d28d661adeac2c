"""Trained probes over the whole stack at once: BatchNorm1d + Linear (the paper's Table 1
protocol) and Linear-ReLU-Linear (the posterior probe), with Adam and minibatches.

Every (feature set, target set) pair is its own problem with its own weights, initialised from its
own seed (`fit(..., seeds=)`, one per pair, which the probe stage derives from the pair's
coordinates: sigma, label-noise level and seed), and its own loss term: the loss is the sum over
pairs of each pair's mean cross-entropy, so Adam, which is elementwise, moves every pair as if it
were fitted alone. Minibatch order and BatchNorm statistics depend on the inputs and the probe's
seed only, so all target sets of one feature set share them; adding sigmas, label-noise levels or
seeds to a grid changes no pair that was already in it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from .base import StackProbe


class _Trained(StackProbe):
    dtype = torch.float32

    def __init__(
        self,
        n_classes: int,
        epochs: int = 50,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        hidden: int = 256,
        seed: int = 0,
        transform: str = "none",
        standardize: bool = True,
        device: str = "cpu",
    ):
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

    def fit(self, X, Y, X_val=None, Y_val=None, seeds=None) -> _Trained:
        """Fit every (feature set, target set) pair; `seeds` (S, T) seeds each pair's initialisation
        (default: from the probe's seed and the pair's place in the stack)."""
        X = self._fit_scaler(self._prepare(X))  # (S, n, C), or (S, n, L, C) for token probes
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        (S, n), D = X.shape[:2], X.shape[-1]
        T = Y.shape[0]
        if seeds is None:
            seeds = [
                [
                    int(np.random.SeedSequence([self.seed, s, t]).generate_state(1)[0])
                    for t in range(T)
                ]
                for s in range(S)
            ]
        params = self._init(S, T, D, np.asarray(seeds, dtype=np.int64).reshape(S, T))
        opt = torch.optim.Adam(list(params.values()), lr=self.lr, weight_decay=self.weight_decay)
        order_gen = torch.Generator().manual_seed(self.seed)  # minibatches: shared by every pair
        bs = min(self.batch_size, n)
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=order_gen).to(self.device)
            for i in range(0, n - bs + 1, bs):  # drop the last partial batch, as BatchNorm wants
                idx = order[i : i + bs]
                logits = self._forward(params, X[:, idx], train=True)  # (S, T, B, K)
                target = Y[:, idx][None].expand(S, -1, -1)
                ce = F.cross_entropy(
                    logits.reshape(-1, self.n_classes), target.reshape(-1), reduction="none"
                )
                # each pair's own mean: its gradient is its own
                loss = ce.view(S, T, -1).mean(-1).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.params_ = {k: v.detach() for k, v in params.items()}
        return self

    def decision_function(self, X) -> torch.Tensor:
        with torch.no_grad():
            return self._forward(self.params_, self.transform_input(X), train=False)

    def _uniform(
        self, seeds: np.ndarray, shapes: list[tuple[tuple[int, ...], int]]
    ) -> list[torch.Tensor]:
        """PyTorch's nn.Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), of each (shape,
        fan_in), drawn for every pair (s, t) from that pair's own generator: tensors (S, T,
        *shape)."""
        S, T = seeds.shape
        out = [torch.empty(S, T, *shape, dtype=self.dtype) for shape, _ in shapes]
        for s in range(S):
            for t in range(T):
                gen = torch.Generator().manual_seed(int(seeds[s, t]))
                for o, (shape, fan_in) in zip(out, shapes):
                    o[s, t] = (
                        torch.rand(shape, generator=gen, dtype=self.dtype) * 2 - 1
                    ) / math.sqrt(fan_in)
        return [o.to(self.device).requires_grad_(True) for o in out]


class BNLinearProbe(_Trained):
    """BatchNorm1d (affine, momentum 0.1) followed by Linear."""

    def _init(self, S, T, D, seeds):
        self.running_mean_ = torch.zeros(S, D, dtype=self.dtype, device=self.device)
        self.running_var_ = torch.ones(S, D, dtype=self.dtype, device=self.device)
        ones = torch.ones(S, T, D, dtype=self.dtype, device=self.device)
        W, b = self._uniform(seeds, [((D, self.n_classes), D), ((self.n_classes,), D)])
        return {
            "gamma": ones.clone().requires_grad_(True),
            "beta": (ones * 0).requires_grad_(True),
            "W": W,
            "b": b,
        }

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
        return h @ p["W"] + p["b"][:, :, None]  # (S, T, B, K): one (B, D) x (D, K) GEMM per pair


class MLPProbe(_Trained):
    """Linear, ReLU, Linear: the posterior probe."""

    def _init(self, S, T, D, seeds):
        H, K = self.hidden, self.n_classes
        W1, b1, W2, b2 = self._uniform(seeds, [((D, H), D), ((H,), D), ((H, K), H), ((K,), H)])
        return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}

    def _forward(self, p, X, train: bool) -> torch.Tensor:
        # (S, T, B, H): X broadcast over the target sets, so each pair's first layer is a GEMM of
        # its own shape (B, D) x (D, H); a T-wide einsum would fold T into the columns
        Xt = X[:, None].expand(-1, p["W1"].shape[1], -1, -1)  # (S, T, B, D)
        h = torch.relu(Xt @ p["W1"] + p["b1"][:, :, None])
        return h @ p["W2"] + p["b2"][:, :, None]  # (S, T, B, K)
