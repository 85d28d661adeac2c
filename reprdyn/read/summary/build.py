"""The run summary, built from a store's cubes: one row per probe curve, with its uncertainty
(docs/theory.md §8).

Every headline is chosen on validation data and carries an interval. A row is one (dataset, model,
layer, input, probe) at the lowest label noise; its numbers are means over model replicates and
seeds, and its intervals come from a hierarchical bootstrap: replicates and seeds are resampled with
replacement, and each combined draw reads one paired resample of the validation and test samples.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from ...maths.uncertainty import hierarchical
from ...maths.unimodal import TOLERANCE
from ...seeds import derive_seed
from ...store import cube
from ...store.cube import COMPARISONS
from .rows import ComparisonRow, Interval

# --- building the rows -----------------------------------------------------------------------


def settings(ds) -> tuple[float, int, int, float]:
    """(confidence, resamples, bootstrap seed, unimodality tolerance) a cube was made with."""
    a = cube.settings(ds, "analysis")
    tol = ds["unimodal"].attrs.get("tolerance", TOLERANCE) if "unimodal" in ds else TOLERANCE
    return a.get("confidence", 0.95), a.get("bootstrap", 0), a.get("seed", 0), float(tol)


def interval_of(ds, name: str, at: dict, confidence: float, seed: int) -> Interval:
    """The mean of `name` over replicates and seeds at one cell, with its hierarchical interval."""
    point = ds[name].sel(**at)
    value = float(np.nanmean(point.values)) if np.isfinite(point.values).any() else float("nan")
    if f"{name}_boot" not in ds:
        return Interval(value)
    draws = ds[f"{name}_boot"].sel(**at).transpose("replicate", "seed", "boot").values
    _, low, high = hierarchical(draws, confidence, seed)
    return Interval(value, low, high)


def lowest(ds):
    """The cube at its lowest label noise (selected by value)."""
    return ds.sel(label_noise=float(np.min(ds.label_noise.values)))


@dataclass(frozen=True)
class Reading:
    """How the summary reads one cube: the settings it was made with, the hierarchical bootstrap's
    seed, and the cube at its lowest label noise (`low`)."""

    confidence: float
    resamples: int
    seed: int  # the hierarchical bootstrap's
    tolerance: float
    low: object  # xr.Dataset
    flat: float = 0.0  # a curve whose range is at most this is flat (0: stores made before it)

    @property
    def level(self) -> float:
        """The label-noise level the rows are at."""
        return float(self.low.label_noise)

    def interval(self, name: str, at: dict, ds=None) -> Interval:
        """`interval_of` one cell of `ds` (default: the lowest label noise)."""
        return interval_of(self.low if ds is None else ds, name, at, self.confidence, self.seed)

    def cells(self, var: str, *dims: str):
        """(cell, values of `var` there, dims in this order) for each cell where `var` has one."""
        for at in cell_grid(self.low):
            values = self.low[var].sel(**at).transpose(*dims)
            if np.isfinite(values.values).any():  # a probe reads only some layers
                yield at, values


def reading(ds) -> Reading:
    """How the summary reads `ds`."""
    confidence, resamples, seed, tolerance = settings(ds)
    hseed = derive_seed(seed, "hierarchical")
    flat = float(cube.settings(ds, "analysis").get("flat", 0.0))
    return Reading(confidence, resamples, hseed, tolerance, lowest(ds), flat)


def _comparison_rows(name: str, ds) -> list[ComparisonRow]:
    r = reading(ds)
    rows = []
    for var, what in COMPARISONS.items():
        if var not in r.low:
            continue
        keys = [k for k in ("model", "layer", "input", "probe") if k in r.low[var].dims]
        for combo in itertools.product(*(r.low[k].values for k in keys)):
            at = dict(zip(keys, combo))
            diff = r.interval(var, at)
            if math.isfinite(diff.value):
                cell = (str(at.get(k, "–")) for k in ("model", "layer", "input", "probe"))
                rows.append(ComparisonRow(name, *cell, var, what, diff, label_noise=r.level))
    return rows


def mode(values: np.ndarray) -> tuple[float, float]:
    """The most common finite value (lowest on ties) and the share of finite entries equal to it."""
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v)]
    vals, counts = np.unique(v, return_counts=True)
    if not len(vals):
        return float("nan"), float("nan")
    i = int(np.argmax(counts))
    return float(vals[i]), float(counts[i] / len(v))


def cell_grid(ds) -> list[dict]:
    """Every (model, layer, input, probe) of a cube, in that nesting order."""
    return [
        dict(model=m, layer=x, input=i, probe=p)
        for m in ds.model.values
        for x in ds.layer.values
        for i in ds.input.values
        for p in ds.probe.values
    ]


def combos(ds, dims: list[str]) -> list[dict]:
    """Every combination of the values of `dims` in a cube ([{}] for none): a sweep's points."""
    return [dict(zip(dims, c)) for c in itertools.product(*(ds[d].values for d in dims))]


