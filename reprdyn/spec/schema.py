"""The spec: pydantic v2 models of a reprdyn experiment (pure data, no I/O).

Every model forbids unknown keys; model, dataset and probe variants are discriminated unions on
`kind`, so later kinds slot in as new union members.
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Literal

from pydantic import Discriminator, Field, StrictInt, Tag, field_validator, model_validator

from ..errors import did_you_mean
from ..models.kinds import PIXELS, PRETRAINED, STATIC_LAYERS, replicates
from .datacfg import MAX_SAMPLES, Dataset, Name, Strict
from .modelcfg import EDM_SIGMA_RANGE, SIGMA_MAX, VP, Model

# --- sigma grid --------------------------------------------------------------

MAX_GRID = 10_000  # points of a sigma grid, and entries of any list a spec gives

Sigma = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SigmaRange(Strict):
    """`num` points from `start` to `stop` (inclusive), log- or linearly spaced."""

    start: Sigma
    stop: Sigma
    num: int = Field(ge=1, le=MAX_GRID)
    scale: Literal["log", "linear"] = "log"

    @model_validator(mode="after")
    def _check(self) -> SigmaRange:
        if self.scale == "log" and self.start <= 0:
            raise ValueError(
                "a log-scaled grid needs start > 0; use scale: linear or a start like 0.001"
            )
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) must be at least start ({self.start})")
        if self.num > 1 and self.stop == self.start:
            raise ValueError("start equals stop, so the grid would hold duplicates; use num: 1")
        return self

    def values(self) -> list[float]:
        import numpy as np  # only when a grid is expanded

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


class _Probe(Strict):
    name: Name | None = Field(None, description="label on the `probe` coord; default: the kind")
    layers: list[str] | None = Field(None, description="layers this probe reads; default all")
    transform: Literal["none", "abs"] = Field(
        "none", description="'abs' probes |features|, as for posterior probes (docs/theory.md §5)"
    )
    standardize: bool = Field(
        True,
        description="z-score features with train statistics; false keeps their scale, as the "
        "paper's posterior probe does (the shrinkage at large sigma then matters)",
    )

    @property
    def label(self) -> str:
        return self.name or self.kind


PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RidgeProbe(_Probe):
    """Closed-form ridge on one-hot labels; lambda per feature set by exact LOO, GCV or
    validation."""

    kind: Literal["ridge"]
    lambdas: list[PositiveFloat] | None = Field(
        None, min_length=1, description="the lambda grid; default 13 values from 1e-4 n to 1e2 n"
    )
    selection: Literal["gcv", "loo", "val"] = Field(
        "gcv",
        description="gcv: O(r) per lambda; loo: exact leave-one-out; val: validation accuracy",
    )


class LogisticProbe(_Probe):
    """Multinomial L2 logistic regression, full-batch L-BFGS over the whole stack at once."""

    kind: Literal["logistic"]
    C: PositiveFloat | Annotated[list[PositiveFloat], Field(min_length=1)] = Field(
        1.0, description="inverse regularisation; a list is a grid chosen on validation data"
    )
    max_iter: int = Field(500, gt=0, le=100_000)
    tol: float = Field(1e-4, gt=0, description="L-BFGS gradient tolerance (scikit-learn's default)")


class _TrainedProbe(_Probe):
    epochs: int = Field(50, gt=0, le=100_000)
    batch_size: int = Field(256, gt=1, le=1_000_000)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class BNLinearProbe(_TrainedProbe):
    """BatchNorm1d then Linear, trained with Adam: the paper's Table 1 protocol."""

    kind: Literal["bn-linear"]


class MLPProbe(_TrainedProbe):
    """Linear, ReLU, Linear: the paper's posterior probe."""

    kind: Literal["mlp"]
    hidden: int = Field(256, gt=0, le=65_536)


