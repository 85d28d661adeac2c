"""Tiny hub-style model parts for the pretrained-model tests (`reprdyn.models.tiny`'s: CLIP and T5
tokenizers and text encoders, an AutoencoderKL, built from configs with seeded random weights),
and the images, specs and recorders the tests run them with."""

from __future__ import annotations

from reprdyn.models.tiny import (  # noqa: F401 - the parts, shared with `reprdyn init`
    autoencoder,
    clip_encoder,
    clip_tokenizer,
    t5_encoder,
    t5_tokenizer,
)

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
