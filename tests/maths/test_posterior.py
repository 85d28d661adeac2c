"""Posterior MSE of the optimal denoiser against the Wiener formula."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.compute.extract import NoiseStream
from reprdyn.data.molrg import molrg_bases, molrg_sample
from reprdyn.maths.posterior import posterior_quality
from reprdyn.models.molrg import MolrgPosterior


@pytest.mark.parametrize("sigma", [0.03, 100.0])
def test_posterior_mse_of_the_optimal_denoiser_matches_theory(sigma):
    """Small sigma: the class is known and the MMSE is the class Wiener filter's,
    [d s^2/(1+s^2) + (n-d) delta^2 s^2/(delta^2+s^2)] / n. Huge sigma: the prior variance."""
    n, K, d, delta = 30, 3, 4, 0.3
    rng = np.random.default_rng(0)
    U = molrg_bases(n, K, d, rng)
    x0, _ = molrg_sample(U, delta, 20_000, rng)
    net, noise = MolrgPosterior(U, delta).double(), NoiseStream(1, (n,))
    mse, psnr = posterior_quality(net, x0, sigma, noise, 4096)
    s2 = sigma**2
    wiener = (d * s2 / (1 + s2) + (n - d) * delta**2 * s2 / (delta**2 + s2)) / n
    assert mse == pytest.approx(wiener, rel=0.03)
    assert psnr == pytest.approx(10 * np.log10(2.0**2 / mse))  # the declared range, 2
    # a tenth of the samples: the same PSNR for the same MSE (the peak is not read off them)
    few_mse, few_psnr = posterior_quality(net, x0[:40], sigma, noise, 4096)
    assert few_psnr - psnr == pytest.approx(10 * np.log10(mse / few_mse), abs=1e-9)
