"""Parameterisations: wrappers D(x; sigma) around raw networks, and their training losses.

Every wrapper takes x = x0 + sigma * eps (THEORY.md §1, the EDM/VE frame) and
returns the posterior estimate of x0, so features and `output` mean the same
thing for every parameterisation. Losses are small callables whose
constructors only store hyperparameters.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .schedules import VPSchedule


def _per_sample(sigma, x: torch.Tensor) -> torch.Tensor:
    """sigma as a (B,) float tensor on x's device."""
    s = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    return s.expand(x.shape[0]) if s.ndim == 0 else s


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (x.ndim - 1)))  # (B,) -> (B, 1, ..., 1)


class VPPrecond(nn.Module):
    """DDPM/VP: the net sees sqrt(abar_t) x at timestep t(sigma) and predicts eps or x0."""

    def __init__(self, net: nn.Module, schedule: VPSchedule, prediction: str = "eps"):
        super().__init__()
        if prediction not in ("eps", "x0"):
            raise ValueError(f"unknown VP prediction {prediction!r}; expected one of ['eps', 'x0']")
        self.net, self.schedule, self.prediction = net, schedule, prediction
        self.register_buffer("log_sigmas", torch.as_tensor(np.log(schedule.sigmas), dtype=torch.float32))

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """Fractional timestep of each sigma (log-linear between integer steps), clipped to 0..T-1."""
        ls = torch.log(sigma.clamp(min=float(self.schedule.sigmas[0]), max=float(self.schedule.sigmas[-1])))
        i = torch.searchsorted(self.log_sigmas, ls).clamp(1, len(self.log_sigmas) - 1)
        lo, hi = self.log_sigmas[i - 1], self.log_sigmas[i]
        return (i - 1).float() + (ls - lo) / (hi - lo)

    def raw(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = _per_sample(sigma, x)
        x_in = x / _bcast(torch.sqrt(1 + sigma ** 2), x)  # sqrt(abar_t) x, THEORY.md §1
        return self.net(x_in, self.timestep(sigma) / self.schedule.T)

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        out = self.raw(x, sigma)
        if self.prediction == "x0":
            return out
        return x - _bcast(_per_sample(sigma, x), x) * out  # x0 = x - sigma eps


class EDMPrecond(nn.Module):
    """EDM preconditioning: D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) (Karras et al. 2022)."""

    def __init__(self, net: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        self.net, self.sigma_data = net, sigma_data

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        sigma = _bcast(_per_sample(sigma, x), x)
        sd2 = self.sigma_data ** 2
        c_skip = sd2 / (sigma ** 2 + sd2)
        c_out = sigma * self.sigma_data / torch.sqrt(sigma ** 2 + sd2)
        c_in = 1 / torch.sqrt(sd2 + sigma ** 2)
        c_noise = torch.log(sigma.clamp(min=1e-8)).flatten() / 4
        return c_skip * x + c_out * self.net(c_in * x, c_noise)


# --- losses ------------------------------------------------------------------

class VPLoss:
    """DDPM loss: t ~ U{0..T-1} (or the given sigmas), MSE on the predicted eps or x0."""

    def __init__(self, sigmas: list[float] | None = None):
        self.sigmas = sigmas  # fixed noise levels: a DAE

    def __call__(self, D: VPPrecond, x0: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        B = x0.shape[0]
        if self.sigmas is None:
            t = torch.randint(0, D.schedule.T, (B,), generator=gen)
            sigma = torch.as_tensor(D.schedule.sigmas, dtype=torch.float32)[t]
        else:
            sigma = torch.as_tensor(self.sigmas, dtype=torch.float32)[torch.randint(0, len(self.sigmas), (B,), generator=gen)]
        sigma = sigma.to(x0.device)
        eps = torch.randn(x0.shape, generator=gen).to(x0.device)
        out = D.raw(x0 + _bcast(sigma, x0) * eps, sigma)
        target = eps if D.prediction == "eps" else x0
        return (out - target).pow(2).flatten(1).sum(1).mean()


class EDMLoss:
    """EDM loss: ln sigma ~ N(P_mean, P_std^2) (or the given sigmas), weight (s^2+sd^2)/(s sd)^2."""

    def __init__(self, P_mean: float = -1.2, P_std: float = 1.2, sigmas: list[float] | None = None):
        self.P_mean, self.P_std, self.sigmas = P_mean, P_std, sigmas

    def __call__(self, D: EDMPrecond, x0: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        B = x0.shape[0]
        if self.sigmas is None:
            sigma = torch.exp(torch.randn(B, generator=gen) * self.P_std + self.P_mean)
        else:
            sigma = torch.as_tensor(self.sigmas, dtype=torch.float32)[torch.randint(0, len(self.sigmas), (B,), generator=gen)]
        sigma = sigma.to(x0.device)
        sd = D.sigma_data
        weight = (sigma ** 2 + sd ** 2) / (sigma * sd) ** 2
        eps = torch.randn(x0.shape, generator=gen).to(x0.device)
        err = (D(x0 + _bcast(sigma, x0) * eps, sigma) - x0).pow(2).flatten(1).sum(1)
        return (weight * err).mean()
