"""Samplers: with an exact posterior they must reproduce the data distribution (Gaussian and
MoLRG)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import SMALL

from reprdyn.compute.sample import ddim, ddim_steps, edm_steps, generate, heun, sampler_for
from reprdyn.data.molrg import molrg_bases
from reprdyn.maths.schedules import VPSchedule
from reprdyn.models.molrg import MolrgPosterior
from reprdyn.spec import validate_text


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


LAM = torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64)


def gaussian_D(x, sigma):
    """The exact posterior mean of N(0, diag(LAM)): a Wiener filter."""
    return x * (LAM / (LAM + sigma**2)).to(x.dtype)


@pytest.mark.parametrize(
    "sampler, sigmas", [("heun", edm_steps(64)), ("ddim", ddim_steps(VPSchedule(), 250))]
)
def test_samplers_reproduce_a_gaussian(sampler, sigmas):
    x = generate(gaussian_D, (3,), 40_000, sigmas, sampler, seed=0, batch_size=10_000)
    # MC error ~1%, discretisation below 3%
    np.testing.assert_allclose(x.var(0), LAM.numpy(), rtol=0.04)
    np.testing.assert_allclose(x.mean(0), 0, atol=0.03)


def test_heun_on_molrg_recovers_class_energies():
    """Samples of the exact MoLRG posterior carry energy d in one class subspace and delta^2 d in
    the others."""
    U = molrg_bases(12, 2, 2, np.random.default_rng(0))  # (K, n, d)
    D = MolrgPosterior(U, 0.2).double().eval()
    x = generate(D, (12,), 4000, edm_steps(48), "heun", seed=1, batch_size=1000)
    e = np.einsum("knd,bn->bkd", U, x) ** 2  # (B, K, d)
    energy = e.sum(-1)  # (B, K): ||U_k^T x||^2
    own, other = energy.max(1).mean(), energy.min(1).mean()
    assert own == pytest.approx(2, rel=0.1) and other == pytest.approx(0.04 * 2, rel=0.3)
    assert 0.4 < (energy[:, 0] > energy[:, 1]).mean() < 0.6  # uniform class weights


def test_generation_is_seeded():
    a = generate(gaussian_D, (3,), 10, edm_steps(8), "heun", seed=5)
    # batching does not matter
    b = generate(gaussian_D, (3,), 10, edm_steps(8), "heun", seed=5, batch_size=3)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert not np.allclose(a, generate(gaussian_D, (3,), 10, edm_steps(8), "heun", seed=6))


def test_solvers_are_free_functions_and_ddim_is_exact_for_a_point_mass():
    D = lambda x, s: torch.zeros_like(x)  # noqa: E731 - data = {0}: every path lands on 0
    x = torch.ones(2, 3) * 80.0
    assert torch.allclose(ddim(D, x, edm_steps(5)), torch.zeros(2, 3))
    assert torch.allclose(heun(D, x, edm_steps(5)), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="unknown sampler 'euler'; expected one of"):
        generate(D, (3,), 2, edm_steps(5), "euler", seed=0)
