"""Schedules: DDPM betas and alphas_cumprod, sigma <-> timestep (docs/theory.md §1), the range
check, EDM steps."""

from __future__ import annotations

import numpy as np
import pytest

from reprdyn.maths.schedules import EDMSchedule, FlowSchedule, VPSchedule


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
    np.testing.assert_allclose(1 / (1 + s.sigmas**2), abar)  # abar_t = 1 / (1 + sigma_t^2)
    assert np.all(np.diff(VPSchedule("cosine").sigmas) > 0)


def test_out_of_range_timestep_is_clear():
    with pytest.raises(ValueError, match="outside the schedule's range 0..999"):
        VPSchedule().sigma([1000])
    with pytest.raises(ValueError, match="unknown beta schedule 'quad'"):
        VPSchedule("quad")


def test_a_sigma_outside_the_schedule_is_refused_not_clamped():
    s = VPSchedule()
    s.check_range([s.sigma_min, 1.0, s.sigma_max])
    assert s.out_of_range([0.001, 1.0, 500, 5000]) == [0.001, 500, 5000]
    with pytest.raises(
        ValueError, match=r"sigma 500 is outside the model's range \[0\.01, 157\.4\]"
    ):
        s.check_range([1.0, 500], "the model")
    with pytest.raises(ValueError, match="sigma 5000 is outside"):
        # the conversion itself refuses: time conditioning and input scaling cannot disagree
        s.timestep([5000])


def test_edm_steps():
    st = EDMSchedule(0.002, 80, 7).steps(18)
    assert st[0] == pytest.approx(80) and st[-1] == pytest.approx(0.002) and np.all(np.diff(st) < 0)


def test_flow_time_round_trip_and_frame():
    """sigma -> t -> sigma and sigma -> k -> sigma are identities; x_t = (1 - t) x0 + t eps is
    x0 + sigma eps scaled by 1 / (1 + sigma) (docs/theory.md §1), checked on random draws."""
    flow = FlowSchedule(1000)
    sigma = np.concatenate([[0.0], np.geomspace(1e-4, 1e4, 41)])
    t = flow.t(sigma)
    assert (t >= 0).all() and (t < 1).all() and (np.diff(t) > 0).all()
    np.testing.assert_allclose(t / (1 - t), sigma, rtol=1e-10)
    np.testing.assert_allclose(
        flow.sigma(flow.timestep(sigma[sigma < 999])), sigma[sigma < 999], rtol=1e-10
    )
    rng = np.random.default_rng(0)
    x0, eps = rng.normal(size=(2, 5, 3))
    for s, tt in zip(sigma, t):
        np.testing.assert_allclose((x0 + s * eps) / (1 + s), (1 - tt) * x0 + tt * eps, atol=1e-12)
    assert flow.sigma([0, 500, 750]).tolist() == [0.0, 1.0, 3.0]  # k / (T - k)
    with pytest.raises(ValueError, match="outside the flow schedule's range 0..999"):
        flow.sigma(1000)
    with pytest.raises(ValueError, match="every finite sigma >= 0"):
        flow.t(-0.1)
