"""Datasets from NumPy .npz files: samples `x`, integer labels `y`, an optional
`x_test`/`y_test`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def npz_header(path: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """Shape and dtype of every array in the file, read from the headers alone.

    Raises ValueError naming the path and what is wrong.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(
            f"npz file not found: {p} (a relative path resolves against the spec's folder)"
        )
    try:
        with zipfile.ZipFile(p) as z:
            out = {}
            for name in z.namelist():
                with z.open(name) as f:
                    version = np.lib.format.read_magic(f)
                    read = HEADER_READERS.get(version)
                    if read is None:
                        raise ValueError(
                            f"array {name} uses .npy format {version}; expected 1.0 or 2.0"
                        )
                    shape, _, dtype = read(f)
                out[name.removesuffix(".npy")] = (tuple(shape), str(dtype))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise ValueError(
            f"{p} is not a readable .npz file ({e}); write it with numpy.savez"
        ) from None
    return out


def check_arrays(p: str, out: dict, x: str, y: str) -> None:
    """Raise ValueError unless `x` is (N, ...) samples and `y` (N,) integer labels."""
    for key in (x, y):
        if key not in out:
            raise ValueError(f"{p} has no array {key!r}; it has {sorted(out)}")
    (nx, *_), (ny, *rest) = out[x][0] or (0,), out[y][0] or (0,)
    if rest or out[y][0] == () or nx != ny:
        raise ValueError(
            f"{p}: {y!r} must be one label per sample of {x!r}: shapes {out[x][0]} and {out[y][0]}"
        )
    if len(out[x][0]) < 2:
        raise ValueError(f"{p}: {x!r} has shape {out[x][0]}; expected (N, features...) samples")
    if not np.issubdtype(np.dtype(out[y][1]), np.integer):
        raise ValueError(f"{p}: labels {y!r} have dtype {out[y][1]}; expected integers")


def npz_shape(path: str, x: str, y: str) -> tuple[int, ...]:
    """The per-sample shape of array `x`, after checking the file's headers; ValueError says what
    is wrong."""
    header = npz_header(path)
    check_arrays(path, header, x, y)
    return tuple(header[x][0][1:])


def _scaled(x: np.ndarray) -> np.ndarray:
    """uint8 images -> [-1, 1]; floats unchanged (float32)."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 127.5 - 1
    return x.astype(np.float32)


def npz(path: str, x: str, y: str, test_fraction: float, seed: int, masks: str | None = None):
    """Samples, labels (train first, then test), the number of train samples, the class names and
    the masks (None without `masks`), split alike."""
    with np.load(path, allow_pickle=False) as f:
        xs, ys = _scaled(f[x]), f[y].astype(np.int64)
        ms = f[masks] if masks else None
        test = (f[f"{x}_test"], f[f"{y}_test"]) if f"{x}_test" in f and f"{y}_test" in f else None
        ms_test = f[f"{masks}_test"] if masks and test is not None else None
    if test is not None:
        x_tr, y_tr, x_te, y_te = xs, ys, _scaled(test[0]), test[1].astype(np.int64)
        m_tr, m_te = ms, ms_test
    else:
        from sklearn.model_selection import train_test_split

        idx = np.arange(len(ys))
        tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=ys)
        tr, te = np.sort(tr), np.sort(te)
        x_tr, y_tr, x_te, y_te = xs[tr], ys[tr], xs[te], ys[te]
        m_tr, m_te = (ms[tr], ms[te]) if ms is not None else (None, None)
    labels = np.unique(np.concatenate([y_tr, y_te]))
    if labels.min() < 0:
        raise ValueError(f"{path}: labels must be 0..K-1; found {labels.min()}")
    K = int(labels.max()) + 1
    return (
        np.concatenate([x_tr, x_te]),
        np.concatenate([y_tr, y_te]),
        len(y_tr),
        [str(k) for k in range(K)],
        np.concatenate([m_tr, m_te]).astype(np.int64) if ms is not None else None,
    )


def check_masks(path: str, header: dict, x: str, masks: str, n_classes: int, ignore: int) -> None:
    """Raise ValueError unless `masks` (and `<masks>_test` beside `<x>_test`) hold one integer
    mask per image, of the image's height and width, with values 0..n_classes-1 or `ignore`."""
    pairs = [(x, masks)] + [(f"{x}_test", f"{masks}_test")] * (f"{x}_test" in header)
    for xs, ms in pairs:
        if ms not in header:
            raise ValueError(
                f"{path} has no array {ms!r} (masks of {xs!r}); it has {sorted(header)}"
            )
        (shape, dtype), image = header[ms], header[xs][0]
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise ValueError(f"{path}: masks {ms!r} have dtype {dtype}; expected integers")
        if len(shape) != 3 or shape[0] != image[0] or tuple(shape[1:]) != tuple(image[-2:]):
            raise ValueError(
                f"{path}: masks {ms!r} have shape {shape}; expected one (H, W) mask per image of "
                f"{xs!r} {image}: ({image[0]}, {image[-2]}, {image[-1]})"
            )
        with np.load(path, allow_pickle=False) as f:
            values = np.unique(f[ms])
        bad = values[(values != ignore) & ((values < 0) | (values >= n_classes))]
        if len(bad):
            raise ValueError(
                f"{path}: masks {ms!r} hold class {int(bad[0])}, outside 0..{n_classes - 1} of "
                f"mask_classes (and {ignore}, the ignore_index); fix mask_classes or ignore_index"
            )
