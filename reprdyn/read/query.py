"""Query stage: tidy tables of one variable (select, average, format).

`query` reads straight from zarr (`reprdyn.read.reader`), so the command line answers without
importing xarray or pandas. The run summary is `reprdyn.read.summary`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import QueryError, StoreError, did_you_mean
from ..store.cube import VARIABLES
from .reader import Cube, CubeStore
from .selection import parse, pick


def _select(cube: Cube, dim: str, raw: str, notes: list[str]) -> Cube:
    """The cube at one value of `dim` (kept as a dim of length one), by `reprdyn.read.selection`'s
    rules."""
    if dim not in cube.dims:
        raise QueryError(
            f"--sel {dim}={raw}: {cube.name!r} has no dim {dim!r}; its dims are {list(cube.dims)}"
            + did_you_mean(dim, cube.dims)
        )
    return cube.take(dim, np.array([pick(cube.coords[dim], dim, raw, cube.dims, notes)]))


@dataclass
class Table:
    """A tidy table: one column per dim (after `dataset`), then the value; `notes` are messages for
    stderr."""

    columns: list[str]
    rows: list[tuple]
    notes: list[str] = field(default_factory=list)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        w.writerows([[_csv_cell(v) for v in r] for r in self.rows])
        return buf.getvalue()

    def to_json(self) -> str:
        return json.dumps([dict(zip(self.columns, (_json_cell(v) for v in r))) for r in self.rows])

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


def _csv_cell(v) -> str:
    """A float as the shortest text that reads back to the same float (an empty cell for NaN)."""
    if isinstance(v, (float, np.floating)):
        return "" if math.isnan(v) else repr(float(v))
    return str(v.item() if isinstance(v, np.generic) else v)


def _json_cell(v):
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and math.isnan(v) else v


def query(
    path: str,
    var: str,
    dataset: str | None = None,
    sel: list[str] = (),
    mean: list[str] = (),
    keep_nan: bool = False,
) -> Table:
    """A tidy table of `var`: one column per remaining dim (plus `dataset`), then the value.

    Rows with no value (NaN: a probe that never reads a layer, a class with no samples) are dropped
    unless `keep_nan`; the table's notes say how many.
    """
    store = CubeStore(path)
    names = [dataset] if dataset else store.datasets
    if dataset and dataset not in store.datasets:
        raise QueryError(
            f"--dataset {dataset}: not in this store; expected one of {store.datasets}"
            + did_you_mean(dataset, store.datasets)
        )
    pairs, notes, columns = parse(list(sel)), [], None
    rows: list[tuple] = []
    for name in names:
        cube = store.cube(name, _check_variable(store, name, var))
        for dim, raw in pairs:
            cube = _select(cube, dim, raw, notes)
        for dim in mean:
            if dim not in cube.dims:
                raise QueryError(
                    f"--mean {dim}: {var!r} has no dim {dim!r}; its dims are {list(cube.dims)}"
                    + did_you_mean(dim, cube.dims)
                )
            cube = cube.mean(dim)
        columns = ["dataset", *cube.dims, var]
        rows += [(name, *r) for r in cube.rows()]
    dropped = 0
    if not keep_nan:
        kept = [
            r for r in rows if not (isinstance(r[-1], (float, np.floating)) and math.isnan(r[-1]))
        ]
        dropped, rows = len(rows) - len(kept), kept
    if dropped:
        notes.append(
            f"dropped {dropped} row(s) with no value (NaN: probe x layer pairs that were never "
            "fitted, or classes with no samples); --keep-nan keeps them"
        )
    return Table(columns, rows, list(dict.fromkeys(notes)))


def _check_variable(store: CubeStore, dataset: str, var: str) -> str:
    """`var` if the store has it, else a message that says how to get it or what was meant."""
    have = store.names(dataset)
    if var in have:
        return var
    if var in VARIABLES:
        metric = VARIABLES[var].metrics[0]
        raise QueryError(
            f"{var!r} was not computed for this store (dataset {dataset!r}): add {metric!r} to the "
            f"spec's `metrics:` and run it again; this store has {', '.join(have)}"
        )
    raise QueryError(
        f"unknown variable {var!r} for dataset {dataset!r}; expected one of {', '.join(have)}"
        + did_you_mean(var, have)
    )


__all__ = ["query", "QueryError", "StoreError", "Table"]
