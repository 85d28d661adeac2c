"""Sweeps: a spec that varies scalar parameters of its model, training or datasets.

    sweep:
      datasets[0].n_train: [64, 256, 1024] model.train.epochs: [20, 80]

Each point of the product grid is an ordinary spec, run into its own store under
`<store>/points/<point hash>.zarr`; the parent store lists the points and `reprdyn.open` joins their
cubes along one dim per parameter, named after the parameter's last key (`n_train`, `epochs`).
Points are content-addressed, so re-running, or adding values to a sweep, only computes the new
points, and trained models come from the checkpoint cache whenever a point's model and training data
did not change.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass

from ..spec import Spec, canonical, resolved, spec_hash
from ..spec.resolve import parse_path
from ..store import point_label


@dataclass(frozen=True)
class Point:
    values: dict  # dim name -> value
    overrides: tuple[tuple[str, object], ...]  # (path, value)
    spec: Spec

    @property
    def label(self) -> str:
        return point_label(self.values)

    @property
    def folder(self) -> str:
        return f"points/{spec_hash(self.spec)[:16]}.zarr"


def dim_names(paths: list[str]) -> list[str]:
    """One dim per swept path: its last key, or the whole path (dots -> _) when last keys clash."""
    last = [str(parse_path(p)[-1]) for p in paths]
    return [
        n if last.count(n) == 1 else "_".join(str(x) for x in parse_path(p))
        for n, p in zip(last, paths)
    ]


def set_path(data: dict, loc: tuple, value) -> None:
    """data[loc] = value in a plain nested dict/list (the path must exist down to its parent)."""
    node = data
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value


def points(spec: Spec) -> list[Point]:
    """The sweep's product grid, first parameter slowest; each point a validated spec without
    `sweep`."""
    if not spec.sweep:
        return []
    paths = list(spec.sweep)
    names = dim_names(paths)
    base = resolved(spec)
    base.pop("sweep", None)
    out = []
    for combo in itertools.product(*(spec.sweep[p] for p in paths)):
        data = copy.deepcopy(base)
        for p, v in zip(paths, combo):
            set_path(data, parse_path(p), v)  # paths were checked when the spec was validated
        out.append(
            Point(dict(zip(names, combo)), tuple(zip(paths, combo)), Spec.model_validate(data))
        )
    return out


def identity(spec: Spec) -> str:
    """What a sweep store is, apart from its values: the canonical spec with the swept values left
    out, so adding values to a sweep keeps its store."""
    c = canonical(spec)
    c["sweep"] = sorted(c.get("sweep") or {})
    return hashlib.sha256(json.dumps(c, sort_keys=True).encode()).hexdigest()


def layout(spec: Spec, pts: list[Point]) -> dict:
    """The `sweep` attribute of a parent store: dims, paths, and each point's values and folder."""
    return {
        "dims": dim_names(list(spec.sweep)),
        "paths": list(spec.sweep),
        "values": [list(v) for v in spec.sweep.values()],
        "identity": identity(spec),
        "points": [
            {"values": p.values, "store": p.folder, "spec_hash": spec_hash(p.spec)} for p in pts
        ],
    }
