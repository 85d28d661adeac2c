"""Extract stage: read named layers of a denoiser at one sigma, with forward hooks.

One forward pass per (batch, sigma) serves every requested layer, under `torch.inference_mode`.
`output` is the model's return value, the posterior estimate, probed flattened; spatial maps of
hidden layers are global-average-pooled to one vector per sample, and the patch tokens of a
transformer (a model with `tokens = True`, see `Reader`) are mean-pooled; features are float32
whatever the network's dtype. Batches stream out one at a time, so memory stays bounded. The
noise of noisy inputs comes from a `NoiseStream`: the noise of sample i, draw j is a function of
the stream's key and (i, j) alone, and the network always sees the same aligned blocks of
FORWARD_ROWS samples, so no number depends on how a run is batched (only an out-of-memory retry,
which splits blocks, can change results at float rounding, and says so).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..seeds import derive_seed
from ..spec.kinds import FORWARD_ROWS, OUTPUT


def _chain(model: nn.Module) -> list[nn.Module]:
    """The wrapper, the raw network inside it (`.net`), an adapted network inside that, and so
    on."""
    out = [model]
    while isinstance(getattr(out[-1], "net", None), nn.Module):
        out.append(out[-1].net)
    return out


def hook_root(model: nn.Module) -> nn.Module:
    """Layers are named inside the innermost raw network, not its parameterisation wrapper or
    adapter."""
    return _chain(model)[-1]


class Reader:
    """How the layer outputs of one forward pass on input x become features.

    A module that returns a tuple is read at its image stream: the first element, unless the
    adapter of a transformer says otherwise (`adapter.stream(module, out)`: SD3's and FLUX's
    blocks return (text, image)). A (B, N, D) output whose N tokens fill a grid is read as tokens
    on that grid, row by row: mean-pooled over N for classification, laid out as a (D, gh, gw) map
    for dense sets. A transformer adapter (`tokens = True`) names its one grid
    (`adapter.grid((h, w))`) and its other token outputs (text tokens) are only pooled; in a
    convolutional network the grids are the resolutions of its levels, (h, w) halved (rounding
    up) at each, where attention layers and their projections work on flattened maps.
    """

    def __init__(self, net: nn.Module, x: torch.Tensor):
        self.adapter = next((m for m in _chain(net) if getattr(m, "tokens", False)), None)
        self.grids: list[tuple[int, int]] = []
        if self.adapter is not None:
            self.grids = [tuple(self.adapter.grid(tuple(x.shape[-2:])))]
        elif x.ndim == 4:
            h, w = x.shape[-2:]
            while True:  # (h, w), (ceil(h/2), ceil(w/2)), ..., (1, 1)
                self.grids.append((h, w))
                if h == w == 1:
                    break
                h, w = -(-h // 2), -(-w // 2)

    def stream(self, module: nn.Module, out) -> torch.Tensor:
        if self.adapter is not None and hasattr(self.adapter, "stream"):
            return self.adapter.stream(module, out)
        return _first(out)

    def _grid(self, t: torch.Tensor) -> tuple[int, int] | None:
        if t.ndim == 3:
            return next((g for g in self.grids if t.shape[1] == g[0] * g[1]), None)
        return None

    def _tokens(self, t: torch.Tensor) -> bool:
        return t.ndim == 3 and (self.adapter is not None or self._grid(t) is not None)

    def pool(self, module: nn.Module, out) -> torch.Tensor:
        t = _wide(self.stream(module, out))  # a half-precision map is pooled in float32
        if self._tokens(t):
            return t.mean(1)  # (B, N, D) tokens -> (B, D)
        return t.flatten(2).mean(2) if t.ndim > 2 else t.flatten(1)  # (B, C, *spatial) -> (B, C)

    def spatial(self, module: nn.Module, out) -> torch.Tensor:
        """The output as a (B, C, h, w) map: tokens (B, N, D) on a grid become their
        (B, D, gh, gw) map."""
        t = _wide(self.stream(module, out))
        grid = self._grid(t)
        if grid is not None:
            return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], *grid)
        if self._tokens(t):
            g = self.grids[0]
            raise ValueError(
                f"{t.shape[1]} tokens are not the {g[0]}x{g[1]} latent grid (text tokens?); no "
                "dense map"
            )
        return _map(t)

    def shape(self, module: nn.Module, out) -> tuple[int, ...]:
        """Per-sample shape, channels first: tokens on a grid are (D, gh, gw), other tokens
        (D, N)."""
        t = self.stream(module, out)
        grid = self._grid(t)
        if grid is not None:
            return (t.shape[2], *grid)
        return tuple(t.shape[1:])[::-1] if self._tokens(t) else tuple(t.shape[1:])


class NoiseStream:
    """Seeded noise eps for (sample i, draw j): a function of `seed` and (i, j) alone.

    Noise is drawn per block of BLOCK samples, each block from its own counter-based generator
    (Philox keyed by seed, draw and block), so any batch of rows gets the same noise however the
    rows are batched.
    """

    BLOCK = 256

    def __init__(self, seed: int, shape: tuple[int, ...]):
        self.seed, self.shape = int(seed), tuple(shape)
        self._key, self._block = None, None

    def _draw(self, draw: int, block: int) -> np.ndarray:
        if self._key != (draw, block):  # sequential batches reuse the last block
            gen = np.random.Generator(
                np.random.Philox(np.random.SeedSequence([self.seed, draw, block]))
            )
            self._key, self._block = (draw, block), gen.standard_normal((self.BLOCK, *self.shape))
        return self._block

    def __call__(self, start: int, stop: int, draw: int = 0) -> np.ndarray:
        """eps of samples start..stop-1 for `draw`: (stop - start, *shape) float64."""
        B = self.BLOCK
        parts = (
            [
                self._draw(draw, b)[max(start - b * B, 0) : min(stop - b * B, B)]
                for b in range(start // B, (stop - 1) // B + 1)
            ]
            if stop > start
            else []
        )
        return np.concatenate(parts) if parts else np.zeros((0, *self.shape))

    def at(self, index: np.ndarray, draw: int = 0) -> np.ndarray:
        """eps of the samples `index` (any order) for `draw`: (len(index), *shape) float64."""
        index = np.asarray(index)
        out = np.empty((len(index), *self.shape))
        for b in np.unique(index // self.BLOCK):
            sel = index // self.BLOCK == b
            out[sel] = self._draw(draw, int(b))[index[sel] - b * self.BLOCK]
        return out


def input_noise(spec, dataset: str, model: str, sigma: float, shape, inp: str):
    """The noise stream of one (dataset, model, sigma) for input `inp`: None for clean input.

    Keyed by the sigma's value, not its place in the grid, and shared by every stage that feeds
    noisy input (pooled features, dense features), so sample i sees the same noise in each.
    """
    if inp != "noisy":
        return None
    return NoiseStream(derive_seed(spec.seed, dataset, "noise", model, repr(float(sigma))), shape)


def halving_on_oom(attempt, what: str, device: str, unit: str = "samples"):
    """`attempt(rows)`, and on a device out-of-memory error again with half the rows per forward
    pass, down to one. The noise of a sample stays (it is keyed by the sample), so results can
    differ from a run with full passes only at float rounding, which the warning says."""
    import logging

    rows = FORWARD_ROWS
    while True:
        try:
            return attempt(rows)
        except torch.OutOfMemoryError:
            if rows == 1:
                raise
            rows //= 2
            logging.getLogger("reprdyn").warning(
                "%s: out of memory on %s; retrying with %d %s per forward pass (results can differ "
                "at float rounding from a run with %d)",
                what,
                device,
                rows,
                unit,
                FORWARD_ROWS,
            )
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _first(t) -> torch.Tensor:
    return t[0] if isinstance(t, (tuple, list)) else t


def _wide(t: torch.Tensor) -> torch.Tensor:
    """float16 / bfloat16 -> float32; float32 and float64 stay as they are."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


