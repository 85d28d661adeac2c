"""Probe kinds: one module per kind in this package, each declaring its spec block as `PROBE` (a
`reprdyn.spec.probes.ProbeBlock` whose `kind` is a Literal), and the registry that finds them.

A block is the whole record of its kind: its fields (its part of the JSON Schema), what the run
asks of it (`pixels` for a segmentation probe, `gram` for the preflight) and `estimator`, which
builds the fitted object. Adding a probe kind is adding one module here (its estimator may live in
it, or in `reprdyn.probes` when kinds share it); a package outside reprdyn adds its own through the
`reprdyn.probes` entry-point group, and `register` adds one at run time. The spec's `probes` union,
the segmentation kinds and `make_probe` derive from the registry; no other module names a kind.

Light on purpose (pydantic only): validating a spec loads the blocks, never torch.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterable

_REGISTRY: dict[str, type] = {}
_LISTENERS: list = []  # called after a kind is registered (the spec rebuilds its schema)


def kind_of(block: type) -> str:
    """The `kind` a block's Literal declares."""
    return typing.get_args(block.model_fields["kind"].annotation)[0]


def builtin() -> list[type]:
    """The kind modules of this package, by their block's `order` (then kind)."""
    import pkgutil

    found = [
        importlib.import_module(f"{__name__}.{m.name}").PROBE
        for m in pkgutil.iter_modules(__path__)
        if not m.name.startswith("_")
    ]
    return sorted(found, key=lambda b: (b.order, kind_of(b)))


def _plugins() -> Iterable[type]:
    from importlib.metadata import entry_points

    for ep in entry_points(group="reprdyn.probes"):
        yield ep.load()


def _add(block: type) -> None:
    from ...spec.probes import ProbeBlock

    if not (isinstance(block, type) and issubclass(block, ProbeBlock)):
        raise TypeError(f"{block!r} is not a reprdyn.spec.probes.ProbeBlock")
    kind = kind_of(block)
    if kind in _REGISTRY and _REGISTRY[kind] is not block:
        raise ValueError(f"probe kind {kind!r} is registered twice")
    _REGISTRY[kind] = block


def registry() -> dict[str, type]:
    """Every probe kind: the built-in ones, then the plugins', then those `register`ed."""
    from ...spec.probes import ProbeBlock  # noqa: F401 - the base first (the spec asks here too)

    if not _REGISTRY:
        for block in [*builtin(), *_plugins()]:
            _add(block)
    return _REGISTRY


def get(kind: str) -> type:
    """The block of one kind (a ValueError naming the kinds there are)."""
    from ...errors import lookup

    return lookup(registry(), kind, "probe kind")


def union():
    """The spec's `probes` entry: a union of every kind's block, told apart by `kind`."""
    from pydantic import Field

    blocks = tuple(registry().values())
    return typing.Annotated[typing.Union[blocks], Field(discriminator="kind")]  # noqa: UP007


def defaults() -> list:
    """The probes a spec without `probes` gets: one of each default kind, with its defaults."""
    return [block(kind=kind) for kind, block in registry().items() if block.default]


def dense_kinds() -> tuple[str, ...]:
    """The segmentation kinds: per-pixel probes on dense sets (they report miou)."""
    return tuple(k for k, b in registry().items() if b.pixels is not None)


def register(block: type) -> type:
    """Add a kind at run time (a plugin without an entry point, or a test); the spec's schema
    follows at once."""
    registry()
    _add(block)
    for listener in _LISTENERS:
        listener()
    return block


def unregister(kind: str) -> None:
    """Remove a kind added by `register` (tests)."""
    if kind in {kind_of(b) for b in builtin()}:
        raise ValueError(f"probe kind {kind!r} is built in")
    _REGISTRY.pop(kind, None)
    for listener in _LISTENERS:
        listener()


def on_change(listener) -> None:
    """Call `listener()` whenever the registry changes."""
    _LISTENERS.append(listener)
