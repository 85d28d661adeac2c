"""Data stage: dataset builders chosen by `kind` from an explicit table.

Builders import what they need when called (the package imports numpy only).
Every builder returns a `Data`: train and test samples stacked on one sample
axis with a `split` label, integer class labels, class names, and extra
arrays (such as MoLRG's ground-truth bases) that the store keeps.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import lookup


@dataclass
class Data:
    x: np.ndarray  # (N, *shape) clean samples x0
    y: np.ndarray  # (N,) int class labels
    split: np.ndarray  # (N,) "train" | "test"
    classes: list[str]
    # name -> (dims, values)
    extras: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict)
    meta: dict[str, float | int | str] = field(default_factory=dict)  # stored as group attributes

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def train(self) -> Data:
        """The train split alone."""
        m = self.split == "train"
        return Data(self.x[m], self.y[m], self.split[m], self.classes, self.extras, self.meta)

    def fingerprint(self) -> str:
        """Content hash of the samples and labels (part of a checkpoint's cache key)."""
        h = hashlib.sha256(np.ascontiguousarray(self.x).tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
        return h.hexdigest()[:16]


def _build_molrg(cfg, seed: int) -> Data:
    from .molrg import molrg_bases, molrg_sample

    rng = np.random.default_rng([seed, 0x4D6F4C52])  # "MoLR": data stream of this seed
    U = molrg_bases(cfg.n, cfg.K, cfg.d, rng)  # (K, n, d)
    x_tr, y_tr = molrg_sample(U, cfg.delta, cfg.n_train, rng)
    x_te, y_te = molrg_sample(U, cfg.delta, cfg.n_test, rng)
    return Data(
        x=np.concatenate([x_tr, x_te]),
        y=np.concatenate([y_tr, y_te]),
        split=np.array(["train"] * cfg.n_train + ["test"] * cfg.n_test, dtype=object),
        classes=[str(k) for k in range(cfg.K)],
        extras={"U": (("class", "ambient", "basis"), U)},
        meta={"n": cfg.n, "K": cfg.K, "d": cfg.d, "delta": cfg.delta, "seed": seed},
    )


def _split(x: np.ndarray, y: np.ndarray, n_train: int, classes: list[str], meta: dict) -> Data:
    """A Data from samples stored train first, then test."""
    split = np.array(["train"] * n_train + ["test"] * (len(y) - n_train), dtype=object)
    return Data(x=x, y=y, split=split, classes=classes, meta=meta)


def _build_digits(cfg, seed: int) -> Data:
    from .digits import digits

    x, y, n_train = digits(cfg.size, cfg.test_fraction, seed)
    return _split(x, y, n_train, [str(k) for k in range(10)], {"size": cfg.size, "seed": seed})


def _build_npz(cfg, seed: int) -> Data:
    from .npz import npz

    return _split(
        *npz(cfg.path, cfg.x, cfg.y, cfg.test_fraction, seed), {"path": cfg.path, "seed": seed}
    )


def _build_hf(cfg, seed: int) -> Data:
    from .images import hf_images

    return _split(*hf_images(cfg, seed), {"source": cfg.path, "seed": seed})


def _build_torchvision(cfg, seed: int) -> Data:
    from .images import torchvision_images

    return _split(
        *torchvision_images(cfg, seed), {"source": f"{cfg.dataset} in {cfg.root}", "seed": seed}
    )


BUILDERS = {
    "molrg": _build_molrg,
    "digits": _build_digits,
    "npz": _build_npz,
    "hf": _build_hf,
    "torchvision": _build_torchvision,
}


def build_dataset(cfg, spec_seed: int) -> Data:
    """Build the dataset described by `cfg` (a spec dataset entry)."""
    seed = cfg.seed if getattr(cfg, "seed", None) is not None else spec_seed
    return lookup(BUILDERS, cfg.kind, "dataset kind")(cfg, seed)
