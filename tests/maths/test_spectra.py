"""Label-free scores from the feature spectrum: RankMe and alpha-ReQ on features whose spectrum is
made by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from reprdyn.maths.spectra import EPS, alpha_req, rankme


def _with_spectrum(lam: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n centred samples whose covariance has exactly the eigenvalues `lam`."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, len(lam))))
    U -= U.mean(0)
    U, _ = np.linalg.qr(U)  # orthonormal columns orthogonal to the ones vector
    V, _ = np.linalg.qr(rng.normal(size=(len(lam) + 3, len(lam))))
    return U @ np.diag(np.sqrt(lam * (n - 1))) @ V.T  # (n, C)


def test_rankme_counts_directions_of_equal_variance():
    for d in (1, 4, 9):
        X = _with_spectrum(np.ones(d), 200) + 5.0  # a shift changes nothing: features are centred
        p = np.r_[np.full(d, 1 / d), np.zeros(3)] + EPS  # C = d + 3: three singular values of 0
        assert rankme(X) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-6)
        assert rankme(X) == pytest.approx(d, rel=1e-5)


def test_rankme_is_the_entropy_of_the_normalised_singular_values():
    lam = np.array([4.0, 1.0, 0.25, 0.01])
    s = np.sqrt(lam)  # singular values are proportional to the square roots of the eigenvalues
    p = np.r_[s / s.sum(), np.zeros(3)] + EPS  # every min(n, C) singular value counts
    assert rankme(_with_spectrum(lam, 300)) == pytest.approx(np.exp(-(p * np.log(p)).sum()), 1e-6)
    assert np.isnan(rankme(np.ones((10, 3))))  # constant features have no spectrum


def test_alpha_req_recovers_the_decay_of_a_power_law():
    i = np.arange(1, 41)
    for alpha in (0.5, 1.0, 2.0):
        X = _with_spectrum(i ** (-alpha), 400, seed=int(alpha * 10))
        assert alpha_req(X) == pytest.approx(alpha, rel=1e-8)


def test_alpha_req_is_the_least_squares_slope_in_log_log():
    rng = np.random.default_rng(4)
    lam = np.sort(rng.uniform(0.01, 1, size=12))[::-1]
    fit = stats.linregress(np.log(np.arange(1, 13)), np.log(lam))
    assert alpha_req(_with_spectrum(lam, 100)) == pytest.approx(-fit.slope, rel=1e-8)
    assert np.isnan(alpha_req(_with_spectrum(np.ones(2), 50)))  # two eigenvalues: no fit
