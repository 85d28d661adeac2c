"""Before anything is built: the spec's shapes against this machine — its available memory and
the free disk under the store — so a run that cannot fit is refused in a second, not after an
hour (`reprdyn run --ignore-machine-limits` overrides)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..probes.base import probe_bytes
from ..spec.kinds import PIXELS
from .budget import BudgetExceeded, _size


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
