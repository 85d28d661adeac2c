"""What every stage shares: the `Stage` names, the `Task` they plan, the `Variable` they declare.

A stage module declares next to its code its `STAGE`, the `CHUNKS` it owns (the dims of which one
task writes one chunk), the `VARIABLES` it writes (and the metrics that ask for them), a frozen
`Params` dataclass for its tasks, `plan(spec, upstream)` and `run(task, ctx, io)`. Stage modules
import only light modules at the top (numpy and reprdyn's own data classes): the command line and
the store readers read their declarations without loading torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from enum import Enum


class Stage(str, Enum):
    """The stages of a run, in the order the plan folds over them."""

    TRAIN = "train"
    DATA = "data"
    FEATURES = "features"
    THEORY = "theory"
    PROBE = "probe"
    COMPARE = "compare"
    ANALYSIS = "analysis"
    SEGMENT = "segment"
    GENERATE = "generate"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class NoParams:
    """The parameters of a task that is one per dataset."""


@dataclass(frozen=True)
class SigmaParams:
    """One (model, replicate, sigma) of a dataset: the tasks of `features` and `segment`."""

    model: str
    replicate: int
    sigma_index: int
    sigma: float


@dataclass(frozen=True)
class Task:
    """One unit of work: its result lands in its own region of the store (or, for training, in
    the checkpoint cache). Its content key hashes everything the result depends on, so equal keys
    mean equal results."""

    stage: Stage
    dataset: str  # the probed dataset (for `train`: the training data's name)
    params: object = NoParams()  # the stage's Params dataclass
    key: str = ""
    deps: tuple[str, ...] = field(default=(), compare=False)

    def items(self) -> tuple[tuple[str, object], ...]:
        """The params as (name, value) pairs, in declaration order."""
        return tuple((f.name, getattr(self.params, f.name)) for f in fields(self.params))

    @property
    def label(self) -> str:
        """`probe glyphs replicate=0 layer=mid ...`, with sigmas rounded for people to read."""
        extra = " ".join(f"{k}={_short(v)}" for k, v in self.items() if v not in ("", None))
        return f"{self.stage} {self.dataset}{' ' + extra if extra else ''}"

    def row(self) -> dict:
        """The task as one entry of a store's plan.json."""
        params = asdict(self.params)
        return {
            "key": self.key,
            "task": self.label,
            "stage": str(self.stage),
            "dataset": self.dataset,
            "params": params,
            "deps": list(self.deps),
        }


def _short(v) -> str:
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def key(*parts) -> str:
    """A task's content key: the hash of everything its result depends on."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base(spec, dataset) -> tuple:
    """What every task of a dataset depends on: the plan version, the spec seed, the dataset."""
    return ("v2", spec.seed, dataset.model_dump(mode="json"))


# --- variables -----------------------------------------------------------------------------

# one probe curve's dims, sigma aside
PROBE_DIMS = ("layer", "label_noise", "seed", "probe", "input")
BOUNDS = ("low", "high")  # the `bound` dim of every interval


def always(spec) -> bool:
    return True


def bootstrapped(spec) -> bool:
    return spec.bootstrap > 0


@dataclass(frozen=True)
class Variable:
    """One variable of the metric cube, declared by the stage that writes it."""

    dims: tuple[str, ...]  # after the leading `model` and `replicate` dims
    stage: Stage  # the stage that writes it (its chunks are that stage's)
    metrics: tuple[str, ...]  # the spec metrics that ask for it (any of them)
    description: str
    per_model: bool = True  # False: a property of the data alone, with no model / replicate dims
    applies: Callable[[object], bool] = always  # whether a spec that asks for it can have it
    units: str = "1"  # CF units: "1" for shares, ratios and data-scaled quantities
    comparison: str | None = None  # a paired difference the summary shows: what it is, in words
    long_name: str = ""  # CF long_name: a short title (plots use it); the name itself if empty
    dtype: str = "float64"  # NaN marks a cell no task has written; bool cells are False there

    def dims_in(self, spec) -> tuple[str, ...]:
        """The variable's dims in a spec's cube."""
        return (*model_dims(spec), *self.dims) if self.per_model else self.dims


def wanted(spec, variables: dict[str, Variable]) -> list[str]:
    """Those of `variables` a spec's metrics ask for and it can have, in declaration order."""
    return [
        n for n, v in variables.items() if set(v.metrics) & set(spec.metrics) and v.applies(spec)
    ]


def model_sel(spec, model: str, replicate: int | list[int]) -> dict:
    """The `model` and `replicate` coordinates of one model's region."""
    reps = list(replicate) if isinstance(replicate, (list, tuple, range)) else [replicate]
    return {**({"model": [model]} if spec.multi_model else {}), "replicate": reps}


def labelled(spec, variables: dict[str, Variable], values: dict, **coords):
    """A region of the cube: each named array (one of the stage's `variables`), shaped as its
    variable's dims (the leading model dims included), with the given coordinates."""
    import numpy as np
    import xarray as xr

    return xr.Dataset(
        {
            name: (variables[name].dims_in(spec), np.asarray(v).astype(variables[name].dtype))
            for name, v in values.items()
        },
        coords=coords,
    )


def model_dims(spec) -> tuple[str, ...]:
    """The dims of everything that depends on the model: ('model',) when the spec compares several
    models, then always ('replicate',) (one per independently trained copy; 1 for the rest)."""
    return ("model",) * spec.multi_model + ("replicate",)


def with_uncertainty(name: str, v: Variable) -> dict[str, Variable]:
    """`name`, its resamples (`_boot`, dim `boot`) and its percentile interval (`_ci`, dim
    `bound`), which exist when the spec asks for a bootstrap."""

    def applies(spec, a=v.applies) -> bool:
        return a(spec) and bootstrapped(spec)

    return {
        name: v,
        f"{name}_boot": Variable(
            (*v.dims, "boot"),
            v.stage,
            v.metrics,
            f"{name} under each paired bootstrap resample (the same resampled samples in every "
            "cell, so differences between cells are paired)",
            applies=applies,
            units=v.units,
            long_name=f"{v.long_name or name}, bootstrap resample",
        ),
        f"{name}_ci": Variable(
            (*v.dims, "bound"),
            v.stage,
            v.metrics,
            f"{name}: interval at analysis.confidence (attr), from the paired bootstrap over test "
            "samples and the validation choice (docs/theory.md §8)",
            applies=applies,
            units=v.units,
            long_name=f"{v.long_name or name}, confidence interval",
        ),
    }
