"""The bootstrap behind every interval, against independent computations: index loops, exact
enumeration, binomial intervals, coverage by simulation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from reprdyn.maths.uncertainty import (
    central_range,
    hierarchical,
    interval,
    resample_counts,
    resampled_mean,
    share_chosen,
    verdict,
)


def test_counts_are_the_index_draws():
    W = resample_counts(7, 50, seed=3)
    idx = np.random.default_rng(3).integers(0, 7, size=(50, 7), dtype=np.int32)
    assert W.shape == (50, 7) and (W.sum(1) == 7).all()
    for b in range(50):
        np.testing.assert_array_equal(W[b], np.bincount(idx[b], minlength=7))
    np.testing.assert_array_equal(W, resample_counts(7, 50, seed=3))


def test_resampled_mean_is_the_loop_over_resamples():
    rng = np.random.default_rng(0)
    hits = rng.random((4, 3, 40)) < 0.7  # (S, T, n)
    W = resample_counts(40, 200, seed=1)
    idx = np.random.default_rng(1).integers(0, 40, size=(200, 40), dtype=np.int32)
    fast = resampled_mean(hits, W)  # (S, T, B)
    brute = np.stack([hits[..., idx[b]].mean(-1) for b in range(200)], -1)
    np.testing.assert_array_equal(fast, brute)  # 0/1 times integer counts: exact


def test_resampled_means_follow_the_exact_bootstrap_distribution():
    """n = 5: the exact distribution of a resampled mean over all 5^5 index tuples, against the
    frequencies of 40,000 resamples (each within 4.5 standard errors)."""
    x = np.array([0.1, 0.4, 0.4, 0.9, 1.7])
    exact = {}
    for t in itertools.product(range(5), repeat=5):
        m = round(float(x[list(t)].mean()), 9)
        exact[m] = exact.get(m, 0) + 1 / 5**5
    draws = np.round(resampled_mean(x, resample_counts(5, 40_000, seed=2)), 9)
    values, counts = np.unique(draws, return_counts=True)
    assert set(values) <= set(exact)
    for v, p in exact.items():
        f = counts[values == v].sum() / 40_000
        assert abs(f - p) <= 4.5 * np.sqrt(p * (1 - p) / 40_000) + 1e-9


@pytest.mark.parametrize(("n", "p"), [(2000, 0.95), (2000, 0.58), (500, 0.8)])
def test_interval_of_one_accuracy_agrees_with_binomial_intervals(n, p):
    """The percentile interval of a resampled accuracy against Wilson's and Clopper-Pearson's for
    the same k of n: bounds within a fifth of a standard error (B = 4000)."""
    k = int(round(p * n))
    hits = np.zeros(n, bool)
    hits[:k] = True
    low, high = interval(resampled_mean(hits, resample_counts(n, 4000, seed=5)), 0.95)
    se = np.sqrt(p * (1 - p) / n)
    wilson = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    exact = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    for ref in (wilson, exact):
        assert abs(low - ref.low) < 0.2 * se + 1.5 / n and abs(high - ref.high) < 0.2 * se + 1.5 / n


def test_interval_shape_and_nan():
    d = np.random.default_rng(0).random((3, 4, 100))
    d[1, 2] = np.nan
    ci = interval(d, 0.9)
    assert ci.shape == (3, 4, 2) and np.isnan(ci[1, 2]).all() and (ci[0, 0, 0] < ci[0, 0, 1])
    assert interval(np.arange(101.0), 0.9) == pytest.approx([5.0, 95.0])


def test_hierarchical_with_one_replicate_and_seed_is_the_resample_interval():
    draws = np.random.default_rng(1).random((1, 1, 500))
    mean, low, high = hierarchical(draws, 0.95, seed=0)
    assert (low, high) == tuple(interval(draws[0, 0], 0.95))


def test_hierarchical_without_test_noise_is_a_bootstrap_of_the_replicates():
    """Replicate values with no spread across resamples: the combined draws are exactly a plain
    bootstrap of the replicate means, written as a loop with the same picks."""
    values = np.array([0.52, 0.58, 0.55, 0.61])  # four replicates, one seed
    draws = np.repeat(values[:, None, None], 300, axis=2)  # (R, 1, B)
    mean, low, high = hierarchical(draws, 0.9, seed=7)
    rng = np.random.default_rng(7)
    picks = rng.integers(0, 4, size=(300, 4))
    rng.integers(0, 1, size=(300, 1))  # the seed level: one seed, always picked
    plain = values[picks].mean(1)
    assert mean == pytest.approx(values.mean())
    assert (low, high) == pytest.approx(tuple(np.quantile(plain, [0.05, 0.95])))


def test_hierarchical_leaves_out_missing_replicates():
    d = np.random.default_rng(2).random((3, 2, 100))
    d[2] = np.nan  # a model with two replicates in a cube of three
    assert hierarchical(d, 0.95, 0) == hierarchical(d[:2], 0.95, 0)
    assert np.isnan(hierarchical(np.full((2, 1, 5), np.nan), 0.95, 0)).all()


def test_hierarchical_covers_replicate_spread_and_test_noise():
    """A simulated study: replicates differ by sd 0.02, the test set adds binomial noise. The 90%
    interval of the mean covers the truth in about 90% of 400 studies (5 replicates; the bootstrap
    over few clusters is known to run a little narrow, so the bar is 75%)."""
    rng = np.random.default_rng(11)
    n, B, R, truth, hits = 800, 300, 5, 0.8, 0
    W = resample_counts(n, B, seed=1)
    for _ in range(400):
        p_r = truth + 0.02 * rng.standard_normal(R)
        correct = rng.random((R, 1, n)) < p_r[:, None, None]
        draws = resampled_mean(correct, W)  # (R, 1, B)
        _, low, high = hierarchical(draws, 0.9, int(rng.integers(1 << 30)))
        hits += low <= truth <= high
    assert hits / 400 >= 0.75


def test_share_chosen_and_central_range():
    best = np.array([[0, 1, 1, 2], [3, 3, 3, 3]])  # (T, B) choices among S = 4
    freq = share_chosen(best, 4)  # (S, T)
    np.testing.assert_allclose(freq[:, 0], [0.25, 0.5, 0.25, 0])
    np.testing.assert_allclose(freq[:, 1], [0, 0, 0, 1])
    sigmas = np.array([0.1, 0.2, 0.4, 0.8])
    assert central_range(freq[:, 0], sigmas, 0.95) == (0.1, 0.4)
    assert central_range(freq[:, 1], sigmas, 0.95) == (0.8, 0.8)
    assert central_range(np.array([0.01, 0.98, 0.01, 0]), sigmas, 0.95) == (0.2, 0.2)


@pytest.mark.parametrize(
    ("p", "word"), [(0.99, "yes"), (0.95, "yes"), (0.5, "uncertain"), (0.02, "no")]
)
def test_verdict(p, word):
    assert verdict(p, 0.95) == word
    assert verdict(float("nan"), 0.95) == "n/a"


def test_curve_interval_is_the_hierarchical_interval_at_each_sigma():
    from reprdyn.maths.uncertainty import curve_interval, hierarchical

    rng = np.random.default_rng(4)
    draws = rng.normal(size=(5, 3, 2, 200))  # (S, R, Sd, B)
    draws[2] = np.nan  # a sigma without values stays NaN
    low, high = curve_interval(draws, 0.9, 11)
    for s in range(5):
        want = hierarchical(draws[s], 0.9, 11)[1:]
        np.testing.assert_array_equal([low[s], high[s]], want)
    assert np.isnan(low[2]) and np.isnan(high[2])
