"""What tasks share: a per-process Context (spec, store path, cached data and models) and the cube's dims.

A `Context` builds datasets, trains or loads models and encodes latents once
per process (once per worker on a cluster); stage functions only ask it.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import torch

from .data import Data, build_dataset
from .errors import InputError
from .extract import FORWARD_ROWS, OUTPUT, layer_shapes
from .models import PRETRAINED, dae_sigmas, load_pretrained, molrg_optimal, untrained
from .spec import Spec
from .train import ensure_trained


def pick_device(name: str) -> str:
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def derive_seed(*parts) -> int:
    """A 32-bit seed from ints and strings, stable across processes and platforms."""
    words = [p if isinstance(p, int) and p >= 0 else zlib.crc32(repr(p).encode()) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


class Context:
    """What tasks share within one process: the spec, the store path, built data and models."""

    def __init__(self, spec: Spec, path: str, progress: Callable[[str, int, int, float], None] | None = None):
        self.spec, self.path, self.progress = spec, str(path), progress
        self.device = pick_device(spec.compute.device)
        self._data: dict[str, Data] = {}
        self._nets: dict[tuple, torch.nn.Module] = {}
        self._latents: dict[tuple, np.ndarray] = {}
        self.checkpoints: dict[tuple, tuple[str, bool]] = {}  # (model, variant) -> (path, trained now)

    def model_cfg(self, name: str):
        return dict(self.spec.model_items())[name]

    def data(self, dataset: str) -> Data:
        if dataset not in self._data:
            cfg = next(d for d in self.spec.datasets if d.name == dataset)
            self._data[dataset] = build_dataset(cfg, self.spec.seed)
        return self._data[dataset]

    def train_data(self, cfg) -> Data:
        src = cfg.train.data
        data = self.data(src) if isinstance(src, str) else build_dataset(src, self.spec.seed)
        return data.train()

    def denoiser(self, model: str, dataset: str, sigma_index: int, label: str = "") -> torch.nn.Module:
        """The (trained) denoiser that serves `dataset` at grid point `sigma_index`."""
        cfg = self.model_cfg(model)
        if cfg.kind == "molrg-optimal":
            key = (model, dataset)
            if key not in self._nets:
                self._nets[key] = molrg_optimal(self.data(dataset)).to(self.device)
            return self._nets[key]
        if cfg.kind in PRETRAINED:
            return self.pretrained(model).denoiser
        levels = dae_sigmas(cfg, self.spec.sigmas)
        variant = sigma_index if levels is not None and len(levels) > 1 else 0
        key = (model, variant)
        if key not in self._nets:
            seed = cfg.train.seed if cfg.train.seed is not None else self.spec.seed
            report = (lambda i, n, loss: self.progress(label, i, n, loss)) if self.progress and label else None
            net, path, trained = ensure_trained(cfg, self.train_data(cfg), levels[variant] if levels else None,
                                                seed, self.spec.compute.cache, self.device, report)
            self._nets[key], self.checkpoints[key] = net, (str(path), trained)
        return self._nets[key]

    def pretrained(self, model: str):
        """A pretrained model (denoiser and encoder), loaded once per process; its sigma range is checked."""
        key = (model, "pretrained")
        if key not in self._nets:
            loaded = load_pretrained(self.model_cfg(model))  # python models: the spec vouched
            loaded.denoiser.to(self.device)
            if loaded.encoder is not None:
                loaded.encoder.to(self.device)
            loaded.check_sigmas(self.spec.sigmas)
            self._nets[key] = loaded
        return self._nets[key]

    def inputs(self, model: str, dataset: str) -> np.ndarray:
        """What the model denoises: the dataset's samples, or their latents for a latent model (cached)."""
        data = self.data(dataset)
        encoder = self.pretrained(model).encoder if self.model_cfg(model).kind in PRETRAINED else None
        if encoder is None:
            return data.x
        key = (model, dataset)
        if key not in self._latents:
            bs = FORWARD_ROWS  # the same aligned blocks on every run
            parts = [encoder(torch.as_tensor(data.x[i:i + bs], device=self.device)).cpu().numpy()
                     for i in range(0, len(data.x), bs)]
            self._latents[key] = np.concatenate(parts)  # (N, c, h, w) float32
        return self._latents[key]

    def shape_net(self, model: str, dataset: str) -> tuple[torch.nn.Module, torch.Tensor]:
        """A network with `model`'s shapes and sizes, and two input samples for it: the loaded one for a
        pretrained model, an untrained build (cached) for models reprdyn trains or computes."""
        cfg = self.model_cfg(model)
        if cfg.kind in PRETRAINED:
            net = self.pretrained(model).denoiser
            return net, torch.as_tensor(self.inputs(model, dataset)[:2], dtype=torch.float32, device=self.device)
        key = (model, dataset, "untrained")
        if key not in self._nets:
            self._nets[key] = untrained(cfg, self.data(dataset))
        # the analytic posterior casts to its own dtype
        return self._nets[key], torch.as_tensor(self.data(dataset).x[:2], dtype=torch.float32)

    def layer_shapes(self, dataset: str) -> dict[str, dict[str, tuple[int, ...]]]:
        """Per model: every hookable layer's per-sample output shape, on two samples."""
        return {name: layer_shapes(*self.shape_net(name, dataset), self.spec.sigmas[0])
                for name, _ in self.spec.model_items()}

    def channels(self, dataset: str) -> dict[str, int]:
        """Pooled width of every requested layer; every model must agree (they share the cube)."""
        widths = None
        for (name, cfg), shapes in zip(self.spec.model_items(), self.layer_shapes(dataset).values()):
            missing = [x for x in self.spec.layers if x not in shapes]
            if missing:
                raise InputError(f"unknown layer {missing[0]!r} for model {name or cfg.kind!r}"
                                 + _layer_hint(missing[0], list(shapes)))
            w = {x: int(np.prod(shapes[x])) if x == OUTPUT else shapes[x][0] for x in self.spec.layers}
            if widths is not None and w != widths:
                raise InputError(f"models disagree on layer widths ({widths} vs {w}); models compared in one "
                                 "spec must share the probed layers' widths")
            widths = w
        return widths


# --- dims shared by the cube --------------------------------------------------

def lead(spec: Spec) -> tuple[str, ...]:
    """('model',) when the spec compares several models, else ()."""
    return ("model",) if spec.multi_model else ()


def _layer_hint(layer: str, known: list[str], shown: int = 12) -> str:
    """'; did you mean ...? (valid: the outer blocks ...)' without listing every leaf of a big network."""
    import difflib

    near = difflib.get_close_matches(layer, known, n=1, cutoff=0.5)
    outer = [k for k in known if k.count(".") <= 1]
    listed = ", ".join(outer[:shown]) + (f", ... ({len(known)} in all)" if len(known) > len(outer[:shown]) else "")
    return (f"; did you mean {near[0]!r}?" if near else "") + f" (valid: {listed}; `reprdyn layers SPEC` lists them)"


def model_sel(spec: Spec, model: str) -> dict:
    return {"model": [model]} if spec.multi_model else {}


def grid_coords(spec: Spec) -> dict:
    c = {"sigma": spec.sigmas}
    if spec.timestep_coord is not None:
        c["timestep"] = ("sigma", spec.timestep_coord)
    if spec.multi_model:
        c["model"] = np.array([n for n, _ in spec.model_items()], dtype=object)
    return c
