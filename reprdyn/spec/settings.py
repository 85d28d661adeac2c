"""The spec's settings blocks: analyses, generation, segmentation, CSNR bases and compute."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, StrictInt, field_validator

from .datacfg import MAX_SAMPLES, Strict

DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:[0-9]+)?)$")  # the devices a spec may name


class Analysis(Strict):
    """Settings of the curve and feature analyses (docs/theory.md §6)."""

    tolerance: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="unimodality: allowed dip against the trend, as a share of the curve's range",
    )
    max_samples: int = Field(
        1000, gt=1, le=10_000_000, description="sw_distance / cka: test samples used (a subset)"
    )
    projections: int = Field(128, gt=0, le=100_000, description="sw_distance: random projections")
    bootstrap: StrictInt = Field(
        1000,
        ge=0,
        le=100_000,
        description="paired bootstrap resamples of the test (and validation) samples behind every "
        "interval (docs/theory.md §8); 0 turns intervals off",
    )
    confidence: float = Field(
        0.95,
        gt=0.5,
        lt=1,
        description="level of every interval, and of the yes / no verdicts (unimodal: uncertain "
        "between 1 - confidence and confidence)",
    )
    seed: int = Field(0, description="seed of the subset, the projections and the bootstrap")


class Generation(Strict):
    """Sampling for the generalisation score (appendix A.2; Zhang et al. 2023)."""

    samples: int = Field(256, gt=0, le=1_000_000, description="generated samples")
    steps: int = Field(32, ge=2, le=10_000, description="sampler steps")
    sampler: Literal["auto", "heun", "ddim"] = Field(
        "auto", description="auto: ddim for vp models, heun otherwise"
    )
    threshold: float = Field(
        1 / 3, gt=0, lt=1, description="a sample is a near-copy when d1/d2 < threshold"
    )
    batch_size: int = Field(256, gt=0, le=1_000_000)
    seed: int = 0


class Segmentation(Strict):
    """How segmentation probes (seg-linear, seg-mlp) see the data: a few labelled images, pixels
    streamed, pixels sampled only for the MLP (docs/theory.md §7; Baranchuk et al. 2022)."""

    train_images: int | None = Field(
        None,
        gt=1,
        le=MAX_SAMPLES,
        description="labelled train images to fit on (a seeded subset; default all); "
        "val_fraction of them choose lambda",
    )
    test_images: int | None = Field(
        None, gt=0, le=MAX_SAMPLES, description="test images to score (default all)"
    )
    max_pixels: int = Field(
        50_000,
        gt=0,
        le=MAX_SAMPLES,
        description="pixels sampled from the training images for seg-mlp, in all",
    )
    class_balanced: bool = Field(True, description="sample each image's classes equally")
    seed: int = Field(0, description="seed of the image subsets and the pixel sampling")


class Csnr(Strict):
    """How CSNR bases are found (docs/theory.md §4): the true MoLRG bases, or per-class SVD of
    features."""

    basis: Literal["auto", "truth", "svd"] = Field(
        "auto", description="auto: the true bases (truth) for `output` on molrg data, SVD otherwise"
    )
    rank: Annotated[StrictInt, Field(gt=0)] | Literal["auto", "energy"] = Field(
        "auto",
        description="SVD rank r per class: auto (the directions above Gavish and Donoho's hard "
        "threshold for noise, docs/theory.md §4) | energy (keep `energy` of the spectrum) | an int",
    )
    energy: float = Field(0.9, gt=0, le=1)
    center: Literal["auto", "none", "global", "class"] = Field(
        "auto",
        description="the centre of the features before the class moments and their SVD: auto "
        "(global for SVD bases, none for the true MoLRG bases) | none (the paper's raw moments) | "
        "global (minus the mean over all classes) | class (each class about its own mean)",
    )

    whiten: bool | Literal["auto"] = Field(
        "auto",
        description="whiten the (centred) features by their pooled within-class covariance before "
        "the SVD, so shared within-class variation counts as noise, as MoLRG's isotropic noise "
        "does (docs/theory.md §4): auto (yes for SVD bases, no for the true MoLRG bases)",
    )

    @field_validator("center", mode="before")
    @classmethod
    def _old_bool(cls, v):
        return {True: "class", False: "none"}.get(v, v) if isinstance(v, bool) else v

    @field_validator("rank", mode="before")
    @classmethod
    def _old_null(cls, v):
        return "energy" if v is None else v  # rank: null used to mean "by energy"

    def centre(self, true_bases: bool) -> str:
        """The centring in force for a layer: `auto` is none with the true bases, else global."""
        if self.center != "auto":
            return self.center
        return "none" if true_bases else "global"

    def whitened(self, true_bases: bool) -> bool:
        """Whether a layer's features are whitened: `auto` is no with the true bases, else yes."""
        return not true_bases if self.whiten == "auto" else bool(self.whiten)


