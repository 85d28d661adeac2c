"""Pretrained models behind reprdyn's denoiser interface: diffusers UNets, DiT, latent UNets, Python plugins.

`PretrainedVP` is the parameterisation wrapper for a pretrained VP (DDPM)
network, like `VPPrecond` for the ones reprdyn trains: it takes x = x0 + sigma eps
(THEORY.md §1), feeds the network sqrt(abar_t) x at the fractional timestep of
sigma under the model's own alphas_cumprod, and returns the estimate of x0.
Latent models also `encode` images, so noise is added to latents.
Loading is local-first; a model that is not available offline is one clear error.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .schedules import VPSchedule


class ModelUnavailable(InputError):
    """A model that cannot be found or read; the message says where reprdyn looked and what to do."""


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class PretrainedVP(nn.Module):
    """D(x; sigma) for a pretrained VP network predicting eps, x0 ('sample') or v."""

    def __init__(self, net: nn.Module, alphas_cumprod: np.ndarray, prediction: str = "epsilon",
                 autoencoder: nn.Module | None = None, latent_scale: float = 1.0, class_label: int | None = None,
                 tokens: bool = False):
        super().__init__()
        if prediction not in ("epsilon", "sample", "v_prediction"):
            raise ValueError(f"unknown prediction {prediction!r}; expected one of epsilon, sample, v_prediction")
        self.net, self.autoencoder, self.latent_scale = net, autoencoder, latent_scale
        self.prediction, self.class_label = prediction, class_label
        self.tokens = tokens  # hidden layers give (B, N, D) patch tokens: mean-pooled over N
        self.schedule = VPSchedule.from_alphas_cumprod(alphas_cumprod)

    @property
    def sigma_range(self) -> tuple[float, float]:
        return self.schedule.sigma_min, self.schedule.sigma_max

    def check_sigmas(self, sigmas) -> None:
        """Raise ValueError for a sigma whose timestep lies outside 0..T-1 of this model."""
        lo, hi = self.sigma_range
        bad = [s for s in sigmas if not lo * (1 - 1e-6) <= s <= hi * (1 + 1e-6)]
        if bad:
            raise InputError(f"sigma {bad[0]:g} is outside this model's range [{lo:.4g}, {hi:.4g}] (timesteps "
                             f"0..{self.schedule.T - 1} of its alphas_cumprod); use sigmas inside that range")

    @torch.inference_mode()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [-1, 1] -> latents (B, c, h, w), scaled as the model was trained."""
        if self.autoencoder is None:
            return x
        enc = self.autoencoder.encode(x)
        z = enc.latent_dist.mean if hasattr(enc, "latent_dist") else enc.latents  # KL: the mean; VQ: pre-quant
        return z * self.latent_scale

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        s = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
        s = s.expand(x.shape[0]) if s.ndim == 0 else s  # (B,)
        self.check_sigmas([float(s.min()), float(s.max())])
        t = torch.as_tensor(self.schedule.timestep(s.cpu().numpy()), dtype=torch.float32, device=x.device)
        sb = s.view(-1, *([1] * (x.ndim - 1))).to(x.dtype)  # (B, 1, 1, 1)
        x_in = x / torch.sqrt(1 + sb ** 2)  # sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, THEORY.md §1
        kwargs = {}
        if self.class_label is not None:
            kwargs["class_labels"] = torch.full((x.shape[0],), self.class_label, dtype=torch.long, device=x.device)
        out = self.net(x_in, t, **kwargs).sample
        out = out[:, :x.shape[1]]  # (B, 2C, ...) with a learned variance: keep the mean prediction
        if self.prediction == "sample":
            return out
        if self.prediction == "v_prediction":  # v = sqrt(abar) eps - sqrt(1 - abar) x0
            abar = 1 / (1 + sb ** 2)
            return torch.sqrt(abar) * x_in - torch.sqrt(1 - abar) * out
        return x - sb * out  # eps: x0 = x - sigma eps


# --- loading, local first ------------------------------------------------------------

def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE",
                                                                                     "TRANSFORMERS_OFFLINE"))


def _hub_cache() -> str:
    try:
        from huggingface_hub import constants
        return str(constants.HF_HUB_CACHE)
    except Exception:  # noqa: BLE001 - only for the message
        return os.path.expanduser("~/.cache/huggingface/hub")