class SegLinearProbe(_Probe):
    """Per-pixel ridge on one-hot mask labels from streamed normal equations (X^T X and X^T Y summed
    over pixels): exact, in memory C x C whatever the number of pixels; lambda by validation mIoU.
    """

    kind: Literal["seg-linear"]
    lambdas: list[PositiveFloat] | None = Field(
        None,
        min_length=1,
        description="ridge penalties on standardised features; default 13 values from 1e-6 to 1",
    )


class SegMLPProbe(_TrainedProbe):
    """The per-pixel MLP of Baranchuk et al. 2022 (Linear, ReLU, Linear), an ensemble of members
    with their own seeds, trained on pixels sampled from the training images; their softmax outputs
    are averaged."""

    kind: Literal["seg-mlp"]
    hidden: int = Field(256, gt=0, le=65_536)
    ensemble: int = Field(3, ge=1, le=20, description="members, each with its own initialisation")
    epochs: int = Field(10, gt=0, le=100_000)


SEGMENTATION_PROBES = ("seg-linear", "seg-mlp")
Probe = Annotated[
    RidgeProbe | LogisticProbe | BNLinearProbe | MLPProbe | SegLinearProbe | SegMLPProbe,
    Field(discriminator="kind"),
]


class Ensemble(Strict):
    """Soft voting of probes across sigmas (docs/theory.md §6): logits (ridge: scores) are
    averaged."""

    strategy: Literal["neighbours", "all", "top"] = Field(
        "neighbours",
        description="best sigma +- k grid points | every sigma | the m best on validation",
    )
    k: int = Field(2, ge=0, le=MAX_GRID)
    m: int = Field(3, ge=1, le=MAX_GRID)

    def size(self, n_sigmas: int) -> int:
        """Most members an ensemble can have (the length of the `member` dim)."""
        return {"neighbours": 2 * self.k + 1, "all": n_sigmas, "top": self.m}[self.strategy]


# --- metrics, compute --------------------------------------------------------

MetricName = Literal[
    "accuracy",
    "class_accuracy",
    "csnr",
    "csnr_theory",
    "unimodality",
    "posterior_mse",
    "sw_distance",
    "cka",
    "generalization",
    "miou",
]
ALL_METRICS: tuple[str, ...] = typing.get_args(MetricName)
DEFAULT_METRICS: tuple[str, ...] = (
    "accuracy",
    "class_accuracy",
    "csnr",
    "csnr_theory",
    "unimodality",
)
NEEDS_PROBES = ("unimodality", "sw_distance")  # they read the accuracy curves
# metrics that read class labels (a dataset with masks only has none)
LABEL_METRICS = ("accuracy", "class_accuracy", "csnr", "csnr_theory", "unimodality", "sw_distance")
# metrics that read pooled features (the `features` stage)
POOLED_METRICS = ("accuracy", "class_accuracy", "csnr", "posterior_mse", "sw_distance", "cka")


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
    device: str = Field("auto", description="auto | cpu | mps | cuda | cuda:N")
    batch_size: int | None = Field(
        None,
        description="removed: the network always runs on aligned blocks of 64 "
        "samples, so that no number depends on a batch size",
    )
    executor: Literal["local", "dask"] = Field(
        "local", description="local (in process) | dask (a cluster)"
    )
    address: str | None = Field(
        None,
        description="not allowed in a spec: a shared spec must not choose the "
        "machine that runs code for you; pass `reprdyn run --dask ADDRESS` or set "
        "REPRDYN_DASK_ADDRESS",
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
        2, ge=0, le=100, description="dask: resubmissions of a task whose worker died"
    )
    max_store_gb: float | None = Field(
        None, gt=0, description="refuse to run if the feature store would be larger"
    )
    max_memory_gb: float | None = Field(
        None, gt=0, description="refuse to run if peak memory would be larger"
    )
    cache: str | None = Field(
        None,
        description="checkpoint cache, relative to the spec's folder; "
        "default $REPRDYN_CACHE or ~/.cache/reprdyn",
        json_schema_extra={"x-path": True},
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
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v):
            raise ValueError(f"unknown device {v!r}; expected auto, cpu, mps, cuda or cuda:N")
        return v


