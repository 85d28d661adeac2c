"""Samplers: deterministic ODE solvers over any denoiser D(x; sigma) -> E[x0 | x] (docs/theory.md §1
frame).

The probability-flow ODE in the x = x0 + sigma eps frame is dx/dsigma = (x - D(x; sigma)) / sigma.
- `heun`: EDM's second-order solver (Karras et al. 2022, Algorithm 1), on the EDM sigma steps.
- `ddim`: DDIM with eta = 0 (Song et al. 2021), which is the first-order (Euler) step of that ODE:
  x_next = D(x) + (sigma_next / sigma) (x - D(x)), on the VP schedule's sigmas at evenly spaced
  timesteps.
Both are free functions; `generate` picks one for a model and seeds the starting noise.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import lookup
from ..maths.schedules import EDMSchedule, VPSchedule


@torch.no_grad()
def heun(D, x: torch.Tensor, sigmas: np.ndarray) -> torch.Tensor:
    """Integrate from sigmas[0] (x ~ N(0, sigmas[0]^2)) down to sigmas[-1] = 0 with Heun's
    method."""
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        d = (x - D(x, float(s))) / s  # dx/dsigma at s
        x_next = x + (s_next - s) * d  # Euler step
        if s_next > 0:  # second-order correction (Algorithm 1, lines 9-11)
            d_next = (x_next - D(x_next, float(s_next))) / s_next
            x_next = x + (s_next - s) * (d + d_next) / 2
        x = x_next
    return x


@torch.no_grad()
def ddim(D, x: torch.Tensor, sigmas: np.ndarray) -> torch.Tensor:
    """DDIM (eta = 0) in the sigma frame: x_next = x0_hat + (sigma_next / sigma) (x - x0_hat)."""
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        x0 = D(x, float(s))
        x = x0 + (s_next / s) * (x - x0)
    return x


def edm_steps(
    steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> np.ndarray:
    """EDM's decreasing sigmas (eq. 5) with a final 0."""
    return np.append(EDMSchedule(sigma_min, sigma_max, rho).steps(steps), 0.0)


def ddim_steps(schedule: VPSchedule, steps: int) -> np.ndarray:
    """The VP schedule's sigmas at `steps` evenly spaced timesteps from T-1 down to 0, then 0."""
    t = np.linspace(schedule.T - 1, 0, steps)
    return np.append(schedule.sigma(t), 0.0)


SAMPLERS = {"heun": heun, "ddim": ddim}


def generate(
    D,
    shape: tuple[int, ...],
    n: int,
    sigmas: np.ndarray,
    sampler: str,
    seed: int,
    batch_size: int = 256,
    device: str = "cpu",
) -> np.ndarray:
    """`n` samples of `shape` from x_T = sigmas[0] * N(0, I), drawn at once from `seed` (so the
    batch size does not change them), solved in batches; float32 numpy."""
    solve = lookup(SAMPLERS, sampler, "sampler")
    gen = torch.Generator().manual_seed(seed)
    # (n, *shape), one draw
    x_T = torch.randn((n, *shape), generator=gen, dtype=torch.float64) * float(sigmas[0])
    # the ODE state stays float32; a half-precision network gets its own dtype inside its wrapper
    out = [
        solve(D, x_T[i : i + batch_size].to(device=device, dtype=torch.float32), sigmas)
        .float()
        .cpu()
        .numpy()
        for i in range(0, n, batch_size)
    ]
    return np.concatenate(out)


def sampler_for(net, cfg, steps: int, choice: str) -> tuple[np.ndarray, str]:
    """The model's sampling grid (VP: its schedule's timesteps; otherwise EDM's) and solver."""
    precond = getattr(cfg, "precond", None)
    if precond is not None and precond.kind == "vp":
        sigmas, auto = ddim_steps(VPSchedule.from_config(precond), steps), "ddim"
    elif precond is not None and precond.kind == "edm":
        sigmas, auto = edm_steps(steps, precond.sigma_min, precond.sigma_max, precond.rho), "heun"
    elif getattr(net, "schedule", None) is not None:  # a pretrained VP model
        sigmas, auto = ddim_steps(net.schedule, steps), "ddim"
    else:
        sigmas, auto = edm_steps(steps), "heun"
    return sigmas, auto if choice == "auto" else choice
