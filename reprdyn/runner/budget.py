"""Preflight: load every model once, check it against the spec, and estimate the run's size before
writing, each stage saying its own part (the machine's side is `runner.machine`).

The estimate is arithmetic on shapes, printed before extraction and checked
against the spec's `compute.max_store_gb` / `compute.max_memory_gb`:
- the feature store: models x sigmas x inputs x samples x channels x 4 bytes, per layer;
- peak memory: data (and latents) + model weights + the larger of one
  extraction batch's activations and one probe task's working set.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

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
    probe_bytes: int  # the largest probe task: a layer's features (or tokens) over sigma, ridge's
    # Gram matrices; a joint probe's every layer and sigma

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


def estimate(ctx, dataset: str) -> Estimate:
    """The estimate for one dataset: each stage says its own part (`estimate(ctx, dataset)` in the
    stage module: its data, weights, activations, store or working set); loads the data and every
    model (cached in `ctx`)."""
    from ..stages import ORDER

    parts = {"samples": len(ctx.data.get(dataset).y)}
    for stage in ORDER:
        if hasattr(stage, "estimate"):  # a working set two stages name: the larger one counts
            for key, value in stage.estimate(ctx, dataset).items():
                parts[key] = max(parts.get(key, 0), value)
    return Estimate(dataset, **parts)


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
