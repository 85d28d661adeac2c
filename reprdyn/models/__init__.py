"""Model stage: denoisers behind one interface, chosen by `kind` from explicit tables.

A denoiser is an `nn.Module` whose `forward(x, sigma)` takes x = x0 + sigma eps
and returns the posterior estimate of x0. Its named submodules are the hookable
layers, and `output` is always its return value. Trained models are a raw
network (`networks`) inside a parameterisation wrapper (`precond`).
"""
from __future__ import annotations

from torch import nn

from .molrg import MolrgPosterior
from .networks import build_network
from .precond import EDMLoss, EDMPrecond, VPLoss, VPPrecond
from .pretrained import LOADERS, ModelUnavailable, load_pretrained  # noqa: F401 - the models API
from .schedules import VPSchedule


def build_denoiser(cfg, shape: tuple[int, ...]) -> nn.Module:
    """An untrained network inside its parameterisation, for a `diffusion` or `dae` block."""
    net_cfg = cfg.network
    if cfg.kind == "dae" and cfg.dropout is not None:
        net_cfg = net_cfg.model_copy(update={"dropout": cfg.dropout})
    net = build_network(net_cfg, shape)
    p = cfg.precond
    try:
        wrap = PRECONDS[p.kind]
    except KeyError:
        raise ValueError(f"unknown precond kind {p.kind!r}; expected one of {sorted(PRECONDS)}") from None
    return wrap(net, p)


PRECONDS = {
    "vp": lambda net, p: VPPrecond(net, VPSchedule.from_config(p), p.prediction),
    "edm": lambda net, p: EDMPrecond(net, p.sigma_data),
}


def make_loss(cfg, train_sigmas: list[float] | None):
    """The training loss of a model block; `train_sigmas` fixes the noise levels (a DAE)."""
    p = cfg.precond
    if p.kind == "vp":
        return VPLoss(train_sigmas)
    if p.kind == "edm":
        return EDMLoss(p.P_mean, p.P_std, train_sigmas)
    raise ValueError(f"unknown precond kind {p.kind!r}; expected one of {sorted(PRECONDS)}")


def molrg_optimal(data) -> nn.Module:
    if "U" not in data.extras:
        raise ValueError("model kind 'molrg-optimal' needs a molrg dataset (it uses the true bases)")
    return MolrgPosterior(data.extras["U"][1], data.meta["delta"]).eval()


def untrained(cfg, data) -> nn.Module:
    """The denoiser a model block describes, untrained, for its layer shapes; the global RNG is untouched."""
    if cfg.kind == "molrg-optimal":
        return molrg_optimal(data)
    import torch

    with torch.random.fork_rng(devices=[]):
        return build_denoiser(cfg, tuple(data.x.shape[1:])).eval()


def dae_sigmas(cfg, grid: list[float]) -> list[list[float]] | None:
    """Noise levels of each DAE a model block trains: one list per checkpoint (None: a diffusion model)."""
    if cfg.kind != "dae":
        return None
    if cfg.train_sigma == "grid":
        return [[s] for s in grid]
    return [[float(cfg.train_sigma)]] if isinstance(cfg.train_sigma, (int, float)) else [list(cfg.train_sigma)]


TRAINABLE = {"diffusion", "dae"}
PRETRAINED = set(LOADERS)  # loaded, never trained


def network_layers(cfg, shape: tuple[int, ...]) -> list[str]:
    """Hookable layer names of a trainable model block, from an untrained build on a dummy batch."""
    import torch

    from ..extract import layer_shapes

    with torch.random.fork_rng(devices=[]):
        net = build_denoiser(cfg, tuple(shape)).eval()
    return list(layer_shapes(net, torch.zeros(2, *shape), 1.0))
