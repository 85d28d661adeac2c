"""Parameterisation wrappers and losses: EDM limits, VP input scaling, eps/x0 mapping."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from reprdyn.models.networks import MLP
from reprdyn.models.precond import EDMLoss, EDMPrecond, VPLoss, VPPrecond
from reprdyn.models.schedules import VPSchedule


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
    D(x0, sigma)  # clean-input mode: the net sees sqrt(abar_t) x0 (THEORY.md §1)
    torch.testing.assert_close(D.net.seen[0], x0 * float(np.sqrt(s.alphas_cumprod[300])))
    assert float(D.net.seen[1][0]) * s.T == pytest.approx(300, abs=1e-2)
    Dx = VPPrecond(Recorder(x0), s, "x0")
    torch.testing.assert_close(Dx(x0 + eps, 1.0), x0)


@pytest.mark.parametrize("loss, D", [
    (VPLoss(), VPPrecond(MLP((4,), width=8), VPSchedule())),
    (EDMLoss(), EDMPrecond(MLP((4,), width=8))),
    (EDMLoss(sigmas=[0.5]), EDMPrecond(MLP((4,), width=8))),
])
def test_losses_are_seeded_scalars(loss, D):
    x0 = torch.randn(16, 4)
    a = loss(D, x0, torch.Generator().manual_seed(1))
    b = loss(D, x0, torch.Generator().manual_seed(1))
    assert a.ndim == 0 and a.item() == b.item() and a.item() > 0
