"""What every stage shares: the `Task` they plan, the cube regions they write, and how a stage runs
its metrics (`computed`). The `Stage` names and the `Variable` of the cube are the metrics'
(`reprdyn.metrics.base`), re-exported here.

A stage module declares next to its code its `STAGE`, the `CHUNKS` it owns (the dims of which one
task writes one chunk), the `VARIABLES` it writes (and the metrics that ask for them), a frozen
`Params` dataclass for its tasks, `plan(spec, upstream)` and `run(task, ctx, io)`. Stage modules
import only light modules at the top (numpy and reprdyn's own data classes): the command line and
the store readers read their declarations without loading torch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from types import SimpleNamespace

from ..metrics.base import (  # noqa: F401 - re-exported for the stages
    BOUNDS,
    PROBE_DIMS,
    Stage,
    Variable,
    always,
    bootstrapped,
    model_dims,
    with_uncertainty,
)


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


# --- variables ---------------------------------------------------------------------------


def wanted(spec, variables: dict[str, Variable]) -> list[str]:
    """Those of `variables` the metrics a spec runs ask for and it can have, in declaration order
    (a variable asked for by `stage:NAME` is wanted when any metric of that stage runs)."""
    from .. import metrics

    ran = {m.name for m in metrics.effective(spec)}
    ran |= {f"stage:{m.stage}" for m in metrics.effective(spec)}
    return [n for n, v in variables.items() if set(v.metrics) & ran and v.applies(spec)]


def metric_variables(stage: Stage) -> dict[str, Variable]:
    """The variables the registered metrics of `stage` write."""
    from .. import metrics

    return {
        n: v
        for m in metrics.registry().values()
        if m.stage == stage
        for n, v in m.variables.items()
    }


class Cell(SimpleNamespace):
    """What one task hands the metrics of its stage (`Metric.compute`): whatever that stage has,
    as each stage module says, and `values`, what the metrics before returned."""


def computed(spec, stage: Stage, cell) -> dict:
    """Every metric of `stage` the spec runs, computed on one task's `cell`, in registry order;
    each sees what the ones before it returned (`cell.values`)."""
    from .. import metrics

    cell.values = {}
    for m in metrics.at(spec, stage):
        cell.values.update(m.compute(cell))
    return cell.values


def model_at(spec, model: str) -> dict:
    """The selection of one model by name, in a cube or a feature store: {} where the spec has
    one model (there is no `model` dim)."""
    return {"model": model} if spec.multi_model else {}


def model_sel(spec, model: str, replicate: int | list[int]) -> dict:
    """The `model` and `replicate` coordinates of one model's region."""
    reps = list(replicate) if isinstance(replicate, (list, tuple, range)) else [replicate]
    return {**{k: [v] for k, v in model_at(spec, model).items()}, "replicate": reps}


def labelled(spec, variables: Stage | dict[str, Variable], values: dict, **coords):
    """A region of the cube: each named array (one of `variables`, or of a stage's metrics'),
    shaped as its variable's dims, with the given coordinates. An array without the leading model
    dims gets them as singletons; a coordinate no written variable uses is left out (the model and
    replicate always stay, they place the region)."""
    import numpy as np
    import xarray as xr

    if isinstance(variables, Stage):
        variables = metric_variables(variables)
    lead = len(model_dims(spec))
    arrays = {}
    for name, v in values.items():
        dims = variables[name].dims_in(spec)
        v = np.asarray(v).astype(variables[name].dtype)
        if len(dims) - v.ndim == lead:  # the singleton model dims in front
            v = v.reshape((1,) * lead + v.shape)
        arrays[name] = (dims, v)
    used = {d for dims, _ in arrays.values() for d in dims} | {"model", "replicate"}
    return xr.Dataset(arrays, coords={k: c for k, c in coords.items() if k in used})
