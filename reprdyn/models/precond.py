"""Parameterisations: wrappers D(x; sigma) around raw networks, and their training losses.

Every wrapper takes x = x0 + sigma * eps (docs/theory.md §1, the EDM/VE frame) and returns the
posterior estimate of x0, so features and `output` mean the same thing for every parameterisation.
The preconditioning arithmetic runs in float32 whatever the network's dtype: only the network's
input is cast to it, and its output is cast back, so a float16 network never sees sigma^2 overflow
or a signal rounded away. Losses are small callables whose constructors only store hyperparameters.
"""

from __future__ import annotations

import torch
from torch import nn

from ..maths.schedules import VPSchedule


def _per_sample(sigma, x: torch.Tensor) -> torch.Tensor:
    """sigma as a (B,) float32 tensor on x's device."""
    s = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    return s.expand(x.shape[0]) if s.ndim == 0 else s


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (x.ndim - 1)))  # (B,) -> (B, 1, ..., 1)


def net_dtype(net: nn.Module) -> torch.dtype:
    """The dtype of a network's weights (float32 for a network without any)."""
    return next((p.dtype for p in net.parameters()), torch.float32)


class VPPrecond(nn.Module):
    """DDPM/VP: the net sees sqrt(abar_t) x at timestep t(sigma), c_noise = t / T, and predicts eps,
    x0 or v.

    The same wrapper serves reprdyn's own networks and pretrained diffusers ones
    (through an adapter that turns c_noise back into the timestep).
    """

    PREDICTIONS = ("eps", "x0", "v")

    def __init__(self, net: nn.Module, schedule: VPSchedule, prediction: str = "eps"):
        super().__init__()
        if prediction not in self.PREDICTIONS:
            raise ValueError(
                f"unknown VP prediction {prediction!r}; expected one of {list(self.PREDICTIONS)}"
            )
        self.net, self.schedule, self.prediction = net, schedule, prediction

    def c_noise(self, sigma: torch.Tensor) -> torch.Tensor:
        """t(sigma) / T, from the schedule's one sigma <-> timestep conversion (an out-of-range
        sigma raises)."""
        if sigma.device.type == "meta":  # an untrained build that only learns shapes
            return torch.empty(sigma.shape, dtype=torch.float32, device=sigma.device)
        t = self.schedule.timestep(sigma.detach().to("cpu", torch.float64).numpy())
        return torch.as_tensor(t / self.schedule.T, dtype=torch.float32, device=sigma.device)

    def raw(self, x: torch.Tensor, sigma) -> torch.Tensor:
        """The network's own prediction (float32) for x = x0 + sigma eps."""
        x = x.float()
        sigma = _per_sample(sigma, x)
        # sqrt(abar_t) x, theory §1
        x_in = x / _bcast(torch.sqrt(1 + sigma.double() ** 2).float(), x)
        return self.net(x_in.to(net_dtype(self.net)), self.c_noise(sigma)).float()

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        x = x.float()
        out = self.raw(x, sigma)
        s = _bcast(_per_sample(sigma, x), x)
        if self.prediction == "x0":
            return out
        # v = sqrt(abar) eps - sqrt(1 - abar) x0, so x0 = sqrt(abar) x_t - sqrt(1-abar) v
        if self.prediction == "v":
            root = torch.sqrt(1 + s.double() ** 2)
            return (x / root**2 - (s / root) * out).float()  # sqrt(abar) x_t = x / (1 + s^2)
        return x - s * out  # eps: x0 = x - sigma eps