class Compute(Strict):
    device: str = Field(
        "auto",
        description="auto | cpu | mps | cuda | cuda:N",
        json_schema_extra={"pattern": DEVICE.pattern, "examples": ["auto", "cpu", "cuda:0"]},
    )
    batch_size: int | None = Field(
        None,
        description="removed: the network always runs on aligned blocks of 64 "
        "samples, so that no number depends on a batch size",
        json_schema_extra={"not": {"type": "integer"}},
    )
    executor: Literal["local", "dask"] = Field(
        "local", description="local (in process) | dask (a cluster)"
    )
    address: str | None = Field(
        None,
        description="not allowed in a spec: a shared spec must not choose the "
        "machine that runs code for you; pass `reprdyn run --dask ADDRESS` or set "
        "REPRDYN_DASK_ADDRESS",
        json_schema_extra={"not": {"type": "string"}},
    )
    n_workers: int = Field(
        2, ge=1, le=1024, description="dask without address: LocalCluster worker processes"
    )
    threads_per_worker: int = Field(
        1, ge=1, le=1024, description="dask: tasks a worker runs at once"
    )
    threads: Annotated[int, Field(ge=1, le=1024)] | Literal["auto"] = Field(
        "auto",
        description="torch threads of every task (and every dask worker's task); auto: 1, which "
        "measured fastest on shared CPUs (see benchmarks/README.md); results are bit-identical for "
        "a given thread count",
    )
    retries: int = Field(
        2,
        ge=0,
        le=100,
        description="dask: how many times a task is run again after the worker running it died "
        "(the scheduler's allowed failures); a task's own error is reported once, never retried",
    )
    max_store_gb: float | None = Field(
        None, gt=0, description="refuse to run if the feature store would be larger"
    )
    max_memory_gb: float | None = Field(
        None, gt=0, description="refuse to run if peak memory would be larger"
    )
    cache: str | None = Field(
        None,
        description="checkpoint cache, relative to the spec's folder and inside its folder or "
        "repository (anywhere else: --set compute.cache=PATH); default $REPRDYN_CACHE or "
        "~/.cache/reprdyn",
        json_schema_extra={"x-path": "write"},
    )

    @field_validator("batch_size")
    @classmethod
    def _no_batch_size(cls, v):
        if v is not None:
            raise ValueError(
                "compute.batch_size is no longer used: the network always runs on aligned blocks "
                "of 64 samples, so results never depend on a batch size (an out-of-memory error on "
                "a GPU splits the blocks and says so); delete this line"
            )
        return v

    @field_validator("address")
    @classmethod
    def _no_address(cls, v):
        if v is not None:
            raise ValueError(
                "a spec cannot name a Dask scheduler: Dask runs pickled code, so a shared spec "
                "would choose which machine runs code for you. Remove `address` and pass it when "
                f"you run: reprdyn run SPEC --dask {v} (or set REPRDYN_DASK_ADDRESS={v})"
            )
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        if not DEVICE.fullmatch(v):
            raise ValueError(f"unknown device {v!r}; expected auto, cpu, mps, cuda or cuda:N")
        return v
