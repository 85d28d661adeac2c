"""The prompt-embedding cache: a second load of the same model and prompt runs no text encoder and
gives the same tensors; a new prompt or a changed encoder file is computed again; a model whose
files are unknown is not kept."""

from __future__ import annotations

import os
from types import SimpleNamespace as NS

import pytest
import torch

from reprdyn.models import prompt_cache, stable_diffusion
from reprdyn.models.loaders import load_pretrained
from reprdyn.models.tiny import build
from reprdyn.spec import validate_text

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return build("sd", tmp_path_factory.mktemp("tiny") / "tiny-sd")


def _load(folder, prompt: str = "", **fields):
    """The model of a one-layer spec on `folder`, with the block's extra `fields`."""
    extra = "".join(f", {k}: {v}" for k, v in fields.items())
    text = (
        "spec_version: 1\nname: t\n"
        f"model: {{kind: sd, id: {folder}, prompt: '{prompt}'{extra}}}\n"
        "datasets: [{kind: glyphs, name: g, size: 32, channels: 3, n_train: 8, n_test: 4}]\n"
        "sigma: [0.5]\nlayers: [mid_block]\n"
    )
    return load_pretrained(validate_text(text).model)


def _encodes(monkeypatch) -> list:
    calls = []
    real = stable_diffusion.encode

    def counting(*a, **k):
        calls.append(a[3])
        return real(*a, **k)

    monkeypatch.setattr(stable_diffusion, "encode", counting)
    return calls


def test_a_second_load_runs_no_text_encoder(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    calls = _encodes(monkeypatch)
    first = _load(tiny_sd, "a photo").denoiser.net.context.clone()
    assert len(calls) == 1
    second = _load(tiny_sd, "a photo").denoiser.net.context
    assert len(calls) == 1 and torch.equal(first, second)  # from the cache, bit for bit
    _load(tiny_sd, "a drawing")
    assert len(calls) == 2  # another prompt is another entry
    assert len(list((tmp_path / "cache" / "prompts").glob("*.pt"))) == 2


def test_a_changed_encoder_file_is_computed_again(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    calls = _encodes(monkeypatch)
    _load(tiny_sd)
    weights = next((tiny_sd / "text_encoder").glob("*.safetensors"))
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    _load(tiny_sd)
    assert len(calls) == 2


def test_unknown_files_are_computed_and_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    cfg = NS(id="nobody/not-cached", revision=None, prompt="")
    assert prompt_cache.identity(cfg) is None
    out = prompt_cache.cached(cfg, "sd", {}, lambda: (torch.ones(1, 2), None))
    assert torch.equal(out[0], torch.ones(1, 2)) and not (tmp_path / "cache" / "prompts").exists()


def test_variant_weights_load_and_text_encoders_follow_the_device(tiny_sd, tmp_path, monkeypatch):
    """`variant: fp16` loads the *.fp16.safetensors files a folder holds; on a CPU the text
    encoders run in float32 whatever the model's dtype (`text.encoder_dtype`)."""
    import shutil

    import diffusers
    import transformers

    from reprdyn.models.text import encoder_dtype

    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "variant"
    shutil.copytree(tiny_sd, folder)
    parts = {
        "unet": diffusers.UNet2DConditionModel,
        "vae": diffusers.AutoencoderKL,
        "text_encoder": transformers.CLIPTextModel,
    }
    for sub, cls in parts.items():
        model = cls.from_pretrained(folder / sub)
        for f in (folder / sub).glob("*.safetensors"):
            f.unlink()  # only the variant's files remain
        model.save_pretrained(folder / sub, variant="fp16")
    with pytest.raises(Exception, match="unet|UNet"):
        _load(folder)  # the plain files are gone
    ours = _load(folder, variant="fp16").denoiser.net.context
    torch.testing.assert_close(ours, _load(tiny_sd).denoiser.net.context)  # the same weights
    cfg = NS(dtype="float16")
    assert encoder_dtype(cfg, "cpu") == "float32" and encoder_dtype(cfg, "cuda:0") == "float16"


def test_offloaded_encoders_give_the_same_embedding(tiny_sd, tmp_path, monkeypatch):
    """`offload: true` loads the text encoders with accelerate's device map; on a CPU the numbers
    are those of the plain load, and the cache keeps the two apart."""
    pytest.importorskip("accelerate")
    monkeypatch.setenv("REPRDYN_CACHE", str(tmp_path / "cache"))
    calls = _encodes(monkeypatch)
    plain = _load(tiny_sd, "a photo").denoiser.net.context
    offloaded = _load(tiny_sd, "a photo", offload="true").denoiser.net.context
    assert len(calls) == 2  # computed, not read from the plain load's entry
    torch.testing.assert_close(offloaded, plain, rtol=1e-6, atol=1e-6)
