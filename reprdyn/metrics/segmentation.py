"""Segmentation metrics from confusion matrices streamed over images: per-class IoU and mean IoU.

A confusion matrix C[t, p] counts pixels of true class t predicted as p; pixels marked `ignore`
never count. IoU_k = C[k, k] / (sum_p C[k, p] + sum_t C[t, k] - C[k, k]); mIoU averages it over the
classes present in the truth or the prediction (a class with an empty union has no IoU).
"""

from __future__ import annotations

import numpy as np


def confusion(truth: np.ndarray, pred: np.ndarray, n_classes: int, ignore: int = 255) -> np.ndarray:
    """(M, M) int64 counts of (true class, predicted class) over the pixels that are not
    `ignore`."""
    keep = truth != ignore
    t, p = truth[keep].astype(np.int64), pred[keep].astype(np.int64)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def class_iou(conf: np.ndarray) -> np.ndarray:
    """IoU of each class (NaN where the class is neither in the truth nor in the prediction)."""
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(conf: np.ndarray) -> float:
    """mIoU: the mean of the per-class IoU over the classes that occur."""
    iou = class_iou(conf)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