# --- the spec ----------------------------------------------------------------


def _dups(values: list) -> list:
    """The values that repeat an earlier one, in order (linear time: grids can be long)."""
    seen, out = set(), []
    for x in values:
        key = (type(x).__name__, x) if not isinstance(x, (list, dict)) else repr(x)
        if key in seen:
            out.append(x)
        seen.add(key)
    return out


def _sorted_unique(values: list, what: str) -> list:
    dup = _dups(values)
    if dup:
        raise ValueError(f"duplicate {what} {dup[0]!r}; each value may appear once")
    return sorted(values)


def _models(data: dict) -> list:
    """The model blocks validated so far (from `model` or `models`)."""
    if data.get("model") is not None:
        return [data["model"]]
    return list((data.get("models") or {}).values())


def _check_segmentation(metrics: list[str], data: dict) -> None:
    """miou goes with segmentation probes, and both need datasets with masks."""
    seg = [p.label for p in data.get("probes") or [] if p.kind in SEGMENTATION_PROBES]
    if seg and "miou" not in metrics:
        raise ValueError(f"segmentation probes {seg} report miou; add `miou` to metrics")
    if "miou" in metrics and not seg:
        raise ValueError(
            "miou needs a segmentation probe: add {kind: seg-linear} or {kind: seg-mlp} to "
            "`probes` (and layer sets under `dense:`)"
        )
    classify = [p.label for p in data.get("probes") or [] if p.kind not in SEGMENTATION_PROBES]
    if "probes" in data and not classify and {"accuracy", "class_accuracy"} & set(metrics):
        raise ValueError(
            "accuracy needs a classification probe (ridge, logistic, bn-linear, mlp); the probes "
            "are all segmentation probes, which report miou: drop accuracy from metrics"
        )
    unlabelled = [d.name for d in data.get("datasets") or [] if not d.has_labels]
    labelled = sorted(set(metrics) & set(LABEL_METRICS))
    if unlabelled and labelled:
        raise ValueError(
            f"datasets {unlabelled} have no class labels (label_column: null), so {labelled} "
            "cannot be measured; keep miou, posterior_mse, cka or generalization"
        )
    unmasked = [d.name for d in data.get("datasets") or [] if not d.has_masks]
    if "miou" in metrics and unmasked:
        raise ValueError(
            f"miou needs per-pixel masks; datasets {unmasked} have none (glyphs has "
            "them; npz takes `masks:`, hf takes `mask_column:` or `mask_folder:`)"
        )


def _not_molrg(data: dict) -> list[str]:
    """Names of the validated datasets that are not MoLRG (they have no true bases)."""
    return [d.name for d in data.get("datasets") or [] if d.kind != "molrg"]


