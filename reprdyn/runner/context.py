"""What task functions share within one process: built datasets and trained or loaded models.

- `DataCache` builds each dataset of a spec once: `data.get(name)`, `data.train_split(model_cfg)`.
- `ModelCache` holds one `reprdyn.models.sources.Source` per model: `models.denoiser(...)`,
  `models.inputs(...)` (latents for latent models), and the layers' shapes and widths (from the
  one layer resolver, `reprdyn.models.layers`).
- `Context` bundles them with the spec and the store path; executors hand one to
  every task (one per worker process on a cluster).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..compute.device import pick_device, task_threads, use_threads  # noqa: F401
from ..compute.extract import layer_shapes
from ..compute.train import train_replicate
from ..data import Data, build_dataset
from ..models import layers
from ..models.sources import Progress, source


class DataCache:
    """A spec's datasets, built once per process."""

    def __init__(self, spec):
        self.spec = spec
        self._built: dict[str, Data] = {}

    def get(self, name: str) -> Data:
        if name not in self._built:
            cfg = next(d for d in self.spec.datasets if d.name == name)
            self._built[name] = build_dataset(cfg, self.spec.seed, self.spec.compute.cache)
        return self._built[name]

    def train_split(self, model_cfg) -> Data:
        """The train split of the data a trainable model learns from (a probed dataset or its own
        block)."""
        src = model_cfg.train.data
        if isinstance(src, str):
            return self.get(src).train()
        return build_dataset(src, self.spec.seed, self.spec.compute.cache).train()


class ModelCache:
    """A spec's models, one `Source` each (computed, trained or loaded once per process, on one
    device), and their layers' shapes."""

    def __init__(self, spec, data: DataCache, device: str, progress: Progress | None = None):
        self.spec, self.data, self.device = spec, data, device
        self.sources = {
            name: source(spec, cfg, data, device, progress, train_replicate)
            for name, cfg in spec.model_items()
        }
        self._shapes: dict[tuple[str, str], dict[str, tuple[int, ...]]] = {}

    def cfg(self, model: str):
        return self.sources[model].cfg

    def denoiser(
        self, model: str, dataset: str, sigma_index: int, replicate: int = 0, label: str = ""
    ) -> torch.nn.Module:
        """The denoiser that serves `dataset` at grid point `sigma_index`: replicate `replicate`
        of a trained model (models that are not trained have one)."""
        return self.sources[model].denoiser(dataset, sigma_index, replicate, label)

    @property
    def checkpoints(self) -> dict[tuple, tuple[str, bool]]:
        """(model, replicate, variant) -> (checkpoint path, trained now), of the trained ones."""
        return {
            (name, *k): v
            for name, src in self.sources.items()
            for k, v in getattr(src, "checkpoints", {}).items()
        }

    def encoder(self, model: str):
        """The latent encoder of a latent model, else None."""
        return self.sources[model].encoder()

    def inputs(self, model: str, dataset: str) -> np.ndarray:
        """What the model denoises: the dataset's samples, or their latents for a latent
        model."""
        return self.sources[model].inputs(dataset)

    def shape_net(self, model: str, dataset: str) -> tuple[torch.nn.Module, torch.Tensor]:
        """A network with `model`'s shapes and sizes, and two input samples for it."""
        return self.sources[model].shape_net(dataset)

    def layer_shapes(self, dataset: str) -> dict[str, dict[str, tuple[int, ...]]]:
        """Per model: every hookable layer's per-sample output shape, on two samples."""
        for name in self.sources:
            if (name, dataset) not in self._shapes:
                net, x = self.shape_net(name, dataset)
                self._shapes[name, dataset] = layer_shapes(net, x, self.spec.sigmas[0])
        return {name: self._shapes[name, dataset] for name in self.sources}

    def channels(self, dataset: str) -> dict[str, int]:
        """Pooled width of every requested layer (every model must have it, and agree)."""
        return layers.widths(self.spec, self.layer_shapes(dataset))


@dataclass
class Context:
    """One process's view of a run: the spec, the store path, and the data and model caches."""

    spec: object
    path: str
    data: DataCache
    models: ModelCache

    @classmethod
    def create(
        cls, spec, path: str = "", progress: Progress | None = None, device: str | None = None
    ) -> Context:
        """A process's context for `spec`; `device` overrides the spec's (a GPU worker uses its
        one visible GPU)."""
        data = DataCache(spec)
        device = device or pick_device(spec.compute.device)
        return cls(spec, str(path), data, ModelCache(spec, data, device, progress))

    def rebind(self, spec, path: str = "", progress: Progress | None = None) -> Context:
        """This context for `spec`, which differs from its own only in layer lists (its layer
        patterns expanded): the built data and loaded models carry over, nothing loads twice."""
        assert spec.model_items() == self.spec.model_items(), "rebind changes layers only"
        self.data.spec = self.models.spec = spec
        for src in self.models.sources.values():
            src.spec, src.progress = spec, progress
        return Context(spec, str(path), self.data, self.models)

    @property
    def device(self) -> str:
        return self.models.device
