"""Label noise (docs/theory.md §6, Tables 1-2): exact-count corruption of training labels."""

from __future__ import annotations

import numpy as np


def corrupt_labels(
    y: np.ndarray, p: float, n_classes: int, rng: np.random.Generator, kind: str = "uniform"
) -> np.ndarray:
    """Move exactly round(p * n) labels, chosen at random, to another class.

    `uniform`: a uniformly random *other* class. `pair`: class k -> k+1 (mod K),
    the pair-flip noise of Han et al. 2018. A moved label never stays in its class.
    """
    y = np.asarray(y)
    m = int(round(p * len(y)))
    out = y.copy()
    if m == 0:
        return out
    idx = rng.choice(len(y), size=m, replace=False)
    if kind == "uniform":
        shift = rng.integers(1, n_classes, size=m)  # 1..K-1, so the class always changes
    elif kind == "pair":
        shift = np.ones(m, dtype=np.int64)
    else:
        raise ValueError(f"unknown label-noise kind {kind!r}; expected one of ['pair', 'uniform']")
    out[idx] = (y[idx] + shift) % n_classes
    return out