class Spec(Strict):
    """One reprdyn experiment. See the README's spec reference."""

    extends: str | list[str] | None = Field(
        None,
        exclude=True,
        description="base spec file(s) to deep-merge under this one, relative to this "
        "file's folder; merged before validation, so always empty here",
    )
    spec_version: Literal[1]
    name: Name
    seed: int = 0
    trust_code: bool = Field(
        False,
        description="allow `python` models to import code named by this spec "
        "(the command line must also pass --trust-code)",
    )
    model: Model | None = Field(None, description="the model to probe")
    models: Annotated[dict[Name, Model], Field(max_length=100)] | None = Field(
        None, description="several models to compare: adds a `model` dim"
    )
    datasets: list[Dataset] = Field(min_length=1, max_length=100)
    sigma: (
        Annotated[
            Annotated[list[Sigma], Tag("list"), Field(max_length=MAX_GRID)]
            | Annotated[SigmaRange, Tag("range")],
            Discriminator(_grid_kind),
        ]
        | None
    ) = Field(None, description="the sigma grid: a list, or {start, stop, num, scale}")
    timesteps: list[Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        None,
        max_length=MAX_GRID,
        description="the grid as VP timesteps instead of sigmas (needs a vp model)",
    )
    layers: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        ["output"], min_length=1, max_length=1000
    )
    dense: dict[Name, list[Annotated[str, Field(min_length=1)]]] | None = Field(
        None,
        description="per-pixel features for segmentation probes: named sets of layers whose "
        "maps are upsampled (bilinear) to the mask size and concatenated, as in Baranchuk et al.",
    )
    inputs: list[Literal["clean", "noisy"]] = Field(["clean"], min_length=1)
    noise_draws: int = Field(
        1, ge=1, le=1000, description="noisy input: features averaged over this many draws"
    )
    probes: list[Probe] = Field(
        default_factory=lambda: [RidgeProbe(kind="ridge")], min_length=1, max_length=100
    )
    label_noise: list[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]] = Field(
        [0.0],
        min_length=1,
        max_length=100,
        description="levels of label noise, sorted on load; the `label_noise` dim",
    )
    label_noise_kind: Literal["uniform", "pair"] = Field(
        "uniform", description="uniform: to a random other class; pair: class k -> k+1 (mod K)"
    )
    seeds: list[int] = Field(
        [0], min_length=1, max_length=1000, description="probe / label-noise seeds: the `seed` dim"
    )
    val_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of train held out to pick best sigma"
    )
    ensemble: Ensemble = Ensemble()
    metrics: list[MetricName] = Field(list(DEFAULT_METRICS), min_length=1)
    analysis: Analysis = Analysis()
    generation: Generation = Generation()
    csnr: Csnr = Csnr()
    segmentation: Segmentation = Segmentation()
    sweep: (
        Annotated[
            dict[str, Annotated[list[bool | int | float | str], Field(max_length=1000)]],
            Field(max_length=16),
        ]
        | None
    ) = Field(
        None,
        description="parameters to vary, each a path (datasets[0].n_train, model.train.epochs) "
        "with a list of values; every combination runs, and each path becomes a dim of the cube",
    )
    store: str | None = Field(
        None,
        description="store path, relative to the spec's folder; "
        "default store/<name>.zarr in the current folder",
        json_schema_extra={"x-path": True},
    )
    compute: Compute = Compute()

    @model_validator(mode="before")
    @classmethod
    def _default_metrics(cls, data):
        """Default metrics: all that apply (csnr_theory only when every dataset is molrg with delta
        > 0; miou when there are segmentation probes)."""
        if isinstance(data, dict) and "metrics" not in data:
            ds = data.get("datasets")
            molrg = isinstance(ds, list) and all(
                isinstance(d, dict) and d.get("kind") == "molrg" and d.get("delta") != 0 for d in ds
            )
            probes = data.get("probes") if isinstance(data.get("probes"), list) else []
            seg = [isinstance(p, dict) and p.get("kind") in SEGMENTATION_PROBES for p in probes]
            metrics = [m for m in DEFAULT_METRICS if molrg or m != "csnr_theory"]
            metrics = [] if seg and all(seg) else metrics  # segmentation alone: miou alone
            data = {**data, "metrics": metrics + ["miou"] * any(seg)}
        return data

    @field_validator("label_noise")
    @classmethod
    def _label_noise(cls, v):
        return _sorted_unique(v, "label-noise level")

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("models")
    @classmethod
    def _some_models(cls, v):
        if v is not None and not v:
            raise ValueError("`models` is empty; name at least one model")
        return v

    @field_validator("model", "models")
    @classmethod
    def _trusted(cls, v, info):
        blocks = [v] if info.field_name == "model" else list((v or {}).values())
        if not info.data.get("trust_code") and any(
            getattr(m, "kind", None) == "python" for m in blocks
        ):
            raise ValueError(
                "a `python` model runs code the spec names; only if you trust that code, set "
                "`trust_code: true` in the spec and pass --trust-code"
            )
        return v

    @field_validator("sigma")
    @classmethod
    def _grid(cls, v, info):
        if isinstance(v, list):
            if not v:
                raise ValueError("the sigma grid is empty; give at least one sigma >= 0")
            v = _sorted_unique(v, "sigma")
        grid = v.values() if isinstance(v, SigmaRange) else v
        if max(grid) > SIGMA_MAX:
            raise ValueError(
                f"sigma {max(grid):g} is too large: noisy inputs x0 + sigma eps are float32, so "
                f"every model takes sigma <= {SIGMA_MAX:g}"
            )
        # the one range check pretrained VP models get too, once loaded
        for m in _models(info.data):
            if getattr(m, "precond", None) is not None and m.precond.kind == "vp":
                from ..models.schedules import VPSchedule

                VPSchedule.from_config(m.precond).check_range(grid, "the model's vp schedule")
            if getattr(m, "precond", None) is not None and m.precond.kind == "edm":
                lo, hi = EDM_SIGMA_RANGE
                bad = [s for s in grid if not lo < s <= hi]
                if bad:
                    raise ValueError(
                        f"sigma {bad[0]:g} is outside the range of an edm model, {lo:g} < sigma <= "
                        f"{hi:g}: its network is conditioned on ln(sigma) / 4, which sigma = 0 "
                        "does not have"
                    )
        return v

    @field_validator("timesteps")
    @classmethod
    def _timesteps(cls, v, info):
        if not v:
            raise ValueError("the timestep grid is empty; give at least one timestep")
        vps = [
            m.precond
            for m in _models(info.data)
            if getattr(m, "precond", None) is not None and m.precond.kind == "vp"
        ]
        if not vps:
            raise ValueError(
                "a timestep grid needs a model with a vp precond; give `sigma` instead"
            )
        if len({p.model_dump_json() for p in vps}) > 1:
            raise ValueError(
                "the vp models use different schedules, so timesteps are ambiguous; give `sigma`"
            )
        if max(v) >= vps[0].T:
            raise ValueError(f"timestep {max(v)} is outside the schedule's range 0..{vps[0].T - 1}")
        return _sorted_unique(v, "timestep")

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, v, info):
        dup = _dups([d.name for d in v])
        if dup:
            raise ValueError(f"duplicate dataset name {dup[0]!r}; names must be unique")
        by_name = {d.name: d for d in v}
        for m in _models(info.data):
            if m.kind == "molrg-optimal":
                bad = _not_molrg({"datasets": v})
                if bad:
                    raise ValueError(
                        f"model kind 'molrg-optimal' is the posterior of molrg data; "
                        f"datasets {bad} are not of kind 'molrg'"
                    )
                continue
            if m.kind in PRETRAINED:
                continue  # its input shape is checked when it is loaded
            src = m.train.data
            if isinstance(src, str) and src not in by_name:
                raise ValueError(
                    f"the model's train.data names dataset {src!r}, which is not in `datasets` "
                    f"(expected one of {list(by_name)}, or a dataset block)"
                )
            shape = by_name[src].shape if isinstance(src, str) else src.shape
            bad = [d.name for d in v if None not in (d.shape, shape) and d.shape != shape]
            if bad:  # shapes read from files (npz) are compared by reprdyn.checks
                raise ValueError(f"datasets {bad} do not have the training data's shape {shape}")
        return v

    @field_validator("layers")
    @classmethod
    def _layers(cls, v, info):
        dup = _dups(v)
        if dup:
            raise ValueError(f"duplicate layer {dup[0]!r}; each layer may appear once")
        for model in _models(info.data):
            known = STATIC_LAYERS.get(model.kind)
            for name in v if known else []:
                if name not in known and name != PIXELS:
                    raise ValueError(
                        f"unknown layer {name!r} for model kind {model.kind!r}; valid layers: "
                        f"{', '.join([*known, PIXELS])}{did_you_mean(name, [*known, PIXELS])}"
                    )
        return v

    @field_validator("probes")
    @classmethod
    def _probes(cls, v, info):
        dup = _dups([p.label for p in v])
        if dup:
            raise ValueError(f"two probes are both called {dup[0]!r}; give one a `name`")
        layers, dense = info.data.get("layers") or [], list(info.data.get("dense") or {})
        for p in v:
            if p.kind in SEGMENTATION_PROBES:
                if not dense:
                    raise ValueError(
                        f"probe {p.label!r} is a segmentation probe: it reads per-pixel features; "
                        "name layer sets under `dense:` (for example dense: "
                        "{decoder: [dec.0, dec.1]})"
                    )
                bad = [x for x in p.layers or [] if x not in dense]
                if bad:
                    raise ValueError(
                        f"segmentation probe {p.label!r} reads {bad}; it reads the dense sets "
                        f"{dense}"
                    )
                continue
            bad = [x for x in p.layers or [] if x not in layers]
            if bad:
                raise ValueError(
                    f"probe {p.label!r} reads layers {bad} that are not in `layers` {layers}"
                    + (
                        " (dense sets are for seg-linear and seg-mlp)"
                        if set(bad) & set(dense)
                        else ""
                    )
                )
        return v

    @field_validator("dense")
    @classmethod
    def _dense(cls, v, info):
        if v is None:
            return v
        if not v:
            raise ValueError("`dense` is empty; name at least one set of layers, or leave it out")
        clash = [name for name in v if name in (info.data.get("layers") or [])]
        if clash:
            raise ValueError(f"dense set {clash[0]!r} has the name of a pooled layer; rename it")
        for name, members in v.items():
            dup = _dups(members)
            if not members or dup:
                raise ValueError(f"dense set {name!r} needs distinct layers; got {members}")
            if PIXELS in members or name == PIXELS:
                raise ValueError(
                    f"dense set {name!r}: {PIXELS!r} is the pooled raw-input baseline (a `layers` "
                    "entry), not a network layer with a spatial map"
                )
        return v

    @field_validator("sweep")
    @classmethod
    def _sweep(cls, v):
        from .resolve import parse_path

        if v is None:
            return v
        if not v:
            raise ValueError(
                "`sweep` is empty; give at least one path with a list of values, or leave it out"
            )
        for path, values in v.items():
            loc = parse_path(path)  # a ValueError names the path
            if loc[0] not in ("model", "models", "datasets"):
                raise ValueError(
                    f"a sweep varies the model, its training or a dataset; {path!r} starts with "
                    f"{loc[0]!r} (expected model, models or datasets)"
                )
            if not values:
                raise ValueError(f"sweep {path!r} has no values")
            dup = _dups(values)
            if dup:
                raise ValueError(f"sweep {path!r} repeats the value {dup[0]!r}")
        return v

    @field_validator("inputs", "metrics", "seeds")
    @classmethod
    def _unique(cls, v, info):
        dup = _dups(v)
        if dup:
            raise ValueError(f"duplicate entry {dup[0]!r}")
        bad = _not_molrg(info.data)
        if info.field_name == "metrics" and "csnr_theory" in v and bad:
            raise ValueError(f"csnr_theory is defined for molrg datasets only, not {bad}")
        exact = [
            d.name for d in info.data.get("datasets") or [] if d.kind == "molrg" and d.delta == 0
        ]
        if info.field_name == "metrics" and "csnr_theory" in v and exact:
            raise ValueError(
                f"csnr_theory is infinite at every sigma for delta = 0 (datasets {exact}): clean "
                "samples then have no energy outside their class subspace; give delta > 0, or drop "
                "csnr_theory (the empirical csnr is still measured)"
            )
        if info.field_name == "metrics" and "accuracy" not in v:
            needs = [m for m in NEEDS_PROBES if m in v]
            if needs:
                raise ValueError(
                    f"{', '.join(needs)} read(s) the probes' accuracy curves; add `accuracy` to "
                    "metrics"
                )
        if info.field_name == "metrics":
            _check_segmentation(v, info.data)
        if info.field_name == "metrics" and "generalization" in v:
            kinds = [m.kind for m in _models(info.data)]
            if kinds and all(k == "dae" for k in kinds):
                raise ValueError(
                    "generalization samples from a diffusion model; a DAE denoises at its own "
                    "sigmas only, so it cannot generate"
                )
        return v

    @field_validator("csnr")
    @classmethod
    def _csnr(cls, v, info):
        bad = _not_molrg(info.data)
        if v.basis == "truth" and bad:
            raise ValueError(
                f"basis 'truth' needs molrg datasets (their true U_k); {bad} are not; use auto or "
                "svd"
            )
        return v

    @model_validator(mode="after")
    def _one_of(self) -> Spec:
        if (self.model is None) == (self.models is None):
            raise ValueError(
                "give exactly one of `model` (one model) or `models` (a mapping of named models)"
            )
        if (self.sigma is None) == (self.timesteps is None):
            raise ValueError(
                "give exactly one of `sigma` (a sigma grid) or `timesteps` (a VP timestep grid)"
            )
        return self

    # --- derived views -------------------------------------------------------

    def model_items(self) -> list[tuple[str, Model]]:
        """(name, block) per model; a single `model` is named ''."""
        return [("", self.model)] if self.model is not None else list(self.models.items())

    @property
    def multi_model(self) -> bool:
        return self.models is not None

    def _vp(self) -> VP | None:
        vps = {
            m.precond.model_dump_json(): m.precond
            for _, m in self.model_items()
            if getattr(m, "precond", None) is not None and m.precond.kind == "vp"
        }
        return next(iter(vps.values())) if len(vps) == 1 else None

    @property
    def sigmas(self) -> list[float]:
        """The validated, sorted sigma grid (converted from timesteps where given)."""
        if self.timesteps is not None:
            from ..models.schedules import VPSchedule

            vp = self._vp()
            return [float(s) for s in VPSchedule.from_config(vp).sigma(self.timesteps)]
        return self.sigma.values() if isinstance(self.sigma, SigmaRange) else list(self.sigma)

    @property
    def timestep_coord(self) -> list[float] | None:
        """Timesteps along the sigma grid, where one VP schedule applies; else None."""
        if self.timesteps is not None:
            return [float(t) for t in self.timesteps]
        vp = self._vp()
        if vp is None:
            return None
        from ..models.schedules import VPSchedule

        return [float(t) for t in VPSchedule.from_config(vp).timestep(self.sigmas)]

    def probe_layers(self, probe) -> list[str]:
        """The layers a probe reads: pooled layers, or for a segmentation probe dense sets."""
        if probe.kind in SEGMENTATION_PROBES:
            return probe.layers or list(self.dense or {})
        return probe.layers or self.layers

    @property
    def replicates(self) -> int:
        """Length of the cube's `replicate` dim: the most replicates any model has (1 for models
        that are not trained; a model with fewer leaves NaN in the others)."""
        return max(replicates(cfg) for _, cfg in self.model_items())

    @property
    def hooked_layers(self) -> list[str]:
        """The pooled layers read from the network (`layers` without the `pixels` baseline)."""
        return [x for x in self.layers if x != PIXELS]

    @property
    def bootstrap(self) -> int:
        """Bootstrap resamples behind the intervals (0: none)."""
        return self.analysis.bootstrap

    @property
    def pooled(self) -> bool:
        """Whether any metric reads pooled features (else no `features` task is planned)."""
        return bool(set(self.metrics) & set(POOLED_METRICS))

    @property
    def cube_layers(self) -> list[str]:
        """The `layer` coordinate of the metric cube: the pooled layers (when a metric reads them),
        then the dense sets."""
        return [*(self.layers if self.pooled else ()), *(self.dense or {})]

    @property
    def store_path(self) -> str:
        return self.store or f"store/{self.name}.zarr"
