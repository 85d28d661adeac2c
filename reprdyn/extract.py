"""Extract stage: read named layers of a denoiser at one sigma, with forward hooks.

One forward pass per (batch, sigma) serves every requested layer, under
`torch.inference_mode`. `output` is the model's return value, the posterior
estimate, probed flattened; spatial maps of hidden layers are
global-average-pooled to one vector per sample, and the patch tokens of a
transformer (a model with `tokens = True`) are mean-pooled.
Batches stream out one at a time, so memory stays bounded.
"""
from __future__ import annotations

import threading
from typing import Iterator

import numpy as np
import torch
from torch import nn

OUTPUT = "output"


def hook_root(model: nn.Module) -> nn.Module:
    """Layers are named inside the raw network, not its parameterisation wrapper (`model.net`)."""
    net = getattr(model, "net", None)
    return net if isinstance(net, nn.Module) else model


def _first(t) -> torch.Tensor:
    return t[0] if isinstance(t, (tuple, list)) else t


def _pool(t, tokens: bool = False) -> torch.Tensor:
    t = _first(t)
    if tokens and t.ndim == 3:
        return t.mean(1)  # (B, N, D) patch tokens -> (B, D)
    return t.flatten(2).mean(2) if t.ndim > 2 else t.flatten(1)  # (B, C, *spatial) -> (B, C)


def _shape(t, tokens: bool) -> tuple[int, ...]:
    """Per-sample shape, channels first: token maps (N, D) are reported as (D, N)."""
    shape = tuple(_first(t).shape[1:])
    return shape[::-1] if tokens and len(shape) == 2 else shape


@torch.inference_mode()
def layer_shapes(net: nn.Module, x: torch.Tensor, sigma: float) -> dict[str, tuple[int, ...]]:
    """Every hookable name with its (unpooled, per-sample, channels-first) output shape: modules that run,
    then `output`."""
    shapes: dict[str, tuple[int, ...]] = {}
    owner, tokens = threading.get_ident(), getattr(net, "tokens", False)

    def record(name):
        def hook(module, args, out) -> None:  # returning None keeps the module's output
            if name not in shapes and threading.get_ident() == owner:
                shapes[name] = _shape(out, tokens)
        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in hook_root(net).named_modules() if name]
    try:
        out = net(x, sigma)
    finally:
        for h in handles:
            h.remove()
    names = [name for name, _ in hook_root(net).named_modules() if name in shapes]  # definition order
    return {**{n: shapes[n] for n in names}, OUTPUT: tuple(out.shape[1:])}


def hookable_layers(net: nn.Module) -> list[str]:
    """Named submodules (and `output`); containers that never run are listed by `layer_shapes` only."""
    return [name for name, m in hook_root(net).named_modules()
            if name and not isinstance(m, (nn.ModuleList, nn.ModuleDict))] + [OUTPUT]


@torch.inference_mode()
def extract(net: nn.Module, x: torch.Tensor, sigma: float, layers: list[str]) -> dict[str, torch.Tensor]:
    """Run net(x, sigma) once and return {layer: (B, C) pooled features}."""
    modules = dict(hook_root(net).named_modules())
    missing = [name for name in layers if name != OUTPUT and name not in modules]
    if missing:
        raise ValueError(f"unknown layer {missing[0]!r}; valid layers: {', '.join(hookable_layers(net))}")
    captured: dict[str, torch.Tensor] = {}
    owner, tokens = threading.get_ident(), getattr(net, "tokens", False)

    def capture(name):
        def hook(module, args, out) -> None:  # returning None keeps the module's output
            if threading.get_ident() == owner:  # tasks sharing this model in other threads have their own hooks
                captured[name] = _pool(out, tokens)
        return hook

    handles = [modules[name].register_forward_hook(capture(name)) for name in layers if name != OUTPUT]
    try:
        out = net(x, sigma)
    finally:
        for h in handles:
            h.remove()
    if OUTPUT in layers:
        captured[OUTPUT] = out.flatten(1)  # the posterior estimate is probed whole, not pooled
    never = [name for name in layers if name not in captured]
    if never:
        raise ValueError(f"layer {never[0]!r} never ran in the forward pass (a container?); "
                         "pick one of its blocks, see `reprdyn layers`")
    return {name: captured[name] for name in layers}


def iter_features(net: nn.Module, x0: np.ndarray, sigma: float, layers: list[str], *, noisy: bool = False,
                  rng: np.random.Generator | None = None, draws: int = 1, batch_size: int = 1024,
                  device: str = "cpu") -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
    """Yield (start, stop, {layer: (B, C) float64}) batch by batch.

    Clean input feeds x0 (THEORY.md §1); noisy input feeds x0 + sigma eps with
    eps from `rng`, averaged over `draws`. numpy draws are sequential, so the
    noise of a sample does not depend on the batch size.
    """
    dtype = next((p.dtype for p in net.parameters()), torch.float32)
    for start in range(0, len(x0), batch_size):
        xb = np.asarray(x0[start:start + batch_size])  # (B, *shape)
        acc: dict[str, np.ndarray] = {}
        for _ in range(draws if noisy else 1):
            x = xb + sigma * rng.standard_normal(xb.shape) if noisy else xb
            feats = extract(net, torch.as_tensor(x, dtype=dtype, device=device), sigma, layers)
            for name, f in feats.items():
                f = f.to("cpu", torch.float64).numpy()
                acc[name] = acc[name] + f if name in acc else f
        yield start, start + len(xb), {k: v / (draws if noisy else 1) for k, v in acc.items()}


def extract_all(net: nn.Module, x0: np.ndarray, sigma: float, layers: list[str], *, noisy: bool, seed: int,
                batch_size: int, device: str = "cpu", draws: int = 1) -> dict[str, np.ndarray]:
    """All samples' features at one sigma, in memory (for small data and tests)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    rng = np.random.default_rng(seed)
    for _, _, feats in iter_features(net, x0, sigma, layers, noisy=noisy, rng=rng, draws=draws,
                                     batch_size=batch_size, device=device):
        for name, f in feats.items():
            parts[name].append(f)
    return {name: np.concatenate(v) for name, v in parts.items()}
