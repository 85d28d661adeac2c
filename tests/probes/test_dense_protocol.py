"""The segmentation protocol's parts: the image sets (disjoint, seeded, each size moving only its
own set), pixel labels (clean at level 0, noised by exact count, ignore pixels kept), and a
resample's mIoU from summed per-image confusions."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
from helpers import SEG_SMALL

from reprdyn.maths.segmentation import mean_iou
from reprdyn.probes.dense_protocol import PixelLabels, image_sets, resampled_miou
from reprdyn.spec import validate_text


def _data(n_train=40, n_test=20, M=3, size=16, ignore=255):
    rng = np.random.default_rng(0)
    masks = rng.integers(0, M, (n_train + n_test, size, size))
    masks[:, 0, :] = ignore  # one row of each mask says `ignore`
    split = np.array(["train"] * n_train + ["test"] * n_test)
    return NS(split=split, masks=masks, mask_classes=list("abc")[:M], ignore_index=ignore)


def test_image_sets_are_disjoint_seeded_and_independent():
    spec, data = validate_text(SEG_SMALL), _data()
    fit, val, test = image_sets(spec, "glyphs", data)
    assert len(fit) + len(val) == 30 and len(test) == 16  # segmentation: {train_images: 30, ...}
    assert not set(fit) & set(val) and set(test) <= set(np.flatnonzero(data.split == "test"))
    again = image_sets(spec, "glyphs", data)
    assert all(np.array_equal(a, b) for a, b in zip((fit, val, test), again))
    more_test = validate_text(SEG_SMALL.replace("test_images: 16", "test_images: 18"))
    fit2, val2, test2 = image_sets(more_test, "glyphs", data)
    assert np.array_equal(fit, fit2) and np.array_equal(val, val2) and set(test) <= set(test2)


def test_pixel_labels_are_noised_at_the_levels_rate_and_ignore_pixels_stay():
    spec, data = validate_text(SEG_SMALL), _data()  # label_noise: [0, 0.3], one seed
    labels = PixelLabels(spec, "glyphs", data)
    rows = np.stack([labels(i) for i in range(40)])  # (images, T, H*W)
    flat = data.masks[:40].reshape(40, -1)
    ok = flat != 255
    assert np.array_equal(rows[:, 0], flat)  # level 0: the mask itself
    assert np.array_equal(rows[:, 1][~ok], flat[~ok])  # ignore pixels are never relabelled
    moved = ((rows[:, 1] != flat) & ok).sum(1)  # per image: exactly round(0.3 n) labels move
    np.testing.assert_array_equal(moved, np.round(0.3 * ok.sum(1)))
    assert np.array_equal(labels(7), labels(7))  # a function of the image alone


def test_a_resample_reads_the_summed_confusions_of_its_images():
    rng = np.random.default_rng(1)
    by_image = rng.integers(0, 20, (5, 2, 3, 3))  # (images, T, M, M)
    W = np.array([[1, 1, 1, 1, 1], [2, 0, 0, 3, 0]])  # (B, images): counts of each image drawn
    got = resampled_miou(W, by_image)  # (T, B)
    for b in range(2):
        summed = sum(W[b, i] * by_image[i] for i in range(5)).astype(float)  # (T, M, M)
        np.testing.assert_allclose(got[:, b], mean_iou(summed))
