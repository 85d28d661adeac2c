"""The spec: pydantic v2 models of a reprdyn experiment (pure data, no I/O).

Every model forbids unknown keys; model, dataset and probe variants are
discriminated unions on `kind`, so later kinds slot in as new union members.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

SPEC_VERSION = 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- models ------------------------------------------------------------------

class MolrgOptimal(Strict):
    """The analytic MoLRG posterior mean (THEORY.md §3); needs no training.

    It is the optimal denoiser of each probed `molrg` dataset, built from that
    dataset's own bases and delta. Its only layer is `output`.
    """
    kind: Literal["molrg-optimal"]


Model = Annotated[Union[MolrgOptimal], Field(discriminator="kind")]

# Layers known from the spec alone; trained networks list theirs after building.
STATIC_LAYERS: dict[str, list[str]] = {"molrg-optimal": ["output"]}


# --- datasets ----------------------------------------------------------------

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class MolrgData(Strict):
    """Noisy mixture of low-rank Gaussians (THEORY.md §2)."""
    kind: Literal["molrg"]
    name: Name
    n: int = Field(gt=0, description="ambient dimension")
    K: int = Field(ge=2, description="number of classes")
    d: int = Field(gt=0, description="subspace dimension per class")
    delta: float = Field(ge=0, lt=1, allow_inf_nan=False, description="off-subspace noise level")
    n_train: int = Field(gt=0)
    n_test: int = Field(gt=0)
    seed: int | None = Field(None, description="data seed; defaults to the spec seed")

    @model_validator(mode="after")
    def _fits(self) -> "MolrgData":
        if self.K * self.d > self.n:
            raise ValueError(f"K*d = {self.K * self.d} must be at most n = {self.n} "
                             "(the class subspaces are mutually orthogonal)")
        return self


Dataset = Annotated[Union[MolrgData], Field(discriminator="kind")]


# --- sigma grid --------------------------------------------------------------

Sigma = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SigmaRange(Strict):
    """`num` points from `start` to `stop` (inclusive), log- or linearly spaced."""
    start: Sigma
    stop: Sigma
    num: int = Field(ge=1)
    scale: Literal["log", "linear"] = "log"

    @model_validator(mode="after")
    def _check(self) -> "SigmaRange":
        if self.scale == "log" and self.start <= 0:
            raise ValueError("a log-scaled grid needs start > 0; use scale: linear or a start like 0.001")
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) must be at least start ({self.start})")
        if self.num > 1 and self.stop == self.start:
            raise ValueError("start equals stop, so the grid would hold duplicates; use num: 1")
        return self

    def values(self) -> list[float]:
        if self.scale == "log":
            v = np.geomspace(self.start, self.stop, self.num)
        else:
            v = np.linspace(self.start, self.stop, self.num)
        return [float(x) for x in v]


def _grid_kind(v) -> str | None:
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, (dict, SigmaRange)):
        return "range"
    return None


# --- probes ------------------------------------------------------------------

class LogisticProbe(Strict):
    """Multinomial L2 logistic regression on standardised features (scikit-learn)."""
    kind: Literal["logistic"]
    name: Name | None = None
    C: float = Field(1.0, gt=0, allow_inf_nan=False)
    max_iter: int = Field(1000, gt=0)
    transform: Literal["none", "abs"] = Field(
        "none", description="'abs' probes |features|, as for posterior probes (THEORY.md §5)")
    standardize: bool = Field(
        True, description="z-score features with train statistics; false keeps their scale, as the "
                          "paper's posterior probe does (the shrinkage at large sigma then matters)")

    @property
    def label(self) -> str:
        return self.name or self.kind


Probe = Annotated[Union[LogisticProbe], Field(discriminator="kind")]


class Ensemble(Strict):
    """Soft voting over the best sigma and its k neighbours on each side (THEORY.md §6)."""
    k: int = Field(2, ge=0)


# --- metrics, compute --------------------------------------------------------

MetricName = Literal["accuracy", "class_accuracy", "csnr", "csnr_theory"]
ALL_METRICS: tuple[str, ...] = ("accuracy", "class_accuracy", "csnr", "csnr_theory")


class Compute(Strict):
    device: str = Field("auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    batch_size: int = Field(1024, gt=0)
    executor: Literal["local"] = "local"


# --- the spec ----------------------------------------------------------------

def _sorted_unique(values: list, what: str) -> list:
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {v!r}; each value may appear once")
        seen.add(v)
    return sorted(values)


class Spec(Strict):
    """One reprdyn experiment. See the README's spec reference."""
    spec_version: Literal[1]
    name: Name
    seed: int = 0
    model: Model
    datasets: list[Dataset] = Field(min_length=1)
    sigma: Annotated[
        Union[Annotated[list[Sigma], Tag("list")], Annotated[SigmaRange, Tag("range")]],
        Discriminator(_grid_kind),
    ] = Field(description="the sigma grid: a list, or {start, stop, num, scale}")
    layers: list[Annotated[str, Field(min_length=1)]] = Field(["output"], min_length=1)
    inputs: list[Literal["clean", "noisy"]] = Field(["clean"], min_length=1)
    probes: list[Probe] = Field(default_factory=lambda: [LogisticProbe(kind="logistic")], min_length=1)
    label_noise: list[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]] = Field([0.0], min_length=1)
    seeds: list[int] = Field([0], min_length=1, description="probe / label-noise seeds: the `seed` dim")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of train held out to pick best sigma")
    ensemble: Ensemble = Ensemble()
    metrics: list[MetricName] = Field(list(ALL_METRICS), min_length=1)
    store: str | None = Field(None, description="store path; default store/<name>.zarr")
    compute: Compute = Compute()

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("sigma")
    @classmethod
    def _grid(cls, v):
        if isinstance(v, list):
            if not v:
                raise ValueError("the sigma grid is empty; give at least one sigma >= 0")
            return _sorted_unique(v, "sigma")
        return v

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v, info):
        names = [d.name for d in v]
        dup = [x for i, x in enumerate(names) if x in names[:i]]
        if dup:
            raise ValueError(f"duplicate dataset name {dup[0]!r}; names must be unique")
        model = info.data.get("model")
        if model is not None and model.kind == "molrg-optimal":
            bad = [d.name for d in v if d.kind != "molrg"]
            if bad:
                raise ValueError(f"model kind 'molrg-optimal' is the posterior of molrg data; "
                                 f"datasets {bad} are not of kind 'molrg'")
        return v

    @field_validator("layers")
    @classmethod
    def _layers(cls, v, info):
        dup = [x for i, x in enumerate(v) if x in v[:i]]
        if dup:
            raise ValueError(f"duplicate layer {dup[0]!r}; each layer may appear once")
        model = info.data.get("model")
        known = STATIC_LAYERS.get(model.kind) if model is not None else None
        for name in v if known else []:
            if name not in known:
                near = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ValueError(f"unknown layer {name!r} for model kind {model.kind!r}; "
                                 f"valid layers: {', '.join(known)}{hint}")
        return v

    @field_validator("probes")
    @classmethod
    def _probes(cls, v):
        labels = [p.label for p in v]
        dup = [x for i, x in enumerate(labels) if x in labels[:i]]
        if dup:
            raise ValueError(f"two probes are both called {dup[0]!r}; give one a `name`")
        return v

    @field_validator("inputs", "metrics")
    @classmethod
    def _unique(cls, v, info):
        dup = [x for i, x in enumerate(v) if x in v[:i]]
        if dup:
            raise ValueError(f"duplicate entry {dup[0]!r}")
        datasets = info.data.get("datasets") or []
        if info.field_name == "metrics" and "csnr_theory" in v:
            bad = [d.name for d in datasets if d.kind != "molrg"]
            if bad:
                raise ValueError(f"csnr_theory is defined for molrg datasets only, not {bad}")
        return v

    @field_validator("label_noise")
    @classmethod
    def _noise(cls, v):
        return _sorted_unique(v, "label_noise level")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v):
        dup = [x for i, x in enumerate(v) if x in v[:i]]
        if dup:
            raise ValueError(f"duplicate seed {dup[0]!r}")
        return v

    @property
    def sigmas(self) -> list[float]:
        """The validated, sorted sigma grid."""
        return self.sigma.values() if isinstance(self.sigma, SigmaRange) else list(self.sigma)

    @property
    def store_path(self) -> str:
        return self.store or f"store/{self.name}.zarr"