def from_pretrained(cls, id: str, subfolders: list[str | None], revision: str | None, what: str,
                    config_name: str = "config.json"):
    """`cls.from_pretrained` from a local folder or the hub, trying `subfolders` in order."""
    local = Path(id)
    if local.is_dir():
        for sub in subfolders:
            if (local / (sub or "") / config_name).is_file():
                try:
                    return cls.from_pretrained(str(local), subfolder=sub)
                except Exception as e:  # noqa: BLE001 - a broken folder: say what is wrong
                    raise ModelUnavailable(f"{what}: cannot load {local / (sub or '')}: {e}") from None
        tried = ", ".join(str(local / (s or "") / config_name) for s in subfolders)
        raise ModelUnavailable(f"{what}: {local} has no {config_name} (tried {tried}); it holds "
                               f"{sorted(p.name for p in local.iterdir())}. Write it with save_pretrained, "
                               "or set the subfolder")
    if id.startswith((".", "/", "~")):
        raise ModelUnavailable(f"{what}: no such folder {id} (a relative path resolves against the spec's folder)")
    last = None
    for local_only in (True, False) if not _offline() else (True,):
        for sub in subfolders:
            try:
                return cls.from_pretrained(id, subfolder=sub, revision=revision, local_files_only=local_only)
            except Exception as e:  # noqa: BLE001 - tried in turn; the last reason is reported
                last = e
    rev = f" at revision {revision}" if revision else ""
    raise ModelUnavailable(
        f"{what} {id!r}{rev} is not available offline: looked in the Hugging Face cache {_hub_cache()} "
        f"for {' or '.join(repr(s or '.') for s in subfolders)} ({type(last).__name__}: "
        f"{str(last).splitlines()[0][:160] if last else ''}). Download it once on a machine with a network "
        f"(huggingface-cli download {id}) and copy the cache here, or save the model to a folder with "
        "save_pretrained and set `id:` to that folder")


def _diffusers():
    try:
        import diffusers
    except ImportError:
        raise ModelUnavailable("pretrained model kinds need the `diffusers` package: "
                               "pip install 'reprdyn[diffusers]'") from None
    diffusers.utils.logging.set_verbosity_error()  # reprdyn reports what matters itself
    return diffusers


def _cast(module: nn.Module, dtype: str) -> nn.Module:
    return module if dtype == "float32" else module.to(DTYPES[dtype])


def _schedule(diffusers, cfg) -> tuple[np.ndarray, str]:
    sched = from_pretrained(diffusers.DDPMScheduler, cfg.id, [cfg.scheduler_subfolder, None], cfg.revision,
                            "scheduler of", "scheduler_config.json")
    prediction = sched.config.prediction_type if cfg.prediction == "auto" else cfg.prediction
    return sched.alphas_cumprod.double().numpy(), prediction


def _autoencoder(diffusers, cfg, kind: str):
    cls = diffusers.VQModel if kind == "vq" else diffusers.AutoencoderKL
    vae = from_pretrained(cls, cfg.vae_id or cfg.id, [None] if cfg.vae_id else [cfg.vae_subfolder], cfg.revision,
                          "autoencoder of")
    scale = float(getattr(vae.config, "scaling_factor", 1.0)) if kind == "kl" else 1.0
    return vae, scale


def load_unet(cfg) -> PretrainedVP:
    d = _diffusers()
    subs = [cfg.subfolder] if cfg.subfolder else ["unet", None]
    net = from_pretrained(d.UNet2DModel, cfg.id, subs, cfg.revision, "UNet2DModel")
    abar, prediction = _schedule(d, cfg)
    return PretrainedVP(_cast(net, cfg.dtype), abar, prediction)


def load_dit(cfg) -> PretrainedVP:
    d = _diffusers()
    net = from_pretrained(d.DiTTransformer2DModel, cfg.id, [cfg.subfolder], cfg.revision, "DiT transformer")
    vae, scale = _autoencoder(d, cfg, "kl")
    abar, prediction = _schedule(d, cfg)
    null = cfg.class_label if cfg.class_label is not None else int(net.config.num_embeds_ada_norm)
    return PretrainedVP(_cast(net, cfg.dtype), abar, prediction, _cast(vae, cfg.dtype), scale, null,
                        tokens=True)


def load_ldm(cfg) -> PretrainedVP:
    d = _diffusers()
    net = from_pretrained(d.UNet2DModel, cfg.id, [cfg.subfolder], cfg.revision, "latent UNet2DModel")
    vae, scale = _autoencoder(d, cfg, cfg.autoencoder)
    abar, prediction = _schedule(d, cfg)
    return PretrainedVP(_cast(net, cfg.dtype), abar, prediction, _cast(vae, cfg.dtype), scale)


def load_python(cfg) -> nn.Module:
    """Import the plugin and call its factory (only reached for specs that were trusted twice)."""
    if cfg.file:
        path = Path(cfg.file)
        if not path.is_file():
            raise ModelUnavailable(f"python model file {path} not found (relative to the spec's folder)")
        mod_spec = importlib.util.spec_from_file_location(f"reprdyn_plugin_{path.stem}", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        where = str(path)
    else:
        try:
            module = importlib.import_module(cfg.module)
        except ImportError as e:
            raise ModelUnavailable(f"cannot import python model module {cfg.module!r}: {e}") from None
        where = cfg.module
    factory = getattr(module, cfg.factory, None)
    if not callable(factory):
        found = sorted(n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_"))
        raise ModelUnavailable(f"{where} has no function {cfg.factory!r}; it has {found}")
    model = factory(**cfg.kwargs)
    if not isinstance(model, nn.Module):
        raise ModelUnavailable(f"{where}:{cfg.factory} returned {type(model).__name__}, not a torch nn.Module "
                               "with forward(x, sigma)")
    return model


LOADERS = {"diffusers-unet": load_unet, "dit": load_dit, "ldm": load_ldm, "python": load_python}


def load_pretrained(cfg) -> nn.Module:
    """The pretrained denoiser a model block names, in eval mode."""
    try:
        loader = LOADERS[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown pretrained model kind {cfg.kind!r}; expected one of {sorted(LOADERS)}") from None
    return loader(cfg).eval()
