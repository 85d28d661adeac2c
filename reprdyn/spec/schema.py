"""The spec: pydantic v2 models of a reprdyn experiment (pure data, no I/O).

Every model forbids unknown keys; model, dataset and probe variants are discriminated unions on
`kind`, so later kinds slot in as new union members. Each field validates itself here; the rules
that tie fields together are small named functions in `reprdyn.spec.rules`, which the loader
reports at their place in the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from .. import metrics as registry
from ..probes import kinds as probe_kinds
from .datacfg import MAX_SAMPLES, Dataset, Name, Strict, path_field
from .grid import MAX_GRID, Sigma, SigmaRange, grid_kind
from .kinds import PIXELS, replicates
from .modelcfg import Model
from .probes import Ensemble
from .rules import dups, problems
from .settings import Analysis, Compute

__all__ = ["Spec", "SigmaRange", "MAX_GRID", "MAX_SAMPLES"]


def _sorted_unique(values: list, what: str) -> list:
    dup = dups(values)
    if dup:
        raise ValueError(f"duplicate {what} {dup[0]!r}; each value may appear once")
    return sorted(values)


# the lists whose members go by a name that must be unique: (the name of a member, the message)
_DISTINCT = {
    "datasets": (lambda d: d.name, "duplicate dataset name {!r}; names must be unique"),
    "layers": (str, "duplicate layer {!r}; each layer may appear once"),
    "probes": (lambda p: p.label, "two probes are both called {!r}; give one a `name`"),
}

# the optional mappings that may be left out but not empty: (field, what to write instead)
_NOT_EMPTY = {
    "models": "name at least one model",
    "dense": "name at least one set of layers, or leave it out",
    "sweep": "give at least one path with a list of values, or leave it out",
}


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
            Annotated[
                list[Sigma],
                Tag("list"),
                # validate says "empty" and "duplicate" in its own words; editors see the same
                Field(max_length=MAX_GRID, json_schema_extra={"minItems": 1, "uniqueItems": True}),
            ]
            | Annotated[SigmaRange, Tag("range")],
            Discriminator(grid_kind),
        ]
        | None
    ) = Field(None, description="the sigma grid: a list, or {start, stop, num, scale}")
    timesteps: list[Annotated[int, Field(ge=0, le=100_000)]] | None = Field(
        None,
        max_length=MAX_GRID,
        json_schema_extra={"uniqueItems": True},
        description="the grid as the models' own timesteps instead of sigmas: a vp schedule's "
        "0..T-1, or a flow model's k = t T (sigma = k / (T - k))",
    )
    layers: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        ["output"],
        min_length=1,
        max_length=1000,
        json_schema_extra={"uniqueItems": True},
        description="module names to probe (pooled), `output` and `pixels`; a glob pattern "
        "(`up_blocks.*.resnets.0`: `*` within one dotted name, `**` across them) expands to the "
        "layers it matches, in the network's order, before the run is planned",
    )
    dense: (
        dict[
            Name,
            Annotated[
                list[
                    Annotated[
                        str, Field(min_length=1, json_schema_extra={"not": {"const": "pixels"}})
                    ]
                ],
                Field(json_schema_extra={"uniqueItems": True}),
            ],
        ]
        | None
    ) = Field(
        None,
        description="per-pixel features for segmentation probes: named sets of layers whose "
        "maps are upsampled (bilinear) to the mask size and concatenated, as in Baranchuk et al.; "
        "a pattern expands to the matching layers that have a spatial map",
    )
    inputs: list[Literal["clean", "noisy"]] = Field(
        ["clean"], min_length=1, json_schema_extra={"uniqueItems": True}
    )
    noise_draws: int = Field(
        1, ge=1, le=1000, description="noisy input: features averaged over this many draws"
    )
    # the union of every probe kind's block: `install_probes` below, again whenever one registers
    probes: list = Field(
        default_factory=probe_kinds.defaults,
        min_length=1,
        max_length=100,
    )
    label_noise: list[Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]] = Field(
        [0.0],
        min_length=1,
        max_length=100,
        json_schema_extra={"uniqueItems": True},
        description="levels of label noise, sorted on load; the `label_noise` dim",
    )
    label_noise_kind: Literal["uniform", "pair"] = Field(
        "uniform", description="uniform: to a random other class; pair: class k -> k+1 (mod K)"
    )
    seeds: list[int] = Field(
        [0],
        min_length=1,
        max_length=1000,
        json_schema_extra={"uniqueItems": True},
        description="probe / label-noise seeds: the `seed` dim",
    )
    val_fraction: float = Field(
        0.2, gt=0, lt=1, description="share of train held out to pick best sigma"
    )
    ensemble: Ensemble = Ensemble()
    # `metrics` and each metric's settings block (after `analysis`) come from the metric
    # registry: `install_metrics` below, and again whenever a metric is registered
    metrics: list[str] = Field(min_length=1, json_schema_extra={"uniqueItems": True})
    analysis: Analysis = Analysis()
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
    store: str | None = path_field(
        "write",
        "store path, relative to the spec's folder and inside its folder or repository (anywhere "
        "else: --store on the command line); default store/<name>.zarr in the current folder",
        None,
    )
    compute: Compute = Compute()

    @model_validator(mode="before")
    @classmethod
    def _default_metrics(cls, data):
        """Default metrics: each metric says when it is one (`Metric.default`)."""
        if isinstance(data, dict) and "metrics" not in data:
            data = {**data, "metrics": registry.defaults(data)}
        return data

    @field_validator("label_noise")
    @classmethod
    def _label_noise(cls, v):
        return _sorted_unique(v, "label-noise level")

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator(*_NOT_EMPTY)
    @classmethod
    def _not_empty(cls, v, info):
        """Optional mappings: left out, or with at least one entry."""
        if v is not None and not v:
            raise ValueError(f"`{info.field_name}` is empty; {_NOT_EMPTY[info.field_name]}")
        return v

    @field_validator("sigma")
    @classmethod
    def _grid(cls, v):
        if isinstance(v, list):
            if not v:
                raise ValueError("the sigma grid is empty; give at least one sigma >= 0")
            v = _sorted_unique(v, "sigma")
        return v

    @field_validator("timesteps")
    @classmethod
    def _timesteps(cls, v):
        if not v:
            raise ValueError("the timestep grid is empty; give at least one timestep")
        return _sorted_unique(v, "timestep")

    @field_validator(*_DISTINCT)
    @classmethod
    def _distinct(cls, v, info):
        """Datasets, layers and probes each go by a name that must be unique."""
        name, message = _DISTINCT[info.field_name]
        dup = dups([name(x) for x in v or ()])
        if dup:
            raise ValueError(message.format(dup[0]))
        return v

    @field_validator("dense")
    @classmethod
    def _dense(cls, v):
        for name, members in (v or {}).items():
            dup = dups(members)
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

        for path, values in (v or {}).items():
            loc = parse_path(path)  # a ValueError names the path
            if loc[0] not in ("model", "models", "datasets"):
                raise ValueError(
                    f"a sweep varies the model, its training or a dataset; {path!r} starts with "
                    f"{loc[0]!r} (expected model, models or datasets)"
                )
            if not values:
                raise ValueError(f"sweep {path!r} has no values")
            dup = dups(values)
            if dup:
                raise ValueError(f"sweep {path!r} repeats the value {dup[0]!r}")
        return v

    @field_validator("inputs", "metrics", "seeds")
    @classmethod
    def _unique(cls, v):
        dup = dups(v)
        if dup:
            raise ValueError(f"duplicate entry {dup[0]!r}")
        return v

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Spec:
        """The cross-field rules, for a Spec built in Python; the loader runs them itself (context
        {"rules": "deferred"}) to report each at its place in the file."""
        if (info.context or {}).get("rules") != "deferred":
            found = problems(self)
            if found:
                raise ValueError("; ".join(msg for _, msg in found))
        return self

    # --- derived views -------------------------------------------------------

    def model_items(self) -> list[tuple[str, Model]]:
        """(name, block) per model; a single `model` is named ''."""
        return [("", self.model)] if self.model is not None else list(self.models.items())

    @property
    def multi_model(self) -> bool:
        return self.models is not None

    def clocks(self) -> dict[str, object]:
        """The timestep conventions of the models that have one, one entry per distinct convention:
        a trained model's vp schedule (its precond block), a flow model's T."""
        out = {}
        for _, m in self.model_items():
            precond = getattr(m, "precond", None)
            if precond is not None and precond.kind == "vp":
                out[f"vp {precond.model_dump_json()}"] = precond
            elif m.kind == "flow":
                out[f"flow {m.num_train_timesteps}"] = m
        return out

    def clock(self):
        """The schedule of the one timestep convention the models share (a VPSchedule or a
        FlowSchedule, reprdyn.maths.schedules), or None where none or several apply."""
        clocks = self.clocks()
        if len(clocks) != 1:
            return None
        from ..maths.schedules import FlowSchedule, VPSchedule

        block = next(iter(clocks.values()))
        if block.kind == "flow":
            return FlowSchedule(block.num_train_timesteps)
        return VPSchedule.from_config(block)

    @property
    def sigmas(self) -> list[float]:
        """The validated, sorted sigma grid (converted from timesteps where given)."""
        if self.timesteps is not None:
            return [float(s) for s in self.clock().sigma(self.timesteps)]
        return self.sigma.values() if isinstance(self.sigma, SigmaRange) else list(self.sigma)

    @property
    def timestep_coord(self) -> list[float] | None:
        """Timesteps along the sigma grid, where one timestep convention applies; else None."""
        if self.timesteps is not None:
            return [float(t) for t in self.timesteps]
        clock = self.clock()
        if clock is None:
            return None
        return [float(t) for t in clock.timestep(self.sigmas)]

    def probe_layers(self, probe) -> list[str]:
        """The layers a probe reads: pooled layers, or for a segmentation probe dense sets; a
        joint probe, or one reading tokens, reads the network's own layers (never `pixels`)."""
        if probe.dense:
            return probe.layers or list(self.dense or {})
        if probe.joint or probe.tokens:  # the network's own layers
            return [x for x in probe.layers or self.layers if x != PIXELS]
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
        return any(m.pooled for m in registry.effective(self))

    @property
    def cube_layers(self) -> list[str]:
        """The `layer` coordinate of the metric cube: the pooled layers (when a metric reads them),
        then the dense sets."""
        return [*(self.layers if self.pooled else ()), *(self.dense or {})]

    @property
    def store_path(self) -> str:
        return self.store or f"store/{self.name}.zarr"


