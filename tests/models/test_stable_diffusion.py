"""kind: sd on tiny Stable Diffusion and SDXL folders written with save_pretrained: the prompt's
conditioning against the text encoders run here by hand and against the pipelines' own
encode_prompt (SDXL's "" as its zero negative branch), SDXL's added conditioning, a whole spec
through `reprdyn run`, half precision against float32, and per-class prompts refused."""

from __future__ import annotations

import numpy as np
import pytest
import tiny_hub as hub
import torch
from helpers import invoke

import reprdyn
from reprdyn.models.loaders import load_pretrained
from reprdyn.spec import SpecError, validate_text

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

T = 100


def unet(context: int, xl: bool = False):
    torch.manual_seed(3)
    extra = (
        dict(addition_embed_type="text_time", addition_time_embed_dim=4,
             projection_class_embeddings_input_dim=6 * 4 + 12)
        if xl else {}
    )  # fmt: skip
    return diffusers.UNet2DConditionModel(
        sample_size=4, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=context,
        attention_head_dim=2, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), **extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd")
    sched = diffusers.DDPMScheduler(
        num_train_timesteps=T, beta_start=1e-3, beta_end=0.1, clip_sample=False
    )
    for name, xl in (("sd", False), ("sdxl", True)):
        vocab = hub.clip_tokenizer(root / name / "tokenizer")
        hub.clip_encoder(vocab, 8).save_pretrained(root / name / "text_encoder")
        if xl:
            hub.clip_tokenizer(root / name / "tokenizer_2")
            hub.clip_encoder(vocab, 12, projection=12, seed=1).save_pretrained(
                root / name / "text_encoder_2"
            )
        unet(8 + 12 if xl else 8, xl).save_pretrained(root / name / "unet")
        hub.autoencoder().save_pretrained(root / name / "vae")
        sched.save_pretrained(root / name / "scheduler")
    hub.images(root, 8)
    return root


def spec(repos, model: str, layers: str = "[mid_block, up_blocks.1]", extra: str = "") -> str:
    return hub.spec_text("sd", repos, model, layers, extra)


def _model(repos, name: str, **kw):
    fields = ", ".join([f"id: {repos / name}", *(f"{k}: {v}" for k, v in kw.items())])
    return load_pretrained(validate_text(spec(repos, f"{{kind: sd, {fields}}}")).model)


