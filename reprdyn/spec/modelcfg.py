"""Spec blocks for models: analytic posteriors, trained diffusion models and DAEs.

A trainable model names its own training data inside its `train` block, apart
from the probed `datasets` (DESIGN.md: the transfer setting).
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .datacfg import Dataset, Name


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MolrgOptimal(Strict):
    """The analytic MoLRG posterior mean (THEORY.md §3); needs no training.

    It is the optimal denoiser of each probed `molrg` dataset, built from that
    dataset's own bases and delta. Its only layer is `output`.
    """
    kind: Literal["molrg-optimal"]


# --- raw networks --------------------------------------------------------------

class MLPNet(Strict):
    """The paper's 3-layer ReLU MLP; hook points fc1, fc2 (width-dim), head."""
    kind: Literal["mlp"]
    width: int = Field(1024, gt=0)
    emb_dim: int = Field(128, gt=1)
    dropout: float = Field(0.0, ge=0, lt=1)


class UNetNet(Strict):
    """Small ADM-style U-Net; hook points stem, enc.i, down.i, mid, dec.i, up.i, out."""
    kind: Literal["unet"]
    channels: int = Field(32, gt=0)
    mult: list[Annotated[int, Field(gt=0)]] = Field([1, 2], min_length=1, max_length=5)
    blocks: int = Field(1, ge=1)
    attention: list[Annotated[int, Field(ge=0)]] = Field([], description="levels with self-attention")
    mid_attention: bool = True
    emb_dim: int = Field(128, gt=1)
    dropout: float = Field(0.0, ge=0, lt=1)


Network = Annotated[Union[MLPNet, UNetNet], Field(discriminator="kind")]


# --- parameterisations ---------------------------------------------------------

class VP(Strict):
    """DDPM/VP: betas over T steps; the net predicts eps or x0."""
    kind: Literal["vp"]
    schedule: Literal["linear", "cosine"] = "linear"
    T: int = Field(1000, ge=2)
    beta_start: float = Field(1e-4, gt=0, lt=1)
    beta_end: float = Field(0.02, gt=0, lt=1)
    prediction: Literal["eps", "x0"] = "eps"


class EDM(Strict):
    """EDM preconditioning and loss weighting; sigma_min/max/rho for sampling."""
    kind: Literal["edm"]
    sigma_data: float = Field(0.5, gt=0)
    P_mean: float = -1.2
    P_std: float = Field(1.2, gt=0)
    sigma_min: float = Field(0.002, gt=0)
    sigma_max: float = Field(80.0, gt=0)
    rho: float = Field(7.0, gt=0)


Precond = Annotated[Union[VP, EDM], Field(discriminator="kind")]


# --- training --------------------------------------------------------------------

class Train(Strict):
    """Adam on the parameterisation's loss. `data` names a probed dataset or gives its own block."""
    data: Union[Name, Dataset] = Field(description="a name from `datasets`, or a dataset block; train split only")
    epochs: int | None = Field(None, gt=0)
    steps: int | None = Field(None, gt=0)
    batch_size: int = Field(128, gt=0)
    lr: float = Field(1e-3, gt=0)
    ema: float | None = Field(None, ge=0, lt=1, description="EMA decay of the weights used for features")
    seed: int | None = Field(None, description="init / batch / noise seed; defaults to the spec seed")

    @model_validator(mode="after")
    def _length(self) -> "Train":
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
    """A denoising auto-encoder: the same network trained at fixed noise levels (THEORY.md §6, Figure 7).

    `train_sigma: grid` trains one DAE per grid sigma, and features at sigma come
    from the DAE trained there; a number or a list trains one (multi-level) DAE.
    """
    kind: Literal["dae"]
    network: Network
    precond: Precond
    train: Train
    train_sigma: Union[Literal["grid"], Annotated[float, Field(gt=0)], list[Annotated[float, Field(gt=0)]]] = "grid"
    dropout: float | None = Field(None, ge=0, lt=1, description="overrides the network's dropout")


Model = Annotated[Union[MolrgOptimal, Diffusion, DAE], Field(discriminator="kind")]

# Layers known from the spec alone; trained networks list theirs after building.
STATIC_LAYERS: dict[str, list[str]] = {"molrg-optimal": ["output"]}
