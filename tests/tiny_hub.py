"""Tiny hub-style model parts for the pretrained-model tests, built from configs with seeded
random weights and written with save_pretrained: CLIP and T5 tokenizers and text encoders, and
an AutoencoderKL. Imports diffusers and transformers only when called."""

from __future__ import annotations

import json

import torch


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


def clip_tokenizer(folder) -> int:
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
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.CLIPTextConfig(
        vocab_size=vocab, hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
        num_attention_heads=2, max_position_embeddings=77, projection_dim=projection or width,
    )  # fmt: skip
    if projection:
        return transformers.CLIPTextModelWithProjection(cfg)
    return transformers.CLIPTextModel(cfg)


def t5_tokenizer(folder) -> int:
    """A unigram T5 tokenizer over printable ASCII, saved to `folder`; its vocab size."""
    import transformers

    chars = [chr(c) for c in range(32, 127)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [(c, -2.0) for c in chars] + [("▁" + c, -1.5) for c in chars]
    folder.mkdir(parents=True)
    transformers.T5TokenizerFast(vocab=vocab, extra_ids=0).save_pretrained(folder)
    return len(vocab)


def t5_encoder(vocab: int, width: int, seed: int = 2):
    import transformers

    torch.manual_seed(seed)
    cfg = transformers.T5Config(
        vocab_size=vocab, d_model=width, d_kv=4, d_ff=2 * width, num_layers=1, num_heads=2,
    )  # fmt: skip
    return transformers.T5EncoderModel(cfg)


def autoencoder(latent: int = 4, **config):
    """A two-level AutoencoderKL (8x8 images -> 4x4 latents)."""
    import diffusers

    torch.manual_seed(1)
    return diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent, block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=4, sample_size=8, **config,
    )  # fmt: skip


# --- the images and specs the pretrained-model tests run on ---------------------------


def images(root, side: int) -> None:
    """root/images.npz: 48 images (3, side, side) in [-1, 1], three classes of 16 that differ in
    brightness."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 16)
    x = np.clip(
        rng.normal(size=(48, 3, side, side)) * 0.3 + (y[:, None, None, None] - 1) * 0.5, -1, 1
    )
    np.savez(root / "images.npz", x=x.astype(np.float32), y=y)


def spec_text(name: str, repos, model: str, layers: str, extra: str = "") -> str:
    """A spec probing `model` (a flow-style block) on repos/images.npz at three sigmas, clean and
    noisy, with ridge."""
    return f"""\
spec_version: 1
name: {name}
model: {model}
datasets:
  - {{kind: npz, name: img, path: {repos / "images.npz"}}}
sigma: [0.1, 0.5, 2.0]
layers: {layers}
inputs: [clean, noisy]
probes: [{{kind: ridge}}]
seeds: [0]
{extra}"""


def segmentation(text: str, repos, folder, dense: str) -> str:
    """A `spec_text` (with `layers: [output]`) turned into a segmentation spec of the dense set
    `dense`: the images with masks of their bright pixels (folder/masked.npz) and seg-linear."""
    import numpy as np

    with np.load(repos / "images.npz") as f:
        x, y = f["x"], f["y"]
    masks = (x[:, 0] > np.median(x[:, 0])).astype(np.int64)  # (N, H, W): bright vs dark pixels
    np.savez(folder / "masked.npz", x=x, y=y, m=masks)
    text = text.replace(
        f"path: {repos / 'images.npz'}", f"path: {folder / 'masked.npz'}, masks: m, mask_classes: 2"
    )
    text = text.replace("layers: [output]\n", f"dense: {{d: {dense}}}\n")
    return text.replace("probes: [{kind: ridge}]", "probes: [{kind: seg-linear}]")


def record(model) -> dict:
    """The keyword arguments, and the output's `sample` as `out`, of the innermost network's next
    call (the UNet or transformer inside a loaded model's wrappers)."""
    seen = {}
    net = model.denoiser.net.net
    original = net.forward

    def forward(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.update(kwargs, out=out.sample)
        return out

    net.forward = forward
    return seen


def run_spec(tmp_path, text: str, code: int = 0):
    """`reprdyn run` of the spec `text` (written to tmp_path/s.yaml) into tmp_path/s.zarr: the
    dataset `img` of the store when the run succeeds, else the CliRunner result (exit `code`)."""
    from helpers import invoke

    import reprdyn

    (tmp_path / "s.yaml").write_text(text)
    r = invoke("run", tmp_path / "s.yaml", "--store", tmp_path / "s.zarr")
    assert r.exit_code == code, r.stderr
    return reprdyn.open(tmp_path / "s.zarr")["img"] if code == 0 else r
