"""Preflight: load every model once, check it against the spec, and estimate the run's size before
writing.

The estimate is arithmetic on shapes, printed before extraction and checked
against the spec's `compute.max_store_gb` / `compute.max_memory_gb`:
- the feature store: models x sigmas x inputs x samples x channels x 4 bytes, per layer;
- peak memory: data (and latents) + model weights + the larger of one
  extraction batch's activations and one probe task's working set.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..compute.extract import FORWARD_ROWS, hook_root
from ..errors import InputError
from ..spec.kinds import PIXELS

GiB = 1 << 30


class BudgetExceeded(InputError):
    """The estimate is over a limit the spec sets."""


@dataclass(frozen=True)
class Estimate:
    dataset: str
    samples: int
    store_bytes: int  # the feature cubes of this dataset
    data_bytes: int  # samples (and latents) in memory
    weight_bytes: int  # every model's parameters
    extract_bytes: int  # activations of one extraction batch
    probe_bytes: int  # one probe task: a layer's features over sigma, plus ridge's Gram matrices

    @property
    def peak_bytes(self) -> int:
        return self.data_bytes + self.weight_bytes + max(self.extract_bytes, self.probe_bytes)

    def line(self) -> str:
        return (
            f"{self.dataset}: {self.samples:,} samples; feature store ~{_size(self.store_bytes)}, "
            f"peak memory ~{_size(self.peak_bytes)} (data {_size(self.data_bytes)}, weights "
            f"{_size(self.weight_bytes)}, extraction {_size(self.extract_bytes)}, probes "
            f"{_size(self.probe_bytes)})"
        )


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return ""


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


def estimate(ctx, dataset: str) -> Estimate:
    """The estimate for one dataset; loads the data and every model (cached in `ctx`)."""
    spec = ctx.spec
    data = ctx.data.get(dataset)
    widths = ctx.models.channels(dataset)  # also checks every layer against every model
    n, S, n_inputs, M = len(data.y), len(spec.sigmas), len(spec.inputs), len(spec.model_items())
    R = spec.replicates
    store = sum(M * R * S * n_inputs * n * c * 4 for c in widths.values())
    data_bytes, weights, act = data.x.nbytes, 0, 0
    for name, _ in spec.model_items():
        # the networks `channels` just measured: pretrained ones loaded, trained ones untrained
        # (same sizes)
        net, x2 = ctx.models.shape_net(name, dataset)
        x0 = ctx.models.inputs(name, dataset)
        if x0 is not data.x:
            data_bytes += x0.nbytes
        encoder = ctx.models.encoder(name)
        for module in (net, encoder) if encoder is not None else (net,):
            weights += sum(p.numel() * p.element_size() for p in module.parameters())
        act = max(act, activation_bytes(net, x2, spec.sigmas[0]))
    batch = min(FORWARD_ROWS, n)
    n_train = int((data.split == "train").sum())
    ridge = any(p.kind == "ridge" for p in spec.probes)
    probed = list(widths.values())
    if PIXELS in spec.layers:  # the raw-input baseline: the flattened input, made in the probe task
        probed += [
            int(np.prod(ctx.models.inputs(m, dataset).shape[1:])) for m, _ in spec.model_items()
        ]
    probe = probe_bytes(S, n, n_train, max(probed, default=1), ridge)
    return Estimate(dataset, n, store, data_bytes, weights, act * batch, probe)


def probe_bytes(S: int, n: int, n_train: int, C: int, ridge: bool) -> int:
    """One probe task's working set for a layer C wide over S sigmas and n samples (n_train of them
    train): the features read from the store (float32), a float64 working copy of the train rows,
    and for ridge the C x C Gram matrix and its eigenvectors per sigma, which `probes.ridge` forms
    whatever n_train is."""
    return S * n * C * 4 + S * n_train * C * 8 + (2 * S * C * C * 8 if ridge else 0)


def preflight(ctx, log=None) -> list[Estimate]:
    """Load and check every model and dataset, print the estimate, and refuse a run over the spec's
    limits."""
    spec = ctx.spec
    out = [estimate(ctx, d.name) for d in spec.datasets]
    for e in out:
        if log:
            log(f"estimate {e.line()}")
    store, peak = sum(e.store_bytes for e in out), max(e.peak_bytes for e in out)
    lim = spec.compute
    if lim.max_store_gb is not None and store > lim.max_store_gb * GiB:
        raise BudgetExceeded(
            f"the feature store would take ~{_size(store)}, over compute.max_store_gb = "
            f"{lim.max_store_gb:g}; probe fewer layers, sigmas or samples (n_train / n_test), or "
            "raise the limit"
        )
    if lim.max_memory_gb is not None and peak > lim.max_memory_gb * GiB:
        raise BudgetExceeded(
            f"peak memory would be ~{_size(peak)}, over compute.max_memory_gb = "
            f"{lim.max_memory_gb:g}; use fewer samples (n_train / n_test), fewer sigmas, or raise "
            "the limit"
        )
    return out


# --- before anything is built: the spec's shapes against this machine -------------------------


def machine() -> tuple[int | None, int | None]:
    """(available memory, total memory) in bytes, where the OS says (Linux: /proc/meminfo)."""
    try:
        info = dict(
            line.split(":", 1) for line in open("/proc/meminfo").read().splitlines() if ":" in line
        )
        kib = lambda k: int(info[k].split()[0]) * 1024  # noqa: E731
        return kib("MemAvailable"), kib("MemTotal")
    except (OSError, KeyError, ValueError):
        try:
            pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            return pages, pages
        except (ValueError, OSError, AttributeError):
            return None, None


def free_disk(path: str) -> int | None:
    """Free bytes on the file system that will hold `path` (its nearest existing folder)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def spec_estimate(spec) -> tuple[int, int, list[str]]:
    """(feature store bytes, peak memory bytes, what is not counted) from the spec's shapes alone,
    before any data or model exists: sample counts and shapes from the dataset blocks, layer
    widths from untrained builds on the meta device (no weights), molrg's output from its n.
    Pretrained models and datasets whose size only their files know are left out (preflight
    counts them once loaded)."""
    from ..compute.extract import OUTPUT, layer_shapes
    from ..models.build import untrained_denoiser
    from ..spec.kinds import TRAINABLE

    S, n_in, R, M = len(spec.sigmas), len(spec.inputs), spec.replicates, len(spec.model_items())
    store = peak = 0
    unknown = []
    for d in spec.datasets:
        n, shape = _samples(d)
        if n is None or shape is None:
            unknown.append(f"dataset {d.name!r} (its size is in its files)")
            continue
        width = {}
        for name, cfg in spec.model_items():
            if cfg.kind == "molrg-optimal":
                width.update({OUTPUT: int(np.prod(shape))})
            elif cfg.kind in TRAINABLE:
                x = torch.zeros(2, *shape, device="meta")
                shapes = layer_shapes(untrained_denoiser(cfg, shape), x, spec.sigmas[0])
                for layer in spec.hooked_layers:
                    if layer in shapes:
                        sh = shapes[layer]
                        w = int(np.prod(sh)) if layer == OUTPUT else int(sh[0])
                        width[layer] = max(width.get(layer, 0), w)
            else:
                unknown.append(f"model {name or cfg.kind!r} (pretrained: its size is in its files)")
        store += sum(M * R * S * n_in * n * c * 4 for c in width.values())
        widest = max([*width.values(), int(np.prod(shape)) if PIXELS in spec.layers else 0, 1])
        data = n * int(np.prod(shape)) * 8
        peak = max(peak, data + probe_bytes(S, n, n, widest, False))
    return store, peak, unknown


