"""What task functions share within one process: built datasets and trained or loaded models.

- `DataCache` builds each dataset of a spec once: `data.get(name)`, `data.train_split(model_cfg)`.
- `ModelCache` trains (or finds in the checkpoint cache) and loads each model
  once: `models.denoiser(...)`, `models.pretrained(...)`, `models.inputs(...)`
  (latents for latent models), and the untrained builds that give layer shapes.
- `Context` bundles them with the spec and the store path; executors hand one to
  every task (one per worker process on a cluster).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .data import Data, build_dataset
from .errors import InputError, did_you_mean
from .extract import FORWARD_ROWS, OUTPUT, layer_shapes
from .models.build import molrg_optimal, untrained_denoiser
from .models.pretrained import Pretrained, load_pretrained
from .spec.kinds import PRETRAINED, dae_sigmas
from .train import ensure_trained, replicate_seed

Progress = Callable[[str, int, int, float], None]  # (label, step, total, loss)


AUTO_THREADS = 1  # benchmarks/threads.py: one thread was as fast or faster on 2 cores, busy or idle


def task_threads(setting: int | str) -> int:
    """The torch thread count of a spec's `compute.threads`."""
    return AUTO_THREADS if setting == "auto" else int(setting)


def use_threads(setting: int | str) -> None:
    """Run the following torch work on `compute.threads` threads (called before every task)."""
    n = task_threads(setting)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def pick_device(name: str) -> str:
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


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
    """A spec's models, trained, loaded or built once per process, on one device."""

    def __init__(self, spec, data: DataCache, device: str, progress: Progress | None = None):
        self.spec, self.data, self.device, self.progress = spec, data, device, progress
        self._nets: dict[tuple, torch.nn.Module] = {}
        self._loaded: dict[str, Pretrained] = {}
        self._latents: dict[tuple, np.ndarray] = {}
        # (model, replicate, variant) -> (path, trained now)
        self.checkpoints: dict[tuple, tuple[str, bool]] = {}

    def cfg(self, model: str):
        return dict(self.spec.model_items())[model]

    def denoiser(
        self, model: str, dataset: str, sigma_index: int, replicate: int = 0, label: str = ""
    ) -> torch.nn.Module:
        """The (trained) denoiser that serves `dataset` at grid point `sigma_index`: replicate
        `replicate` of a trained model (models that are not trained have one)."""
        cfg = self.cfg(model)
        if cfg.kind == "molrg-optimal":
            key = (model, dataset)
            if key not in self._nets:
                self._nets[key] = molrg_optimal(self.data.get(dataset)).to(self.device)
            return self._nets[key]
        if cfg.kind in PRETRAINED:
            return self.pretrained(model).denoiser
        levels = dae_sigmas(cfg, self.spec.sigmas)
        variant = sigma_index if levels is not None and len(levels) > 1 else 0
        key = (model, replicate, variant)
        if key not in self._nets:
            seed = cfg.train.seed if cfg.train.seed is not None else self.spec.seed
            seed = replicate_seed(seed, replicate)
            report = (
                (lambda i, n, loss: self.progress(label, i, n, loss))
                if self.progress and label
                else None
            )
            net, path, trained = ensure_trained(
                cfg,
                self.data.train_split(cfg),
                levels[variant] if levels else None,
                seed,
                self.spec.compute.cache,
                self.device,
                report,
            )
            self._nets[key], self.checkpoints[key] = net, (str(path), trained)
        return self._nets[key]

    def pretrained(self, model: str) -> Pretrained:
        """A pretrained model (denoiser and encoder), loaded once; its sigma range is checked
        against the grid."""
        if model not in self._loaded:
            # python models: the spec and the caller vouched
            loaded = load_pretrained(self.cfg(model))
            loaded.denoiser.to(self.device)
            if loaded.encoder is not None:
                loaded.encoder.to(self.device)
            loaded.check_sigmas(self.spec.sigmas)
            self._loaded[model] = loaded
        return self._loaded[model]

    def encoder(self, model: str):
        """The latent encoder of a latent model, else None."""
        return self.pretrained(model).encoder if self.cfg(model).kind in PRETRAINED else None

    def inputs(self, model: str, dataset: str) -> np.ndarray:
        """What the model denoises: the dataset's samples, or their latents for a latent model
        (cached)."""
        data = self.data.get(dataset)
        encoder = self.encoder(model)
        if encoder is None:
            return data.x
        key = (model, dataset)
        if key not in self._latents:
            rows = FORWARD_ROWS  # the same aligned blocks on every run
            parts = [
                encoder(torch.as_tensor(data.x[i : i + rows], device=self.device)).cpu().numpy()
                for i in range(0, len(data.x), rows)
            ]
            self._latents[key] = np.concatenate(parts)  # (N, c, h, w) float32
        return self._latents[key]

    def shape_net(self, model: str, dataset: str) -> tuple[torch.nn.Module, torch.Tensor]:
        """A network with `model`'s shapes and sizes, and two input samples for it: the loaded one
        for a pretrained model, an untrained build on the meta device (cached) for models reprdyn
        trains, the exact posterior for molrg-optimal."""
        cfg = self.cfg(model)
        if cfg.kind in PRETRAINED:
            x = self.inputs(model, dataset)[:2]
            return self.pretrained(model).denoiser, torch.as_tensor(
                x, dtype=torch.float32, device=self.device
            )
        key = (model, dataset, "untrained")
        if key not in self._nets:
            data = self.data.get(dataset)
            self._nets[key] = (
                molrg_optimal(data)
                if cfg.kind == "molrg-optimal"
                else untrained_denoiser(cfg, data.x.shape[1:])
            )
        x = torch.as_tensor(self.data.get(dataset).x[:2], dtype=torch.float32)
        on = "meta" if cfg.kind != "molrg-optimal" else "cpu"  # untrained builds live on meta
        return self._nets[key], x.to(on)

    def layer_shapes(self, dataset: str) -> dict[str, dict[str, tuple[int, ...]]]:
        """Per model: every hookable layer's per-sample output shape, on two samples."""
        return {
            name: layer_shapes(*self.shape_net(name, dataset), self.spec.sigmas[0])
            for name, _ in self.spec.model_items()
        }

    def channels(self, dataset: str) -> dict[str, int]:
        """Pooled width of every requested layer; every model must agree (they share the cube)."""
        widths = None
        for (name, cfg), shapes in zip(
            self.spec.model_items(), self.layer_shapes(dataset).values()
        ):
            missing = [x for x in self.spec.hooked_layers if x not in shapes]
            if missing:
                raise InputError(
                    f"unknown layer {missing[0]!r} for model {name or cfg.kind!r}"
                    + _layer_hint(missing[0], list(shapes))
                )
            w = {
                x: int(np.prod(shapes[x])) if x == OUTPUT else shapes[x][0]
                for x in self.spec.hooked_layers
            }
            if widths is not None and w != widths:
                raise InputError(
                    f"models disagree on layer widths ({widths} vs {w}); models compared in one "
                    "spec must share the probed layers' widths"
                )
            widths = w
        return widths