@torch.inference_mode()
def layer_shapes(net: nn.Module, x: torch.Tensor, sigma: float) -> dict[str, tuple[int, ...]]:
    """Every hookable name with its (unpooled, per-sample, channels-first) output shape: modules
    that run, then `output`."""
    shapes: dict[str, tuple[int, ...]] = {}
    owner, reader = threading.get_ident(), Reader(net, x)

    def record(name):
        def hook(module, args, out) -> None:  # returning None keeps the module's output
            if name not in shapes and threading.get_ident() == owner:
                shapes[name] = reader.shape(module, out)

        return hook

    handles = [
        m.register_forward_hook(record(name)) for name, m in hook_root(net).named_modules() if name
    ]
    try:
        out = net(x, sigma)
    finally:
        for h in handles:
            h.remove()
    # definition order
    names = [name for name, _ in hook_root(net).named_modules() if name in shapes]
    return {**{n: shapes[n] for n in names}, OUTPUT: tuple(out.shape[1:])}


def hookable_layers(net: nn.Module) -> list[str]:
    """Named submodules (and `output`); containers that never run are listed by `layer_shapes`
    only."""
    return [
        name
        for name, m in hook_root(net).named_modules()
        if name and not isinstance(m, (nn.ModuleList, nn.ModuleDict))
    ] + [OUTPUT]


def _map(t: torch.Tensor) -> torch.Tensor:
    """A (B, C, h, w) output as it is; anything else has no map."""
    if t.ndim != 4:
        raise ValueError(f"a layer with output shape {tuple(t.shape[1:])} has no spatial map")
    return t


