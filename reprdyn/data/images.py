"""Image datasets: Hugging Face `datasets` (hub, imagefolder, parquet) and torchvision, with one
transform.

Labels are read first and the subset is chosen from them, so only the images
that are used are decoded. Images become (C, H, W) float32 in the model's range.
"""

from __future__ import annotations

import inspect
import io
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..spec.hub import looks_local


class DataUnavailable(InputError):
    """A dataset that cannot be found or read; the message says where reprdyn looked and what to
    do."""


# --- transform and subsets --------------------------------------------------------


def to_array(img, t) -> np.ndarray:
    """PIL image (or array, or encoded bytes) -> (C, crop, crop) float32 in t.range (the spec's
    Transform)."""
    from PIL import Image

    if isinstance(img, dict) and img.get("bytes") is not None:  # an undecoded parquet image
        img = Image.open(io.BytesIO(img["bytes"]))
    elif isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    img = img.convert("RGB" if t.channels == 3 else "L")
    w, h = img.size
    scale = t.size / min(w, h)  # the shorter side becomes `size`
    img = img.resize((max(t.size, round(w * scale)), max(t.size, round(h * scale))), Image.BICUBIC)
    crop = t.crop or t.size
    left, top = (img.size[0] - crop) // 2, (img.size[1] - crop) // 2
    img = img.crop((left, top, left + crop, top + crop))
    x = np.asarray(img, dtype=np.float32) / 255.0  # (H, W) or (H, W, C) in [0, 1]
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)  # (C, H, W)
    lo, hi = t.range
    return lo + (hi - lo) * x


def to_mask(img, t, what: str) -> np.ndarray:
    """A mask image (palette, grey or integer; a path; encoded bytes) -> (crop, crop) int64 class
    indices, resized and cropped as its image is by `to_array` but with nearest neighbours."""
    from PIL import Image

    if isinstance(img, dict):  # an undecoded image: bytes or a path
        img = img.get("bytes") and io.BytesIO(img["bytes"]) or img["path"]
    if isinstance(img, (str, Path, io.BytesIO)):
        img = Image.open(img)
    elif isinstance(img, (np.ndarray, list)):  # an array column: class indices already
        arr = np.asarray(img)
        img = Image.fromarray(arr.astype(np.uint8 if arr.max(initial=0) < 256 else np.int32))
    if img.mode not in ("L", "P", "I", "I;16"):
        raise DataUnavailable(
            f"{what} is a {img.mode} image; a mask holds one class index per pixel (a grey, "
            "palette or integer PNG), not colours"
        )
    w, h = img.size
    scale = t.size / min(w, h)
    img = img.resize((max(t.size, round(w * scale)), max(t.size, round(h * scale))), Image.NEAREST)
    crop = t.crop or t.size
    left, top = (img.size[0] - crop) // 2, (img.size[1] - crop) // 2
    return np.asarray(img.crop((left, top, left + crop, top + crop)), dtype=np.int64)


def subset(
    labels: np.ndarray, n: int | None, per_class: bool, rng: np.random.Generator
) -> np.ndarray:
    """Sorted indices of a seeded random subset: n in all, or n of each class."""
    if n is None:
        return np.arange(len(labels))
    if per_class:
        picks = [rng.permutation(np.flatnonzero(labels == k))[:n] for k in np.unique(labels)]
        return np.sort(np.concatenate(picks))
    return np.sort(rng.permutation(len(labels))[:n])


def _assembled(xs: list[np.ndarray], ys: list[np.ndarray], names) -> tuple:
    """(images, labels, n_train, class names) of train and test; class names default to 0..K-1."""
    K = int(max(y.max(initial=-1) for y in ys)) + 1
    return np.concatenate(xs), np.concatenate(ys), len(ys[0]), list(names or map(str, range(K)))


def _stack(images, t) -> np.ndarray:
    return (
        np.stack([to_array(img, t) for img in images])
        if len(images)
        else np.zeros((0, *t.shape), np.float32)
    )


# --- Hugging Face datasets ----------------------------------------------------------


def _hf_cache() -> str:
    try:
        import datasets

        return str(datasets.config.HF_DATASETS_CACHE)
    except Exception:  # noqa: BLE001 - only for the message
        return os.path.expanduser("~/.cache/huggingface/datasets")


def _local_format(folder: Path) -> str:
    return "parquet" if any(folder.rglob("*.parquet")) else "imagefolder"


