"""Where a spec's model comes from: computed from the data (the exact MoLRG posterior), trained by
reprdyn (diffusion models and DAEs, through the checkpoint cache) or loaded (pretrained models and
Python plugins). One `Source` per model block, chosen once by kind from `SOURCES`; each gives the
denoiser that serves a (dataset, sigma, replicate), what that denoiser reads (samples or latents),
and a network of its shapes for layer checks and estimates.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..errors import lookup
from ..spec.kinds import ANALYTIC, PRETRAINED, TRAINABLE, dae_sigmas

Progress = Callable[[str, int, int, float], None]  # (label, step, total, loss)


class Source:
    """The common part: a model block of a spec, its data cache and its device."""

    def __init__(
        self, spec, cfg, data, device: str, progress: Progress | None = None, trainer=None
    ):
        self.spec, self.cfg, self.data = spec, cfg, data
        self.device, self.progress = device, progress
        # (cfg, train data, levels, replicate, seed, cache, device, report) -> (net, path, trained
        # now): the run side's training step (`compute.train.ensure_trained`), handed in, so a
        # model source never reaches up for it
        self.trainer = trainer

    def encoder(self):
        """The latent encoder of a latent model, else None."""
        return None

    def inputs(self, dataset: str) -> np.ndarray:
        """What the denoiser reads: the dataset's samples (latents for latent models)."""
        return self.data.get(dataset).x

    def shape_net(self, dataset: str) -> tuple[torch.nn.Module, torch.Tensor]:
        """A network with the model's shapes and two input samples for it."""
        raise NotImplementedError


class Analytic(Source):
    """The exact posterior of each probed MoLRG dataset, built from its bases and delta."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._nets: dict[str, torch.nn.Module] = {}

    def denoiser(self, dataset: str, sigma_index: int, replicate: int = 0, label: str = ""):
        from .build import molrg_optimal

        if dataset not in self._nets:
            self._nets[dataset] = molrg_optimal(self.data.get(dataset)).to(self.device)
        return self._nets[dataset]

    def shape_net(self, dataset: str):
        from .build import molrg_optimal

        x = torch.as_tensor(self.data.get(dataset).x[:2], dtype=torch.float32)
        return molrg_optimal(self.data.get(dataset)), x


class Trained(Source):
    """A diffusion model or DAE: one checkpoint per replicate (and per noise-level set of a DAE),
    trained once and then read from the checkpoint cache."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._nets: dict[tuple[int, int], torch.nn.Module] = {}
        self.checkpoints: dict[tuple[int, int], tuple[str, bool]] = {}  # -> (path, trained now)

    def denoiser(self, dataset: str, sigma_index: int, replicate: int = 0, label: str = ""):
        cfg = self.cfg
        if self.trainer is None:
            raise RuntimeError(f"model kind {cfg.kind!r} is trained; this source has no trainer")
        levels = dae_sigmas(cfg, self.spec.sigmas)
        variant = sigma_index if levels is not None and len(levels) > 1 else 0
        key = (replicate, variant)
        if key not in self._nets:
            seed = cfg.train.seed if cfg.train.seed is not None else self.spec.seed
            report = None
            if self.progress and label:
                report = lambda i, n, loss: self.progress(label, i, n, loss)  # noqa: E731
            net, path, trained = self.trainer(
                cfg,
                self.data.train_split(cfg),
                levels[variant] if levels else None,
                replicate,
                seed,
                self.spec.compute.cache,
                self.device,
                report,
            )
            self._nets[key], self.checkpoints[key] = net, (str(path), trained)
        return self._nets[key]

    def shape_net(self, dataset: str):
        """An untrained build on the meta device: shapes without weights."""
        from .build import untrained_denoiser

        x = torch.as_tensor(self.data.get(dataset).x[:2], dtype=torch.float32)
        return untrained_denoiser(self.cfg, x.shape[1:]), x.to("meta")


class Loaded(Source):
    """A pretrained model or plugin, loaded once (python plugins only when the spec and the caller
    both vouched); its sigma range is checked against the grid."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._loaded = None
        self._latents: dict[str, np.ndarray] = {}

    @property
    def model(self):
        from .loaders import load_pretrained

        if self._loaded is None:
            loaded = load_pretrained(self.cfg, self.device)
            loaded.denoiser.to(self.device)
            if loaded.encoder is not None:
                loaded.encoder.to(self.device)
            loaded.check_sigmas(self.spec.sigmas)
            self._loaded = loaded
        return self._loaded

    def denoiser(self, dataset: str, sigma_index: int, replicate: int = 0, label: str = ""):
        return self.model.denoiser

    def encoder(self):
        return self.model.encoder

    def inputs(self, dataset: str) -> np.ndarray:
        """The samples, or their latents (encoded once, in the same aligned blocks every run)."""
        from ..spec.kinds import FORWARD_ROWS

        encoder = self.encoder()
        if encoder is None:
            return self.data.get(dataset).x
        if dataset not in self._latents:
            x = self.data.get(dataset).x
            parts = [
                encoder(torch.as_tensor(x[i : i + FORWARD_ROWS], device=self.device)).cpu().numpy()
                for i in range(0, len(x), FORWARD_ROWS)
            ]
            self._latents[dataset] = np.concatenate(parts)  # (N, c, h, w) float32
        return self._latents[dataset]

    def shape_net(self, dataset: str):
        x = torch.as_tensor(self.inputs(dataset)[:2], dtype=torch.float32, device=self.device)
        return self.model.denoiser, x


# the source of each model kind
SOURCES: dict[str, type[Source]] = {
    **dict.fromkeys(ANALYTIC, Analytic),
    **dict.fromkeys(TRAINABLE, Trained),
    **dict.fromkeys(PRETRAINED, Loaded),
}


def source(spec, cfg, data, device: str, progress: Progress | None = None, trainer=None) -> Source:
    """The source of one model block."""
    return lookup(SOURCES, cfg.kind, "model kind")(spec, cfg, data, device, progress, trainer)
