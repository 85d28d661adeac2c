"""Dense features: row-sliced bilinear upsampling equals F.interpolate, slices cover every pixel
once, and pixel sampling is seeded, balanced and never picks an ignored pixel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from reprdyn.compute import dense
from reprdyn.compute.extract import NoiseStream


@pytest.mark.parametrize("small, big", [((4, 4), (16, 16)), ((3, 5), (16, 12)), ((8, 8), (8, 8))])
def test_upsample_rows_is_interpolate_a_slice_at_a_time(small, big):
    m = torch.randn(2, 3, *small, generator=torch.Generator().manual_seed(0))
    full = F.interpolate(m, big, mode="bilinear", align_corners=False)
    for start, stop in ((0, big[0]), (0, 1), (3, 7), (big[0] - 1, big[0])):
        torch.testing.assert_close(
            dense.upsample_rows(m, big, start, stop), full[:, :, start:stop], atol=1e-6, rtol=0
        )


def test_pixel_slices_cover_every_pixel_once_whatever_the_budget(monkeypatch):
    gen = torch.Generator().manual_seed(1)
    maps = [torch.randn(5, 3, 4, 4, generator=gen), torch.randn(5, 2, 8, 8, generator=gen)]
    want = torch.cat([F.interpolate(m, (8, 8), mode="bilinear") for m in maps], 1)
    want = want.permute(0, 2, 3, 1)  # (B, H, W, C)
    for budget in (dense.PIXEL_BYTES, 5 * 8 * 8 * 5 * 8 // 2, 3 * 8 * 5 * 8, 1):
        monkeypatch.setattr(dense, "PIXEL_BYTES", budget)
        got = torch.full_like(want, float("nan"))
        for a, b, r0, r1, X in dense.pixel_slices(maps, (8, 8)):
            assert torch.isnan(got[a:b, r0:r1]).all()  # never twice
            got[a:b, r0:r1] = X
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_slicing_depends_on_the_image_alone():
    assert dense.slicing(16, 16, 160) == (64, 16)  # 64 whole small images per slice
    g, rows = dense.slicing(256, 256, 8448)  # one large image a few rows at a time
    assert g == 1 and rows * 256 * 8448 * 8 <= dense.PIXEL_BYTES


def test_noise_at_any_index_is_the_sample_noise():
    noise = NoiseStream(7, (2, 3))
    idx = np.array([700, 3, 255, 256, 4])
    np.testing.assert_array_equal(noise.at(idx, 1), np.stack([noise(i, i + 1, 1)[0] for i in idx]))


def test_sample_pixels_balanced_seeded_and_never_ignored():
    mask = np.zeros((10, 10), np.int64)
    mask[:2] = 1  # 20 pixels of class 1
    mask[5, :3] = 2  # 3 pixels of class 2
    mask[9] = 255  # ignored
    pick = dense.sample_pixels(mask, 30, 255, True, np.random.default_rng(0))
    flat = mask.reshape(-1)[pick]
    assert len(pick) == 30 and (np.diff(pick) > 0).all() and 255 not in flat
    # class 2 gives all it has; the rest is split between background and class 1
    assert (flat == 2).sum() == 3 and abs((flat == 0).sum() - (flat == 1).sum()) <= 1
    again = dense.sample_pixels(mask, 30, 255, True, np.random.default_rng(0))
    np.testing.assert_array_equal(pick, again)
    plain = dense.sample_pixels(mask, 30, 255, False, np.random.default_rng(0))
    assert len(plain) == 30 and 255 not in mask.reshape(-1)[plain]
    assert len(dense.sample_pixels(mask, 1000, 255, True, np.random.default_rng(0))) == 90
