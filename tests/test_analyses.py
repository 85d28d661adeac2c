"""Analysis stages: posterior MSE against the Wiener formula, stored distances, CKA and
generalisation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SMALL

import reprdyn
from reprdyn.data.molrg import molrg_bases, molrg_sample
from reprdyn.extract import NoiseStream
from reprdyn.metrics.posterior import posterior_quality
from reprdyn.models.molrg import MolrgPosterior
from reprdyn.sample import sampler_for
from reprdyn.spec import SpecError, validate_text


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


ANALYSED = (
    SMALL.replace("label_noise: [0.0, 0.4]", "label_noise: [0.0]")
    + "metrics: [accuracy, csnr, unimodality, posterior_mse, sw_distance, cka, generalization]\n"
    + "analysis: {max_samples: 150, projections: 64}\ngeneration: {samples: 64, steps: 16}\n"
)


def test_a_run_stores_every_analysis(tmp_path):
    spec = validate_text(ANALYSED)
    reprdyn.run(spec, store=tmp_path / "a.zarr")
    ds = reprdyn.open(tmp_path / "a.zarr")["toy"].load()
    sw, ref = ds["sw_distance"].squeeze(), float(ds["sw_reference"].squeeze())
    assert float(sw.sel(sigma=ref)) == 0 and (sw.drop_sel(sigma=ref) > 0).all()
    # the reference is the probes' own choice on validation
    best = ds["best_sigma"].squeeze().values
    assert ref in np.atleast_1d(best)
    cka = ds["cka"].squeeze().values
    np.testing.assert_allclose(np.diag(cka), 1, rtol=1e-9)
    np.testing.assert_allclose(cka, cka.T, rtol=1e-9)
    mse = ds["posterior_mse"].values
    assert (np.diff(mse) > 0).all()  # denoising gets harder with sigma
    assert (
        0.9 <= float(ds["generalization"].squeeze()) <= 1
    )  # the exact posterior generates fresh samples
    u = ds["unimodal"].squeeze(drop=True)
    assert set(np.unique(u.values)) <= {0.0, 1.0} and ds["unimodal"].attrs["tolerance"] == 0.05
    assert np.allclose(ds["peak_sigma"], ds["accuracy"].idxmax("sigma"))


def test_analyses_need_their_inputs():
    with pytest.raises(SpecError, match="read\\(s\\) the probes' accuracy curves"):
        validate_text(SMALL + "metrics: [csnr, sw_distance]\n")
    dae = (
        SMALL.replace(
            "model: {kind: molrg-optimal}",
            "model: {kind: dae, network: {kind: mlp}, precond: {kind: edm}, train: {data: toy, "
            "epochs: 1}}",
        )
        + "metrics: [accuracy, generalization]\n"
    )
    with pytest.raises(SpecError, match="a DAE denoises at its own sigmas only"):
        validate_text(dae)


def test_each_model_gets_its_sampler():
    vp = validate_text(
        SMALL.replace(
            "model: {kind: molrg-optimal}",
            "model: {kind: diffusion, network: {kind: mlp}, precond: {kind: vp}, train: {data: "
            "toy, epochs: 1}}",
        )
    )
    sigmas, kind = sampler_for(None, vp.model, 10, "auto")
    assert (
        kind == "ddim"
        and len(sigmas) == 11
        and sigmas[-1] == 0
        and sigmas[0] == pytest.approx(157.4, rel=1e-3)
    )
    sigmas, kind = sampler_for(None, validate_text(SMALL).model, 10, "auto")
    assert kind == "heun" and sigmas[0] == pytest.approx(80)
    assert sampler_for(None, vp.model, 10, "heun")[1] == "heun"
