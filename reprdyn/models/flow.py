"""Flow-matching transformers (SD3, FLUX) behind reprdyn's denoiser interface.

The transformer runs inside `FlowPrecond` (docs/theory.md §1): it sees x_t = x / (1 + sigma) at
flow time t = sigma / (1 + sigma), on the latents (z - shift) * scale of its `AutoencoderKL`, and
predicts the velocity eps - x0. Its conditioning is one fixed prompt, encoded once in float32:

- SD3 (`SD3Transformer2DModel`): both CLIP encoders' penultimate states side by side, zero-padded
  to T5's width, then the T5 states (zeros without a T5 encoder, as its pipeline does), and both
  CLIP pooled projections; the timestep is t times the scheduler's num_train_timesteps.
- FLUX (`FluxTransformer2DModel`): the T5 states and the CLIP pooled output; the timestep is t
  itself, and a guidance-distilled model (FLUX.1-dev, `guidance_embeds`) also takes the guidance
  scale. Latents enter packed as 2x2 patches (B, h/2 w/2, 4c) and the output is unpacked.

Both transformers' hidden layers return image tokens (B, N, D) on the (h/2, w/2) latent grid: the
blocks return (text, image) pairs, read at the image stream.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError, lookup
from ..maths.schedules import FlowSchedule
from .precond import FlowPrecond
from .pretrained import Pretrained, _cast, _diffusers, autoencoder, from_pretrained
from .prompt_cache import cached
from .text import CLIP_TOKENS, encode, encoder_key, has_folder, transformers_

# the blocks whose forward returns (encoder_hidden_states, hidden_states): image stream last
STREAM_LAST = ("JointTransformerBlock", "FluxTransformerBlock", "FluxSingleTransformerBlock")
GUIDANCE = 3.5  # FluxPipeline's default guidance_scale
T5_TOKENS = {"sd3": 256, "flux": 512}  # the pipelines' default max_sequence_length


class FlowNet(nn.Module):
    """A flow transformer as a raw network F(x_t, t) -> velocity, conditioned on one prompt."""

    tokens = True  # hidden layers return (B, N, D) image tokens

    def __init__(self, net: nn.Module, context, pooled):
        super().__init__()
        self.net = net
        self.register_buffer("context", context)  # (1, L, D_text)
        self.register_buffer("pooled", pooled)  # (1, P)

    def stream(self, module: nn.Module, out) -> torch.Tensor:
        """The image tokens of a module's output (a block's (text, image) pair, or one tensor)."""
        if not isinstance(out, (tuple, list)):
            return out
        parts = out[::-1] if type(module).__name__ in STREAM_LAST else out
        return next(p for p in parts if p is not None)

    def grid(self, hw: tuple[int, int]) -> tuple[int, int]:
        """The token grid of an (h, w) latent: one token per 2x2 patch, row by row."""
        return hw[0] // 2, hw[1] // 2

    def _text(self, B: int, dtype) -> dict:
        return {
            "encoder_hidden_states": self.context.expand(B, -1, -1).to(dtype),
            "pooled_projections": self.pooled.expand(B, -1).to(dtype),
        }


class SD3Net(FlowNet):
    """SD3's transformer patchifies (B, c, h, w) itself; its timestep is t T."""

    def __init__(self, net: nn.Module, T: int, context, pooled):
        super().__init__(net, context, pooled)
        self.T = T

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.net(hidden_states=x_t, timestep=t * self.T, **self._text(len(x_t), x_t.dtype))
        return out.sample  # (B, c, h, w)


