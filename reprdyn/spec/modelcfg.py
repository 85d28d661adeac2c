"""Spec blocks for models: analytic posteriors, trained diffusion models and DAEs, pretrained
models.

A trainable model names its own training data inside its `train` block, apart
from the probed `datasets`: probing data the model was not trained on is the paper's transfer
setting (its Table 2).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from .datacfg import Dataset, Name, Strict, path_field


class MolrgOptimal(Strict):
    """The analytic MoLRG posterior mean (docs/theory.md §3); needs no training.

    It is the optimal denoiser of each probed `molrg` dataset, built from that
    dataset's own bases and delta. Its only layer is `output`.
    """

    kind: Literal["molrg-optimal"]


# --- raw networks --------------------------------------------------------------


class MLPNet(Strict):
    """The paper's 3-layer ReLU MLP; hook points fc1, fc2 (width-dim), head."""

    kind: Literal["mlp"]
    width: int = Field(1024, gt=0, le=65_536)
    emb_dim: int = Field(128, gt=1, le=8192)
    dropout: float = Field(0.0, ge=0, lt=1)


class UNetNet(Strict):
    """Small ADM-style U-Net; hook points stem, enc.i, down.i, mid, dec.i, up.i, out."""

    kind: Literal["unet"]
    channels: int = Field(32, gt=0, le=4096)
    mult: list[Annotated[int, Field(gt=0, le=64)]] = Field([1, 2], min_length=1, max_length=5)
    blocks: int = Field(1, ge=1, le=16)
    attention: list[Annotated[int, Field(ge=0, le=4)]] = Field(
        [], description="levels with self-attention"
    )
    mid_attention: bool = True
    emb_dim: int = Field(128, gt=1, le=8192)
    dropout: float = Field(0.0, ge=0, lt=1)


Network = Annotated[MLPNet | UNetNet, Field(discriminator="kind")]


# --- parameterisations ---------------------------------------------------------


class VP(Strict):
    """DDPM/VP: betas over T steps; the net predicts eps or x0."""

    kind: Literal["vp"]
    schedule: Literal["linear", "cosine"] = "linear"
    T: int = Field(1000, ge=2, le=100_000)
    beta_start: float = Field(1e-4, gt=0, lt=1)
    beta_end: float = Field(0.02, gt=0, lt=1)
    prediction: Literal["eps", "x0"] = "eps"


# every model's input x0 + sigma eps is float32, so no sigma beyond this; an EDM-preconditioned
# network is conditioned on ln(sigma) / 4 and also needs sigma > 0
# (models.precond.EDMPrecond.SIGMA_RANGE, which a test keeps equal). VP models have their
# schedule's range.
SIGMA_MAX = 1e30
EDM_SIGMA_RANGE = (0.0, SIGMA_MAX)


class EDM(Strict):
    """EDM preconditioning and loss weighting; sigma_min/max/rho for sampling."""

    kind: Literal["edm"]
    sigma_data: float = Field(0.5, gt=0)
    P_mean: float = -1.2
    P_std: float = Field(1.2, gt=0)
    sigma_min: float = Field(0.002, gt=0)
    sigma_max: float = Field(80.0, gt=0)
    rho: float = Field(7.0, gt=0)


Precond = Annotated[VP | EDM, Field(discriminator="kind")]


# --- training --------------------------------------------------------------------


class Train(Strict):
    """Adam on the parameterisation's loss. `data` names a probed dataset or gives its own block."""

    data: Name | Dataset = Field(
        description="a name from `datasets`, or a dataset block; train split only"
    )
    epochs: int | None = Field(None, gt=0, le=1_000_000)
    steps: int | None = Field(None, gt=0, le=1_000_000_000)
    batch_size: int = Field(128, gt=0, le=1_000_000)
    lr: float = Field(1e-3, gt=0)
    ema: float | None = Field(
        None, ge=0, lt=1, description="EMA decay of the weights used for features"
    )
    seed: int | None = Field(
        None, description="init / batch / noise seed; defaults to the spec seed"
    )
    replicates: StrictInt = Field(
        1,
        ge=1,
        le=64,
        description="independently trained models (initialisation, data order and training noise "
        "from the seed and the replicate index); the cube's `replicate` dim",
    )
    checkpoint_every: Annotated[StrictInt, Field(gt=0)] | Literal["auto"] = Field(
        "auto",
        exclude=True,  # how, not what: the result is the same, so no hash or key counts it
        description="steps between the resumable training states written beside the checkpoint "
        "cache (weights, EMA, optimizer, random states, step); auto: every five minutes of "
        "training. A stopped or killed training continues from the last one, to the same "
        "checkpoint",
    )

    @model_validator(mode="after")
    def _length(self) -> Train:
        if (self.epochs is None) == (self.steps is None):
            raise ValueError("give exactly one of `epochs` or `steps`")
        return self


