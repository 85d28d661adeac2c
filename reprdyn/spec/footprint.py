"""What a spec will touch, for the careful collaborator to read before `reprdyn run`: the files it
reads (the spec, its bases, its data and model files), the hub models it loads, the folders it
writes, the environment variables it reads and the code it runs.

Everything is derived from the schema's path marks (`x-path`: read, maybe a hub id, write), so a new
path field is listed without touching this module.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .compose import strings
from .kinds import TRAINABLE
from .loader import composed
from .resolve import VAR
from .schema import Spec
from .tree import cache_root, tree_of


@dataclass
class Footprint:
    spec: str
    tree: str  # the folder it may read bases from and write into by itself
    reads: list[str] = field(default_factory=list)  # files and folders, the spec's own first
    hub: list[str] = field(default_factory=list)  # hub ids (models, datasets): the HF cache
    writes: list[str] = field(default_factory=list)  # folders, with what goes there
    env: list[str] = field(default_factory=list)  # variables its ${...} read
    code: list[str] = field(default_factory=list)  # Python it imports (trust_code)

    def as_dict(self) -> dict:
        return asdict(self)


def footprint(path: str | Path, spec: Spec, sources: dict, store=None) -> Footprint:
    """What running the spec file at `path` touches, from what `load` returned for it (the spec
    and the texts it read); `store` is a --store the runner would give."""
    out = Footprint(str(path), str(tree_of(path)), reads=list(sources), env=_env_names(path))
    for _, _, _, mark, value in _paths(spec):
        if mark == "write":
            continue
        local = os.path.isabs(value) or os.path.exists(value)
        if mark == "maybe" and not local:
            out.hub.append(value)
        else:
            out.reads.append(value if os.path.exists(value) else f"{value} (missing)")
    where = Path(store or spec.store_path).resolve()
    out.writes.append(f"{where} (the store)")
    models = [cfg for _, cfg in spec.model_items()]
    if any(cfg.kind in TRAINABLE for cfg in models) or any(
        getattr(d, "writes_cache", False) for d in spec.datasets
    ):
        out.writes.append(f"{cache_root(spec.compute.cache)} (checkpoint and data cache)")
    out.code = [f"{cfg.file or cfg.module}:{cfg.factory}" for cfg in models if cfg.kind == "python"]
    out.reads = list(dict.fromkeys(out.reads))
    return out


def _paths(spec: Spec):
    """(parent, key, loc, mark, value) of every path field the validated spec holds."""
    data = spec.model_dump(mode="json", exclude_none=True)
    for parent, key, loc, mark in strings(data, Spec):
        if mark:
            yield parent, key, loc, mark, parent[key]


def _env_names(path: str | Path) -> list[str]:
    """The variables the spec's path fields name in ${...}, in the order written."""
    names: list[str] = []
    for parent, key, _, mark in strings(composed(path), Spec):
        if mark:
            names += [m.group(1) for m in VAR.finditer(parent[key])]
    return list(dict.fromkeys(names))
