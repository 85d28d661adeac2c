"""Tiny random Stable Diffusion and FLUX folders, in the real diffusers and transformers classes,
built from configs with seeded weights and written with save_pretrained: a CPU path to try
`kind: sd` and `kind: flow` in a minute, with no GPU and no download (`reprdyn init -t sd-tiny`).

Random weights give random-feature numbers: these folders test the path (latents, prompt
conditioning, the noise frame, hooks, packing), not what a trained model has learned. The tokenizers
work on single characters (no merges), so they need no vocabulary files from the hub.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CLIP_WIDTH, CLIP_PROJECTED, T5_WIDTH = 32, 32, 32


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-character table, which CLIP's byte-level BPE uses."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    out, n = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + n))
            n += 1
    return out


def clip_tokenizer(folder: Path) -> int:
    """A CLIP tokenizer over single characters (no merges), saved to `folder`; its vocab size."""
    import transformers

    chars = sorted(set(_byte_chars()))
    vocab = ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]
    folder.mkdir(parents=True)
    ids = {t: i for i, t in enumerate(vocab)}
    (folder / "vocab.json").write_text(json.dumps(ids))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    try:  # transformers 5: the vocabulary itself
        tok = transformers.CLIPTokenizer(vocab=ids, merges=[])
    except TypeError:  # transformers 4: its files
        tok = transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tok.model_max_length = 77
    tok.save_pretrained(folder)
    return len(vocab)


def clip_encoder(vocab: int, width: int, projection: int | None = None, seed: int = 0):
    """A two-layer CLIP text encoder (with a projection: SDXL's and SD3's second encoder)."""
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.CLIPTextConfig(
        vocab_size=vocab, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=77, projection_dim=projection or width,
        bos_token_id=0, eos_token_id=1, pad_token_id=1,  # the tokenizer's own ids
    )  # fmt: skip
    if projection:
        return transformers.CLIPTextModelWithProjection(cfg)
    return transformers.CLIPTextModel(cfg)


def t5_tokenizer(folder: Path) -> int:
    """A unigram T5 tokenizer over printable ASCII, saved to `folder`; its vocab size."""
    import transformers

    chars = [chr(c) for c in range(32, 127)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [(c, -2.0) for c in chars] + [("▁" + c, -1.5) for c in chars]
    folder.mkdir(parents=True)
    transformers.T5TokenizerFast(vocab=vocab, extra_ids=0).save_pretrained(folder)
    return len(vocab)


def t5_encoder(vocab: int, width: int, seed: int = 2):
    """A one-layer T5 encoder."""
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.T5Config(
        vocab_size=vocab, d_model=width, d_kv=4, d_ff=2 * width, num_layers=1, num_heads=2,
    )  # fmt: skip
    return transformers.T5EncoderModel(cfg)


def autoencoder(latent: int = 4, **config):
    """A two-level AutoencoderKL: images of side s give latents of side s / 2."""
    import diffusers

    torch.manual_seed(1)
    return diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent, block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4, sample_size=32, **config,
    )  # fmt: skip


def write_sd(folder: Path) -> Path:
    """A Stable-Diffusion-shaped folder: CLIP tokenizer and text encoder, a two-level conditioned
    UNet, the AutoencoderKL and SD's own scheduler config (scaled-linear betas 0.00085 -> 0.012)."""
    import diffusers

    vocab = clip_tokenizer(folder / "tokenizer")
    clip_encoder(vocab, CLIP_WIDTH).save_pretrained(folder / "text_encoder")
    torch.manual_seed(3)
    diffusers.UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(16, 32), norm_num_groups=8, cross_attention_dim=CLIP_WIDTH,
        attention_head_dim=4, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    ).save_pretrained(folder / "unet")  # fmt: skip
    autoencoder(scaling_factor=0.18215).save_pretrained(folder / "vae")
    diffusers.DDPMScheduler(
        num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
        beta_schedule="scaled_linear", clip_sample=False,
    ).save_pretrained(folder / "scheduler")  # fmt: skip
    return folder


def write_flux(folder: Path) -> Path:
    """A FLUX.1-schnell-shaped folder: CLIP (pooled) and T5 tokenizers and encoders, a one-double-
    and one-single-block FluxTransformer2DModel without guidance embeddings, an AutoencoderKL with
    FLUX's latent shift and scale, and the flow-matching scheduler config."""
    import diffusers

    vocab = clip_tokenizer(folder / "tokenizer")
    clip_encoder(vocab, CLIP_WIDTH).save_pretrained(folder / "text_encoder")
    t5 = t5_tokenizer(folder / "tokenizer_2")
    t5_encoder(t5, T5_WIDTH).save_pretrained(folder / "text_encoder_2")
    torch.manual_seed(4)
    diffusers.FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=T5_WIDTH, pooled_projection_dim=CLIP_WIDTH,
        guidance_embeds=False, axes_dims_rope=(2, 2, 4),
    ).save_pretrained(folder / "transformer")  # fmt: skip
    autoencoder(4, scaling_factor=1.5, shift_factor=0.1).save_pretrained(folder / "vae")
    diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0).save_pretrained(
        folder / "scheduler"
    )
    return folder


BUILDERS = {"sd": write_sd, "flux": write_flux}


def build(kind: str, folder: str | Path) -> Path:
    """Write the tiny model `kind` (one of BUILDERS) into `folder`; a ValueError names the kinds,
    an ImportError the extra to install."""
    from ..errors import lookup

    builder = lookup(BUILDERS, kind, "tiny model")
    for module in ("diffusers", "transformers"):
        try:
            __import__(module)
        except ImportError:
            raise ImportError(
                f"a tiny {kind} model is built with {module}: pip install 'reprdyn[diffusers]'"
            ) from None
    import diffusers
    import transformers

    quiet = transformers.utils.logging, diffusers.utils.logging
    for log in quiet:  # no progress bars or notes while the parts are written
        log.disable_progress_bar()
    levels = [log.get_verbosity() for log in quiet]
    try:
        for log in quiet:
            log.set_verbosity_error()
        return builder(Path(folder))
    finally:
        for log, level in zip(quiet, levels):
            log.set_verbosity(level)
            log.enable_progress_bar()
