"""Extract stage: read named layers of a denoiser at one sigma, with forward hooks.

One forward pass per (batch, sigma) serves every requested layer. `output` is
the model's return value, the posterior estimate. Spatial maps are
global-average-pooled to one vector per sample.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

OUTPUT = "output"


def hookable_layers(net: nn.Module) -> list[str]:
    """Every name a spec may list: the named submodules, plus `output`."""
    return [name for name, _ in net.named_modules() if name] + [OUTPUT]


def _pool(t: torch.Tensor) -> torch.Tensor:
    if isinstance(t, (tuple, list)):
        t = t[0]
    return t.flatten(2).mean(2) if t.ndim > 2 else t  # (B, C, *spatial) -> (B, C)


def noisy_input(x0: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """x_sigma = x0 + sigma * eps with seeded eps (THEORY.md §1, "noisy input" mode)."""
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device="cpu").to(x0.device)
    return x0 + sigma * eps


@torch.inference_mode()
def extract(net: nn.Module, x: torch.Tensor, sigma: float, layers: list[str]) -> dict[str, torch.Tensor]:
    """Run net(x, sigma) once and return {layer: (B, C) pooled features}."""
    modules = dict(net.named_modules())
    missing = [name for name in layers if name != OUTPUT and name not in modules]
    if missing:
        raise ValueError(f"unknown layer {missing[0]!r}; valid layers: {', '.join(hookable_layers(net))}")
    captured: dict[str, torch.Tensor] = {}
    handles = [
        modules[name].register_forward_hook(lambda m, i, o, name=name: captured.__setitem__(name, _pool(o)))
        for name in layers if name != OUTPUT
    ]
    try:
        out = net(x, sigma)
    finally:
        for h in handles:
            h.remove()
    if OUTPUT in layers:
        captured[OUTPUT] = _pool(out)
    return {name: captured[name] for name in layers}


def extract_all(net: nn.Module, x0: np.ndarray, sigma: float, layers: list[str], *, noisy: bool,
                seed: int, batch_size: int, device: str = "cpu") -> dict[str, np.ndarray]:
    """Features of all samples at one sigma, batched; noise is seeded per (seed, sigma)."""
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    for start in range(0, len(x0), batch_size):
        xb = torch.as_tensor(x0[start:start + batch_size]).to(device)  # (B, *shape)
        if noisy:
            xb = noisy_input(xb, sigma, gen)
        for name, f in extract(net, xb, sigma, layers).items():
            parts[name].append(f.detach().to("cpu", torch.float64).numpy())
    return {name: np.concatenate(v) for name, v in parts.items()}