class Diffusion(Strict):
    """A diffusion model trained over all noise levels."""

    kind: Literal["diffusion"]
    network: Network
    precond: Precond
    train: Train


class DAE(Strict):
    """A denoising auto-encoder: the same network trained at fixed noise levels (docs/theory.md §6,
    Figure 7).

    `train_sigma: grid` trains one DAE per grid sigma, and features at sigma come
    from the DAE trained there; a number or a list trains one (multi-level) DAE.
    """

    kind: Literal["dae"]
    network: Network
    precond: Precond
    train: Train
    train_sigma: (
        Literal["grid"] | Annotated[float, Field(gt=0)] | list[Annotated[float, Field(gt=0)]]
    ) = "grid"
    dropout: float | None = Field(None, ge=0, lt=1, description="overrides the network's dropout")

    @field_validator("train_sigma")
    @classmethod
    def _in_range(cls, v, info):
        precond = info.data.get("precond")
        if precond is not None and precond.kind == "vp" and v != "grid":
            from ..maths.schedules import VPSchedule

            VPSchedule.from_config(precond).check_range(v, "the vp schedule")
        return v


# --- pretrained models (loaded, never trained) --------------------------------

HubId = Annotated[
    str,
    path_field(
        "maybe",
        "a Hugging Face hub id (google/ddpm-cifar10-32) or a local folder written by "
        "save_pretrained, relative to the spec",
        min_length=1,
    ),
]
Dtype = Literal["float32", "float16", "bfloat16"]
VaeId = Annotated[
    HubId | None, Field(description="a separate hub id or folder for the autoencoder")
]


Variant = Annotated[
    str | None,
    Field(
        max_length=32,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="a weight-file variant to load, e.g. fp16 (its *.fp16.safetensors: half the "
        "download); the network still runs in `dtype`",
    ),
]
Offload = Annotated[
    bool,
    Field(
        description="load the text encoders with an accelerate device map (device_map auto): "
        "their layers spread over the GPU and host memory as they fit, so a large encoder (FLUX's "
        "T5-XXL, 19 GB in float32) never needs all of either at once; they run once per prompt"
    ),
]


def one_prompt(v: str) -> str:
    """A prompt is one text for every image, never a per-class template."""
    if "{" in v or "}" in v:
        raise ValueError(
            "a prompt template ({class}, {label}, ...) would put each image's label into "
            "its features, and the probe would read the label back: give one fixed prompt "
            "for every image ('' by default, the unconditional embedding)"
        )
    return v


# the conditioning text of a text-conditioned model (sd, flow): one for every image
Prompt = Annotated[
    str,
    Field(
        max_length=2000, description="one text for every image; '' is the unconditional embedding"
    ),
    AfterValidator(one_prompt),
]


class _Pretrained(Strict):
    id: HubId
    revision: str | None = Field(None, description="a hub branch, tag or commit")
    scheduler_subfolder: str = Field(
        "scheduler", description="the DDPM/DDIM scheduler config (its alphas_cumprod)"
    )
    prediction: Literal["auto", "epsilon", "sample", "v_prediction"] = Field(
        "auto", description="what the network predicts; auto reads the scheduler's prediction_type"
    )
    dtype: Dtype = "float32"
    variant: Variant = None


class DiffusersUNet(_Pretrained):
    """A diffusers `UNet2DModel` and its scheduler (DDPM); sigma <-> timestep through its
    alphas_cumprod."""

    kind: Literal["diffusers-unet"]
    subfolder: str | None = Field(
        None, description="the UNet's folder inside `id`; default: unet/ if there, else the root"
    )


class DiT(_Pretrained):
    """A diffusers `DiTTransformer2DModel` with its `AutoencoderKL`: noise is added to latents,
    features are mean-pooled patch tokens, the class label is the null class (unconditional)."""

    kind: Literal["dit"]
    subfolder: str = Field("transformer", description="the transformer's folder inside `id`")
    vae_subfolder: str = Field(
        "vae", description="the autoencoder's folder inside `id` (or `vae_id`)"
    )
    vae_id: VaeId = None
    class_label: int | None = Field(
        None, ge=0, description="a class to condition on; default the null class"
    )


