"""Uncertainty: the paired bootstrap behind every interval, and its hierarchical combination
(docs/theory.md §8).

A resample is a (B, n) matrix of counts: how often each of n samples is drawn in each of B
resamples of size n with replacement. Every statistic that is a mean over samples (an accuracy, the
share of correct predictions) becomes one matrix product, `values @ counts.T / n`: sums of 0/1
values times integer counts are exact in float64, so the resampled statistics are bit-identical on
every machine, whatever the BLAS. The same counts serve every cell of a cube (every sigma, layer,
probe, input, model and replicate), so differences between cells are paired.

`hierarchical` combines replicates, seeds and resamples for a headline that is a mean over
replicates and seeds: replicates and seeds are resampled with replacement, and each combined draw
reads one resample of the test (and validation) samples for all of them.
"""

from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=8)  # every task of a process reads the same few resamples
def resample_counts(n: int, B: int, seed: int) -> np.ndarray:
    """(B, n) float64 counts of B bootstrap resamples of n samples, drawn as indices from `seed`
    (read-only: one copy is shared)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(B, n), dtype=np.int32)  # (B, n) resampled indices
    counts = _counts(idx, n)
    counts.setflags(write=False)
    return counts


def resampled_mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The mean over samples of `values` (..., n) under each resample: (..., B)."""
    v = np.asarray(values, np.float64)
    lead = v.shape[:-1]
    out = v.reshape(-1, v.shape[-1]) @ counts.T / counts.shape[1]  # (prod(lead), B)
    return out.reshape(*lead, counts.shape[0])


def interval(draws: np.ndarray, confidence: float, axis: int = -1) -> np.ndarray:
    """Percentile interval of `draws` along `axis`: the same shape with that axis replaced by
    (low, high) at the end. All-NaN draws give NaN."""
    q = [(1 - confidence) / 2, (1 + confidence) / 2]
    d = np.moveaxis(np.asarray(draws, np.float64), axis, -1)
    out = np.full((*d.shape[:-1], 2), np.nan)
    ok = np.isfinite(d).all(-1)
    if ok.any():
        out[ok] = np.quantile(d[ok], q, axis=-1).T
    return out


def verdict(p: float, confidence: float) -> str:
    """'yes' when a probability is at least `confidence`, 'no' at most 1 - confidence, else
    'uncertain' (NaN: 'n/a')."""
    if not np.isfinite(p):
        return "n/a"
    return "yes" if p >= confidence else "no" if p <= 1 - confidence else "uncertain"


def hierarchical(draws: np.ndarray, confidence: float, seed: int) -> tuple[float, float, float]:
    """(mean, low, high) of the mean over replicates and seeds.

    `draws` (R, Sd, B) holds a statistic of replicate r and seed s under resample b. Each combined
    draw b resamples R replicates and Sd seeds with replacement (from `seed`: every cell of a store
    gets the same picks) and averages draw b over them. Replicates whose draws are all NaN (a model
    with fewer replicates) are left out; with one replicate and one seed this is the resample
    interval itself.
    """
    d = np.asarray(draws, np.float64)
    d = d[np.isfinite(d).all((1, 2))]  # replicates with values
    if not d.size:
        return (np.nan, np.nan, np.nan)
    theta = combined_draws(d, seed)  # (B,)
    low, high = interval(theta, confidence)
    return float(d.mean((1, 2)).mean()), float(low), float(high)


def combined_draws(draws: np.ndarray, seed: int) -> np.ndarray:
    """The hierarchical bootstrap's combined draws of the mean over replicates and seeds: draws
    (..., R, Sd, B) -> (..., B), every leading index (a sigma, a sweep point) with the same picks
    of replicates and seeds, which are those of `hierarchical` for the same seed. A replicate
    with a NaN anywhere is left out."""
    d = np.asarray(draws, np.float64)
    lead = d.shape[:-3]
    keep = np.isfinite(d).reshape(-1, *d.shape[-3:]).all((0, 2, 3))  # (R,)
    d = d[..., keep, :, :]
    R, Sd, B = d.shape[-3:]
    if not R:
        return np.full((*lead, B), np.nan)
    rng = np.random.default_rng(seed)
    cr = _counts(rng.integers(0, R, size=(B, R)), R)  # (B, R)
    cs = _counts(rng.integers(0, Sd, size=(B, Sd)), Sd)  # (B, Sd)
    return np.einsum("br,...rsb,bs->...b", cr, d, cs) / (R * Sd)


def curve_interval(draws: np.ndarray, confidence: float, seed: int) -> tuple[np.ndarray, ...]:
    """Per sigma (or per label-noise level: any leading axis), the hierarchical interval of the
    mean over replicates and seeds: (low, high), each (S,), from resamples `draws` (S, R, Sd, B)."""
    bounds = np.array([hierarchical(d, confidence, seed)[1:] for d in draws]).reshape(-1, 2)
    return bounds[:, 0], bounds[:, 1]


def _counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(B, n) float64 counts of each index in each row of idx (B, m)."""
    flat = (idx + n * np.arange(len(idx), dtype=np.int64)[:, None]).ravel()
    return np.bincount(flat, minlength=len(idx) * n).reshape(len(idx), n).astype(np.float64)


def share_chosen(best: np.ndarray, S: int) -> np.ndarray:
    """(S, ...) share of resamples whose choice is each of S grid points, from choices (..., B)."""
    onehot = best[None] == np.arange(S).reshape(S, *([1] * best.ndim))
    return onehot.mean(-1)


def central_range(freq: np.ndarray, values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The values at the (1 - confidence)/2 and (1 + confidence)/2 quantiles of a discrete
    distribution `freq` over sorted `values` (the spread of sigma*)."""
    freq = np.asarray(freq, np.float64)
    if not np.isfinite(freq).all() or freq.sum() <= 0:
        return (np.nan, np.nan)
    cdf = np.cumsum(freq / freq.sum())
    # the quantile at p: the first value whose cumulative share reaches p
    lo, hi = (
        min(int(np.searchsorted(cdf, p - 1e-12, side="left")), len(values) - 1)
        for p in ((1 - confidence) / 2, (1 + confidence) / 2)
    )
    return float(values[lo]), float(values[hi])