def install_metrics(model=Spec) -> None:
    """Give the spec its `metrics` vocabulary and one settings block per metric that has one, from
    the metric registry (the blocks go after `analysis`, in registry order)."""
    from typing import Literal

    from pydantic.fields import FieldInfo

    names = tuple(registry.registry())
    fields = dict(model.__pydantic_fields__)
    old = fields["metrics"]
    fields["metrics"] = FieldInfo.from_annotated_attribute(
        list[Literal[names]],  # type: ignore[valid-type]
        Field(
            registry.defaults({}),  # what a spec naming no metrics and no data gets
            min_length=1,
            json_schema_extra=old.json_schema_extra,
            description="the metrics to measure (default: each metric says when it is one)",
        ),
    )
    blocks = {
        key: FieldInfo.from_annotated_attribute(settings, settings())
        for m in registry.registry().values()
        if m.settings
        for key, settings in [m.settings]
    }
    ordered = {}
    for name, info in fields.items():
        if name not in blocks and (name in _BLOCKS) is False:
            ordered[name] = info
        if name == "analysis":
            ordered.update(blocks)
    model.__pydantic_fields__ = ordered
    _BLOCKS.clear()
    _BLOCKS.update(blocks)
    model.model_rebuild(force=True)


_BLOCKS: dict = {}  # the settings blocks installed last time


def install_probes(model=Spec) -> None:
    """Give the spec's `probes` the union of every probe kind's block, from the probe registry."""
    from pydantic.fields import FieldInfo

    fields = dict(model.__pydantic_fields__)
    old = fields["probes"]
    fields["probes"] = FieldInfo.from_annotated_attribute(
        list[probe_kinds.union()],  # type: ignore[misc]
        Field(
            default_factory=old.default_factory,
            min_length=1,
            max_length=100,
            description=old.description,
        ),
    )
    model.__pydantic_fields__ = fields
    model.model_rebuild(force=True)


install_metrics()
install_probes()
registry.on_change(install_metrics)
probe_kinds.on_change(install_probes)
