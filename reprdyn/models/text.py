"""Text conditioning of pretrained models: one fixed prompt through a hub tokenizer and encoder,
run once in float32 and reused for every image and sigma.

Stable Diffusion (CLIP) and the flow transformers (CLIP and T5) read their encoders from the
model's folder (`tokenizer`, `text_encoder`, `tokenizer_2`, ...). Loading runs no remote code.

Why not the pipelines' own `encode_prompt`: a pipeline object is built around its UNet or
transformer, which reprdyn loads once, itself, in its own dtype and placement, and the encoders here
load only when the prompt cache lacks the answer, in their own dtype or spread by accelerate. The
few lines that form each family's conditioning are checked equal to `encode_prompt` of the SD,
SDXL (including its zero negative branch for ""), SD3 and FLUX pipelines, and FLUX's packing to
its pipeline's, in tests/models/test_stable_diffusion.py and test_flow.py: a diffusers release that
moves them fails those tests.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .pretrained import ModelUnavailable, from_pretrained

CLIP_TOKENS = 77  # CLIP's context length


def transformers_(kind: str):
    """The `transformers` package, or one clear error naming the extra."""
    try:
        import transformers
    except ImportError:
        raise ModelUnavailable(
            f"kind {kind!r} needs the `transformers` package (its text encoders): "
            "pip install 'reprdyn[diffusers]'"
        ) from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # the run's own log says what loads
    return transformers


def has_folder(cfg, sub: str) -> bool:
    """Whether a local model folder has `sub` (a hub id is assumed to have every part)."""
    local = Path(cfg.id)
    return not local.is_dir() or (local / sub).is_dir()


def encoder_dtype(cfg, device: str) -> str:
    """The dtype text encoders load in: the model's own on a GPU (half the memory: FLUX's T5-XXL
    is 19 GB in float32), float32 on a CPU (half-precision kernels there are slow or missing)."""
    return getattr(cfg, "dtype", "float32") if device.startswith("cuda") else "float32"


def encoder_key(cfg, device: str) -> dict:
    """What decides the encoders' rounding, for the prompt cache: their dtype, where they run, and
    whether accelerate spreads them."""
    on = "cuda" if device.startswith("cuda") else device
    return {
        "dtype": encoder_dtype(cfg, device),
        "on": on,
        "offload": getattr(cfg, "offload", False),
    }


def encode(cfg, tokenizer_cls, encoder_cls, suffix: str, max_length: int, device: str = "cpu"):
    """The outputs (with hidden states) of the encoder in `text_encoder{suffix}` on the spec's
    prompt, tokenized by `tokenizer{suffix}` and padded to `max_length` tokens, computed on
    `device` in `encoder_dtype`."""
    tok = from_pretrained(
        tokenizer_cls, cfg.id, [f"tokenizer{suffix}"], cfg.revision, "tokenizer of",
        "tokenizer_config.json",
    )  # fmt: skip
    dtype, offload = encoder_dtype(cfg, device), getattr(cfg, "offload", False)
    enc = from_pretrained(
        encoder_cls, cfg.id, [f"text_encoder{suffix}"], cfg.revision, "text encoder of",
        dtype=dtype, variant=getattr(cfg, "variant", None),
        device_map="auto" if offload else None,  # accelerate places the layers as they fit
    )  # fmt: skip
    ids = tok(
        cfg.prompt,
        padding="max_length",
        max_length=max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids  # (1, max_length)
    if offload:  # already placed: its inputs go where its first layer is
        device = next(enc.parameters()).device
    else:
        enc = (enc.float() if dtype == "float32" else enc).to(device)
    with torch.no_grad():  # not inference_mode: the outputs become buffers of a module
        return enc.eval()(ids.to(device), output_hidden_states=True)