class EDMPrecond(nn.Module):
    """EDM preconditioning: D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) (Karras et al.
    2022)."""

    def __init__(self, net: nn.Module, sigma_data: float = 0.5):
        super().__init__()
        self.net, self.sigma_data = net, sigma_data

    # the sigmas where every coefficient, c_noise and the noisy input are finite and distinct in
    # float32: sigma > 0 (c_noise = ln(sigma) / 4), and not so large that x0 + sigma eps overflows
    SIGMA_RANGE = (0.0, 1e30)  # (exclusive, inclusive); the spec refuses grids outside it

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        x = x.float()
        s = _per_sample(sigma, x).double()  # the coefficients in float64: sigma^2 never overflows
        sd2 = self.sigma_data**2
        c_skip = _bcast(sd2 / (s**2 + sd2), x).float()
        c_out = _bcast(s * self.sigma_data / torch.sqrt(s**2 + sd2), x).float()
        c_in = _bcast(1 / torch.sqrt(sd2 + s**2), x).float()
        c_noise = (torch.log(s) / 4).float()  # (B,)
        F_x = self.net((c_in * x).to(net_dtype(self.net)), c_noise).float()
        return c_skip * x + c_out * F_x


class FlowPrecond(nn.Module):
    """Rectified flow (SD3, FLUX): the net sees x_t = x / (1 + sigma) at t = sigma / (1 + sigma) and
    predicts the velocity v = eps - x0 (docs/theory.md §1).

    x_t = (1 - t) x0 + t eps, so x0 = x_t - t v: in EDM's terms c_in = c_skip = 1 / (1 + sigma),
    c_out = -sigma / (1 + sigma) and c_noise = t, the flow time in [0, 1) (an adapter scales it to
    the model's own timestep convention).
    """

    def __init__(self, net: nn.Module, schedule):
        super().__init__()
        self.net, self.schedule = net, schedule  # schedule: a FlowSchedule (its range, its T)

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        x = x.float()
        s = _per_sample(sigma, x).double()  # float64: 1 + sigma and t stay exact for large sigma
        c_in = _bcast(1 / (1 + s), x).float()  # = c_skip
        t = s / (1 + s)  # (B,), theory §1
        x_t = c_in * x
        v = self.net(x_t.to(net_dtype(self.net)), t.float()).float()
        return x_t - _bcast(t, x).float() * v  # x0 = x_t - t v


# --- losses ------------------------------------------------------------------


def _draw_sigma(sigmas: list[float], B: int, gen: torch.Generator) -> torch.Tensor:
    """B noise levels drawn uniformly from a fixed list (a DAE's levels)."""
    return torch.as_tensor(sigmas, dtype=torch.float32)[
        torch.randint(0, len(sigmas), (B,), generator=gen)
    ]


class VPLoss:
    """DDPM loss: t ~ U{0..T-1} (or the given sigmas), squared error of the prediction, summed per
    sample."""

    def __init__(self, sigmas: list[float] | None = None):
        self.sigmas = sigmas  # fixed noise levels: a DAE

    def __call__(self, D: VPPrecond, x0: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        B = x0.shape[0]
        if self.sigmas is None:
            t = torch.randint(0, D.schedule.T, (B,), generator=gen)
            sigma = torch.as_tensor(D.schedule.sigmas, dtype=torch.float32)[t]
        else:
            sigma = _draw_sigma(self.sigmas, B, gen)
        sigma = sigma.to(x0.device)
        eps = torch.randn(x0.shape, generator=gen).to(x0.device)
        out = D.raw(x0 + _bcast(sigma, x0) * eps, sigma)
        if D.prediction == "eps":
            target = eps
        elif D.prediction == "x0":
            target = x0
        else:  # v = sqrt(abar) eps - sqrt(1 - abar) x0, with abar = 1 / (1 + sigma^2)
            root = _bcast(torch.sqrt(1 + sigma**2), x0)
            target = eps / root - (_bcast(sigma, x0) / root) * x0
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
            sigma = _draw_sigma(self.sigmas, B, gen)
        sigma = sigma.to(x0.device)
        sd = D.sigma_data
        weight = (sigma**2 + sd**2) / (sigma * sd) ** 2
        eps = torch.randn(x0.shape, generator=gen).to(x0.device)
        err = (D(x0 + _bcast(sigma, x0) * eps, sigma) - x0).pow(2).flatten(1).sum(1)
        return (weight * err).mean()