def _rows(path: str, var: str | None, build) -> list:
    """`build(dataset, cube)` over every dataset cube holding `var` (a `model` dim always
    present); a sweep store's points one after another, each row labelled with its point."""
    from ...store import Results, point_label

    res = Results(path)
    if res.sweep_dims:
        return [
            replace(r, point=point_label(v))
            for v, sub in res.points
            for r in _rows(sub.path, var, build)
        ]
    rows = []
    for name in res.datasets:
        ds = res[name]
        if var in ds or (var is None and any(v in ds for v in COMPARISONS)):
            rows += build(name, ds.expand_dims(model=[""]) if "model" not in ds.dims else ds)
    return rows


def store_settings(path: str) -> tuple[float | None, int]:
    """(confidence, resamples) of a store's first cube, for the tables' notes."""
    from ...store import Results

    res = Results(path)
    while res.sweep_dims and res.points:
        res = res.points[0][1]
    for name in res.datasets:
        confidence, B, _, _ = settings(res[name])
        return confidence, B
    return None, 0


def table_rows(path: str, table) -> list:
    """The rows of one summary table (`metrics.base.Table`) over a store."""
    if table.sweep:
        return _swept_rows(path, table)
    return _rows(path, table.needs, table.rows)


def _swept_rows(path: str, table) -> list:
    """A sweep table's rows over the joined cube of each dataset ([] outside a sweep)."""
    from ...store import Results

    res = Results(path)
    if not res.sweep_dims or not res.points:
        return []
    rows = []
    for name in res.datasets:
        ds = res[name]
        if table.needs in ds:
            ds = ds.expand_dims(model=[""]) if "model" not in ds.dims else ds
            rows += table.rows(name, ds, list(res.sweep_dims))
    return rows


def tables(path: str) -> list[tuple]:
    """Every summary table the registered metrics declare, with its rows over the store:
    [(Table, rows)], in registry order (tables with no rows included)."""
    from ... import metrics

    return [(t, table_rows(path, t)) for _, t in metrics.tables()]


def headline():
    """The headline table: the first one the metrics declare (the probes' accuracy summary)."""
    from ... import metrics

    return metrics.tables()[0][1]


def summarize(path: str) -> list:
    """The headline table's rows: per dataset, model, layer, input and probe, the
    validation-chosen sigma and its test score, the ensemble, and the shape of the test curve, at
    the lowest label noise."""
    return table_rows(path, headline())


def compare(path: str) -> list[ComparisonRow]:
    """Every paired difference the store holds, at the lowest label noise, with its interval."""
    return _rows(path, None, _comparison_rows)


def rows_of(path: str, key: str) -> list:
    """The rows of the summary table a metric declares under `key` ([] where none does)."""
    from ... import metrics

    found = [t for _, t in metrics.tables() if t.key == key]
    return table_rows(path, found[0]) if found else []


def gains(path: str) -> list:
    """The ensemble's gain over the best single sigma at every label-noise level (Table 1)."""
    return rows_of(path, "gains")


def summarize_segmentation(path: str) -> list:
    """Per dataset, model, dense set, input and segmentation probe: sigma* by validation mIoU, its
    test mIoU with its interval, at the lowest label noise."""
    return rows_of(path, "segmentation")
