"""Model stage: denoisers behind one interface, chosen by `kind` from an explicit table.

A denoiser is an `nn.Module` whose `forward(x, sigma)` returns the posterior
estimate of x0; its named submodules are the hookable layers and `output` is
always its return value.
"""
from __future__ import annotations

from torch import nn

from .molrg import MolrgPosterior


def _molrg_optimal(cfg, data) -> nn.Module:
    if "U" not in data.extras:
        raise ValueError("model kind 'molrg-optimal' needs a molrg dataset (it uses the true bases)")
    return MolrgPosterior(data.extras["U"][1], data.meta["delta"])


BUILDERS = {"molrg-optimal": _molrg_optimal}


def build_model(cfg, data) -> nn.Module:
    """Build the denoiser for `cfg` (a spec model entry), for probing `data`."""
    try:
        builder = BUILDERS[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown model kind {cfg.kind!r}; expected one of {sorted(BUILDERS)}") from None
    return builder(cfg, data).eval()
