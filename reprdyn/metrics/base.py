"""What a metric is: one `Metric` record that declares, in one place, its name, its settings, the
rules it needs, the Variables it writes, the stage it runs in and the function that computes
them, its `verify` check, its figures, its summary table and its export mapping.

Also the names every stage and metric shares: the `Stage`s, the `Variable` of the metric cube, the
interval dims. Light (numpy and pydantic): the spec reads the registry to validate a spec.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from pydantic import BaseModel, ConfigDict


class Stage(str, Enum):
    """The stages of a run, in the order the plan folds over them."""

    TRAIN = "train"
    DATA = "data"
    FEATURES = "features"
    THEORY = "theory"
    PROBE = "probe"
    JOINT = "joint"
    COMPARE = "compare"
    ANALYSIS = "analysis"
    SEGMENT = "segment"
    GENERATE = "generate"

    def __str__(self) -> str:
        return self.value


MAX_SAMPLES = (
    100_000_000  # a bound on any count of samples; whether they fit is checked at run time
)

# one probe curve's dims, sigma aside
PROBE_DIMS = ("layer", "label_noise", "seed", "probe", "input")
BOUNDS = ("low", "high")  # the `bound` dim of every interval


def always(spec) -> bool:
    return True


def bootstrapped(spec) -> bool:
    return spec.bootstrap > 0


@dataclass(frozen=True)
class Variable:
    """One variable of the metric cube, declared by the metric (or stage) that writes it."""

    dims: tuple[str, ...]  # after the leading `model` and `replicate` dims
    description: str
    stage: Stage | None = None  # the stage that writes it (its chunks): None = its metric's
    metrics: tuple[str, ...] = ()  # the spec metrics that ask for it (any of them): () = its own
    per_model: bool = True  # False: a property of the data alone, with no model / replicate dims
    applies: Callable[[object], bool] = always  # whether a spec that asks for it can have it
    units: str = "1"  # CF units: "1" for shares, ratios and data-scaled quantities
    comparison: str | None = None  # a paired difference the summary shows: what it is, in words
    long_name: str = ""  # CF long_name: a short title (plots use it); the name itself if empty
    dtype: str = "float64"  # NaN marks a cell no task has written; bool cells are False there

    def dims_in(self, spec) -> tuple[str, ...]:
        """The variable's dims in a spec's cube."""
        return (*model_dims(spec), *self.dims) if self.per_model else self.dims


def model_dims(spec) -> tuple[str, ...]:
    """The dims of everything that depends on the model: ('model',) when the spec compares several
    models, then always ('replicate',) (one per independently trained copy; 1 for the rest)."""
    return ("model",) * spec.multi_model + ("replicate",)


def with_uncertainty(name: str, v: Variable) -> dict[str, Variable]:
    """`name`, its resamples (`_boot`, dim `boot`) and its percentile interval (`_ci`, dim
    `bound`), which exist when the spec asks for a bootstrap."""

    def applies(spec, a=v.applies) -> bool:
        return a(spec) and bootstrapped(spec)

    def derived(dim: str, about: str, what: str) -> Variable:
        long_name = f"{v.long_name or name}, {what}"
        meta = dict(applies=applies, units=v.units, long_name=long_name)
        return Variable((*v.dims, dim), about, stage=v.stage, metrics=v.metrics, **meta)

    return {
        name: v,
        f"{name}_boot": derived(
            "boot",
            f"{name} under each paired bootstrap resample (the same resampled samples in every "
            "cell, so differences between cells are paired)",
            "bootstrap resample",
        ),
        f"{name}_ci": derived(
            "bound",
            f"{name}: interval at analysis.confidence (attr), from the paired bootstrap over test "
            "samples and the validation choice (docs/theory.md §8)",
            "confidence interval",
        ),
    }


class Settings(BaseModel):
    """The base of a metric's settings block: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Figure:
    """A figure `reprdyn plot` and the report draw: `draw(ds, dataset, sweep_dims)` returns a
    matplotlib figure (imported when drawn)."""

    name: str
    about: str  # what it shows, in words
    draw: Callable
    at_lowest_noise: bool = False  # it reads the lowest label-noise level (the title says so)