def test_sd_is_conditioned_on_the_prompt_encoded_once(repos):
    model = _model(repos, "sd", prompt="'a photo'")
    tok = transformers.CLIPTokenizer.from_pretrained(repos / "sd" / "tokenizer")
    enc = transformers.CLIPTextModel.from_pretrained(repos / "sd" / "text_encoder")
    ids = tok("a photo", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        want = enc(ids).last_hidden_state  # (1, 77, 8): what SD's pipeline feeds its UNet
    seen = hub.record(model)
    z = model.encoder(torch.zeros(2, 3, 8, 8))
    model.denoiser(z, 0.5)
    torch.testing.assert_close(seen["encoder_hidden_states"], want.expand(2, -1, -1))
    assert "added_cond_kwargs" not in seen
    empty = _model(repos, "sd")  # '' is encoded too: SD's unconditional embedding
    assert not torch.equal(empty.denoiser.net.context, model.denoiser.net.context)


def test_sdxl_adds_pooled_text_and_the_image_size(repos):
    prompt = _model(repos, "sdxl", prompt="'a photo'")
    tok = transformers.CLIPTokenizer.from_pretrained(repos / "sdxl" / "tokenizer_2")
    cls = transformers.CLIPTextModelWithProjection
    enc = cls.from_pretrained(repos / "sdxl" / "text_encoder_2")
    ids = tok("a photo", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        out = enc(ids, output_hidden_states=True)
    seen = hub.record(prompt)
    z = prompt.encoder(torch.zeros(3, 3, 8, 8))  # (3, 4, 4, 4): an 8x8 image
    prompt.denoiser(z, 0.5)
    ctx = seen["encoder_hidden_states"]
    assert ctx.shape == (3, 77, 20)  # both encoders' penultimate states side by side
    torch.testing.assert_close(ctx[:1, :, 8:], out.hidden_states[-2])
    added = seen["added_cond_kwargs"]
    torch.testing.assert_close(added["text_embeds"], out.text_embeds.expand(3, -1))
    assert added["time_ids"].tolist() == [[8, 8, 0, 0, 8, 8]] * 3  # (H, W, top, left, H, W)
    empty = _model(repos, "sdxl")
    assert not empty.denoiser.net.context.any() and not empty.denoiser.net.pooled.any()


@pytest.mark.parametrize("name", ["sd", "sdxl"])
def test_a_spec_on_stable_diffusion_runs_end_to_end(repos, tmp_path, name):
    ds = hub.run_spec(tmp_path, spec(repos, f"{{kind: sd, id: {repos / name}}}"))
    acc = ds["accuracy"].sel(label_noise=0.0)
    assert set(ds.layer.values) == {"mid_block", "up_blocks.1"}
    assert np.isfinite(acc.values).all() and float(acc.max()) > 0.5  # 3 classes: chance 1/3


@pytest.mark.parametrize("dtype, tol", [("float16", 0.01), ("bfloat16", 0.06)])
def test_half_precision_unet_agrees_with_float32_at_every_sigma(repos, dtype, tol):
    """Only the UNet runs in half precision; the autoencoder, the text encoders and the
    preconditioning stay float32."""
    from reprdyn.compute.extract import extract

    ref, half = _model(repos, "sdxl"), _model(repos, "sdxl", dtype=dtype)
    assert next(half.encoder.parameters()).dtype == torch.float32
    x = ref.encoder(torch.as_tensor(np.load(repos / "images.npz")["x"][:6]))
    sched = ref.denoiser.schedule
    for sigma in np.geomspace(sched.sigma_min, sched.sigma_max, 6):
        a = extract(ref.denoiser, x, float(sigma), ["mid_block", "output"])
        b = extract(half.denoiser, x, float(sigma), ["mid_block", "output"])
        for k in a:
            err = float((a[k] - b[k]).abs().max() / a[k].abs().max())
            assert torch.isfinite(b[k]).all() and err <= tol, (dtype, sigma, k, err)


def test_a_per_class_prompt_is_refused_with_the_reason(repos):
    with pytest.raises(SpecError, match="would put each image's label into its features"):
        model = f"{{kind: sd, id: {repos / 'sd'}, prompt: 'a photo of {{class}}'}}"
        validate_text(spec(repos, model))


def test_sdxl_decoder_maps_segment_at_the_image_size(repos, tmp_path):
    """A dense set of the UNet's up blocks (latent resolution) upsampled to the masks' size."""
    text = spec(repos, f"{{kind: sd, id: {repos / 'sdxl'}, dtype: bfloat16}}", "[output]")
    text = hub.segmentation(text, repos, tmp_path, "[up_blocks.0, up_blocks.1]")
    miou = hub.run_spec(tmp_path, text)["miou"]
    assert miou.notnull().all() and (miou > 0.3).all()  # better than predicting one class


def test_layer_patterns_expand_against_the_loaded_unet(repos, tmp_path):
    """`down_blocks.*` is each down block, not their resnets and attentions; `reprdyn layers
    --match` reads a pattern the same way."""
    model = f"{{kind: sd, id: {repos / 'sd'}}}"
    (tmp_path / "s.yaml").write_text(spec(repos, model, "['down_blocks.*', mid_block]"))
    r = invoke("layers", tmp_path / "s.yaml", "--match", "up_blocks.*.resnets.0")
    assert r.exit_code == 0, r.stderr
    listed = [line.split()[1] for line in r.stdout.splitlines() if "up_blocks." in line]
    assert listed == ["up_blocks.0.resnets.0", "up_blocks.1.resnets.0"]
    r = invoke("run", tmp_path / "s.yaml", "--store", tmp_path / "s.zarr")
    assert r.exit_code == 0, r.stderr
    ds = reprdyn.open(tmp_path / "s.zarr")["img"]
    assert list(ds.layer.values) == ["down_blocks.0", "down_blocks.1", "mid_block"]


def test_attention_projections_are_tokens_on_their_level_grid(repos):
    """A UNet's attention works on flattened maps: `to_q` returns (B, h w, D) tokens, pooled over
    the tokens to D features and laid out as the level's (D, h, w) map, row by row."""
    from reprdyn.compute.extract import extract, layer_shapes

    model = _model(repos, "sd")
    z = model.encoder(torch.as_tensor(np.load(repos / "images.npz")["x"][:2]))  # (2, 4, 4, 4)
    name = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
    module = dict(model.denoiser.net.net.named_modules())[name]
    seen = []
    handle = module.register_forward_hook(lambda m, a, out: seen.append(out.detach().clone()))
    try:
        pooled = extract(model.denoiser, z, 0.5, [name])[name]
        maps = extract(model.denoiser, z, 0.5, [name], pool=False)[name]
    finally:
        handle.remove()
    tokens = seen[0]  # (2, 16, D): the 4x4 latent grid of the first level
    D = tokens.shape[-1]
    torch.testing.assert_close(pooled, tokens.mean(1))
    torch.testing.assert_close(maps, tokens.transpose(1, 2).reshape(2, D, 4, 4))
    assert layer_shapes(model.denoiser, z, 0.5)[name] == (D, 4, 4)


def _pipeline(repos, name: str):
    """The diffusers pipeline over the same folder: the reference for the conditioning."""
    parts = dict(
        vae=diffusers.AutoencoderKL.from_pretrained(repos / name / "vae"),
        unet=diffusers.UNet2DConditionModel.from_pretrained(repos / name / "unet"),
        scheduler=diffusers.DDPMScheduler.from_pretrained(
            repos / name / "scheduler",
            steps_offset=1,  # what the pipelines ask of a config
        ),
        tokenizer=transformers.CLIPTokenizer.from_pretrained(repos / name / "tokenizer"),
        text_encoder=transformers.CLIPTextModel.from_pretrained(repos / name / "text_encoder"),
    )
    if name == "sd":
        return diffusers.StableDiffusionPipeline(
            **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
    two = transformers.CLIPTextModelWithProjection.from_pretrained(repos / name / "text_encoder_2")
    tok = transformers.CLIPTokenizer.from_pretrained(repos / name / "tokenizer_2")
    return diffusers.StableDiffusionXLPipeline(**parts, text_encoder_2=two, tokenizer_2=tok)


def test_sd_conditioning_is_its_pipelines(repos):
    with torch.no_grad():
        want = _pipeline(repos, "sd").encode_prompt("a photo", "cpu", 1, False)[0]
    torch.testing.assert_close(_model(repos, "sd", prompt="'a photo'").denoiser.net.context, want)


def test_sdxl_conditioning_is_its_pipelines_and_empty_is_its_negative_branch(repos):
    pipe = _pipeline(repos, "sdxl")
    with torch.no_grad():
        want, _, pooled, _ = pipe.encode_prompt(
            "a photo", device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        _, negative, _, negative_pooled = pipe.encode_prompt(
            "a photo", device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=True
        )  # no negative prompt: force_zeros_for_empty_prompt gives zeros
    model = _model(repos, "sdxl", prompt="'a photo'")
    torch.testing.assert_close(model.denoiser.net.context, want)
    torch.testing.assert_close(model.denoiser.net.pooled, pooled)
    empty = _model(repos, "sdxl")  # prompt "": SDXL's unconditional branch
    torch.testing.assert_close(empty.denoiser.net.context, negative)
    torch.testing.assert_close(empty.denoiser.net.pooled, negative_pooled)
