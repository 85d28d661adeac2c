"""Building denoisers from spec blocks: raw network inside its parameterisation, its loss, the
analytic posterior.

A denoiser is an `nn.Module` whose `forward(x, sigma)` takes x = x0 + sigma eps
and returns the posterior estimate of x0. Its named submodules are the hookable
layers, and `output` is always its return value.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import lookup
from ..maths.schedules import VPSchedule
from .molrg import MolrgPosterior
from .networks import build_network
from .precond import EDMLoss, EDMPrecond, VPLoss, VPPrecond

PRECONDS = {
    "vp": lambda net, p: VPPrecond(net, VPSchedule.from_config(p), p.prediction),
    "edm": lambda net, p: EDMPrecond(net, p.sigma_data),
}
LOSSES = {
    "vp": lambda p, sigmas: VPLoss(sigmas),
    "edm": lambda p, sigmas: EDMLoss(p.P_mean, p.P_std, sigmas),
}


def build_denoiser(cfg, shape: tuple[int, ...]) -> nn.Module:
    """An untrained network inside its parameterisation, for a `diffusion` or `dae` block."""
    net_cfg = cfg.network
    if cfg.kind == "dae" and cfg.dropout is not None:
        net_cfg = net_cfg.model_copy(update={"dropout": cfg.dropout})
    return lookup(PRECONDS, cfg.precond.kind, "precond kind")(
        build_network(net_cfg, shape), cfg.precond
    )


def make_loss(cfg, train_sigmas: list[float] | None):
    """The training loss of a model block; `train_sigmas` fixes the noise levels (a DAE)."""
    return lookup(LOSSES, cfg.precond.kind, "precond kind")(cfg.precond, train_sigmas)


def molrg_optimal(data) -> nn.Module:
    """The exact posterior of a molrg dataset, built from its own bases and delta (docs/theory.md
    §3)."""
    return MolrgPosterior(data.extras["U"][1], data.meta["delta"]).eval()


def untrained_denoiser(cfg, shape: tuple[int, ...], device: str = "meta") -> nn.Module:
    """A trainable block's denoiser for its layers and shapes alone: by default built on the meta
    device, so its weights take no memory and no time however wide it is; the global RNG is
    untouched."""
    with torch.random.fork_rng(devices=[]), torch.device(device):
        return build_denoiser(cfg, tuple(shape)).eval()
