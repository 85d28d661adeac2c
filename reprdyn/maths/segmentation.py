"""Segmentation metrics from confusion matrices streamed over images: per-class IoU and mean IoU.

A confusion matrix C[t, p] counts pixels of true class t predicted as p; pixels marked `ignore`
never count. IoU_k = C[k, k] / (sum_p C[k, p] + sum_t C[t, k] - C[k, k]); mIoU averages it over the
classes present in the truth or the prediction (a class with an empty union has no IoU). Every
function takes a stack of matrices (..., M, M) as well as one.
"""

from __future__ import annotations

import warnings

import numpy as np


def confusions(truth: np.ndarray, pred: np.ndarray, keep: np.ndarray, n_classes: int) -> np.ndarray:
    """(T, L, M, M) counts over the kept pixels for a grid of predictions: truth (T or 1, m) label
    sets, pred (T, L, m) predictions (L per label set, e.g. one per ridge penalty), keep (m,)."""
    M, (T, L, _) = n_classes, pred.shape
    truth = np.broadcast_to(truth, (T, truth.shape[-1]))[:, None, keep]  # (T, 1, m')
    cell = np.arange(T * L).reshape(T, L, 1) * M * M
    flat = cell + truth * M + pred[:, :, keep]
    return np.bincount(flat.reshape(-1), minlength=T * L * M * M).reshape(T, L, M, M)


def image_confusions(
    truth: np.ndarray, pred: np.ndarray, keep: np.ndarray, n_classes: int, image: np.ndarray, n: int
) -> np.ndarray:
    """`confusions` per image: (n, T, L, M, M), pixel i counted for image `image[i]` (< n); their
    sum over images is `confusions`."""
    M, (T, L, _) = n_classes, pred.shape
    truth = np.broadcast_to(truth, (T, truth.shape[-1]))[:, None, keep]  # (T, 1, m')
    cell = np.arange(T * L).reshape(T, L, 1) * M * M
    flat = (image[keep] * (T * L * M * M))[None, None] + cell + truth * M + pred[:, :, keep]
    counts = np.bincount(flat.reshape(-1), minlength=n * T * L * M * M)
    return counts.reshape(n, T, L, M, M)


def confusion(truth: np.ndarray, pred: np.ndarray, n_classes: int, ignore: int = 255) -> np.ndarray:
    """(M, M) int64 counts of (true class, predicted class) over the pixels that are not
    `ignore`."""
    t = np.asarray(truth, np.int64).reshape(1, -1)
    p = np.asarray(pred, np.int64).reshape(1, 1, -1)
    return confusions(t, p, t[0] != ignore, n_classes)[0, 0]


def class_iou(conf: np.ndarray) -> np.ndarray:
    """IoU of each class, (..., M) (NaN where the class is neither in the truth nor predicted)."""
    tp = np.diagonal(conf, axis1=-2, axis2=-1).astype(np.float64)
    union = conf.sum(-1) + conf.sum(-2) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(conf: np.ndarray) -> np.ndarray | float:
    """mIoU (...): the mean of the per-class IoU over the classes that occur (NaN if none do)."""
    with warnings.catch_warnings():  # no class at all: NaN, said by the value itself
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(class_iou(conf), -1)
