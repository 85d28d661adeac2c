"""The shape of a curve over the sigma grid: peak, rise, fall, and its class — unimodal,
decreasing, increasing, flat or other — under a tolerance (docs/theory.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCE = 0.05  # as a share of the curve's range (max - min)
FLAT = 0.01  # a curve whose range is at most this (in its own units: accuracy) is flat

# the classes of a curve's shape, in the order of the `shape` dim (their codes are the indices)
SHAPES = ("unimodal", "decreasing", "increasing", "flat", "other")
UNIMODAL, DECREASING, INCREASING, FLATTISH, OTHER = range(len(SHAPES))


@dataclass(frozen=True)
class Unimodality:
    peak_index: int
    peak_sigma: float
    peak_value: float
    rise: float  # peak - value at the lowest sigma
    fall: float  # peak - value at the highest sigma
    unimodal: bool


def unimodality(sigma, values, tol: float = TOLERANCE, flat: float = 0.0) -> Unimodality:
    """Summarise a curve as rise-then-fall.

    The curve is `unimodal` when its range exceeds `flat`, its peak is interior (both the rise and
    the fall exceed tol * range) and no step goes against the trend by more than tol * range:
    non-decreasing up to the peak, non-increasing after it. NaN values are ignored.
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
    unimodal = span > max(flat, 0.0) and rise > slack and fall > slack and shape_ok
    return Unimodality(i, float(sigma[i]), float(values[i]), rise, fall, bool(unimodal))


def unimodal_many(values: np.ndarray, tol: float = TOLERANCE, flat: float = 0.0) -> np.ndarray:
    """`unimodality(...).unimodal` of many curves at once: values (..., S) -> bool (...)."""
    return shape_codes(values, tol, flat) == UNIMODAL


def shape_codes(values: np.ndarray, tol: float = TOLERANCE, flat: float = FLAT) -> np.ndarray:
    """The class of many curves at once, as indices into SHAPES: values (..., S) -> int (...);
    -1 where a curve has no finite value. With span = max - min and slack = tol * span:

    - flat: span <= flat;
    - unimodal: an interior peak (rise and fall both > slack), no step against the trend by more
      than slack (the `unimodality` test);
    - decreasing: the peak within slack of the first value (rise <= slack), fall > slack, and no
      step up by more than slack;
    - increasing: the mirror image (fall <= slack, rise > slack, no step down by more than slack);
    - other: anything else (a valley, several peaks).

    The classes are exclusive. Curves holding NaN are judged on their finite points, in order.
    """
    v = np.asarray(values, np.float64)
    lead, v = v.shape[:-1], v.reshape(-1, v.shape[-1])  # (N, S)
    finite = np.isfinite(v).all(-1)
    out = np.full(len(v), -1, np.int64)
    if finite.any():
        out[finite] = _codes(v[finite], tol, flat)
    for i in np.flatnonzero(~finite):
        curve = v[i][np.isfinite(v[i])]
        if len(curve):
            out[i] = _codes(curve[None], tol, flat)[0]
    return out.reshape(lead)


def _codes(f: np.ndarray, tol: float, flat: float) -> np.ndarray:
    """shape_codes of finite curves f (N, S)."""
    i = f.argmax(-1)  # the first maximum, as np.argmax in `unimodality`
    rows = np.arange(len(f))
    span = f.max(-1) - f.min(-1)
    slack = tol * span
    rise, fall = f[rows, i] - f[:, 0], f[rows, i] - f[:, -1]
    steps = np.diff(f, axis=-1)  # (N, S - 1)
    before = np.arange(f.shape[-1] - 1)[None] < i[:, None]
    against = np.where(before, -steps, steps)  # drops before the peak, rises after
    none = np.full(len(f), -np.inf)
    worst = against.max(-1) if steps.shape[-1] else none
    up = steps.max(-1) if steps.shape[-1] else none  # the largest step up
    down = (-steps).max(-1) if steps.shape[-1] else none  # the largest step down
    out = np.full(len(f), OTHER, np.int64)
    unimodal = (rise > slack) & (fall > slack) & (worst <= slack)
    out[unimodal] = UNIMODAL
    out[(rise <= slack) & (fall > slack) & (up <= slack)] = DECREASING
    out[(fall <= slack) & (rise > slack) & (down <= slack)] = INCREASING
    out[span <= max(flat, 0.0)] = FLATTISH
    return out
