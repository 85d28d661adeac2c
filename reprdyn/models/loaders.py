"""Which loader builds each pretrained model kind, declared once, and the one entry point."""

from __future__ import annotations

from ..errors import lookup
from .flow import load_flow
from .pretrained import Pretrained, load_dit, load_ldm, load_python, load_unet
from .stable_diffusion import load_sd

LOADERS = {
    "diffusers-unet": load_unet,
    "dit": load_dit,
    "ldm": load_ldm,
    "sd": load_sd,
    "flow": load_flow,
    "python": load_python,
}


def load_pretrained(cfg, device: str = "cpu") -> Pretrained:
    """The pretrained model a block names, in eval mode; `device` is where its text encoders run
    (once per prompt: `prompt_cache`), the denoiser is moved by its caller."""
    model = lookup(LOADERS, cfg.kind, "pretrained model kind")(cfg, device)
    model.denoiser.eval()
    if model.encoder is not None:
        model.encoder.eval()
    return model