@dataclass(frozen=True)
class Table:
    """A table of the run summary: `rows(dataset, cube)` over every cube holding `needs`, the
    columns as (header, cell(row)), and `headline` (validation score, test score) attributes of a
    row for the catalog's choice of the best cell. `key` names it in `--format json`. A `sweep`
    table reads a sweep store's points joined along the swept dims, `rows(dataset, cube,
    sweep_dims)`, and has no rows outside a sweep."""

    key: str
    needs: str  # the variable a cube must hold
    rows: Callable
    columns: tuple
    title: str = ""
    layer: str = "layer"  # what the layer column is called
    headline: tuple[str, str] | None = None
    per_dataset: bool = False  # the report shows it under each dataset, not at the top
    heading: str = ""  # the report's heading over it
    note: str = ""  # the report's line under the heading: what the numbers are
    sweep: bool = False  # its rows read the joined cube of a sweep's points


Problem = tuple[tuple, str]  # (where in the spec, message): the protocol of spec rules


# what a metric may need the run to have (`Metric.reads`)
READS = {
    "pooled": "pooled features (the `features` stage runs for it)",
    "labels": "class labels (a dataset with masks alone has none)",
    "curves": "the probes' accuracy curves (a rule: it needs `accuracy`)",
    "models": "every model's features, in a spec with several (a comparison between them)",
}


@dataclass(frozen=True)
class Metric:
    """One metric: everything reprdyn knows of it, declared once, in its own module.

    `compute(cell)` returns {variable: array} for one task of `stage`; the stage hands it a `cell`
    holding what that stage has (see each stage module), and the values the metrics before it
    returned (`cell.values`). `observe(cell, j)` gives the features stage an accumulator that sees
    every block of features as it streams (`update(layer, rows, block)`). `check(region)` says
    what is wrong with a finished task's region (default: it holds no value at all).
    """

    name: str
    stage: Stage
    about: str  # one line: what it measures (the docs' metric table, `--help`)
    variables: dict[str, Variable]
    compute: Callable | None = None
    default: bool | Callable[[dict], bool] = False  # asked for when a spec names no metrics
    reads: frozenset[str] = frozenset()  # of READS: what it needs the run to have
    provides: tuple[str, ...] = ()  # what other metrics may read of it ("curves")
    brings: tuple[str, ...] = ()  # metrics that run with it though not named (their variables)
    settings: tuple[str, type[Settings]] | None = None  # (spec key, model): a block of the spec
    rules: Callable[[object], Iterable[Problem]] | None = None  # its own cross-field rules
    observe: Callable | None = None
    check_var: str | None = None  # the variable verify reads (default: its first; "": none)
    figures: tuple[Figure, ...] = ()
    tables: Callable[[], tuple[Table, ...]] | tuple = ()  # a callable: read-side imports wait
    export: dict[str, str | None] = field(default_factory=dict)  # curve -> its resamples
    annotate: Callable | None = None  # (cube, spec, context) -> None: attrs on its variables
    protocol: Callable[[object], object] | None = None  # spec -> what its task keys depend on
    order: int = 100  # where its variables, tables and figures come among the metrics
    coords: dict[str, tuple[tuple, str]] = field(default_factory=dict)  # its own dims: (values,
    # CF long_name), e.g. {"shape": (("unimodal", ...), "class of a curve's shape")}

    def __post_init__(self):
        object.__setattr__(self, "reads", frozenset(self.reads))
        if self.reads - set(READS):
            unknown = sorted(self.reads - set(READS))[0]
            raise ValueError(f"unknown need {unknown!r}; expected one of {', '.join(READS)}")
        # a variable's stage and `metrics` default to its own metric's
        for name, v in self.variables.items():
            if v.stage not in (None, self.stage):
                raise ValueError(f"variable {name!r} of metric {self.name!r} names another stage")
            object.__setattr__(v, "stage", self.stage)
            if not v.metrics:
                object.__setattr__(v, "metrics", (self.name,))

    @property
    def pooled(self) -> bool:
        return "pooled" in self.reads

    @property
    def labels(self) -> bool:
        return "labels" in self.reads

    @property
    def curves(self) -> bool:
        return "curves" in self.reads

    def checked(self) -> str:
        """The variable `verify` reads of a finished task's region ("" where none can say)."""
        return next(iter(self.variables)) if self.check_var is None else self.check_var


def default_on(raw: dict, metric: Metric) -> bool:
    """Whether `metric` is among a spec's default metrics, from the raw spec data."""
    return metric.default(raw) if callable(metric.default) else bool(metric.default)
