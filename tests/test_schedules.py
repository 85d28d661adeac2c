"""Schedules: DDPM betas and alphas_cumprod, sigma <-> timestep (THEORY.md §1), EDM steps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reprdyn.models.precond import VPPrecond
from reprdyn.models.schedules import EDMSchedule, VPSchedule, abar_from_sigma


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_sigma_timestep_round_trip(kind):
    s = VPSchedule(kind)
    grid = np.geomspace(s.sigma_min * 1.01, s.sigma_max * 0.99, 25)
    np.testing.assert_allclose(s.sigma(s.timestep(grid)), grid, rtol=1e-10)
    t = np.array([1, 5, 10, 20, 40, 280, 999])
    np.testing.assert_allclose(s.timestep(s.sigma(t)), t, atol=1e-9)


def test_linear_schedule_matches_ddpm():
    s = VPSchedule("linear", T=1000, beta_start=1e-4, beta_end=0.02)
    abar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(s.alphas_cumprod, abar)
    np.testing.assert_allclose(s.sigmas, np.sqrt((1 - abar) / abar))
    np.testing.assert_allclose(abar_from_sigma(s.sigmas), abar)  # abar_t = 1 / (1 + sigma_t^2)
    assert np.all(np.diff(VPSchedule("cosine").sigmas) > 0)


def test_out_of_range_timestep_is_clear():
    with pytest.raises(ValueError, match="outside the schedule's range 0..999"):
        VPSchedule().sigma([1000])
    with pytest.raises(ValueError, match="unknown beta schedule 'quad'"):
        VPSchedule("quad")


def test_torch_timestep_matches_numpy():
    s = VPSchedule("cosine")
    D = VPPrecond(torch.nn.Identity(), s)
    sig = np.geomspace(0.01, 50, 40)
    got = D.timestep(torch.tensor(sig, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, s.timestep(sig), atol=2e-3)


def test_edm_steps():
    st = EDMSchedule(0.002, 80, 7).steps(18)
    assert st[0] == pytest.approx(80) and st[-1] == pytest.approx(0.002) and np.all(np.diff(st) < 0)
