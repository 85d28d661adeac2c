"""Metrics: one module per metric, each declaring a `Metric` record (`metrics.base`) as `METRIC`,
and the registry that finds them.

Adding a metric is adding one module: the built-in ones are the modules of this package (every
one but `base`), ordered by their `order`; a plugin package adds its own through the
`reprdyn.metrics` entry-point group (each entry point names a `Metric`); `register` adds one at run
time. Everything else — the spec's vocabulary and settings blocks, the rules, the stages' work, the
cube's variables, `verify`, the figures, the summary, `query`, `ls`, the MLflow export and the
docs' table — reads the registry, and no module outside this package tests a metric's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from .base import Metric, Stage, default_on

_REGISTRY: dict[str, Metric] = {}
_LISTENERS: list = []  # called after a metric is registered (the spec rebuilds its schema)


def builtin() -> list[Metric]:
    """The metric modules of this package, by their `order` (then name)."""
    import pkgutil

    found = [
        importlib.import_module(f"{__name__}.{m.name}").METRIC
        for m in pkgutil.iter_modules(__path__)
        if m.name != "base" and not m.name.startswith("_")
    ]
    return sorted(found, key=lambda m: (m.order, m.name))


def _load() -> dict[str, Metric]:
    if not _REGISTRY:
        for metric in [*builtin(), *_plugins()]:
            _add(metric)
    return _REGISTRY


def _plugins() -> Iterable[Metric]:
    from importlib.metadata import entry_points

    for ep in entry_points(group="reprdyn.metrics"):
        yield ep.load()


def _add(metric: Metric) -> None:
    if not isinstance(metric, Metric):
        raise TypeError(f"{metric!r} is not a reprdyn.metrics.base.Metric")
    if metric.name in _REGISTRY and _REGISTRY[metric.name] is not metric:
        raise ValueError(f"metric {metric.name!r} is registered twice")
    _REGISTRY[metric.name] = metric


def register(metric: Metric) -> Metric:
    """Add a metric at run time (a plugin without an entry point, or a test); the spec's schema
    follows at once."""
    _load()
    _add(metric)
    for listener in _LISTENERS:
        listener()
    return metric


def unregister(name: str) -> None:
    """Remove a metric added by `register` (tests)."""
    if name in {m.name for m in builtin()}:
        raise ValueError(f"metric {name!r} is built in")
    _REGISTRY.pop(name, None)
    for listener in _LISTENERS:
        listener()


def on_change(listener) -> None:
    """Call `listener()` whenever the registry changes."""
    _LISTENERS.append(listener)


def registry() -> dict[str, Metric]:
    """Every metric, by name, in registration order."""
    return dict(_load())


def get(name: str) -> Metric:
    metrics = _load()
    if name not in metrics:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(metrics)}")
    return metrics[name]


def effective(spec) -> list[Metric]:
    """The metrics a spec runs: those it names and those they bring, in registry order."""
    names = set(spec.metrics)
    for n in list(names):
        names |= set(get(n).brings) if n in _load() else set()
    return [m for n, m in _load().items() if n in names]


def at(spec, stage: Stage) -> list[Metric]:
    """The metrics a spec runs in `stage`, in registry order."""
    return [m for m in effective(spec) if m.stage == stage]


def defaults(raw: dict) -> list[str]:
    """The metrics a spec gets when it names none, from its raw data."""
    return [n for n, m in _load().items() if default_on(raw, m)]


def provider(what: str) -> Metric:
    """The metric that provides `what` (for example "curves": the probes' accuracy curves)."""
    return next(m for m in _load().values() if what in m.provides)


def owner(variable: str) -> Metric | None:
    """The metric that writes `variable`, if one does."""
    return next((m for m in _load().values() if variable in m.variables), None)


def figures() -> dict:
    """Every figure, by name: {name: Figure}."""
    return {f.name: f for m in _load().values() for f in m.figures}


def coords() -> dict[str, tuple[tuple, str]]:
    """The dims the metrics declare of their own: {dim: (values, CF long_name)}."""
    return {d: c for m in _load().values() for d, c in m.coords.items()}


def tables() -> list:
    """Every summary table, in registry order: [(metric, Table)]."""
    return [
        (m, t) for m in _load().values() for t in (m.tables() if callable(m.tables) else m.tables)
    ]


__all__ = [
    "builtin",
    "Metric",
    "register",
    "unregister",
    "on_change",
    "registry",
    "get",
    "effective",
    "at",
    "defaults",
    "figures",
    "coords",
    "tables",
]
