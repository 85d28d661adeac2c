"""Stable Diffusion 1.x / 2.x / XL behind reprdyn's denoiser interface.

The UNet (`UNet2DConditionModel`) runs inside the same `VPPrecond` wrapper as every VP model
(docs/theory.md §1), on the latents of its `AutoencoderKL`. Its conditioning is one fixed prompt,
encoded once by the CLIP text encoder(s) in float32 and reused for every image and sigma:

- SD 1.x / 2.x: the text encoder's last hidden state, (1, 77, D);
- SDXL (its UNet has `addition_embed_type: text_time`): both encoders' penultimate hidden states,
  concatenated, (1, 77, D1 + D2), the second encoder's pooled projection, and the size
  conditioning time_ids = (H, W, 0, 0, H, W) of the image the latents came from. The empty prompt
  is zeros, as SDXL's pipeline uses for its unconditional branch.
"""

from __future__ import annotations

import torch
from torch import nn

from .pretrained import DiffusersNet, Pretrained, autoencoder, pretrained_vp, vp_network
from .prompt_cache import cached
from .text import CLIP_TOKENS as TOKENS
from .text import encode, encoder_key, transformers_


class ConditionedNet(DiffusersNet):
    """A UNet2DConditionModel as a raw network F(x_in, c_noise), conditioned on one prompt."""

    def __init__(self, net: nn.Module, T: int, context, pooled=None, vae_scale: int = 8):
        super().__init__(net, T)
        self.register_buffer("context", context)  # (1, L, D)
        self.register_buffer("pooled", pooled)  # (1, P), SDXL only
        self.vae_scale = vae_scale

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        B, dtype = x_in.shape[0], x_in.dtype
        kwargs = {"encoder_hidden_states": self.context.expand(B, -1, -1).to(dtype)}
        if self.pooled is not None:  # SDXL: pooled text and (original, crop, target) size
            H, W = x_in.shape[-2] * self.vae_scale, x_in.shape[-1] * self.vae_scale
            time_ids = torch.tensor([H, W, 0, 0, H, W], dtype=dtype, device=x_in.device)
            kwargs["added_cond_kwargs"] = {
                "text_embeds": self.pooled.expand(B, -1).to(dtype),
                "time_ids": time_ids.expand(B, 6),
            }
        out = self.net(x_in, c_noise * self.T, **kwargs).sample  # (B, C, h, w)
        return out[:, : x_in.shape[1]]


def prompt_embedding(cfg, unet, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor | None]:
    """(context (1, 77, D), pooled (1, P) or None) of the spec's prompt, in float32."""
    xl = unet.config.get("addition_embed_type") == "text_time"
    if xl and cfg.prompt == "":  # SDXL's unconditional branch: zeros of the UNet's widths
        pooled = unet.config.projection_class_embeddings_input_dim
        pooled -= 6 * unet.config.addition_time_embed_dim
        return torch.zeros(1, TOKENS, unet.config.cross_attention_dim), torch.zeros(1, pooled)
    lengths = {"clip": TOKENS, "encoder": encoder_key(cfg, device)}
    return cached(cfg, "sdxl" if xl else "sd", lengths, lambda: _encoded(cfg, xl, device))


def _encoded(cfg, xl: bool, device: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    tr = transformers_("sd")
    if not xl:
        out = encode(cfg, tr.CLIPTokenizer, tr.CLIPTextModel, "", TOKENS, device)
        return out.last_hidden_state, None
    one = encode(cfg, tr.CLIPTokenizer, tr.CLIPTextModel, "", TOKENS, device)
    two = encode(cfg, tr.CLIPTokenizer, tr.CLIPTextModelWithProjection, "_2", TOKENS, device)
    context = torch.cat([one.hidden_states[-2], two.hidden_states[-2]], dim=-1)  # (1, 77, D1+D2)
    return context, two.text_embeds


def load_sd(cfg, device: str = "cpu") -> Pretrained:
    net, abar, prediction = vp_network(cfg, "UNet2DConditionModel", "UNet2DConditionModel")
    encoder = autoencoder(cfg, "kl", cfg.vae_dtype)
    context, pooled = prompt_embedding(cfg, net, device)
    vae_scale = 2 ** (len(encoder.autoencoder.config.block_out_channels) - 1)
    denoiser = pretrained_vp(
        net, abar, prediction, ConditionedNet,
        context=context, pooled=pooled, vae_scale=vae_scale,
    )  # fmt: skip
    return Pretrained(denoiser, encoder)
