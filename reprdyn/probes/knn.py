"""Weighted k-nearest-neighbour classifier on cosine similarity, DINO's protocol (Caron et al.
2021, its `knn_classifier`): the k training samples most similar to a test sample vote for their
labels with weight exp(similarity / temperature).

Every (feature set, target set) pair is fitted at once: the neighbours depend on a feature set
alone, so they are found once per sigma and shared by every label-noise level and seed, whose
labels then vote. Test rows go through in blocks of `BLOCK`, padded to that size, so every
similarity is computed by a GEMM of one shape and a sample's neighbours never depend on how many
others are scored with it; ties go to the lower training index.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import StackProbe

BLOCK = 256  # test rows per similarity block: the same blocks whatever the test set's size


class KNNProbe(StackProbe):
    """Cosine k-NN with exp(sim / temperature) weights; `decision_function` returns each class's
    share of the weighted vote (S, T, m, K), so soft voting across sigmas averages vote shares."""

    dtype = torch.float32

    def __init__(
        self,
        n_classes: int,
        k: int = 20,
        temperature: float = 0.07,
        transform: str = "none",
        standardize: bool = False,
        device: str = "cpu",
    ):
        self.n_classes = n_classes
        self.k = k
        self.temperature = temperature
        self.transform = transform
        self.standardize = standardize
        self.device = device

    def fit(self, X, Y, X_val=None, Y_val=None, seeds=None) -> KNNProbe:
        """Store the normalised training features (S, n, C) and labels (T, n); nothing to learn."""
        X = self._fit_scaler(self._prepare(X))
        self.train_ = torch.nn.functional.normalize(X, dim=-1)  # (S, n, C)
        self.labels_ = torch.as_tensor(np.asarray(Y), dtype=torch.long, device=self.device)
        return self

    def neighbours(self, X) -> tuple[torch.Tensor, torch.Tensor]:
        """The k most similar training samples of each row: (similarity, index), each (S, m, k),
        most similar first, the lower index first on ties."""
        Q = torch.nn.functional.normalize(self.transform_input(X), dim=-1)  # (S, m, C)
        k = min(self.k, self.train_.shape[1])
        sims, idx = [], []
        for start in range(0, Q.shape[1], BLOCK):
            block = Q[:, start : start + BLOCK]  # (S, b, C), padded to BLOCK rows: one GEMM shape
            b = block.shape[1]
            block = torch.nn.functional.pad(block, (0, 0, 0, BLOCK - b))
            sim = torch.bmm(block, self.train_.transpose(1, 2))[:, :b]  # (S, b, n)
            order = torch.sort(sim, dim=-1, descending=True, stable=True)
            sims.append(order.values[..., :k])
            idx.append(order.indices[..., :k])
        return torch.cat(sims, 1), torch.cat(idx, 1)

    def decision_function(self, X) -> torch.Tensor:
        """Each class's share of the weighted vote: (S, T, m, K)."""
        sim, idx = self.neighbours(X)  # (S, m, k)
        weight = torch.exp(sim.double() / self.temperature)  # (S, m, k)
        S, m, k = idx.shape
        T, K = self.labels_.shape[0], self.n_classes
        votes = torch.zeros(S, T, m, K, dtype=torch.float64, device=self.device)
        for t in range(T):
            label = self.labels_[t][idx]  # (S, m, k)
            votes[:, t].scatter_add_(-1, label, weight)
        return votes / votes.sum(-1, keepdim=True)
