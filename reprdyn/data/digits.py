"""scikit-learn's bundled 8x8 handwritten digits: real images that need no download."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def digits(size: int, test_fraction: float, seed: int):
    """Images (N, 1, size, size) in [-1, 1], labels, and a stratified split (train first, then
    test)."""
    raw = load_digits()
    x = raw.images.astype(np.float32) / 16.0 * 2 - 1  # (N, 8, 8), [0, 16] -> [-1, 1]
    x = x[:, None]  # (N, 1, 8, 8)
    if size != 8:
        x = (
            torch.nn.functional.interpolate(
                torch.from_numpy(x), size=(size, size), mode="bilinear", align_corners=False
            )
            .clamp(-1, 1)
            .numpy()
        )
    idx = np.arange(len(x))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=raw.target)
    order = np.concatenate([np.sort(tr), np.sort(te)])
    return x[order], raw.target[order].astype(np.int64), len(tr)
