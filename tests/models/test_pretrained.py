"""Pretrained models: tiny diffusers UNet / DiT / LDM saved with save_pretrained and run as whole
specs; the wrapper against the diffusers scheduler's own x0 formula; offline errors; trusted Python
plugins."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import reprdyn
from reprdyn.cli import app
from reprdyn.models.loaders import load_pretrained
from reprdyn.models.pretrained import (
    ModelUnavailable,
    Pretrained,
    from_pretrained,
    pretrained_vp,
)
from reprdyn.spec import SpecError, validate_text

diffusers = pytest.importorskip("diffusers")


T = 100  # a short schedule keeps the tiny models fast


def tiny_unet(channels: int = 3, size: int = 8):
    torch.manual_seed(0)
    return diffusers.UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )


def scheduler(prediction: str = "epsilon"):
    return diffusers.DDPMScheduler(
        num_train_timesteps=T,
        beta_start=1e-3,
        beta_end=0.1,
        prediction_type=prediction,
        clip_sample=False,
    )


def vae(kind: str):
    torch.manual_seed(1)
    args = dict(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        norm_num_groups=4,
        sample_size=8,
    )
    if kind == "kl":
        return diffusers.AutoencoderKL(latent_channels=4, **args)
    return diffusers.VQModel(latent_channels=3, num_vq_embeddings=16, vq_embed_dim=3, **args)


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    # google/ddpm-cifar10-32's layout: UNet and scheduler at the root
    tiny_unet().save_pretrained(root / "ddpm")
    scheduler().save_pretrained(root / "ddpm")
    torch.manual_seed(2)
    diffusers.DiTTransformer2DModel(
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=4,
        out_channels=8,
        num_layers=2,
        sample_size=4,
        patch_size=2,
        num_embeds_ada_norm=10,
        norm_num_groups=4,
    ).save_pretrained(root / "dit/transformer")
    vae("kl").save_pretrained(root / "dit/vae")
    scheduler().save_pretrained(root / "dit/scheduler")
    cosine = diffusers.DDPMScheduler(
        num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=False
    )
    tiny_unet().save_pretrained(root / "ddpm-cos")  # sigma reaches ~2000: sigma^2 overflows float16
    cosine.save_pretrained(root / "ddpm-cos")
    for part in ("transformer", "vae"):
        shutil.copytree(root / "dit" / part, root / "dit-cos" / part)
    cosine.save_pretrained(root / "dit-cos/scheduler")
    tiny_unet(3, 4).save_pretrained(root / "ldm/unet")
    vae("vq").save_pretrained(root / "ldm/vqvae")
    scheduler("v_prediction").save_pretrained(root / "ldm/scheduler")
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 16)
    x = np.clip(rng.normal(size=(48, 3, 8, 8)) * 0.3 + (y[:, None, None, None] - 1) * 0.5, -1, 1)
    np.savez(root / "images.npz", x=x.astype(np.float32), y=y)
    return root


def spec_text(model: str, layers: str, sigma: str = "[0.1, 0.5, 2.0]", extra: str = "") -> str:
    return f"""\
spec_version: 1
name: pre
{extra}model: {model}
datasets:
  - {{kind: npz, name: img, path: images.npz}}