def pack(z: torch.Tensor) -> torch.Tensor:
    """(B, c, h, w) latents -> (B, h/2 w/2, 4c) tokens, one per 2x2 patch (FluxPipeline's
    packing)."""
    B, c, h, w = z.shape
    z = z.view(B, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return z.reshape(B, (h // 2) * (w // 2), 4 * c)


def unpack(tokens: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The inverse of `pack`: (B, h/2 w/2, 4c) -> (B, c, h, w)."""
    B, _, C = tokens.shape
    z = tokens.view(B, h // 2, w // 2, C // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return z.reshape(B, C // 4, h, w)


class FluxNet(FlowNet):
    """FLUX's transformer reads packed 2x2 patches with their (0, row, col) position ids; its
    timestep is t, and a guidance-distilled model also takes the guidance scale."""

    def __init__(self, net: nn.Module, context, pooled, guidance: float | None):
        super().__init__(net, context, pooled)
        self.guidance = guidance

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        B, _, h, w = x_t.shape
        if h % 2 or w % 2:
            raise InputError(
                f"FLUX packs 2x2 latent patches, so its latents need an even size, not {h}x{w}: "
                "give images whose sides are multiples of 16 pixels"
            )
        ids = torch.zeros(h // 2, w // 2, 3, device=x_t.device)
        ids[..., 1] += torch.arange(h // 2, device=x_t.device)[:, None]  # row
        ids[..., 2] += torch.arange(w // 2, device=x_t.device)[None, :]  # column
        kwargs = self._text(B, x_t.dtype)
        if self.guidance is not None:
            kwargs["guidance"] = torch.full((B,), self.guidance, device=x_t.device)
        out = self.net(
            hidden_states=pack(x_t), timestep=t, img_ids=ids.reshape(-1, 3),
            txt_ids=torch.zeros(self.context.shape[1], 3, device=x_t.device), **kwargs,
        ).sample  # fmt: skip
        return unpack(out, h, w)  # (B, c, h, w)


# --- the prompt's embeddings ---------------------------------------------------------


def _t5(cfg, tr, suffix: str, length: int, width: int, device: str) -> torch.Tensor:
    """T5's last hidden state (1, length, width) of the prompt; zeros without a T5 encoder (SD3's
    pipeline runs without one)."""
    if not has_folder(cfg, f"text_encoder{suffix}"):
        return torch.zeros(1, length, width)
    return encode(
        cfg, tr.T5TokenizerFast, tr.T5EncoderModel, suffix, length, device
    ).last_hidden_state


def sd3_embedding(cfg, net, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """SD3's (context (1, 77 + L, D), pooled (1, P1 + P2)) for the prompt, as its pipeline forms
    them with clip_skip unset (kept on disk: `prompt_cache`)."""
    lengths = {"clip": CLIP_TOKENS, "t5": cfg.max_sequence_length or T5_TOKENS["sd3"]}
    lengths |= {"width": net.config.joint_attention_dim, "encoder": encoder_key(cfg, device)}
    return cached(cfg, "sd3", lengths, lambda: _sd3(cfg, net, device))


def _sd3(cfg, net, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    tr = transformers_("flow")
    clip = tr.CLIPTextModelWithProjection
    one = encode(cfg, tr.CLIPTokenizer, clip, "", CLIP_TOKENS, device)
    two = encode(cfg, tr.CLIPTokenizer, clip, "_2", CLIP_TOKENS, device)
    width = net.config.joint_attention_dim
    states = torch.cat([one.hidden_states[-2], two.hidden_states[-2]], dim=-1)  # (1, 77, D1+D2)
    states = nn.functional.pad(states, (0, width - states.shape[-1]))  # (1, 77, D)
    t5 = _t5(cfg, tr, "_3", cfg.max_sequence_length or T5_TOKENS["sd3"], width, device)
    return torch.cat([states, t5], dim=1), torch.cat([one.text_embeds, two.text_embeds], dim=-1)


def flux_embedding(cfg, net, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """FLUX's (context (1, L, D) from T5, pooled (1, P) from CLIP) for the prompt (kept on disk:
    `prompt_cache`)."""
    lengths = {"clip": CLIP_TOKENS, "t5": cfg.max_sequence_length or T5_TOKENS["flux"]}
    lengths["encoder"] = encoder_key(cfg, device)
    return cached(cfg, "flux", lengths, lambda: _flux(cfg, device))


def _flux(cfg, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    tr = transformers_("flow")
    pooled = encode(cfg, tr.CLIPTokenizer, tr.CLIPTextModel, "", CLIP_TOKENS, device).pooler_output
    length = cfg.max_sequence_length or T5_TOKENS["flux"]
    t5 = encode(cfg, tr.T5TokenizerFast, tr.T5EncoderModel, "_2", length, device).last_hidden_state
    return t5, pooled


# --- loading -----------------------------------------------------------------------


class _Config:
    """`from_pretrained` that reads a model's config.json alone (to tell SD3 from FLUX)."""

    def __init__(self, diffusers):
        self.diffusers = diffusers

    def from_pretrained(self, id, subfolder=None, revision=None, local_files_only=False, **_):
        return self.diffusers.SD3Transformer2DModel.load_config(  # any model class reads it
            id, subfolder=subfolder, revision=revision, local_files_only=local_files_only
        )


FAMILIES = {"SD3Transformer2DModel": "sd3", "FluxTransformer2DModel": "flux"}


def _family(d, cfg) -> tuple[str, dict]:
    """'sd3' or 'flux', from the transformer config's class name, and the config (read before any
    weights load)."""
    config = from_pretrained(_Config(d), cfg.id, [cfg.subfolder], cfg.revision, "flow transformer")
    name = config.get("_class_name", "")
    try:
        return lookup(FAMILIES, name, "flow transformer class"), config
    except ValueError as e:
        raise InputError(f"{cfg.id}/{cfg.subfolder}: {e}") from None


def _steps(d, cfg) -> int:
    """The scheduler's num_train_timesteps, which must be the spec's (its timestep grid uses it)."""
    if not has_folder(cfg, cfg.scheduler_subfolder):
        return cfg.num_train_timesteps
    sched = from_pretrained(
        d.FlowMatchEulerDiscreteScheduler, cfg.id, [cfg.scheduler_subfolder], cfg.revision,
        "scheduler of", "scheduler_config.json",
    )  # fmt: skip
    T = int(sched.config.num_train_timesteps)
    if T != cfg.num_train_timesteps:
        raise InputError(
            f"the scheduler of {cfg.id} has num_train_timesteps {T}, the spec says "
            f"{cfg.num_train_timesteps}: set `num_train_timesteps: {T}`"
        )
    return T


def load_flow(cfg, device: str = "cpu") -> Pretrained:
    d = _diffusers()
    family, config = _family(d, cfg)
    guided = bool(config.get("guidance_embeds", False))
    if cfg.guidance is not None and not guided:
        raise InputError(
            f"`guidance: {cfg.guidance}` is for a guidance-distilled transformer (FLUX.1-dev); "
            f"{cfg.id} takes none (its config has no guidance_embeds): leave `guidance` out"
        )
    T = _steps(d, cfg)  # the spec's mistakes first, then the weights
    cls = d.SD3Transformer2DModel if family == "sd3" else d.FluxTransformer2DModel
    net = from_pretrained(
        cls, cfg.id, [cfg.subfolder], cfg.revision, cls.__name__, dtype=cfg.dtype,
        variant=cfg.variant,
    )  # fmt: skip
    if family == "sd3":
        raw = SD3Net(_cast(net, cfg.dtype), T, *sd3_embedding(cfg, net, device))
    else:
        guidance = (cfg.guidance if cfg.guidance is not None else GUIDANCE) if guided else None
        raw = FluxNet(_cast(net, cfg.dtype), *flux_embedding(cfg, net, device), guidance)
    encoder = autoencoder(cfg, "kl", cfg.vae_dtype)
    return Pretrained(FlowPrecond(raw, FlowSchedule(T)), encoder)
