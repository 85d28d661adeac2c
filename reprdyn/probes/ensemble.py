"""Selection on validation data and soft-voting ensembles across sigmas (docs/theory.md §6).

Selection functions take validation accuracies only, so test labels cannot reach them; `evaluate` is
the one place that sees test labels.
"""

from __future__ import annotations

import numpy as np


def ensemble_members(best: int, k: int, n: int) -> np.ndarray:
    """Grid indices best-k .. best+k, clipped at the ends of the grid."""
    return np.arange(max(0, best - k), min(n, best + k + 1))


def select(
    val_acc: np.ndarray, strategy: str = "neighbours", k: int = 2, m: int = 3
) -> tuple[int, np.ndarray]:
    """Best grid index (highest validation accuracy, lowest sigma on ties) and the ensemble members.

    strategies: `neighbours` (best and k grid points each side), `all` (every
    sigma), `top` (the m best by validation accuracy).
    """
    best = int(np.argmax(val_acc))
    S = len(val_acc)
    if strategy == "neighbours":
        return best, ensemble_members(best, k, S)
    if strategy == "all":
        return best, np.arange(S)
    if strategy == "top":
        return best, np.sort(np.argsort(-val_acc, kind="stable")[: min(m, S)])
    raise ValueError(
        f"unknown ensemble strategy {strategy!r}; expected one of ['all', 'neighbours', 'top']"
    )


def soft_vote(logits: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Average the members' logits (S, N, K) -> (N, K): soft voting."""
    return logits[members].mean(0)


def accuracy(pred: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[float, np.ndarray]:
    """Overall accuracy and per-class accuracy (NaN for a class with no samples)."""
    hit = pred == y
    per = np.array([hit[y == k].mean() if (y == k).any() else np.nan for k in range(n_classes)])
    return float(hit.mean()), per