sigma: {sigma}
layers: {layers}
probes: [{{kind: ridge}}]
"""


def run(tmp_path, repos, text, *args):
    spec = repos / f"spec-{abs(hash(text))}.yaml"
    spec.write_text(text)
    store = tmp_path / "s.zarr"
    r = CliRunner().invoke(app, ["run", str(spec), "--store", str(store), *args])
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    return r, store


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_wrapper_x0_matches_the_scheduler_at_integer_timesteps(prediction):
    net, sched = tiny_unet().eval(), scheduler(prediction)
    D = pretrained_vp(net, sched.alphas_cumprod.double().numpy(), prediction).eval()
    x0, eps = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    sched.set_timesteps(T)
    for t in (3, 40, 99):
        abar = sched.alphas_cumprod[t]
        sigma = float(torch.sqrt((1 - abar) / abar))
        x_t = torch.sqrt(abar) * x0 + torch.sqrt(1 - abar) * eps  # diffusers' forward process
        with torch.no_grad():
            out = net(x_t, torch.tensor([t, t])).sample
            ref = sched.step(out, t, x_t).pred_original_sample
            got = D(x0 + sigma * eps, sigma)  # reprdyn's frame: x = x0 + sigma eps
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4)


def test_sigma_outside_the_model_range_is_a_clear_error(tmp_path, repos):
    D = Pretrained(pretrained_vp(tiny_unet(), scheduler().alphas_cumprod.numpy()))
    lo, hi = D.denoiser.schedule.sigma_min, D.denoiser.schedule.sigma_max
    D.check_sigmas([lo, hi])
    with pytest.raises(ValueError, match=r"sigma 0\.001 is outside this model's range \[0\.03"):
        D.check_sigmas([0.001])
    r, store = run(
        tmp_path,
        repos,
        spec_text("{kind: diffusers-unet, id: ddpm}", "[mid_block]", "[0.001, 1.0]"),
    )
    # refused before the weights load: the folder's scheduler config gives the range
    assert r.exit_code == 2 and not store.exists()
    assert (
        "sigma 0.001 is outside the schedule of" in r.stderr and "scheduler_config.json" in r.stderr
    )


@pytest.mark.parametrize(
    "kind, layer", [("diffusers-unet", "mid_block"), ("dit", "transformer_blocks.1")]
)
@pytest.mark.parametrize("dtype, tol", [("float16", 0.01), ("bfloat16", 0.06)])
def test_half_precision_agrees_with_float32_across_the_whole_range(repos, kind, layer, dtype, tol):
    """Only the network runs in half precision: sigma^2, the input scaling and x - sigma eps stay
    float32. A hidden layer and `output` agree with float32 to `tol` of their largest magnitude at
    every sigma of the model's range, up to its largest (~2000 on this cosine schedule, where
    sigma^2 overflows float16)."""
    from reprdyn.compute.extract import extract

    folder = {"diffusers-unet": "ddpm-cos", "dit": "dit-cos"}[kind]

    def load(dt):
        text = spec_text(f"{{kind: {kind}, id: {repos / folder}, dtype: {dt}}}", "[output]")
        return load_pretrained(
            validate_text(text.replace("images.npz", str(repos / "images.npz"))).model
        )

    ref, half = load("float32"), load(dtype)
    x = torch.as_tensor(np.load(repos / "images.npz")["x"][:6])
    if ref.encoder is not None:
        z_ref, z_half = ref.encoder(x), half.encoder(x)
        # latents from the half autoencoder
        assert (z_half - z_ref).abs().max() <= tol * z_ref.abs().max()
        x = z_ref  # the denoisers are compared on the same inputs
    sched = ref.denoiser.schedule
    assert sched.sigma_max > 1000
    for sigma in np.geomspace(sched.sigma_min, sched.sigma_max, 7):
        a = extract(ref.denoiser, x, float(sigma), [layer, "output"])
        b = extract(half.denoiser, x, float(sigma), [layer, "output"])
        for name in (layer, "output"):
            assert b[name].dtype == torch.float32 and torch.isfinite(b[name]).all()
            err = float((a[name] - b[name]).abs().max() / a[name].abs().max())
            assert err <= tol, f"{kind} {dtype} sigma={sigma:.4g} {name}: relative error {err:.3g}"


def test_ddpm_unet_spec_runs_with_bottleneck_and_decoder_layers(tmp_path, repos):
    r, store = run(
        tmp_path,
        repos,
        spec_text("{kind: diffusers-unet, id: ddpm}", "[mid_block, up_blocks.0, output]"),
    )
    assert r.exit_code == 0, r.stderr
    assert "estimate img: 48 samples" in r.stderr
    res = reprdyn.open(store)
    assert res.features("img", "mid_block").sizes["channel"] == 16
    assert res.features("img", "up_blocks.0").sizes["channel"] == 16
    assert res.features("img", "output").sizes["channel"] == 3 * 8 * 8
    acc = res["img"]["accuracy"]
    # the classes differ in mean brightness
    assert np.isfinite(acc.values).all() and float(acc.max()) > 0.5


def test_dit_adds_noise_to_latents_pools_tokens_and_uses_the_null_class(tmp_path, repos):
    spec = validate_text(
        spec_text(
            "{kind: dit, id: %s}" % (repos / "dit"), "[transformer_blocks.1, output]"
        ).replace("images.npz", str(repos / "images.npz"))
    )
    from reprdyn.runner.context import Context

    ctx = Context.create(spec).models
    net = ctx.denoiser("", "img", 0)
    assert net.net.class_label == 10  # num_embeds_ada_norm: the null class
    vae_ = diffusers.AutoencoderKL.from_pretrained(repos / "dit/vae")
    with torch.no_grad():
        z = (
            vae_.encode(torch.as_tensor(ctx.data.get("img").x[:4])).latent_dist.mean
            * vae_.config.scaling_factor
        )
    # latents, (4, 4, 4, 4)
    np.testing.assert_allclose(ctx.inputs("", "img")[:4], z.numpy(), rtol=1e-5, atol=1e-5)
    # D = heads * head_dim
    assert ctx.channels("img") == {"transformer_blocks.1": 16, "output": 4 * 4 * 4}
    seen = []
    net.net.net.register_forward_pre_hook(
        lambda m, a, kw: seen.append(kw["class_labels"].tolist()), with_kwargs=True
    )
    net(torch.as_tensor(ctx.inputs("", "img")[:2]), 0.5)
    assert seen == [[10, 10]]
    r, store = run(
        tmp_path, repos, spec_text("{kind: dit, id: dit}", "[transformer_blocks.1, output]")
    )
    assert r.exit_code == 0, r.stderr
    assert reprdyn.open(store).features("img", "output").sizes["channel"] == 64


def test_ldm_with_a_vq_autoencoder_runs(tmp_path, repos):
    r, store = run(
        tmp_path, repos, spec_text("{kind: ldm, id: ldm, autoencoder: vq}", "[mid_block]")
    )
    assert r.exit_code == 0, r.stderr
    assert np.isfinite(reprdyn.open(store)["img"]["accuracy"].values).all()


def test_a_hub_model_that_is_not_available_offline(tmp_path, repos, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable) as e:
        from_pretrained(
            diffusers.UNet2DModel, "nobody/no-model", ["unet", None], None, "UNet2DModel"
        )
    msg = str(e.value)
    assert "'nobody/no-model' is not available offline" in msg and "huggingface-cli download" in msg
    assert "save_pretrained" in msg and "Hugging Face cache" in msg
    r, store = run(
        tmp_path, repos, spec_text("{kind: diffusers-unet, id: nobody/no-model}", "[mid_block]")
    )
    # refused at validation, before anything loads
    assert r.exit_code == 2 and "nobody/no-model is not in the Hugging Face cache" in r.stderr
    assert "huggingface-cli download nobody/no-model" in r.stderr and not store.exists()


def test_local_weights_load_from_safetensors(repos, monkeypatch):
    """A save_pretrained folder holds .safetensors: reprdyn asks diffusers for them (no pickle is
    loaded)."""
    assert any((repos / "ddpm").glob("*.safetensors"))
    seen = []
    real = diffusers.UNet2DModel.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append(kwargs.get("use_safetensors"))
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(diffusers.UNet2DModel, "from_pretrained", classmethod(spy))
    from_pretrained(diffusers.UNet2DModel, str(repos / "ddpm"), ["unet", None], None, "UNet2DModel")
    assert seen == [True]


def test_a_local_folder_with_the_wrong_contents(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.bin").write_text("")
    with pytest.raises(ModelUnavailable, match=r"has no config.json .*it holds \['weights.bin'\]"):
        load_pretrained(
            validate_text(
                spec_text(
                    "{kind: diffusers-unet, id: %s}" % (tmp_path / "m"), "[mid_block]"
                ).replace("images.npz", _npz(tmp_path))
            ).model
        )
    with pytest.raises(ModelUnavailable, match="no such folder"):
        load_pretrained(
            validate_text(
                spec_text("{kind: diffusers-unet, id: ./nowhere}", "[mid_block]").replace(
                    "images.npz", _npz(tmp_path)
                )
            ).model
        )


def _npz(folder) -> str:
    np.savez(folder / "x.npz", x=np.zeros((6, 3, 8, 8), np.float32), y=np.arange(6) % 2)
    return str(folder / "x.npz")


PLUGIN = """\
import pathlib
pathlib.Path(__file__).with_suffix(".imported").write_text("imported")
import torch

