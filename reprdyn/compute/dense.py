"""Dense features for segmentation: per-pixel features of named layer sets, streamed, never whole.

As in Baranchuk et al. 2022, the maps of a set's layers are upsampled (bilinear) to the mask's size
and concatenated along channels, so every pixel gets one feature vector. Holding those vectors for
every pixel of every image is what runs other tools out of memory; here one forward pass per aligned
block of images gives the layers' maps at their own resolution, and `pixel_slices` then hands out
the block's pixels a slice at a time (a group of whole images, or a few rows of one image),
upsampling only those rows. A slice holds about PIXEL_BYTES whatever the dataset size, and how
images are grouped and rows sliced depends on the image size and channel count alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..spec.kinds import FORWARD_ROWS
from .extract import Pass, blocks

PIXEL_BYTES = 64 << 20  # float64 bytes of one slice of pixel features


def iter_maps(net: nn.Module, x0: np.ndarray, index: np.ndarray, layers: list[str], how: Pass):
    """Yield (sample indices, {layer: (B, C, h, w) float32 map}) for blocks of `how.rows` of the
    samples `index` (in that order): `extract.blocks` reading maps, the noise of sample i the same
    as in the pooled features."""
    yield from blocks(net, x0, layers, replace(how, pool=False), index)


def slicing(H: int, W: int, C: int) -> tuple[int, int]:
    """(images per group, rows per slice): whole images in groups of a power of two dividing
    FORWARD_ROWS while they fit in PIXEL_BYTES, else single images a few rows at a time."""
    per_image = H * W * C * 8
    g = FORWARD_ROWS
    while g > 1 and g * per_image > PIXEL_BYTES:
        g //= 2
    if g * per_image <= PIXEL_BYTES:
        return g, H
    return 1, max(1, min(H, PIXEL_BYTES // (W * C * 8)))


def pixel_slices(
    maps: list[torch.Tensor], size: tuple[int, int]
) -> Iterator[tuple[int, int, int, int, torch.Tensor]]:
    """Yield (first image, end image, first row, end row, X) over a block's maps (each (B, C_i,
    h_i, w_i)): X is (g, rows, W, sum C_i), the pixels of those images and rows, every map
    upsampled to `size` (H, W) and concatenated."""
    H, W = size
    B, C = maps[0].shape[0], sum(m.shape[1] for m in maps)
    g, step = slicing(H, W, C)
    for a in range(0, B, g):
        part = [m[a : a + g] for m in maps]
        for r in range(0, H, step):
            cols = [upsample_rows(m, size, r, min(r + step, H)) for m in part]  # (g, C_i, rows, W)
            X = torch.cat(cols, 1).permute(0, 2, 3, 1)  # (g, rows, W, C)
            yield a, a + part[0].shape[0], r, min(r + step, H), X


def _source_index(n_out: int, n_in: int, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    """(low, high, weight of high) source positions of outputs start..stop-1 for bilinear resizing
    n_in -> n_out with align_corners=False, exactly as torch.nn.functional.interpolate computes
    them."""
    scale = n_in / n_out
    src = ((torch.arange(start, stop, dtype=torch.float64) + 0.5) * scale - 0.5).clamp(min=0)
    lo = src.floor().long().clamp(max=n_in - 1)
    hi = (lo + 1).clamp(max=n_in - 1)
    return lo, hi, (src - lo).float()


def upsample_rows(m: torch.Tensor, size: tuple[int, int], start: int, stop: int) -> torch.Tensor:
    """Rows start..stop-1 of `m` (B, C, h, w) resized bilinearly to `size` (H, W): (B, C, rows, W).

    Equal to F.interpolate(m, size, mode="bilinear", align_corners=False)[:, :, start:stop], without
    ever holding the whole upsampled map, so large images stream in slices of rows.
    """
    (H, W), (h, w) = size, m.shape[-2:]
    y0, y1, wy = (t.to(m.device) for t in _source_index(H, h, start, stop))
    x0, x1, wx = (t.to(m.device) for t in _source_index(W, w, 0, W))
    top, bottom = m[:, :, y0], m[:, :, y1]  # (B, C, rows, w)
    rows = top + (bottom - top) * wy[:, None]
    left, right = rows[..., x0], rows[..., x1]  # (B, C, rows, W)
    return left + (right - left) * wx


def sample_pixels(
    mask: np.ndarray, n: int, ignore: int, balanced: bool, rng: np.random.Generator
) -> np.ndarray:
    """Sorted flat positions of up to `n` pixels of one mask (H, W), never `ignore` ones; with
    `balanced`, each class present gets an equal share (a small class gives all it has)."""
    flat = mask.reshape(-1)
    ok = np.flatnonzero(flat != ignore)
    if len(ok) <= n:
        return ok
    if not balanced:
        return np.sort(rng.choice(ok, size=n, replace=False))
    groups = [ok[flat[ok] == k] for k in np.unique(flat[ok])]
    groups.sort(key=len)
    picks, left = [], n
    for i, grp in enumerate(groups):  # smallest first: what a small class cannot give goes on
        share = left // (len(groups) - i)
        take = min(share, len(grp))
        picks.append(rng.choice(grp, size=take, replace=False))
        left -= take
    return np.sort(np.concatenate(picks))
