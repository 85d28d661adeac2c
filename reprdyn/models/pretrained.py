"""Pretrained models behind reprdyn's denoiser interface: diffusers UNets, DiT, latent UNets, Python
plugins.

A pretrained VP (DDPM) network runs inside the same `VPPrecond` wrapper as the networks reprdyn
trains, through `DiffusersNet`: the wrapper takes x = x0 + sigma eps (docs/theory.md §1) and feeds
the network sqrt(abar_t) x at the fractional timestep of sigma under the model's own alphas_cumprod.
Latent models come with a `LatentEncoder`, so noise is added to latents. Loading is local-first; a
model that is not available offline is one clear error.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import InputError, lookup
from ..maths.schedules import VPSchedule
from ..spec.hub import hub_cache, looks_local, offline
from .precond import VPPrecond


class ModelUnavailable(InputError):
    """A model that cannot be found or read; the message says where reprdyn looked and what to
    do."""


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# diffusers' names -> VPPrecond's
PREDICTIONS = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}


class DiffusersNet(nn.Module):
    """A diffusers UNet2DModel / DiTTransformer2DModel as a raw network F(x_in, c_noise), c_noise =
    t / T.

    `VPPrecond` wraps it as it wraps reprdyn's own networks. A learned variance
    (2C output channels) is dropped; `class_label` conditions a class-conditional
    model (DiT's null class makes it unconditional); `tokens` marks hidden layers
    that return (B, N, D) patch tokens, which extraction mean-pools over N.
    """

    def __init__(
        self, net: nn.Module, T: int, class_label: int | None = None, tokens: bool = False
    ):
        super().__init__()
        self.net, self.T, self.class_label, self.tokens = net, T, class_label, tokens

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        kwargs = {}
        if self.class_label is not None:
            kwargs["class_labels"] = torch.full(
                (x_in.shape[0],), self.class_label, dtype=torch.long, device=x_in.device
            )
        out = self.net(x_in, c_noise * self.T, **kwargs).sample  # the timestep, float32
        # (B, 2C, ...) with a learned variance: keep the mean prediction
        return out[:, : x_in.shape[1]]

    def grid(self, hw: tuple[int, int]) -> tuple[int, int]:
        """The patch grid of a (h, w) input: a DiT's tokens lie on it row by row."""
        p = self.net.config.patch_size
        return hw[0] // p, hw[1] // p


class LatentEncoder(nn.Module):
    """Images (B, C, H, W) in [-1, 1] -> latents (z - shift) * scale (B, c, h, w), as the latent
    model was trained (SD3 and FLUX shift; the others do not)."""

    def __init__(self, autoencoder: nn.Module, scale: float = 1.0, shift: float = 0.0):
        super().__init__()
        self.autoencoder, self.scale, self.shift = autoencoder, scale, shift

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = next(self.autoencoder.parameters()).dtype
        enc = self.autoencoder.encode(x.to(dtype))
        # KL: the mean; VQ: pre-quant
        z = enc.latent_dist.mean if hasattr(enc, "latent_dist") else enc.latents
        return (z.float() - self.shift) * self.scale


@dataclass
class Pretrained:
    """A loaded model: the denoiser D(x; sigma), and for a latent model the encoder its inputs go
    through."""

    denoiser: nn.Module
    encoder: LatentEncoder | None = None

    def check_sigmas(self, sigmas) -> None:
        """A sigma outside a VP model's schedule is an InputError (a python model declares no
        range)."""
        schedule = getattr(self.denoiser, "schedule", None)
        if schedule is not None:
            try:
                schedule.check_range(sigmas, "this model")
            except ValueError as e:
                raise InputError(str(e)) from None


def pretrained_vp(
    net: nn.Module,
    alphas_cumprod,
    prediction: str = "epsilon",
    raw: type[nn.Module] | None = None,
    **options,
) -> VPPrecond:
    """A pretrained VP network (diffusers' prediction names) inside reprdyn's VP wrapper; `raw`
    (default DiffusersNet) turns it into F(x_in, c_noise), built as raw(net, T, **options)."""
    schedule = VPSchedule.from_alphas_cumprod(alphas_cumprod)
    return VPPrecond(
        (raw or DiffusersNet)(net, schedule.T, **options),
        schedule,
        lookup(PREDICTIONS, prediction, "prediction"),
    )


# --- loading, local first ------------------------------------------------------------


def from_pretrained(
    cls,
    id: str,
    subfolders: list[str | None],
    revision: str | None,
    what: str,
    config_name: str = "config.json",
    dtype: str = "float32",
    variant: str | None = None,
    device_map: str | None = None,
):
    """`cls.from_pretrained` from a local folder or the hub, trying `subfolders` in order; a
    half-precision `dtype` is loaded as such (never a float32 copy first: FLUX's is 48 GB), and a
    weight `variant` (fp16: the *.fp16.safetensors files) is asked for where given."""
    load = {} if dtype == "float32" else {"torch_dtype": DTYPES[dtype]}
    load |= {"variant": variant} if variant else {}
    load |= {"device_map": device_map} if device_map else {}
    local = Path(id)
    if local.is_dir():
        for sub in subfolders:
            if (local / (sub or "") / config_name).is_file():
                # safetensors where the folder has them: loading them runs no pickle
                safe = any((local / (sub or "")).glob("*.safetensors"))
                try:
                    return cls.from_pretrained(
                        str(local),
                        subfolder=sub,
                        **({"use_safetensors": True} if safe else {}),
                        **load,
                    )
                except Exception as e:  # noqa: BLE001 - a broken folder: say what is wrong
                    raise ModelUnavailable(
                        f"{what}: cannot load {local / (sub or '')}: {e}"
                    ) from None
        tried = ", ".join(str(local / (s or "") / config_name) for s in subfolders)
        raise ModelUnavailable(
            f"{what}: {local} has no {config_name} (tried {tried}); it holds "
            f"{sorted(p.name for p in local.iterdir())}. Write it with save_pretrained, or set the "
            "subfolder"
        )
    if looks_local(id):
        raise ModelUnavailable(
            f"{what}: no such folder {id} (a relative path resolves against the spec's folder)"
        )
    last = None
    for local_only in (True, False) if not offline() else (True,):
        for sub in subfolders:
            try:
                return cls.from_pretrained(
                    id, subfolder=sub, revision=revision, local_files_only=local_only, **load
                )
            except Exception as e:  # noqa: BLE001 - tried in turn; the last reason is reported
                last = e
    rev = f" at revision {revision}" if revision else ""
    raise ModelUnavailable(
        f"{what} {id!r}{rev} is not available offline: looked in the Hugging Face cache "
        f"{hub_cache()} "
        f"for {' or '.join(repr(s or '.') for s in subfolders)} ({type(last).__name__}: "
        f"{str(last).splitlines()[0][:160] if last else ''}). Download it once on a machine with a "
        f"network (huggingface-cli download {id}) and copy the cache here, or save the model to a "
        "folder with save_pretrained and set `id:` to that folder"
    )


def _diffusers():
    try:
        import diffusers
    except ImportError:
        raise ModelUnavailable(
            "pretrained model kinds need the `diffusers` package: pip install 'reprdyn[diffusers]'"
        ) from None
    diffusers.utils.logging.set_verbosity_error()  # reprdyn reports what matters itself
    return diffusers


def _cast(module: nn.Module, dtype: str) -> nn.Module:
    return module if dtype == "float32" else module.to(DTYPES[dtype])


def _schedule(diffusers, cfg) -> tuple[np.ndarray, str]:
    sched = from_pretrained(
        diffusers.DDPMScheduler,
        cfg.id,
        [cfg.scheduler_subfolder, None],
        cfg.revision,
        "scheduler of",
        "scheduler_config.json",
    )
    prediction = sched.config.prediction_type if cfg.prediction == "auto" else cfg.prediction
    return sched.alphas_cumprod.double().numpy(), prediction


def autoencoder(cfg, kind: str, dtype: str) -> LatentEncoder:
    """The block's autoencoder (`vq` or `kl`) as a LatentEncoder in `dtype`, with the latent
    scaling of its config: KL latents are (z - shift_factor) * scaling_factor (SD3 and FLUX
    shift; the others have no shift), VQ latents are used as they are."""
    diffusers = _diffusers()
    cls = diffusers.VQModel if kind == "vq" else diffusers.AutoencoderKL
    vae = from_pretrained(
        cls,
        cfg.vae_id or cfg.id,
        [None] if cfg.vae_id else [cfg.vae_subfolder],
        cfg.revision,
        "autoencoder of",
        variant=None if cfg.vae_id else cfg.variant,
    )
    scale, shift = 1.0, 0.0
    if kind == "kl":
        scale = float(getattr(vae.config, "scaling_factor", 1.0))
        shift = float(getattr(vae.config, "shift_factor", None) or 0.0)
    return LatentEncoder(_cast(vae, dtype), scale, shift)


def vp_network(cfg, cls: str, what: str, subfolders=None) -> tuple[nn.Module, np.ndarray, str]:
    """A VP model's network (the diffusers class `cls` at `cfg.id`, in the spec's dtype) and its
    noise schedule: (network, alpha-bar per step, prediction type)."""
    d = _diffusers()
    subs = subfolders or [cfg.subfolder]
    net = from_pretrained(
        getattr(d, cls), cfg.id, subs, cfg.revision, what, dtype=cfg.dtype, variant=cfg.variant
    )
    return (_cast(net, cfg.dtype), *_schedule(d, cfg))


def load_unet(cfg, device: str = "cpu") -> Pretrained:
    subs = [cfg.subfolder] if cfg.subfolder else ["unet", None]
    return Pretrained(pretrained_vp(*vp_network(cfg, "UNet2DModel", "UNet2DModel", subs)))


def load_dit(cfg, device: str = "cpu") -> Pretrained:
    net, abar, prediction = vp_network(cfg, "DiTTransformer2DModel", "DiT transformer")
    null = cfg.class_label if cfg.class_label is not None else int(net.config.num_embeds_ada_norm)
    return Pretrained(
        pretrained_vp(net, abar, prediction, class_label=null, tokens=True),
        autoencoder(cfg, "kl", cfg.dtype),
    )


def load_ldm(cfg, device: str = "cpu") -> Pretrained:
    network = vp_network(cfg, "UNet2DModel", "latent UNet2DModel")
    return Pretrained(pretrained_vp(*network), autoencoder(cfg, cfg.autoencoder, cfg.dtype))


def load_python(cfg, device: str = "cpu") -> Pretrained:
    """Import the plugin and call its factory (only reached for specs that were trusted twice)."""
    if cfg.file:
        path = Path(cfg.file)
        if not path.is_file():
            raise ModelUnavailable(
                f"python model file {path} not found (relative to the spec's folder)"
            )
        mod_spec = importlib.util.spec_from_file_location(f"reprdyn_plugin_{path.stem}", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        where = str(path)
    else:
        try:
            module = importlib.import_module(cfg.module)
        except ImportError as e:
            raise ModelUnavailable(
                f"cannot import python model module {cfg.module!r}: {e}"
            ) from None
        where = cfg.module
    factory = getattr(module, cfg.factory, None)
    if not callable(factory):
        found = sorted(
            n for n in dir(module) if callable(getattr(module, n)) and not n.startswith("_")
        )
        raise ModelUnavailable(f"{where} has no function {cfg.factory!r}; it has {found}")
    model = factory(**cfg.kwargs)
    if not isinstance(model, nn.Module):
        raise ModelUnavailable(
            f"{where}:{cfg.factory} returned {type(model).__name__}, not a torch nn.Module with "
            "forward(x, sigma)"
        )
    return Pretrained(model)