class Shrink(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.proj = torch.nn.Linear(width, width)

    def forward(self, x, sigma):
        h = self.proj(x.flatten(1))
        return (x.flatten(1) / (1 + sigma ** 2) + 0 * h).view_as(x)

def make(width=12):
    return Shrink(width)
"""


@pytest.fixture
def plugin(tmp_path):
    (tmp_path / "plug.py").write_text(PLUGIN)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 20)
    np.savez(tmp_path / "d.npz", x=(rng.normal(size=(40, 12)) + y[:, None]).astype(np.float32), y=y)
    text = """\
spec_version: 1
name: plug
{trust}model: {{kind: python, file: plug.py, factory: make, kwargs: {{width: 12}}}}
datasets: [{{kind: npz, name: d, path: d.npz}}]
sigma: [0.1, 1.0]
layers: [proj, output]
"""
    return tmp_path, text


@pytest.mark.parametrize("trust_in_spec, flag", [(False, False), (False, True), (True, False)])
def test_untrusted_python_models_are_refused_and_never_imported(plugin, trust_in_spec, flag):
    folder, text = plugin
    spec = folder / "s.yaml"
    spec.write_text(text.format(trust="trust_code: true\n" if trust_in_spec else ""))
    before = set(sys.modules)
    for cmd in (["validate"], ["run", "--store", str(folder / "s.zarr")], ["layers"]):
        r = CliRunner().invoke(
            app, [cmd[0], str(spec), *cmd[1:], *(["--trust-code"] if flag else [])]
        )
        assert r.exit_code == 2 and "Traceback" not in r.stderr
        assert f"{spec}:{4 if trust_in_spec else 3}:" in r.stderr and (
            "trust_code: true" in r.stderr or "--trust-code" in r.stderr
        )
    assert not (folder / "plug.imported").exists()
    assert not any("plug" in m for m in set(sys.modules) - before)
    assert not (folder / "s.zarr").exists()


def test_trusted_python_model_runs(plugin):
    folder, text = plugin
    spec = folder / "s.yaml"
    spec.write_text(text.format(trust="trust_code: true\n"))
    r = CliRunner().invoke(
        app, ["run", str(spec), "--store", str(folder / "s.zarr"), "--trust-code"]
    )
    assert r.exit_code == 0, r.stderr
    res = reprdyn.open(folder / "s.zarr")
    assert (folder / "plug.imported").exists()
    assert res.features("d", "proj").sizes["channel"] == 12
    assert res.attrs["spec_resolved"]["model"]["file"] == str(folder / "plug.py")


def test_python_factory_problems_are_clear(plugin):
    folder, text = plugin
    spec = validate_text(
        text.format(trust="trust_code: true\n")
        .replace("plug.py", str(folder / "plug.py"))
        .replace("d.npz", str(folder / "d.npz"))
        .replace("factory: make", "factory: nope"),
        trust_code=True,
    )
    with pytest.raises(
        ModelUnavailable, match=r"has no function 'nope'; it has \['Shrink', 'make'\]"
    ):
        load_pretrained(spec.model)


def test_exactly_one_plugin_source():
    with pytest.raises(SpecError, match="exactly one of `module`"):
        validate_text(
            spec_text("{kind: python, factory: f}", "[output]", extra="trust_code: true\n"),
            trust_code=True,
        )


def test_unknown_layer_of_a_pretrained_model_suggests_one(tmp_path, repos):
    r, store = run(tmp_path, repos, spec_text("{kind: diffusers-unet, id: ddpm}", "[up_blocks.9]"))
    assert r.exit_code == 2 and "unknown layer 'up_blocks.9'" in r.stderr
    assert (
        "did you mean 'up_blocks.1'?" in r.stderr and "`reprdyn layers SPEC` lists them" in r.stderr
    )
    assert len(r.stderr) < 600 and not store.exists()  # not every leaf module of the UNet


@pytest.mark.parametrize(
    "model, dense",
    [
        ("{kind: dit, id: dit}", "[transformer_blocks.1]"),  # patch tokens as a (D, s, s) map
        ("{kind: ldm, id: ldm, autoencoder: vq}", "[up_blocks.0, mid_block]"),  # latent maps
    ],
)
def test_dense_sets_of_pretrained_latent_models_segment(tmp_path, repos, model, dense):
    """Maps at latent (or token-grid) resolution are upsampled to the image's mask size."""
    with np.load(repos / "images.npz") as f:
        x, y = f["x"], f["y"]
    masks = (x[:, 0] > np.median(x[:, 0])).astype(np.int64)  # (N, H, W): bright vs dark pixels
    np.savez(repos / "masked.npz", x=x, y=y, m=masks)
    text = spec_text(model, "[output]").replace(
        "images.npz", "masked.npz, masks: m, mask_classes: 2"
    )
    text = text.replace("layers: [output]\n", f"dense: {{d: {dense}}}\n").replace(
        "probes: [{kind: ridge}]", "probes: [{kind: seg-linear}]"
    )
    r, store = run(tmp_path, repos, text)
    assert r.exit_code == 0, r.stderr
    miou = reprdyn.open(store)["img"]["miou"]
    assert miou.notnull().all() and (miou > 0.3).all()  # better than predicting one class
