"""mIoU against counting pixels class by class."""

from __future__ import annotations

import numpy as np
import pytest


def test_miou_matches_counting_pixels_class_by_class():
    from reprdyn.maths.segmentation import class_iou, confusion, mean_iou

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=(6, 9))
    truth[0] = 255  # ignored pixels never count, whatever is predicted there
    pred = np.where(rng.random(truth.shape) < 0.6, truth, rng.integers(0, 4, size=truth.shape))
    pred[pred == 255] = 3
    conf = confusion(truth, pred, 4, ignore=255)
    keep = truth != 255
    assert conf.sum() == keep.sum()
    ious = []
    for k in range(4):
        t, p = (truth == k) & keep, (pred == k) & keep
        ious.append((t & p).sum() / (t | p).sum())
    np.testing.assert_allclose(class_iou(conf), ious)
    assert mean_iou(conf) == pytest.approx(np.mean(ious))
    # a class absent from truth and prediction has no IoU and is not averaged
    conf5 = confusion(truth, pred, 5, ignore=255)
    assert np.isnan(class_iou(conf5)[4]) and mean_iou(conf5) == pytest.approx(np.mean(ious))