class LDM(_Pretrained):
    """A latent diffusion model: a diffusers `UNet2DModel` on the latents of a VQ or KL
    autoencoder."""

    kind: Literal["ldm"]
    subfolder: str = Field("unet", description="the UNet's folder inside `id`")
    autoencoder: Literal["vq", "kl"] = Field("vq", description="vq: VQModel; kl: AutoencoderKL")
    vae_subfolder: str = Field(
        "vqvae", description="the autoencoder's folder inside `id` (or `vae_id`)"
    )
    vae_id: VaeId = None


class StableDiffusion(_Pretrained):
    """Stable Diffusion 1.x, 2.x or XL: a diffusers `UNet2DConditionModel` on the latents of its
    `AutoencoderKL`, conditioned on the CLIP embedding of one fixed prompt, computed once (SDXL,
    recognised by its UNet's `text_time` conditioning, adds its second text encoder's pooled
    embedding and the image-size conditioning). The default prompt "" is the unconditional
    embedding (zeros on SDXL, as its pipeline uses)."""

    kind: Literal["sd"]
    subfolder: str = Field("unet", description="the UNet's folder inside `id`")
    vae_subfolder: str = Field("vae", description="the autoencoder's folder inside `id`")
    vae_id: VaeId = None
    vae_dtype: Dtype = Field(
        "float32", description="the autoencoder's dtype (SDXL's overflows in float16)"
    )
    prompt: Prompt = ""
    offload: Offload = False


class Flow(Strict):
    """A flow-matching transformer: SD3 (`SD3Transformer2DModel`) or FLUX
    (`FluxTransformer2DModel`), told apart by the transformer's config, on the latents of its
    `AutoencoderKL`. It sees x_t = x / (1 + sigma) at t = sigma / (1 + sigma) and predicts the
    velocity (docs/theory.md §1); its conditioning is one fixed prompt's CLIP and T5 embeddings,
    computed once ('' by default, the unconditional embedding)."""

    kind: Literal["flow"]
    id: HubId
    revision: str | None = Field(None, description="a hub branch, tag or commit")
    subfolder: str = Field("transformer", description="the transformer's folder inside `id`")
    vae_subfolder: str = Field("vae", description="the autoencoder's folder inside `id`")
    vae_id: VaeId = None
    scheduler_subfolder: str = Field(
        "scheduler", description="the FlowMatchEulerDiscreteScheduler config (num_train_timesteps)"
    )
    num_train_timesteps: int = Field(
        1000,
        ge=2,
        le=100_000,
        description="T of the scheduler (checked against it once loaded): a `timesteps:` grid "
        "gives k = t T, so sigma = k / (T - k)",
    )
    dtype: Dtype = "float32"
    variant: Variant = None
    vae_dtype: Dtype = Field("float32", description="the autoencoder's dtype")
    prompt: Prompt = ""
    offload: Offload = False
    max_sequence_length: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="T5 tokens of the prompt; default the pipeline's (SD3 256, FLUX 512)",
    )
    guidance: float | None = Field(
        None,
        ge=0,
        le=100,
        description="the guidance scale a guidance-distilled FLUX (FLUX.1-dev) is conditioned "
        "on; default its pipeline's 3.5; refused for a model without guidance embeddings",
    )


class PythonModel(Strict):
    """Your own denoiser from Python: `factory(**kwargs)` returns an nn.Module with
    forward(x, sigma) -> estimate of x0, for x = x0 + sigma * eps (docs/theory.md §1).

    Runs code named by the spec, so it needs `trust_code: true` in the spec and
    `--trust-code` on the command line.
    """

    kind: Literal["python"]
    module: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
        description="an importable module, e.g. mylab.models",
    )
    file: str | None = path_field(True, "or a .py file, relative to the spec", None)
    factory: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the function in it that builds the model"
    )
    kwargs: dict[str, Any] = Field({}, description="keyword arguments for the factory")

    @model_validator(mode="after")
    def _one_source(self) -> PythonModel:
        if (self.module is None) == (self.file is None):
            raise ValueError("give exactly one of `module` (importable) or `file` (a .py file)")
        return self


Model = Annotated[
    MolrgOptimal
    | Diffusion
    | DAE
    | DiffusersUNet
    | DiT
    | LDM
    | StableDiffusion
    | Flow
    | PythonModel,
    Field(discriminator="kind"),
]