def _samples(d) -> tuple[int | None, tuple | None]:
    """(samples, per-sample shape) a dataset block declares, or None where its files decide."""
    shape = getattr(d, "shape", None)
    if d.kind == "molrg" or d.kind == "glyphs":
        return d.n_train + d.n_test, shape
    if d.kind == "digits":
        return 1797, shape
    if d.kind == "mnist":
        return 5000, shape
    n_train, n_test = getattr(d, "n_train", None), getattr(d, "n_test", None)
    if n_train is None or n_test is None or getattr(d, "per_class", False):
        return None, shape
    return n_train + n_test, shape


def check_machine(spec, store_path: str) -> None:
    """Refuse a run whose spec-level estimate does not fit this machine's memory or the disk that
    holds the store (override: `reprdyn run --ignore-machine-limits`)."""
    store, peak, unknown = spec_estimate(spec)
    available, total = machine()
    disk = free_disk(store_path)
    if available is not None and peak > available:
        raise BudgetExceeded(
            f"this run would need ~{_size(peak)} of memory, and this machine has "
            f"{_size(available)} available ({_size(total)} in all); use fewer samples, sigmas or "
            "layers, or pass "
            "--ignore-machine-limits to try anyway"
        )
    if disk is not None and store > disk:
        raise BudgetExceeded(
            f"the feature store would take ~{_size(store)}, and {store_path} has {_size(disk)} "
            "free; use fewer samples, sigmas, layers or replicates, another --store, or pass "
            "--ignore-machine-limits to try anyway"
        )
