"""The batched probe contract, shared by every probe kind.

A probe is fitted on a *stack*: S feature sets X (S, n, C) — one per sigma — against T label vectors
Y (T, n) — one per (label-noise level, seed). It learns every (s, t) pair at once and
`decision_function` returns logits (S, T, m, K). `fit(X, Y, X_val, Y_val, seeds)` takes validation
data (for selections that need it) and one seed per pair (for probes with random initialisation);
each pair's answer depends on its own data and seed alone. Constructors only store parameters, `fit`
returns self and learned state ends in `_`, as in scikit-learn. Inputs are standardised with the
fitting data's statistics only.

"Alone" holds to the bit: every matrix product a pair's numbers go through has that pair's own
shape, whatever else is in the stack (`affine`). One einsum over all target sets would fold T into
the GEMM's columns, and a BLAS blocks a GEMM of another shape differently, so a logit would move by
an ulp when a label-noise level or seed is added to the grid.
"""

from __future__ import annotations

import numpy as np
import torch


def as_stack(X, device: str, dtype=torch.float64) -> torch.Tensor:
    X = torch.as_tensor(np.asarray(X), dtype=dtype, device=device)
    return X.reshape(X.shape[0], X.shape[1], -1)  # (S, n, C)


class StackProbe:
    """Base: input transform, standardisation with fit statistics, and predictions from logits."""

    transform: str = "none"
    standardize: bool = True
    device: str = "cpu"
    dtype = torch.float64

    def _prepare(self, X) -> torch.Tensor:
        X = as_stack(X, self.device, self.dtype)
        return X.abs() if self.transform == "abs" else X

    sample_dims: tuple[int, ...] = (1,)  # the dims the statistics run over (and tokens, if any)

    def _fit_scaler(self, X: torch.Tensor) -> torch.Tensor:
        if self.standardize:
            self.mean_, self.scale_ = moments(X, self.sample_dims)  # (S, 1, C)
        else:
            one = X[(slice(None), *(slice(0, 1) for _ in self.sample_dims))]
            self.mean_, self.scale_ = torch.zeros_like(one), torch.ones_like(one)
        return self._scale(X)

    def _scale(self, X: torch.Tensor) -> torch.Tensor:
        if not self.standardize:  # (X - 0) / 1 is X exactly: no copy of a large stack
            return X
        return (X - self.mean_) / self.scale_

    def transform_input(self, X) -> torch.Tensor:
        """Prepared and standardised inputs (S, m, C) for a fitted probe."""
        return self._scale(self._prepare(X))

    def predict(self, X) -> np.ndarray:
        """Class predictions (S, T, m)."""
        return self.decision_function(X).argmax(-1)


def moments(X: torch.Tensor, dims: tuple[int, ...] = (1,)) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, standard deviation) of X over `dims`, kept as singletons; a deviation of ~0 (a
    constant channel) is 1, so standardising leaves that channel at 0."""
    sd = X.std(dims, unbiased=False, keepdim=True)
    return X.mean(dims, keepdim=True), torch.where(sd > 1e-12, sd, torch.ones_like(sd))


def one_hot(Y: torch.Tensor, K: int, dtype) -> torch.Tensor:
    return torch.nn.functional.one_hot(Y, K).to(dtype)  # (T, n, K)


def affine(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """X W_t + b_t for every target set t: X (S, m, D), W (S, T, D, K), b (S, T, K) -> (S, T, m, K).

    One batched GEMM per t, each of shape (m, D) x (D, K) for every s, so a pair's logits are those
    it would have alone: a T-wide einsum folds T into the columns and rounds by the stack's shape.
    """
    return torch.stack([torch.baddbmm(b[:, t, None], X, W[:, t]) for t in range(W.shape[1])], 1)


def probe_bytes(S: int, n: int, n_train: int, C: int, ridge: bool) -> int:
    """One probe task's working set for a layer C wide over S sigmas and n samples (n_train of them
    train): the features read from the store (float32), a float64 working copy of the train rows,
    and for ridge the C x C Gram matrix and its eigenvectors per sigma, which `probes.ridge` forms
    whatever n_train is."""
    return S * n * C * 4 + S * n_train * C * 8 + (2 * S * C * C * 8 if ridge else 0)
