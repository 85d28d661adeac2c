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


def unimodal_many(values: np.ndarray, tol: float = TOLERANCE) -> np.ndarray:
    """`unimodality(...).unimodal` of many curves at once: values (..., S) -> bool (...).

    Curves holding NaN are judged one by one, as `unimodality` does (it drops the NaN points)."""
    v = np.asarray(values, np.float64)
    finite = np.isfinite(v).all(-1)
    out = np.zeros(v.shape[:-1], bool)
    if finite.any():
        f = v[finite]  # (N, S)
        i = f.argmax(-1)  # the first maximum, as np.argmax in `unimodality`
        rows = np.arange(len(f))
        span = f.max(-1) - f.min(-1)
        slack = tol * span
        rise, fall = f[rows, i] - f[:, 0], f[rows, i] - f[:, -1]
        steps = np.diff(f, axis=-1)  # (N, S - 1)
        before = np.arange(f.shape[-1] - 1)[None] < i[:, None]
        against = np.where(before, -steps, steps)  # drops before the peak, rises after
        worst = against.max(-1) if against.shape[-1] else np.full(len(f), -np.inf)
        out[finite] = (span > 0) & (rise > slack) & (fall > slack) & (worst <= slack)
    for idx in zip(*np.nonzero(~finite)):
        out[idx] = unimodality(np.arange(v.shape[-1]), v[idx], tol).unimodal
    return out
