"""Joint probes: one classifier over every (layer, sigma) cell at once (docs/theory.md §10).

- `ConcatProbe`: every cell's standardised features side by side, one ridge probe on the lot: the
  plain baseline.
- `AggregateProbe`: in the spirit of Diffusion Hyperfeatures (Luo et al. 2023), each cell's
  features are projected to a common width and normalised (LayerNorm without affine parameters, so
  no cell can win by scale), mixed with softmax weights over the cells, and read by a linear head.
  The learned weights (`mixing_`, (T, L, S)) say which cells the probe relies on.

Both take `Xs`, a list over layers of (S, n, C_l) feature stacks, and targets Y (T, n), one label
set per (label-noise level, seed); every label set is its own problem, fitted from its own seed,
and `decision_function` returns (T, m, K).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from .base import moments


def _scaled(probe, Xs, stats=None, dtype=torch.float64):
    """Each layer's stack (|.| first under transform 'abs') standardised per (sigma, channel) with
    the fitting data's statistics, unless the probe keeps their scale: ([(S, n, C_l)], stats)."""
    Xs = [torch.as_tensor(np.asarray(X), dtype=dtype, device=probe.device) for X in Xs]
    Xs = [X.abs() for X in Xs] if probe.transform == "abs" else Xs
    if not probe.standardize:
        return Xs, []
    stats = [moments(X) for X in Xs] if stats is None else stats  # (S, 1, C_l) each
    return [(X - m) / s for X, (m, s) in zip(Xs, stats)], stats


class ConcatProbe:
    """Ridge on the concatenation of every (layer, sigma) cell's standardised features."""

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

    def _flat(self, Xs, fit: bool = False) -> torch.Tensor:
        Z, stats = _scaled(self, Xs, None if fit else self.stats_)
        if fit:
            self.stats_ = stats
        return torch.cat([z.permute(1, 0, 2).reshape(z.shape[1], -1) for z in Z], 1)[None]

    def fit(self, Xs, Y, Xs_val=None, Y_val=None, seeds=None) -> ConcatProbe:
        from .ridge import RidgeProbe

        ridge = RidgeProbe(
            self.n_classes, lambdas=self.lambdas, selection=self.selection,
            standardize=False, device=self.device,
        )  # fmt: skip
        X = self._flat(Xs, fit=True)  # (1, n, L * S * C)
        val = self._flat(Xs_val) if Xs_val is not None else None
        self.ridge_ = ridge.fit(X, Y, val, Y_val)
        return self

    def decision_function(self, Xs) -> torch.Tensor:
        return self.ridge_.decision_function(self._flat(Xs))[0]  # (T, m, K)

    def predict(self, Xs) -> torch.Tensor:
        return self.decision_function(Xs).argmax(-1)


class AggregateProbe:
    """Per-cell projection to `width`, LayerNorm, softmax mixing over cells, linear head; Adam on
    minibatches, one problem per label set, each initialised from its own seed."""

    dtype = torch.float32

    def __init__(
        self,
        n_classes: int,
        width: int = 64,
        epochs: int = 50,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        seed: int = 0,
        transform: str = "none",
        standardize: bool = True,
        device: str = "cpu",
    ):
        self.n_classes = n_classes
        self.transform = transform
        self.standardize = standardize
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device

    def fit(self, Xs, Y, Xs_val=None, Y_val=None, seeds=None) -> AggregateProbe:
        """Fit one aggregation per label set t of Y (T, n), seeded by seeds[t]."""
        Z, self.stats_ = _scaled(self, Xs, dtype=self.dtype)
        Y = torch.as_tensor(np.asarray(Y), device=self.device)  # (T, n)
        T, n = Y.shape
        seeds = seeds if seeds is not None else [self.seed + t for t in range(T)]
        self.params_ = [self._fit_one(Z, Y[t], int(seeds[t])) for t in range(T)]
        return self

    def _init(self, Z, seed: int) -> dict:
        """nn.Linear's initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from the seed; uniform
        mixing weights (zero logits)."""
        gen = torch.Generator().manual_seed(seed)

        def uniform(shape, fan_in):
            w = (torch.rand(shape, generator=gen, dtype=self.dtype) * 2 - 1) / math.sqrt(fan_in)
            return w.to(self.device).requires_grad_(True)

        S, W, K = Z[0].shape[0], self.width, self.n_classes
        p = {}
        for i, z in enumerate(Z):
            C = z.shape[-1]
            p[f"P{i}"], p[f"c{i}"] = uniform((S, C, W), C), uniform((S, 1, W), C)
        p["mix"] = torch.zeros(len(Z), S, dtype=self.dtype, device=self.device).requires_grad_(True)
        p["head"], p["bias"] = uniform((W, K), W), uniform((K,), W)
        return p

    def _forward(self, p, Z) -> torch.Tensor:
        w = torch.softmax(p["mix"].reshape(-1), 0).view_as(p["mix"])  # (L, S)
        h = 0
        for i, z in enumerate(Z):
            proj = torch.bmm(z, p[f"P{i}"]) + p[f"c{i}"]  # (S, B, W)
            proj = F.layer_norm(proj, (proj.shape[-1],))  # every cell at one scale
            h = h + (w[i][:, None, None] * proj).sum(0)  # (B, W)
        return h @ p["head"] + p["bias"]  # (B, K)

    def _fit_one(self, Z, y, seed: int) -> dict:
        p = self._init(Z, seed)
        opt = torch.optim.Adam(list(p.values()), lr=self.lr, weight_decay=self.weight_decay)
        order_gen = torch.Generator().manual_seed(seed)
        n = len(y)
        bs = min(self.batch_size, n)
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=order_gen).to(self.device)
            for i in range(0, n, bs):
                idx = order[i : i + bs]
                loss = F.cross_entropy(self._forward(p, [z[:, idx] for z in Z]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return {k: v.detach() for k, v in p.items()}

    @property
    def mixing_(self) -> np.ndarray:
        """The learned mixing weights of each label set: (T, L, S), each summing to 1."""
        return np.stack(
            [torch.softmax(p["mix"].reshape(-1), 0).view_as(p["mix"]).numpy() for p in self.params_]
        )

    def decision_function(self, Xs) -> torch.Tensor:
        Z, _ = _scaled(self, Xs, self.stats_, dtype=self.dtype)
        with torch.no_grad():
            return torch.stack([self._forward(p, Z) for p in self.params_])  # (T, m, K)

    def predict(self, Xs) -> torch.Tensor:
        return self.decision_function(Xs).argmax(-1)