def check_dense(spec, shapes: dict[str, dict[str, tuple[int, ...]]]) -> None:
    """Every dense layer exists in every model and has a spatial map (C, h, w)."""
    for name, known in shapes.items():
        for set_name, members in (spec.dense or {}).items():
            for layer in members:
                where = f"dense set {set_name!r}: layer {layer!r}"
                if layer not in known:
                    raise InputError(
                        f"{where} is unknown for model {name!r}" + _layer_hint(layer, list(known))
                    )
                shape = known[layer]
                square = len(shape) == 2 and round(shape[1] ** 0.5) ** 2 == shape[1]  # tokens
                if len(shape) != 3 and not square:
                    raise InputError(
                        f"{where} gives per-sample shape {shape}, not a (C, h, w) map; dense sets "
                        "need layers with a spatial map (conv blocks, or DiT blocks)"
                    )


def _layer_hint(layer: str, known: list[str], shown: int = 12) -> str:
    """'; did you mean ...? (valid: the outer blocks ...)' without listing every leaf of a big
    network."""
    outer = [k for k in known if k.count(".") <= 1]
    listed = ", ".join(outer[:shown]) + (
        f", ... ({len(known)} in all)" if len(known) > len(outer[:shown]) else ""
    )
    return did_you_mean(layer, known, 0.5) + f" (valid: {listed}; `reprdyn layers SPEC` lists them)"


@dataclass
class Context:
    """One process's view of a run: the spec, the store path, and the data and model caches."""

    spec: object
    path: str
    data: DataCache
    models: ModelCache

    @classmethod
    def create(cls, spec, path: str = "", progress: Progress | None = None) -> Context:
        data = DataCache(spec)
        return cls(
            spec,
            str(path),
            data,
            ModelCache(spec, data, pick_device(spec.compute.device), progress),
        )

    @property
    def device(self) -> str:
        return self.models.device
