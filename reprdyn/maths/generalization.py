"""Generalisation vs memorisation (appendix A.2): the share of generated samples that are not
copies.

Following Zhang et al. 2023 (and Yoon et al. 2023), a generated sample x is a
near-copy of the training set when its nearest training sample is much nearer
than the second nearest: d1(x) / d2(x) < threshold (1/3 by default).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 1 / 3


def nn_ratio(generated: np.ndarray, train: np.ndarray, batch: int = 1024) -> np.ndarray:
    """d1 / d2 for each generated sample: its two nearest training samples in L2 (on flattened
    samples)."""
    import torch

    G = torch.as_tensor(np.asarray(generated, np.float64).reshape(len(generated), -1))
    X = torch.as_tensor(np.asarray(train, np.float64).reshape(len(train), -1))
    if len(X) < 2:
        raise ValueError("the nearest-neighbour ratio needs at least two training samples")
    out = []
    for i in range(0, len(G), batch):
        d = torch.cdist(G[i : i + batch], X)  # (b, n_train)
        two = d.topk(2, largest=False).values  # (b, 2): d1 <= d2
        out.append((two[:, 0] / two[:, 1].clamp_min(1e-12)).numpy())
    return np.concatenate(out)


def nearest_distance(samples: np.ndarray, train: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Each sample's L2 distance to its nearest training sample (flattened)."""
    import torch

    G = torch.as_tensor(np.asarray(samples, np.float64).reshape(len(samples), -1))
    X = torch.as_tensor(np.asarray(train, np.float64).reshape(len(train), -1))
    return np.concatenate(
        [torch.cdist(G[i : i + batch], X).min(1).values.numpy() for i in range(0, len(G), batch)]
    )


def sample_distance_ratio(generated: np.ndarray, train: np.ndarray, held_out: np.ndarray) -> float:
    """How far generated samples lie from the training set, against real samples the model never
    saw: median nearest-training distance of the generated samples over that of held-out ones.

    About 1 or below: samples lie among the data as real ones do. Far above 1: the model has not
    learned the data, and a high generalisation score says only that its samples copy nothing
    (noise is never a copy)."""
    return float(
        np.median(nearest_distance(generated, train))
        / max(np.median(nearest_distance(held_out, train)), 1e-300)
    )


UNLEARNED = 2.0  # sample_distance_ratio above this: the generalisation score is flagged


def generalization_score(
    generated: np.ndarray, train: np.ndarray, threshold: float = THRESHOLD
) -> float:
    """Share of generated samples whose NN distance ratio is at least `threshold` (not
    near-copies)."""
    return float((nn_ratio(generated, train) >= threshold).mean())