@torch.inference_mode()
def extract(
    net: nn.Module, x: torch.Tensor, sigma: float, layers: list[str], pool: bool = True
) -> dict[str, torch.Tensor]:
    """Run net(x, sigma) once and return {layer: (B, C) pooled features}, or with `pool=False` every
    layer's (B, C, h, w) map (dense features; `output` keeps its image shape)."""
    modules = dict(hook_root(net).named_modules())
    missing = [name for name in layers if name != OUTPUT and name not in modules]
    if missing:
        raise ValueError(
            f"unknown layer {missing[0]!r}; valid layers: {', '.join(hookable_layers(net))}"
        )
    captured: dict[str, torch.Tensor] = {}
    owner, reader = threading.get_ident(), Reader(net, x)
    read = reader.pool if pool else reader.spatial

    def capture(name):
        def hook(module, args, out) -> None:  # returning None keeps the module's output
            # tasks sharing this model in other threads have their own hooks
            if threading.get_ident() == owner:
                captured[name] = read(module, out)

        return hook

    handles = [
        modules[name].register_forward_hook(capture(name)) for name in layers if name != OUTPUT
    ]
    try:
        out = net(x, sigma)
    finally:
        for h in handles:
            h.remove()
    if OUTPUT in layers:
        # the posterior estimate is probed whole, not pooled
        captured[OUTPUT] = _wide(out.flatten(1)) if pool else _map(_wide(out))
    never = [name for name in layers if name not in captured]
    if never:
        raise ValueError(
            f"layer {never[0]!r} never ran in the forward pass (a container?); pick one of its "
            "blocks, see `reprdyn layers`"
        )
    return {name: captured[name] for name in layers}


@dataclass(frozen=True)
class Pass:
    """How blocks of samples go through a network: at `sigma`, clean or with a `noise` stream
    (x0 + sigma eps, averaged over `draws`), `rows` samples per forward pass on `device`, and
    read as pooled features (B, C) float64 or, with `pool=False`, as (B, C, h, w) maps."""

    sigma: float
    noise: NoiseStream | None = None
    draws: int = 1
    rows: int = FORWARD_ROWS
    device: str = "cpu"
    pool: bool = True


def blocks(
    net: nn.Module, x0: np.ndarray, layers: list[str], how: Pass, index: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, dict]]:
    """The one extraction loop: yield (sample indices, {layer: features}) for each block of `rows`
    of the samples `index` (default: all, in order, in blocks aligned to the sample index).

    Clean input feeds x0 (docs/theory.md §1); with a noise stream the input is x0 + sigma eps
    (formed in float64, fed as float32), the noise of sample i the same however the samples are
    blocked. The network sees one block per pass, so what a sample's features are never depends
    on how many samples are handled at once elsewhere.
    """
    whole = index is None
    index = np.arange(len(x0)) if whole else index
    for b in range(0, len(index), how.rows):
        idx = index[b : b + how.rows]
        if whole:  # a contiguous block: sliced (memory maps stay lazy) and its noise drawn so
            start, stop = int(idx[0]), int(idx[-1]) + 1
            xb = np.asarray(x0[start:stop], np.float64)  # (B, *shape)
            eps = (lambda j: how.noise(start, stop, j)) if how.noise is not None else None
        else:
            xb = np.asarray(x0[idx], np.float64)  # (B, *shape)
            eps = (lambda j: how.noise.at(idx, j)) if how.noise is not None else None
        yield idx, averaged(net, xb, eps, layers, how)


def iter_features(net: nn.Module, x0: np.ndarray, layers: list[str], how: Pass):
    """Yield (start, stop, {layer: (B, C) float64}) for each aligned block of `how.rows` samples."""
    for idx, feats in blocks(net, x0, layers, how):
        yield int(idx[0]), int(idx[-1]) + 1, feats


def averaged(net, xb: np.ndarray, eps, layers, how: Pass) -> dict:
    """One block's features: of x0 (clean, `eps` None), or of x0 + sigma eps(j) (formed in float64,
    fed as float32) averaged over `how.draws`; pooled features are summed as float64 numpy, dense
    maps as they are."""
    n = how.draws if eps is not None else 1
    acc: dict = {}
    for j in range(n):
        x = xb + how.sigma * eps(j) if eps is not None else xb
        x = torch.as_tensor(x, dtype=torch.float32, device=how.device)
        for name, f in extract(net, x, how.sigma, layers, how.pool).items():
            f = _to_numpy(f) if how.pool else f
            acc[name] = acc[name] + f if name in acc else f
    return {k: v / n for k, v in acc.items()}


def _to_numpy(f: torch.Tensor) -> np.ndarray:
    return f.to("cpu", torch.float64).numpy()


@torch.inference_mode()
@torch.inference_mode()
def activation_bytes(net: torch.nn.Module, x: torch.Tensor, sigma: float) -> int:
    """Per-sample activation bytes of one forward pass: what the top-level blocks return (U-Net
    skips are kept until the decoder uses them) plus twice the largest single leaf output (one op's
    input and output)."""
    top, biggest = 0, 0
    owner = threading.get_ident()
    children = {m for _, m in hook_root(net).named_children()}

    def hook(module, args, out):
        nonlocal top, biggest
        if threading.get_ident() != owner:
            return
        t = out[0] if isinstance(out, (tuple, list)) else out
        if not isinstance(t, torch.Tensor):
            return
        n = t.numel() * t.element_size() // max(len(x), 1)
        if module in children:
            top += n
        if not any(True for _ in module.children()):
            biggest = max(biggest, n)

    handles = [m.register_forward_hook(hook) for m in hook_root(net).modules()]
    try:
        net(x, sigma)
    finally:
        for h in handles:
            h.remove()
    return top + 2 * biggest
