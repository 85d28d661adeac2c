"""Parameterisation wrappers and losses: EDM limits, VP input scaling, eps/x0/v mapping, losses by
hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reprdyn.maths.schedules import VPSchedule
from reprdyn.models.networks import MLP
from reprdyn.models.precond import EDMLoss, EDMPrecond, VPLoss, VPPrecond


class Recorder(nn.Module):
    """A raw 'network' that records its input and returns a fixed tensor."""

    def __init__(self, out):
        super().__init__()
        self.out, self.seen = out, None

    def forward(self, x, c_noise):
        self.seen = (x.clone(), c_noise.clone())
        return self.out


def test_edm_denoiser_tends_to_identity():
    torch.manual_seed(0)
    D = EDMPrecond(MLP((6,), width=16))
    x = torch.randn(4, 6)
    with torch.no_grad():
        errs = [float((D(x, s) - x).abs().max()) for s in (1e-1, 1e-2, 1e-3, 1e-4)]
    assert errs[-1] < 1e-3 and errs == sorted(errs, reverse=True)  # D(x; sigma) -> x as sigma -> 0


def test_edm_coefficients():
    x, F = torch.randn(3, 5), torch.randn(3, 5)
    D = EDMPrecond(Recorder(F), sigma_data=0.5)
    out = D(x, 2.0)
    c_skip, c_out, c_in = 0.25 / 4.25, 2 * 0.5 / np.sqrt(4.25), 1 / np.sqrt(4.25)
    torch.testing.assert_close(out, c_skip * x + c_out * F)
    torch.testing.assert_close(D.net.seen[0], c_in * x)
    assert float(D.net.seen[1][0]) == pytest.approx(np.log(2.0) / 4)


def test_vp_clean_input_is_scaled_and_eps_maps_to_x0():
    s = VPSchedule()
    x0, eps, sigma = torch.randn(4, 5), torch.randn(4, 5), float(s.sigmas[300])
    D = VPPrecond(Recorder(eps), s, "eps")
    out = D(x0 + sigma * eps, sigma)  # the net returns the true eps ...
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=1e-5)  # ... so D recovers x0
    D(x0, sigma)  # clean-input mode: the net sees sqrt(abar_t) x0 (docs/theory.md §1)
    torch.testing.assert_close(D.net.seen[0], x0 * float(np.sqrt(s.alphas_cumprod[300])))
    assert float(D.net.seen[1][0]) * s.T == pytest.approx(300, abs=1e-2)
    Dx = VPPrecond(Recorder(x0), s, "x0")
    torch.testing.assert_close(Dx(x0 + eps, 1.0), x0)


class Probe(nn.Module):
    """A raw 'network' that returns a fixed prediction and records what it was given, batch by
    batch."""

    def __init__(self, out):
        super().__init__()
        self.out, self.seen = out, []

    def forward(self, x, c_noise):
        self.seen.append((x.clone(), c_noise.clone()))
        return self.out


@pytest.mark.parametrize("prediction", ["eps", "x0", "v"])
def test_vp_loss_against_a_hand_computation(prediction):
    """The DDPM loss at one known sigma (a DAE's): recover eps from what the network saw, form the
    target by hand (eps, x0 or v = sqrt(abar) eps - sqrt(1 - abar) x0), and compare mean_b sum (F -
    target)^2."""
    x0, F = torch.randn(5, 3), torch.randn(5, 3)
    sigma = 0.7
    D = VPPrecond(Probe(F), VPSchedule(), prediction)
    got = VPLoss([sigma])(D, x0, torch.Generator().manual_seed(0))
    x_in, c_noise = D.net.seen[0]
    root = np.sqrt(1 + sigma**2)  # 1 / sqrt(abar)
    eps = (x_in * root - x0) / sigma  # the net saw (x0 + sigma eps) / sqrt(1 + sigma^2)
    target = {"eps": eps, "x0": x0, "v": eps / root - sigma / root * x0}[prediction]
    assert float(got) == pytest.approx(float(((F - target) ** 2).sum(1).mean()), rel=1e-5)
    assert torch.allclose(
        c_noise * 1000, torch.full((5,), float(VPSchedule().timestep(sigma))), atol=1e-3
    )
    assert abs(float(eps.std()) - 1) < 0.6  # a genuine standard normal draw, not zeros


def test_vp_loss_draws_timesteps_uniformly():
    D = VPPrecond(Probe(torch.zeros(20_000, 2)), VPSchedule(T=100), "eps")
    VPLoss()(D, torch.zeros(20_000, 2), torch.Generator().manual_seed(1))
    t = (D.net.seen[0][1] * 100).round()
    assert t.min() == 0 and t.max() == 99 and abs(float(t.float().mean()) - 49.5) < 1.0


def test_edm_loss_against_a_hand_computation():
    """EDM's loss: recover each sample's sigma from c_noise = ln(sigma) / 4 and its noisy input from
    c_in x, rebuild D = c_skip x + c_out F and the weight (s^2 + sd^2) / (s sd)^2 by hand."""
    x0, F, sd = torch.randn(6, 4), torch.randn(6, 4), 0.5
    D = EDMPrecond(Probe(F), sd)
    got = EDMLoss(P_mean=-1.2, P_std=1.2)(D, x0, torch.Generator().manual_seed(3))
    x_in, c_noise = D.net.seen[0]
    s = torch.exp(4 * c_noise)[:, None]  # (B, 1)
    x = x_in * torch.sqrt(s**2 + sd**2)  # x = x0 + sigma eps
    Dx = sd**2 / (s**2 + sd**2) * x + s * sd / torch.sqrt(s**2 + sd**2) * F
    weight = (s[:, 0] ** 2 + sd**2) / (s[:, 0] * sd) ** 2
    assert float(got) == pytest.approx(float((weight * ((Dx - x0) ** 2).sum(1)).mean()), rel=1e-5)


def test_edm_loss_draws_log_normal_sigmas():
    D = EDMPrecond(Probe(torch.zeros(20_000, 1)))
    EDMLoss(P_mean=-1.2, P_std=1.2)(D, torch.zeros(20_000, 1), torch.Generator().manual_seed(2))
    log_sigma = 4 * D.net.seen[0][1]
    assert abs(float(log_sigma.mean()) + 1.2) < 0.03 and abs(float(log_sigma.std()) - 1.2) < 0.03
    EDMLoss(sigmas=[0.3, 3.0])(D, torch.zeros(20_000, 1), torch.Generator().manual_seed(2))  # a DAE
    levels = torch.exp(4 * D.net.seen[1][1]).unique()
    assert torch.allclose(levels, torch.tensor([0.3, 3.0]), rtol=1e-5)


class HalfNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3).half()

    def forward(self, x, c_noise):
        assert x.dtype == torch.float16 and c_noise.dtype == torch.float32
        return self.lin(x)


def test_half_precision_network_gets_a_float32_frame():
    """sigma^2 and the input scaling stay float32 when the network is float16: at sigma = 500
    (sigma^2 is 250000, past float16's 65504) the estimate is finite, float32, and x - sigma *
    eps_hat exactly.
    """
    D = VPPrecond(HalfNet(), VPSchedule("cosine"), "eps")
    x = torch.randn(4, 3)
    out = D(x, 500.0)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    with torch.no_grad():
        eps_hat = D.net.lin((x / np.sqrt(1 + 500.0**2)).half()).float()
    torch.testing.assert_close(out, x - 500.0 * eps_hat)


def test_edm_distinguishes_tiny_sigmas_and_refuses_zero():
    """No clamp: sigmas of 1e-12, 1e-9 and 1e-8 condition the network differently, and a grid
    with sigma = 0 (or beyond float32) is a positioned error naming the valid range."""
    from helpers import SMALL

    from reprdyn.models.precond import EDMPrecond
    from reprdyn.spec import SpecError, validate_text
    from reprdyn.spec.modelcfg import EDM_SIGMA_RANGE

    assert EDM_SIGMA_RANGE == EDMPrecond.SIGMA_RANGE
    seen = []

    class Record(torch.nn.Module):
        def forward(self, x, c_noise):
            seen.append(c_noise)
            return x

    D = EDMPrecond(Record())
    x = torch.randn(2, 3)
    for s in (1e-12, 1e-9, 1e-8):
        out = D(x, s)
        assert torch.isfinite(out).all()
    assert len({float(c[0]) for c in seen}) == 3
    big = D(x, 1e25)  # sigma^2 = 1e50 would overflow float32: the coefficients are float64
    assert torch.isfinite(big).all()
    edm = SMALL.replace(
        "model: {kind: molrg-optimal}",
        "model: {kind: diffusion, network: {kind: mlp}, precond: {kind: edm}, "
        "train: {data: toy, epochs: 1}}",
    ).replace("probes: [{kind: logistic, transform: abs, standardize: false}]", "layers: [fc2]")
    for grid, says in (
        ("[0, 0.5]", "outside the range of an edm model"),
        ("[0.5, 1e31]", "too large"),
    ):
        with pytest.raises(SpecError, match=f"sigma: sigma .* {says}"):
            validate_text(
                edm.replace("sigma: {start: 0.05, stop: 5, num: 5, scale: log}", f"sigma: {grid}")
            )
    validate_text(
        edm.replace("sigma: {start: 0.05, stop: 5, num: 5, scale: log}", "sigma: [1e-12, 1e-9]")
    )
