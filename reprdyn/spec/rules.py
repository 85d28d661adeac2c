"""The rules that tie a spec's fields together, as small named functions.

Each rule reads a validated `Spec` and returns (location, message) pairs, the protocol of
`reprdyn.runner.checks`: the loader turns each location into `file:line:col`, so a rule never
depends on the order fields are declared in. `RULES` lists them; `problems(spec)` runs them all, so
every broken rule is reported at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .. import metrics as registry
from ..errors import did_you_mean
from .kinds import PIXELS, PRETRAINED, STATIC_LAYERS
from .modelcfg import EDM_SIGMA_RANGE, SIGMA_MAX
from .patterns import expand, is_pattern, matches

Problem = tuple[tuple, str]
Rule = Callable[[object], Iterable[Problem]]


def dups(values: list) -> list:
    """The values that repeat an earlier one, in order (linear time: grids can be long)."""
    seen, out = set(), []
    for x in values:
        key = (type(x).__name__, x) if not isinstance(x, (list, dict)) else repr(x)
        if key in seen:
            out.append(x)
        seen.add(key)
    return out


def model_location(name: str) -> tuple:
    """Where a model block is in the spec: `model`, or `models.<name>`."""
    return ("models", name) if name else ("model",)


def one_model_and_one_grid(spec) -> Iterable[Problem]:
    if (spec.model is None) == (spec.models is None):
        yield (), "give exactly one of `model` (one model) or `models` (a mapping of named models)"
    if (spec.sigma is None) == (spec.timesteps is None):
        yield (), "give exactly one of `sigma` (a sigma grid) or `timesteps` (a VP timestep grid)"


def trusted_code(spec) -> Iterable[Problem]:
    for name, m in _blocks(spec):
        if m.kind == "python" and not spec.trust_code:
            yield (
                model_location(name),
                (
                    "a `python` model runs code the spec names; only if you trust that code, set "
                    "`trust_code: true` in the spec and pass --trust-code"
                ),
            )


def sigma_in_range(spec) -> Iterable[Problem]:
    """One policy for every model: no sigma beyond float32 inputs; a VP model's schedule range; an
    EDM network's sigma > 0 (the same check pretrained VP models get once loaded)."""
    if spec.sigma is None:
        return
    grid = spec.sigmas
    if max(grid) > SIGMA_MAX:
        yield (
            ("sigma",),
            (
                f"sigma {max(grid):g} is too large: noisy inputs x0 + sigma eps are float32, so "
                f"every model takes sigma <= {SIGMA_MAX:g}"
            ),
        )
        return
    for _, m in _blocks(spec):
        precond = getattr(m, "precond", None)
        if precond is not None and precond.kind == "vp":
            from ..maths.schedules import VPSchedule

            try:
                VPSchedule.from_config(precond).check_range(grid, "the model's vp schedule")
            except ValueError as e:
                yield ("sigma",), str(e)
        if precond is not None and precond.kind == "edm":
            lo, hi = EDM_SIGMA_RANGE
            bad = [s for s in grid if not lo < s <= hi]
            if bad:
                yield (
                    ("sigma",),
                    (
                        f"sigma {bad[0]:g} is outside the range of an edm model, {lo:g} < sigma <= "
                        f"{hi:g}: its network is conditioned on ln(sigma) / 4, which sigma = 0 "
                        "does not have"
                    ),
                )


def hub_schedules_cover_the_grid(spec) -> Iterable[Problem]:
    """A pretrained model of a hub id `reprdyn.spec.hub` knows: its schedule checked against the
    grid before any download (models elsewhere: `reprdyn.runner.checks`, from a config on disk)."""
    from .hub import SCHEDULES, sigma_problems

    for name, m in _blocks(spec):
        config = SCHEDULES.get(getattr(m, "id", None))
        if config is None or getattr(m, "scheduler_subfolder", None) != "scheduler":
            continue
        source = "its scheduler_config.json, as reprdyn.spec.hub records it"
        yield from sigma_problems(m, spec.sigmas, config, source, model_location(name))


def timesteps_have_a_schedule(spec) -> Iterable[Problem]:
    if spec.timesteps is None or spec.model is None and spec.models is None:
        return
    clocks = spec.clocks()
    if not clocks:
        yield (
            ("timesteps",),
            "a timestep grid needs a model with a vp precond or a flow model; give `sigma` instead",
        )
    elif len(clocks) > 1:
        yield (
            ("timesteps",),
            (
                "the models count timesteps differently (different vp schedules, or vp and flow), "
                "so timesteps are ambiguous; give `sigma`"
            ),
        )
    elif max(spec.timesteps) >= spec.clock().T:
        T = spec.clock().T
        yield (
            ("timesteps",),
            (f"timestep {max(spec.timesteps)} is outside the schedule's range 0..{T - 1}"),
        )