def load_hf(cfg) -> dict:
    """{split name: datasets.Dataset} for the train and test splits of an `hf` spec block."""
    try:
        import datasets
    except ImportError:
        raise DataUnavailable(
            "dataset kind 'hf' needs the `datasets` package: pip install 'reprdyn[hf]'"
        ) from None
    args, kwargs, where = _hf_source(cfg)
    if "trust_remote_code" in inspect.signature(datasets.load_dataset).parameters:
        # never run a hub dataset's loading script (datasets < 4 can)
        kwargs["trust_remote_code"] = False
    try:
        ds = datasets.load_dataset(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - offline, missing, malformed: one clear message
        raise _unavailable(cfg, where, e) from None
    _check_splits_and_columns(cfg, ds, where)
    return {"train": ds[cfg.train_split], "test": ds[cfg.test_split]}


def _hf_source(cfg) -> tuple[tuple, dict, str]:
    """(load_dataset's args, its kwargs, the source in words): a local folder or a hub id."""
    folder = Path(cfg.path)
    if folder.is_dir():
        fmt = _local_format(folder)
        kind = f"local {fmt}" if fmt == "imagefolder" else "local parquet folder"
        return (fmt,), {"data_dir": str(folder)}, f"{kind} {folder}"
    if looks_local(cfg.path):
        raise DataUnavailable(
            f"dataset folder {cfg.path} does not exist (a relative path resolves against the "
            "spec's folder)"
        )
    return (cfg.path, cfg.config), {"revision": cfg.revision}, f"hub dataset {cfg.path!r}"


def _unavailable(cfg, where: str, e: Exception) -> DataUnavailable:
    """What to do when `datasets` cannot load the source."""
    if Path(cfg.path).is_dir():
        return DataUnavailable(
            f"cannot read the {where}: {e}. An imagefolder holds train/<class>/*.png and "
            "test/<class>/*.png; a parquet folder holds *.parquet files with "
            f"{cfg.image_column!r} and {cfg.label_column!r} columns"
        )
    return DataUnavailable(
        f"dataset {cfg.path!r} is not available offline ({type(e).__name__}: "
        f"{str(e).splitlines()[0][:200]}); looked in the Hugging Face datasets cache "
        f"{_hf_cache()}. Download it once on a machine with a network "
        f"(datasets.load_dataset({cfg.path!r})) and copy that cache, or point `path:` at a "
        "local imagefolder or parquet folder"
    )


def _check_splits_and_columns(cfg, ds, where: str) -> None:
    for split in (cfg.train_split, cfg.test_split):
        if split not in ds:
            raise DataUnavailable(
                f"the {where} has no split {split!r}; it has {sorted(ds)} (set train_split / "
                "test_split)"
            )
    for field_name in ("image_column", "label_column", "mask_column"):
        col = getattr(cfg, field_name)
        if col is not None and col not in ds[cfg.train_split].column_names:
            raise DataUnavailable(
                f"dataset {cfg.name!r}, {field_name}: the {where} has no column {col!r}; it has "
                f"{ds[cfg.train_split].column_names}",
                at=("datasets", cfg.name, field_name),
            )


def hf_images(cfg, seed: int):
    """Images (N, C, H, W), labels (train first, then test), n_train, class names, and masks
    (N, H, W) or None; a dataset without labels (label_column: null) has one class."""
    splits = load_hf(cfg)
    feature = splits["train"].features[cfg.label_column] if cfg.label_column else None
    rng = np.random.default_rng([seed, 0x4846])  # "HF": the subset stream
    xs, ys, ms = [], [], []
    for part, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        ds = splits[part]
        labels = (
            np.asarray(ds[cfg.label_column], dtype=np.int64)
            if cfg.label_column
            else np.zeros(len(ds), np.int64)
        )
        idx = subset(labels, n, cfg.per_class, rng)
        chosen = ds.select(idx.tolist())
        xs.append(_stack(chosen[cfg.image_column], cfg.transform))
        ys.append(labels[idx])
        if cfg.has_masks:
            ms.append(_masks(cfg, chosen, xs[-1].shape[0]))
    names = getattr(feature, "names", None) if feature is not None else ["image"]
    return (*_assembled(xs, ys, names), np.concatenate(ms) if ms else None)


def _masks(cfg, chosen, n: int) -> np.ndarray:
    """The masks of the chosen rows, checked against their images and mask_classes: (n, H, W); a
    problem is reported at the spec field that names the masks."""
    try:
        return _read_masks(cfg, chosen, n)
    except DataUnavailable as e:
        field = "mask_column" if cfg.mask_column is not None else "mask_folder"
        raise DataUnavailable(str(e), at=("datasets", cfg.name, field)) from None


def _read_masks(cfg, chosen, n: int) -> np.ndarray:
    import datasets

    def undecoded(col: str) -> list:  # paths or bytes: a mask's own pixels, never converted
        if isinstance(chosen.features[col], datasets.Image):
            return chosen.cast_column(col, datasets.Image(decode=False))[col]
        return chosen[col]

    raw = undecoded(cfg.image_column)
    if cfg.mask_column is not None:
        where = f"dataset {cfg.name!r}, mask_column {cfg.mask_column!r}"
        sources = [(m, f"{where}, row {i}") for i, m in enumerate(undecoded(cfg.mask_column))]
    else:
        sources = [_mask_file(cfg, r) for r in raw]
    n_classes = cfg.mask_classes if isinstance(cfg.mask_classes, int) else len(cfg.mask_classes)
    out = []
    for (src, what), image in zip(sources, raw):
        mask = to_mask(src, cfg.transform, what)
        _check_mask_size(src, image, what)
        bad = np.unique(mask[(mask != cfg.ignore_index) & ((mask < 0) | (mask >= n_classes))])
        if len(bad):
            raise DataUnavailable(
                f"{what} holds class {int(bad[0])}, outside 0..{n_classes - 1} of mask_classes "
                f"(and {cfg.ignore_index}, the ignore_index); fix mask_classes or ignore_index"
            )
        out.append(mask)
    return np.stack(out) if out else np.zeros((n, *cfg.transform.shape[1:]), np.int64)


def _mask_file(cfg, image: dict) -> tuple[str, str]:
    """(path, description) of an imagefolder image's mask: the same relative path under
    mask_folder, as a .png."""
    path = Path(image["path"])
    try:
        rel = path.relative_to(Path(cfg.path).resolve())
    except ValueError:
        rel = path.relative_to(Path(cfg.path))
    mask = Path(cfg.mask_folder) / rel.with_suffix(".png")
    what = f"dataset {cfg.name!r}, mask_folder: mask {mask} of image {path}"
    if not mask.is_file():
        raise DataUnavailable(f"{what} does not exist; every image needs its mask there")
    return str(mask), what


def _check_mask_size(mask, image, what: str) -> None:
    """A mask covers its image pixel for pixel (before both are resized and cropped alike)."""
    from PIL import Image

    def size(src):
        if isinstance(src, dict):
            src = src.get("bytes") and io.BytesIO(src["bytes"]) or src["path"]
        return Image.open(src).size if isinstance(src, (str, Path, io.BytesIO)) else None

    a, b = size(mask), size(image)
    if a is not None and b is not None and a != b:
        raise DataUnavailable(
            f"{what} is {a[0]}x{a[1]} pixels, its image {b[0]}x{b[1]}; they must match"
        )


# --- torchvision ---------------------------------------------------------------


def _torchvision():
    try:
        import torchvision
    except Exception as e:  # noqa: BLE001 - a mismatched build raises more than ImportError
        raise DataUnavailable(
            "dataset kind 'torchvision' needs torchvision built for torch (pip install "
            f"'reprdyn[torchvision]'); importing it failed: {e}"
        ) from None
    return torchvision


def _tv_split(tv, cfg, train: bool):
    root, name = Path(cfg.root), cfg.dataset
    try:
        if name in ("CIFAR10", "CIFAR100"):
            return getattr(tv.datasets, name)(str(root), train=train, download=cfg.download)
        if name in ("Flowers102", "DTD"):
            return getattr(tv.datasets, name)(
                str(root), split="train" if train else "test", download=cfg.download
            )
        folder = root / ("train" if train else "test")
        if not folder.is_dir():
            raise DataUnavailable(
                f"ImageFolder root {root} has no {folder.name}/ subfolder; it needs "
                "train/<class>/*.png and test/<class>/*.png"
            )
        return tv.datasets.ImageFolder(str(folder))
    except (RuntimeError, FileNotFoundError) as e:
        raise DataUnavailable(
            f"torchvision {name} not found under {root} ({e}); set `download: true` on a machine "
            "with a network, or copy the files there"
        ) from None


def _tv_labels(ds) -> np.ndarray:
    for attr in ("targets", "_labels"):
        if hasattr(ds, attr):
            return np.asarray(getattr(ds, attr), dtype=np.int64)
    return np.asarray([ds[i][1] for i in range(len(ds))], dtype=np.int64)


def torchvision_images(cfg, seed: int):
    """Images (N, C, H, W), labels (train first, then test), n_train and class names."""
    tv = _torchvision()
    rng = np.random.default_rng([seed, 0x5456])  # "TV": the subset stream
    xs, ys, classes = [], [], None
    for train, n in ((True, cfg.n_train), (False, cfg.n_test)):
        ds = _tv_split(tv, cfg, train)
        labels = _tv_labels(ds)
        idx = subset(labels, n, cfg.per_class, rng)
        xs.append(_stack([ds[int(i)][0] for i in idx], cfg.transform))
        ys.append(labels[idx])
        classes = classes or getattr(ds, "classes", None)
    return _assembled(xs, ys, classes)
