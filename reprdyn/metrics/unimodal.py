"""Unimodality of a curve over the sigma grid: peak, rise, fall and a tolerance-based flag."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCE = 0.05  # as a share of the curve's range (max - min)


@dataclass(frozen=True)
class Unimodality:
    peak_index: int
    peak_sigma: float
    peak_value: float
    rise: float  # peak - value at the lowest sigma
    fall: float  # peak - value at the highest sigma
    unimodal: bool


def unimodality(sigma, values, tol: float = TOLERANCE) -> Unimodality:
    """Summarise a curve as rise-then-fall.

    The curve is `unimodal` when its peak is interior (both the rise and the fall exceed tol *
    range) and no step goes against the trend by more than tol * range: non-decreasing up to the
    peak, non-increasing after it. NaN values are ignored.
    """
    sigma, values = np.asarray(sigma, float), np.asarray(values, float)
    ok = np.isfinite(values)
    sigma, values = sigma[ok], values[ok]
    if len(values) == 0:
        return Unimodality(-1, float("nan"), float("nan"), float("nan"), float("nan"), False)
    i = int(np.argmax(values))
    span = float(values.max() - values.min())
    slack = tol * span
    rise, fall = float(values[i] - values[0]), float(values[i] - values[-1])
    steps = np.diff(values)
    against = np.concatenate([-steps[:i], steps[i:]])  # drops before the peak, rises after
    shape_ok = bool(len(against) == 0 or against.max() <= slack)
    unimodal = span > 0 and rise > slack and fall > slack and shape_ok
    return Unimodality(i, float(sigma[i]), float(values[i]), rise, fall, bool(unimodal))