def datasets_fit_the_models(spec) -> Iterable[Problem]:
    by_name = {d.name: d for d in spec.datasets}
    for name, m in _blocks(spec):
        if m.kind == "molrg-optimal":
            bad = [d.name for d in spec.datasets if d.kind != "molrg"]
            if bad:
                yield (
                    ("datasets",),
                    (
                        "model kind 'molrg-optimal' is the posterior of molrg data; datasets "
                        f"{bad} are not of kind 'molrg'"
                    ),
                )
            continue
        if m.kind in PRETRAINED:
            continue  # its input shape is checked when it is loaded
        src = m.train.data
        if isinstance(src, str) and src not in by_name:
            yield (
                ("datasets",),
                (
                    f"the model's train.data names dataset {src!r}, which is not in `datasets` "
                    f"(expected one of {list(by_name)}, or a dataset block)"
                ),
            )
            continue
        shape = by_name[src].shape if isinstance(src, str) else src.shape
        bad = [d.name for d in spec.datasets if None not in (d.shape, shape) and d.shape != shape]
        if bad:  # shapes read from files (npz) are compared by reprdyn.runner.checks
            yield ("datasets",), f"datasets {bad} do not have the training data's shape {shape}"


def layers_exist(spec) -> Iterable[Problem]:
    """Layers of models whose layers are known without building them (the rest:
    reprdyn.runner.checks)."""
    for _, m in _blocks(spec):
        known = STATIC_LAYERS.get(m.kind)
        for i, name in enumerate(spec.layers if known else []):
            if is_pattern(name) and not expand([name], known)[0]:
                yield (("layers", i), f"layer pattern {name!r} matches no layer of {m.kind!r}")
            elif name not in known and name != PIXELS and not is_pattern(name):
                valid = [*known, PIXELS]
                yield (
                    ("layers", i),
                    (
                        f"unknown layer {name!r} for model kind {m.kind!r}; valid layers: "
                        f"{', '.join(valid)}{did_you_mean(name, valid)}"
                    ),
                )


def probes_read_what_exists(spec) -> Iterable[Problem]:
    dense = list(spec.dense or {})
    for i, p in enumerate(spec.probes):
        if p.dense:
            if not dense:
                yield (
                    ("probes", i),
                    (
                        f"probe {p.label!r} is a segmentation probe: it reads per-pixel features; "
                        "name layer sets under `dense:` (for example dense: {decoder: [dec.0, "
                        "dec.1]})"
                    ),
                )
            bad = [x for x in p.layers or [] if x not in dense]
            if dense and bad:
                yield (
                    ("probes", i),
                    (
                        f"segmentation probe {p.label!r} reads {bad}; it reads the dense sets "
                        f"{dense}"
                    ),
                )
            continue
        bad = [x for x in p.layers or [] if not any(matches(entry, x) for entry in spec.layers)]
        if bad:
            hint = " (dense sets are for seg-linear and seg-mlp)" if set(bad) & set(dense) else ""
            yield (
                ("probes", i),
                (
                    f"probe {p.label!r} reads layers {bad} that are not in `layers` "
                    f"{spec.layers}{hint}"
                ),
            )


def dense_sets_are_apart(spec) -> Iterable[Problem]:
    for name in spec.dense or {}:
        if name in spec.layers:
            yield ("dense", name), f"dense set {name!r} has the name of a pooled layer; rename it"


def metrics_have_what_they_read(spec) -> Iterable[Problem]:
    """What the metrics' declarations imply (a metric reading the probes' curves needs the one
    that provides them; one reading labels needs labelled data), then every metric's own rules
    (`Metric.rules`)."""
    named = [registry.get(n) for n in spec.metrics]
    ran = {x.name for x in registry.effective(spec)}
    needs = [x.name for x in named if x.curves]
    source = registry.provider("curves")
    if needs and source.name not in ran:
        yield (
            ("metrics",),
            (
                f"{', '.join(needs)} read(s) the probes' accuracy curves; add `{source.name}` to "
                "metrics"
            ),
        )
    unlabelled = [d.name for d in spec.datasets if not d.has_labels]
    labelled = sorted(x.name for x in named if x.labels)
    if unlabelled and labelled:
        free = [x for x, metric in registry.registry().items() if not metric.labels]
        yield (
            ("metrics",),
            (
                f"datasets {unlabelled} have no class labels (label_column: null), so {labelled} "
                f"cannot be measured; keep {', '.join(free[:-1])} or {free[-1]}"
            ),
        )
    for metric in registry.registry().values():
        if metric.rules is not None:
            yield from metric.rules(spec)


# every rule, in the order its problems are reported
RULES: tuple[Rule, ...] = (
    one_model_and_one_grid,
    trusted_code,
    sigma_in_range,
    hub_schedules_cover_the_grid,
    timesteps_have_a_schedule,
    datasets_fit_the_models,
    layers_exist,
    probes_read_what_exists,
    dense_sets_are_apart,
    metrics_have_what_they_read,
)


def problems(spec) -> list[Problem]:
    """Every broken rule of a spec (a spec without a model or grid stops at the first rule)."""
    first = list(one_model_and_one_grid(spec))
    if first:
        return first
    return [p for rule in RULES[1:] for p in rule(spec)]


def _blocks(spec) -> list:
    if spec.model is not None:
        return [("", spec.model)]
    return list((spec.models or {}).items())
